"""The versioned data layer on SQLite and PostgreSQL: round trips, versioning, atomic saves."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.orm_models import DataVersion, RawPrice, TickerVersion
from tests.helpers.bars import bars
from tests.helpers.database import crud_on, migrated_engine


def test_migrations_create_every_table_with_its_keys(database_url):
    inspector = inspect(migrated_engine(database_url))
    tables = set(inspector.get_table_names())
    assert {
        "data_versions",
        "raw_prices",
        "clean_prices",
        "features",
        "model_versions",
        "predictions",
        "alembic_version",
        "ticker_versions",
    } <= tables
    assert inspector.get_pk_constraint("raw_prices")["constrained_columns"] == [
        "valid_from",
        "ticker",
        "date",
    ]
    assert "ix_data_versions_stage_id" in {
        i["name"] for i in inspector.get_indexes("data_versions")
    }
    for table in ("raw_prices", "clean_prices", "features"):
        indexes = {i["name"]: i for i in inspector.get_indexes(table)}
        newest = indexes[f"ix_{table}_open_ticker_date"]  # the API's single-ticker path
        assert newest["column_names"] == ["ticker", "date"] and newest["unique"]


def test_round_trip_keeps_values_and_dtypes(database_url):
    frame = pd.concat([bars("MSFT"), bars("GOOG", 3)])
    result = crud_on(database_url).save_stage_frame(frame, "raw", source="csv")
    assert result.created and result.version.row_count == 8

    loaded = crud_on(database_url).load_stage_frame("raw")

    assert list(loaded.columns) == crud.stage_columns("raw")
    assert loaded["date"].dtype == "datetime64[ns]"
    assert loaded["close"].dtype == "float64" and loaded["volume"].dtype == "Int64"
    assert list(loaded["ticker"]) == ["GOOG"] * 3 + ["MSFT"] * 5  # sorted by ticker, date
    msft = loaded[loaded.ticker == "MSFT"].reset_index(drop=True)
    np.testing.assert_array_equal(msft["close"], bars("MSFT")["close"])
    assert pd.isna(msft.loc[0, "adj_close"])
    assert loaded.attrs == {"version_id": result.version.id, "stage": "raw", "source": "csv"}


def test_same_content_twice_gives_one_version(database_url):
    frame = bars()
    first = crud_on(database_url).save_stage_frame(frame, "raw", source="csv")
    second = crud_on(database_url).save_stage_frame(frame.iloc[::-1], "raw", source="csv")

    assert not second.created
    assert second.version.id == first.version.id
    assert len(crud_on(database_url).list_versions("raw")) == 1


def test_reloaded_content_saves_as_the_same_version(database_url):
    crud_on(database_url).save_stage_frame(bars(), "raw", source="csv")
    reloaded = crud_on(database_url).load_stage_frame("raw")
    assert not crud_on(database_url).save_stage_frame(reloaded, "raw", source="csv").created


def test_a_version_stores_only_the_change_and_old_versions_stay_readable(database_url):
    first = crud_on(database_url).save_stage_frame(bars(days=5), "raw", source="a")
    second = crud_on(database_url).save_stage_frame(bars(days=6), "raw", source="b")

    assert second.version.rows_added == 1 and second.version.rows_closed == 0
    assert second.changes == {"MSFT": crud.TickerChange(new=1)}
    assert _row_counts(database_url) == (2, 6)  # 5 + 1 rows, not 5 + 6
    assert len(crud_on(database_url).load_stage_frame("raw", first.version.id)) == 5
    assert len(crud_on(database_url).load_stage_frame("raw")) == 6


def test_changed_content_creates_a_version_with_its_parent(database_url):
    raw = crud_on(database_url).save_stage_frame(bars(), "raw", source="csv").version
    clean_v1 = (
        crud_on(database_url)
        .save_stage_frame(bars(), "clean", source="cleaning", parent_id=raw.id)
        .version
    )
    clean_v2 = (
        crud_on(database_url)
        .save_stage_frame(bars(shift=1.0), "clean", source="cleaning", parent_id=raw.id)
        .version
    )

    assert clean_v2.id != clean_v1.id
    assert clean_v2.parent_id == raw.id and clean_v2.stage == "clean"
    assert crud_on(database_url).latest_version("clean").id == clean_v2.id
    # the same content in another stage is a version of that stage, not a duplicate
    assert crud_on(database_url).latest_version("raw").id == raw.id


def test_pinned_version_loads_that_version(database_url):
    v1 = crud_on(database_url).save_stage_frame(bars(), "raw", source="a").version
    crud_on(database_url).save_stage_frame(bars(shift=5.0), "raw", source="b")

    pinned = crud_on(database_url).load_stage_frame("raw", v1.id)
    latest = crud_on(database_url).load_stage_frame("raw")

    assert pinned["close"].iloc[0] == 10.0 and latest["close"].iloc[0] == 15.0
    assert pinned.attrs["source"] == "a"


def test_empty_stage_load_names_the_stage(database_url):
    with pytest.raises(crud.StageError, match="stage 'clean' has no data yet"):
        crud_on(database_url).load_stage_frame("clean")


def test_pinning_a_version_of_another_stage_is_refused(database_url):
    raw = crud_on(database_url).save_stage_frame(bars(), "raw", source="csv").version
    with pytest.raises(crud.StageError, match="stage 'clean' has no version"):
        crud_on(database_url).load_stage_frame("clean", raw.id)


def _row_counts(url: str) -> tuple[int, int]:
    with get_database(url).session() as session:
        return (
            session.scalar(select(func.count()).select_from(DataVersion)),
            session.scalar(select(func.count()).select_from(RawPrice)),
        )


def test_a_save_that_fails_midway_leaves_no_trace(database_url, monkeypatch):
    crud_on(database_url).save_stage_frame(bars(days=3), "raw", source="csv")
    before = _row_counts(database_url)
    monkeypatch.setattr(crud.stage_write, "INSERT_CHUNK_ROWS", 2)  # where _records reads it
    original = crud.Session.execute
    calls = {"n": 0}

    def fail_on_second_chunk(self, statement, *args, **kwargs):
        if getattr(statement, "is_insert", False) and statement.table.name == "raw_prices":
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("disk on fire")
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(crud.Session, "execute", fail_on_second_chunk)
    with pytest.raises(RuntimeError, match="disk on fire"):
        crud_on(database_url).save_stage_frame(bars(days=6, shift=3.0), "raw", source="csv")

    assert calls["n"] == 2  # the first chunk was written before the failure
    assert _row_counts(database_url) == before
    assert [(s.ticker, s.rows) for s in crud_on(database_url).ticker_summaries("raw")] == [
        ("MSFT", 3)
    ]
    assert crud_on(database_url).latest_version("raw").row_count == 3


def test_a_duplicate_key_rolls_the_whole_save_back(database_url):
    frame = pd.concat([bars(days=4), bars(days=1)])  # (MSFT, 2020-01-02) twice
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        crud_on(database_url).save_stage_frame(frame, "raw", source="csv")
    assert _row_counts(database_url) == (0, 0)


def test_a_frame_without_a_required_column_is_refused_by_name(database_url):
    with pytest.raises(crud.FrameSchemaError, match="lacks column.*close"):
        crud_on(database_url).save_stage_frame(bars().drop(columns="close"), "features", source="x")


def test_ticker_queries(database_url):
    crud_on(database_url).save_stage_frame(
        pd.concat([bars("MSFT", 10), bars("GOOG", 4)]), "clean", source="cleaning"
    )
    summaries = crud_on(database_url).ticker_summaries("clean")
    assert [(s.ticker, s.rows) for s in summaries] == [("GOOG", 4), ("MSFT", 10)]
    assert summaries[1].first_date == date(2020, 1, 2)

    newest = crud_on(database_url).load_ticker_prices("MSFT", limit=3)
    assert list(newest["close"]) == [17.0, 18.0, 19.0]
    window = crud_on(database_url).load_ticker_prices(
        "MSFT", start=date(2020, 1, 3), end=date(2020, 1, 6)
    )
    assert [d.date() for d in window["date"]] == [date(2020, 1, 3), date(2020, 1, 6)]
    assert crud_on(database_url).load_ticker_prices("AAPL").empty


def test_model_versions_and_predictions(database_url):
    assert crud_on(database_url).get_model_version() is None
    info = dict(
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        data_version_id=None,
        parameters={"window": 60},
        metrics={"mae": 1.0},
        model_sha256="a" * 64,
        scaler_sha256="b" * 64,
    )
    crud_on(database_url).record_model_version(model_version="2026-01-01T00.00.00.000Z", **info)
    crud_on(database_url).record_model_version(
        model_version="2026-01-01T00.00.00.000Z", **{**info, "metrics": {"mae": 0.5}}
    )
    latest = crud_on(database_url).get_model_version()
    assert latest.model_version == "2026-01-01T00.00.00.000Z" and latest.metrics == {"mae": 0.5}

    row = dict(
        request_id="r1",
        ticker=None,
        model_version="v",
        horizon=2,
        values=[{"step": 1, "close": 1.0}, {"step": 2, "close": 2.0}],
        latency_ms=1.5,
    )
    assert crud_on(database_url).record_predictions([row, {**row, "ticker": "MSFT"}]) == 2
    assert crud_on(database_url).count_predictions() == 2
    assert crud_on(database_url).recent_predictions(1)[0]["ticker"] == "MSFT"


def test_simultaneous_saves_of_the_same_content_store_one_version(database_url, monkeypatch):
    """Both writers read "no version yet" unless saves of a stage are serialised."""
    import threading

    crud_on(database_url).save_stage_frame(bars(days=2), "raw", source="seed")  # migrate first
    original = crud._latest
    # Unserialised, both writers meet here after reading the latest version, so both read "no
    # version yet" whatever the scheduling; serialised, the second cannot reach it while the
    # first waits, and the first goes on when the wait times out.
    both_read = threading.Barrier(2, timeout=1.0)

    def latest_then_meet(session, stage):
        found = original(session, stage)
        try:
            both_read.wait()
        except threading.BrokenBarrierError:
            pass
        return found

    monkeypatch.setattr(crud.stage_write, "_latest", latest_then_meet)
    results, errors = [], []

    def save():
        try:
            results.append(crud_on(database_url).save_stage_frame(bars(days=9), "raw", source="x"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert len(crud_on(database_url).list_versions("raw")) == 2


def test_a_model_version_links_to_the_mlflow_run_that_trained_it(database_url):
    columns = {
        c["name"]: c for c in inspect(migrated_engine(database_url)).get_columns("model_versions")
    }
    assert columns["mlflow_run_id"]["nullable"]  # migration 0004
    version = "2026-01-01T00.00.00.000Z"
    info = dict(
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        data_version_id=None,
        parameters={},
        metrics={"mae": 1.0},
        model_sha256="a" * 64,
        scaler_sha256="b" * 64,
    )
    crud_on(database_url).record_model_version(model_version=version, **info)
    assert crud_on(database_url).get_model_version(version).mlflow_run_id is None

    crud_on(database_url).set_model_version_mlflow_run(version, "0123abcd")
    crud_on(database_url).record_model_version(model_version=version, **info)  # re-evaluated

    assert crud_on(database_url).get_model_version(version).mlflow_run_id == "0123abcd"
    with pytest.raises(LookupError, match="no model_versions row for model version nope"):
        crud_on(database_url).set_model_version_mlflow_run("nope", "0123abcd")


# --- the versioned save (crud.stage_write), save by save: what each version records (changes
# per ticker, rows added and closed, each changed ticker's hash, size, date range and first
# changed date) is what it stores, checked against the rows read back and against counts worked
# out by hand. Fast: mutation testing runs these (`make mutation`).

D = pd.bdate_range("2020-01-02", periods=12).date  # the business days bars() uses
Change = crud.TickerChange


def save_to(url: str, frame: pd.DataFrame, stage: str = "clean", **options) -> crud.SaveResult:
    with get_database(url).session() as session:
        return crud.save_stage_frame(
            session, frame, stage, source=options.pop("source", "t"), **options
        )


def recorded(url: str, version_id: int) -> dict[str, tuple]:
    """Per ticker the version changed: (row_count, first_date, last_date, changed_from)."""
    with get_database(url).session() as session:
        rows = session.scalars(select(TickerVersion).where(TickerVersion.version_id == version_id))
        return {r.ticker: (r.row_count, r.first_date, r.last_date, r.changed_from) for r in rows}


def check(url: str, result: crud.SaveResult, stage: str = "clean") -> pd.DataFrame:
    """The version's table, after checking that its records match its rows: each changed
    ticker's hash, row count and date range, the version's hash and row count."""
    with get_database(url).session() as session:
        table = crud.load_stage_frame(session, stage, result.version.id)
        rows = session.scalars(
            select(TickerVersion).where(TickerVersion.version_id == result.version.id)
        ).all()
        assert {r.ticker for r in rows} == set(result.changes)
        for row in rows:
            mine = table[table["ticker"] == row.ticker]
            if row.row_count == 0:
                assert mine.empty and (row.content_hash, row.first_date, row.last_date) == (
                    None,
                    None,
                    None,
                )
                continue
            assert row.content_hash == crud.ticker_hash(mine, stage)
            assert row.row_count == len(mine)
            assert (row.first_date, row.last_date) == (
                mine["date"].min().date(),
                mine["date"].max().date(),
            )
            change = result.changes[row.ticker]
            assert (row.rows_new, row.rows_restated, row.rows_removed) == (
                change.new,
                change.restated,
                change.removed,
            )
    assert result.version.content_hash == crud.table_hash(table, stage)
    assert result.version.row_count == len(table)
    return table.reset_index(drop=True)


def test_new_appended_and_unchanged_tickers(database_url: str) -> None:
    first = save_to(database_url, pd.concat([bars("MSFT", 5), bars("GOOG", 3)]), source="s" * 300)
    assert first.created and first.changes == {"GOOG": Change(new=3), "MSFT": Change(new=5)}
    assert (first.version.rows_added, first.version.rows_closed) == (8, 0)
    assert first.version.source == "s" * 255 and first.version.stage == "clean"
    assert first.version.hash_method == crud.TICKERS_HASH == "tickers"
    assert recorded(database_url, first.version.id) == {
        "GOOG": (3, D[0], D[2], D[0]),
        "MSFT": (5, D[0], D[4], D[0]),
    }
    check(database_url, first)

    # MSFT's five bars again plus two: only the two are written; GOOG is not mentioned
    second = save_to(database_url, bars("MSFT", 7), parent_id=first.version.id)
    assert (
        second.changes == {"MSFT": Change(new=2)} and second.version.parent_id == first.version.id
    )
    assert (second.version.rows_added, second.version.rows_closed) == (2, 0)
    assert recorded(database_url, second.version.id) == {"MSFT": (7, D[0], D[6], D[5])}
    table = check(database_url, second)
    assert list(table["ticker"]) == ["GOOG"] * 3 + ["MSFT"] * 7

    # a frame of recent bars only (from D[3]) that adds one: the older bars are left alone
    third = save_to(database_url, bars("MSFT", 8).iloc[3:])
    assert third.changes == {"MSFT": Change(new=1)}
    assert recorded(database_url, third.version.id) == {"MSFT": (8, D[0], D[7], D[7])}
    check(database_url, third)

    # the same content (any order) writes no version: the latest is returned
    again = save_to(database_url, pd.concat([bars("GOOG", 3), bars("MSFT", 8)]).iloc[::-1])
    assert not again.created and again.changes == {} and again.version.id == third.version.id

    with pytest.raises(crud.StageError, match="cannot save stage 'clean': parent version 99 does"):
        save_to(database_url, bars("MSFT", 9), parent_id=99)


def test_a_derived_stage_restates_and_removes_what_the_frame_changes(database_url: str) -> None:
    first = save_to(database_url, pd.concat([bars("MSFT", 8), bars("GOOG", 4)]))
    changed = bars("MSFT", 9)
    changed.loc[2, "close"] = 99.0  # D[2] restated
    changed.loc[5, "volume"] = pd.NA  # D[5] restated: a value became missing
    changed = changed.drop(index=6)  # D[6] no longer given: removed
    goog = bars("GOOG", 5, shift=1.0).iloc[1:]  # from D[1]: D[1..3] restated, D[4] new
    result = save_to(database_url, pd.concat([changed, goog]))
    assert result.changes == {
        "GOOG": Change(new=1, restated=3),
        "MSFT": Change(new=1, restated=2, removed=1),
    }
    assert (result.version.rows_added, result.version.rows_closed) == (7, 6)
    assert recorded(database_url, result.version.id) == {
        "GOOG": (5, D[0], D[4], D[1]),
        "MSFT": (8, D[0], D[8], D[2]),
    }
    table = check(database_url, result)
    msft = table[table["ticker"] == "MSFT"].set_index("date")
    assert msft.loc[pd.Timestamp(D[2]), "close"] == 99.0 and pd.Timestamp(D[6]) not in msft.index
    assert pd.isna(msft.loc[pd.Timestamp(D[5]), "volume"])
    goog = table[table["ticker"] == "GOOG"]
    assert list(goog["close"]) == [10.0, 12.0, 13.0, 14.0, 15.0]  # D[0] kept, the rest shifted
    # the version before still reads as it was
    with get_database(database_url).session() as session:
        before = crud.load_stage_frame(session, "clean", first.version.id)
    assert len(before) == 12 and before["close"].max() == 17.0


def test_since_replaces_a_ticker_from_a_date_or_wholly(database_url: str) -> None:
    save_to(database_url, pd.concat([bars("MSFT", 8), bars("GOOG", 6), bars("AAPL", 4)]))
    # MSFT from D[5] (the frame's D[0..4] are a lookback, ignored; D[6] and D[7] are no longer
    # given), GOOG named but absent: its rows from D[2] go; AAPL wholly: only D[1] is left
    lookback = pd.concat([bars("MSFT", 5, shift=50.0), bars("MSFT", 6).iloc[5:]])
    aapl = bars("AAPL", 2).iloc[1:]
    since = {"MSFT": D[5], "GOOG": D[2], "AAPL": None}
    result = save_to(database_url, pd.concat([lookback, aapl]), since=since)
    assert result.changes == {
        "AAPL": Change(removed=3),
        "GOOG": Change(removed=4),
        "MSFT": Change(removed=2),
    }
    assert (result.version.rows_added, result.version.rows_closed) == (0, 9)
    assert recorded(database_url, result.version.id) == {
        "AAPL": (1, D[1], D[1], D[0]),
        "GOOG": (2, D[0], D[1], D[2]),
        "MSFT": (6, D[0], D[5], D[6]),
    }
    check(database_url, result)

    gone = save_to(database_url, bars("MSFT", 6), since={"AAPL": None})
    assert gone.changes == {"AAPL": Change(removed=1)}
    assert recorded(database_url, gone.version.id) == {"AAPL": (0, None, None, D[1])}
    table = check(database_url, gone)
    assert sorted(set(table["ticker"])) == ["GOOG", "MSFT"]
    # a ticker whose rows were all removed comes back as new rows
    back = save_to(database_url, bars("AAPL", 2))
    assert back.changes == {"AAPL": Change(new=2)}
    assert recorded(database_url, back.version.id) == {"AAPL": (2, D[0], D[1], D[0])}
    check(database_url, back)


def test_a_source_stage_keeps_the_bars_a_fetch_lacks(database_url: str) -> None:
    save_to(database_url, bars("MSFT", 6), "raw")
    gap = bars("MSFT", 6).drop(index=[0, 3])  # D[0] and D[3] missing: kept
    assert not save_to(database_url, gap, "raw", keep_missing=True).created
    restated = bars("MSFT", 8).drop(index=[0, 3])
    restated.loc[4, "close"] = 42.0
    result = save_to(database_url, restated, "raw", keep_missing=True)
    assert result.changes == {"MSFT": Change(new=2, restated=1)}
    assert (result.version.rows_added, result.version.rows_closed) == (3, 1)
    assert recorded(database_url, result.version.id) == {"MSFT": (8, D[0], D[7], D[4])}
    table = check(database_url, result, "raw")
    assert len(table) == 8 and table.loc[4, "close"] == 42.0
    # a window older than the stored one only adds, and the range grows at the front
    older = bars("MSFT", 3, start="2019-12-26")  # 26, 27, 30, 31 Dec: three of them
    result = save_to(database_url, older, "raw", keep_missing=True)
    assert result.changes == {"MSFT": Change(new=3)}
    assert recorded(database_url, result.version.id) == {
        "MSFT": (11, date(2019, 12, 26), D[7], date(2019, 12, 26))
    }
    check(database_url, result, "raw")


def test_rows_are_written_in_chunks(database_url: str, monkeypatch) -> None:
    monkeypatch.setattr(crud.stage_write, "INSERT_CHUNK_ROWS", 3)
    chunks = list(crud.stage_write._records(crud.canonical_frame(bars("MSFT", 7), "raw"), "raw"))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert chunks[2][0]["date"] == D[6] and chunks[0][1]["close"] == 11.0
    assert chunks[0][0]["adj_close"] is None and chunks[1][0]["volume"] == 3007
    result = save_to(database_url, bars("MSFT", 7), "raw")
    assert check(database_url, result, "raw")["volume"].tolist() == [7 + 1000 * i for i in range(7)]


def test_removing_a_ticker_is_a_version_per_stage_holding_it(database_url: str) -> None:
    raw = save_to(database_url, pd.concat([bars("MSFT", 4), bars("GOOG", 3)]), "raw").version
    save_to(database_url, pd.concat([bars("MSFT", 4), bars("GOOG", 2)]), "clean")
    with get_database(database_url).session() as session:
        written = crud.remove_ticker(session, " goog ", source="ops")
    assert list(written) == ["raw", "clean"]
    raw_removal, clean_removal = written["raw"], written["clean"]
    assert (raw_removal.source, raw_removal.parent_id) == ("ops GOOG", None)
    assert raw_removal.hash_method == clean_removal.hash_method == "tickers"
    assert clean_removal.parent_id == raw_removal.id and raw_removal.id > raw.id
    assert (raw_removal.rows_added, raw_removal.rows_closed, raw_removal.row_count) == (0, 3, 4)
    assert (clean_removal.rows_closed, clean_removal.row_count) == (2, 4)
    assert recorded(database_url, raw_removal.id) == {"GOOG": (0, None, None, D[0])}
    with get_database(database_url).session() as session:
        [change] = crud.ticker_changes(session, clean_removal.id)
        left = crud.load_stage_frame(session, "raw")
        before = crud.load_stage_frame(session, "raw", raw.id)
    assert (change.ticker, change.content_hash, change.rows_removed) == ("GOOG", None, 2)
    assert (change.row_count, change.rows_new, change.rows_restated) == (0, 0, 0)
    assert set(left["ticker"]) == {"MSFT"} and len(before) == 7
    assert raw_removal.content_hash == crud.table_hash(left, "raw")
    with pytest.raises(crud.StageError, match="ticker 'GOOG' is not stored in any stage"):
        with get_database(database_url).session() as session:
            crud.remove_ticker(session, "goog")


def test_a_ticker_only_a_later_stage_holds_is_removed_there(database_url: str) -> None:
    save_to(database_url, bars("MSFT", 3), "raw")
    save_to(database_url, pd.concat([bars("MSFT", 3), bars("AAPL", 2)]), "clean")
    with get_database(database_url).session() as session:
        written = crud.remove_ticker(session, "AAPL")  # not in raw: clean's removal is the first
    assert list(written) == ["clean"]
    assert (written["clean"].source, written["clean"].parent_id) == ("remove-ticker AAPL", None)
    assert (written["clean"].rows_closed, written["clean"].row_count) == (2, 3)


def test_a_removal_closes_only_the_tickers_open_rows(database_url: str) -> None:
    save_to(database_url, pd.concat([bars("MSFT", 3), bars("GOOG", 3)]), "raw")
    restated = bars("GOOG", 3)
    restated.loc[1, "close"] = 50.0
    v2 = save_to(database_url, pd.concat([bars("MSFT", 3), restated]), "raw").version
    with get_database(database_url).session() as session:
        removal = crud.remove_ticker(session, "GOOG", source="s" * 300)["raw"]
        as_of_v2 = crud.load_stage_frame(session, "raw", v2.id)
    assert removal.source == "s" * 255
    goog = as_of_v2[as_of_v2["ticker"] == "GOOG"]  # the restated row's old version stays closed
    assert list(goog["close"]) == [10.0, 50.0, 12.0]


def test_a_ticker_cut_from_a_date_keeps_the_range_of_its_open_rows(database_url: str) -> None:
    save_to(database_url, pd.concat([bars("GOOG", 6), bars("MSFT", 4)]))
    assert save_to(database_url, bars("GOOG", 5)).changes == {"GOOG": Change(removed=1)}
    msft = bars("MSFT", 8)
    msft.loc[1, "close"] = 30.0
    # GOOG named from D[3] but absent: D[3] and D[4] go (D[5] was closed before); MSFT's
    # restated bar and four new ones are diffed in the same save
    result = save_to(database_url, msft, since={"GOOG": D[3], "MSFT": D[0]})
    assert result.changes == {"GOOG": Change(removed=2), "MSFT": Change(new=4, restated=1)}
    assert recorded(database_url, result.version.id) == {
        "GOOG": (3, D[0], D[2], D[3]),
        "MSFT": (8, D[0], D[7], D[1]),
    }
    check(database_url, result)


def test_an_unchanged_window_of_one_ticker_does_not_hide_the_next_ones_change(
    database_url: str,
) -> None:
    save_to(database_url, pd.concat([bars("AAA", 6), bars("BBB", 6)]))
    bbb = bars("BBB", 6)
    bbb.loc[4, "close"] = 77.0
    # both from D[3] (recent bars): AAA's are as stored, BBB's D[4] is restated
    result = save_to(database_url, pd.concat([bars("AAA", 6), bbb]).query("date >= @D[3]"))
    assert result.changes == {"BBB": Change(restated=1)}
    assert recorded(database_url, result.version.id) == {"BBB": (6, D[0], D[5], D[4])}
    check(database_url, result)


def test_appending_to_unchanged_tickers_reads_no_stored_row(database_url: str, monkeypatch) -> None:
    save_to(database_url, pd.concat([bars("MSFT", 5), bars("GOOG", 3)]))
    read: list[dict] = []
    stored_rows = crud.stage_write._stored_rows

    def recording(session, stage, windows):
        read.append(dict(windows))
        return stored_rows(session, stage, windows)

    monkeypatch.setattr(crud.stage_write, "_stored_rows", recording)
    appended = save_to(database_url, pd.concat([bars("MSFT", 7), bars("GOOG", 3)]))
    assert appended.changes == {"MSFT": Change(new=2)} and read == []  # hashes suffice
    recent = save_to(database_url, bars("MSFT", 8).iloc[3:])  # from D[3]: diffed
    assert recent.changes == {"MSFT": Change(new=1)} and read == [{"MSFT": D[3]}]


def test_a_diffed_ticker_given_in_the_frame_takes_its_range_from_the_frame(
    database_url: str, monkeypatch
) -> None:
    save_to(database_url, bars("GOOG", 6))
    looked_up: list[str] = []
    stored_range = crud.stage_write._stored_range

    def recording(session, stage, ticker, closing, inserted):
        looked_up.append(ticker)
        return stored_range(session, stage, ticker, closing, inserted)

    monkeypatch.setattr(crud.stage_write, "_stored_range", recording)
    restated = bars("GOOG", 6)
    restated.loc[2, "close"] = 5.0
    result = save_to(database_url, restated)
    assert recorded(database_url, result.version.id) == {"GOOG": (6, D[0], D[5], D[2])}
    # replaced from D[0], the frame starting at D[2]: D[0] and D[1] go, the range starts at D[2]
    result = save_to(database_url, restated.iloc[2:], since={"GOOG": D[0]})
    assert result.changes == {"GOOG": Change(removed=2)}
    assert recorded(database_url, result.version.id) == {"GOOG": (4, D[2], D[5], D[0])}
    assert looked_up == []  # no stored range read back: the frame gives it
    check(database_url, result)


def test_a_save_of_no_rows_can_still_remove_a_named_ticker(database_url: str) -> None:
    save_to(database_url, pd.concat([bars("GOOG", 3), bars("MSFT", 2)]))
    result = save_to(database_url, bars("GOOG", 3).iloc[0:0], since={"GOOG": None})
    assert result.changes == {"GOOG": Change(removed=3)}
    assert recorded(database_url, result.version.id) == {"GOOG": (0, None, None, D[0])}
    assert set(check(database_url, result)["ticker"]) == {"MSFT"}


def test_a_bar_restated_twice_reads_as_each_version_had_it(database_url: str) -> None:
    save_to(database_url, bars("MSFT", 3))
    versions = []
    for close in (50.0, 60.0):
        restated = bars("MSFT", 3)
        restated.loc[1, "close"] = close
        versions.append(save_to(database_url, restated).version.id)
    with get_database(database_url).session() as session:
        middle = crud.load_stage_frame(session, "clean", versions[0])
        latest = crud.load_stage_frame(session, "clean")
    assert list(middle["close"]) == [10.0, 50.0, 12.0]
    assert list(latest["close"]) == [10.0, 60.0, 12.0]


def test_a_save_that_changes_nothing_in_an_empty_stage_has_no_version(database_url: str) -> None:
    result = save_to(database_url, bars("MSFT", 3).iloc[0:0])
    assert result == crud.SaveResult(None, False)
