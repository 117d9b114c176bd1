"""Migration 0002 on SQLite and PostgreSQL: a database of full-copy versions (the schema and
the saves of revision 0001) upgrades in place and loads every version with its old hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import dispose_engines, get_database
from stock_lstm.data_pipeline.migrations import upgrade
from tests.helpers.bars import bars
from tests.helpers.database import crud_on, migrated_engine


def old_save(connection: sa.Connection, frame: pd.DataFrame, stage: str, parent: int | None):
    """What a save of revision 0001 did: a version row and a full copy of the table, with
    content_hash = sha256 of the canonical CSV of the whole table."""
    canonical = crud.canonical_frame(frame, stage)
    versions = sa.table(
        "data_versions",
        *(
            sa.column(c)
            for c in ("id", "stage", "created_at", "source", "content_hash", "row_count")
        ),
        sa.column("parent_id"),
    )
    version_id = connection.execute(
        sa.insert(versions)
        .values(
            stage=stage,
            created_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
            source="old",
            content_hash=crud.content_hash(canonical),
            row_count=len(canonical),
            parent_id=parent,
        )
        .returning(versions.c.id)
    ).scalar_one()
    name = {"raw": "raw_prices", "clean": "clean_prices", "features": "features"}[stage]
    columns = crud.stage_columns(stage)
    table = sa.table(name, sa.column("version_id"), *(sa.column(c) for c in columns))
    rows = [
        {
            "version_id": version_id,
            **{
                c: (None if pd.isna(v) else v.date() if isinstance(v, pd.Timestamp) else v)
                for c, v in zip(columns, values, strict=True)
            },
        }
        for values in canonical.astype(object).itertuples(index=False)
    ]
    connection.execute(sa.insert(table), rows)
    return version_id


def test_full_copy_versions_upgrade_in_place(empty_database_url: str) -> None:
    engine = get_database(empty_database_url).engine
    upgrade(engine, "0001")
    restated = bars("MSFT", 6)
    restated.loc[2, "close"] = 99.0
    history = [  # (stage, frame): the table each old save copied whole
        ("raw", pd.concat([bars("MSFT", 5), bars("GOOG", 4)])),
        ("raw", pd.concat([bars("MSFT", 6), bars("GOOG", 4)])),  # one new day
        ("raw", restated),  # a restated close, and GOOG dropped (the old behaviour)
        ("raw", restated),  # the same content again is stored again: a rerun of a copy
        ("features", bars("MSFT", 3)[["ticker", "date", "close"]].assign(log_return=np.nan)),
    ]
    ids = []
    with engine.begin() as connection:
        for stage, frame in history:
            ids.append(old_save(connection, frame, stage, None))
    hashes = {v.id: v.content_hash for v in crud_on(empty_database_url).list_versions()}
    dispose_engines()

    engine = migrated_engine(empty_database_url)  # upgrades to head
    with engine.connect() as connection:
        raw_rows = connection.execute(sa.text("SELECT count(*) FROM raw_prices")).scalar_one()
    assert raw_rows == 9 + 1 + 1  # 9 first rows, 1 new day, 1 restated close

    for version_id, (stage, frame) in zip(ids, history, strict=True):
        version = crud_on(empty_database_url).get_version(version_id)
        assert version.hash_method == crud.TABLE_HASH
        assert version.content_hash == hashes[version_id]
        loaded = crud_on(empty_database_url).load_stage_frame(stage, version_id)
        assert crud.table_hash(loaded, stage, crud.TABLE_HASH) == hashes[version_id]
        pd.testing.assert_frame_equal(
            loaded.reset_index(drop=True),
            crud.canonical_frame(frame, stage),
            check_dtype=False,
        )
    summaries = crud_on(empty_database_url).ticker_summaries("raw")
    assert [(s.ticker, s.rows) for s in summaries] == [("MSFT", 6)]

    # the next save stores only its change
    result = crud_on(empty_database_url).save_stage_frame(bars("MSFT", 7), "raw", source="new")
    assert result.changes == {"MSFT": crud.TickerChange(new=1, restated=1)}
    assert result.version.hash_method == crud.TICKERS_HASH
    latest = crud_on(empty_database_url).load_stage_frame("raw")
    assert crud.table_hash(latest, "raw") == result.version.content_hash
    assert len(crud_on(empty_database_url).load_stage_frame("raw", ids[1])) == 10  # still there


def test_the_downgrade_gives_the_full_copies_back(database_url: str) -> None:
    crud_on(database_url).save_stage_frame(bars("MSFT", 5), "raw", source="a")
    crud_on(database_url).save_stage_frame(bars("MSFT", 6), "raw", source="b")
    expected = [
        len(crud_on(database_url).load_stage_frame("raw", v.id))
        for v in crud_on(database_url).list_versions("raw")
    ]
    from alembic import command

    from stock_lstm.data_pipeline.migrations import alembic_config

    engine = migrated_engine(database_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with engine.connect() as connection:
        counts = connection.execute(
            sa.text("SELECT version_id, count(*) FROM raw_prices GROUP BY version_id ORDER BY 1")
        ).all()
    assert [n for _, n in counts] == expected == [5, 6]


def test_head_revision_names_the_newest_revision() -> None:
    """Database.migrate skips Alembic for a database at HEAD_REVISION: it must be the head."""
    from alembic.script import ScriptDirectory

    from stock_lstm.data_pipeline.migrations import HEAD_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
