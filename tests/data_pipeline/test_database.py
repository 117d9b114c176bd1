"""The `Database` object: one per URL and process, a session is one transaction, migrated once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database, dispose_engines, get_database
from tests.helpers.bars import bars
from tests.helpers.database import crud_on


def test_one_database_and_engine_per_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    other = f"sqlite:///{tmp_path / 'b.db'}"
    first = get_database(url)
    assert get_database(url) is first and get_database(url).engine is first.engine
    assert get_database(other) is not first and get_database(other).engine is not first.engine
    monkeypatch.setenv("DATABASE_URL", url)
    assert get_database() is first  # the default: settings' DATABASE_URL
    dispose_engines()


def test_a_session_commits_at_the_end_and_rolls_back_on_an_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="after the save"), db.session() as session:
        saved = crud.save_stage_frame(session, bars(), "raw", source="a")
        assert saved.created and crud.latest_version(session, "raw") is not None
        raise RuntimeError("after the save")
    with db.session() as session:
        assert crud.latest_version(session, "raw") is None  # nothing of it is left

    with db.session() as session:
        crud.save_stage_frame(session, bars(), "raw", source="b")
        crud.save_stage_frame(session, bars("GOOG"), "raw", source="c")
    versions = crud_on(db).list_versions("raw")
    assert [v.source for v in versions] == ["b", "c"]  # both, committed together


def test_the_first_session_migrates_once_and_dispose_keeps_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'fresh.db'}"  # a folder that is not there
    database = get_database(url)
    assert inspect(database.engine).get_table_names() == []  # created: nothing happened yet
    with database.session() as session:
        assert crud.latest_version(session, "raw") is None
    assert "raw_prices" in inspect(database.engine).get_table_names()

    def no_second_migration(*args, **kwargs) -> None:
        raise AssertionError("migrated twice")

    monkeypatch.setattr("stock_lstm.data_pipeline.migrations.upgrade", no_second_migration)
    dispose_engines()
    again = get_database(url)
    assert again is not database  # forgotten, but still known to be migrated
    with again.session() as session:
        assert crud.latest_version(session, "raw") is None
    with database.session() as session:  # an object held across the dispose still works
        assert crud.latest_version(session, "raw") is None
    dispose_engines()
