"""Migration 0006 on SQLite and PostgreSQL: a database with registered model versions upgrades
in place; the versions keep every field and have no training fingerprint (they train again
once), new ones record theirs."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from stock_lstm.data_pipeline.database import dispose_engines, get_database
from stock_lstm.data_pipeline.migrations import upgrade
from tests.helpers.database import crud_on, migrated_engine
from tests.helpers.registry import record_version


def test_model_versions_upgrade_in_place(empty_database_url: str) -> None:
    engine = get_database(empty_database_url).engine
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO model_versions (model_version, trained_at, created_at, parameters, "
                "metrics, model_sha256, scaler_sha256, status) VALUES ('old', :at, :at, "
                "'{\"a\": 1}', '{}', :m, :s, 'champion')"
            ),
            {"at": datetime(2026, 1, 1, tzinfo=UTC), "m": "0" * 64, "s": "1" * 64},
        )
    dispose_engines()

    migrated_engine(empty_database_url)  # upgrades to head
    old = crud_on(empty_database_url).get_model_version("old")
    assert (old.status, old.parameters, old.training_fingerprint) == ("champion", {"a": 1}, None)
    record_version(empty_database_url, "new", training_fingerprint="f" * 64)
    assert crud_on(empty_database_url).model_version_trained_from("f" * 64).model_version == "new"
    assert crud_on(empty_database_url).model_version_trained_from("e" * 64) is None
