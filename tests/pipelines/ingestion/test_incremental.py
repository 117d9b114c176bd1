"""Versions by change, through real Kedro runs (hooks on) on SQLite and PostgreSQL: a daily
replay of the snapshot, time travel, accumulating tickers, restatements, unchanged reruns.

One project copy per database, bootstrapped once; the first run most tests start from (the
snapshot's, or a user folder's, up to FIRST_END) is made once and each test gets its own copy
of the database it left (`ingested`, `csv_ingested`)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kedro.framework.session import KedroSession

from stock_lstm.api.app import create_app
from stock_lstm.cli import data_versions as versions_cli
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.sources import yfinance as yf_source
from stock_lstm.ml_models.common.series import add_log_returns
from tests.api.conftest import settings_for
from tests.helpers.database import crud_on
from tests.helpers.ingestion import SharedProject
from tests.helpers.yahoo import RangedYahoo

SNAPSHOT = Path(__file__).resolve().parents[3] / "data" / "01_raw" / "snapshot"
FILES = {"^GSPC": "GSPC.csv", "GOOG": "GOOG.csv", "MSFT": "MSFT.csv"}
START = "2012-01-01"  # conf/test/parameters_ingestion.yml
FIRST_END = "2013-01-31"
STAGES = ("raw", "clean", "features")
PIPELINES = "ingestion,cleaning,feature_engineering"
# Each replayed day is three Kedro runs; five days show each day's bars added (a longer replay
# repeats the same step: the daily loop's long horizon is tests/monitoring/test_replay.py's).
REPLAY_DAYS = 5


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def project_copy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedProject]:
    """This module's project copy, on SQLite and on PostgreSQL: copied and bootstrapped once per
    database, its first runs (the snapshot's, a user folder's) made once, each test on a
    database of its own copied from the state it starts from."""
    folder = tmp_path_factory.mktemp(f"incremental-{request.param}")
    with SharedProject.create(request, folder, request.param) as shared:
        yield shared


def starting_from(shared: SharedProject, state: str) -> Iterator[Path]:
    """A database of the test's own in `state`, and no report of an earlier test left behind."""
    for report in (shared.root / "data" / "08_reporting").glob("*.json"):
        report.unlink()
    with shared.database(state):
        yield shared.root


@pytest.fixture
def project(project_copy: SharedProject) -> Iterator[Path]:
    """The project copy on an empty database (at head)."""
    yield from starting_from(project_copy, "migrated")


@pytest.fixture
def ingested(project_copy: SharedProject) -> Iterator[Path]:
    """The project copy after `run(end=FIRST_END)` of the bundled snapshot."""
    project_copy.prepare("snapshot", lambda: run(end=FIRST_END))
    yield from starting_from(project_copy, "snapshot")


@pytest.fixture
def csv_ingested(project_copy: SharedProject) -> Iterator[Path]:
    """A fresh user folder (`user_folder`) and the project copy after
    `run(csv_dir=<that folder>, end=FIRST_END)`: the folder the test may edit."""
    folder = user_folder(project_copy.root)
    project_copy.prepare("csv", lambda: run(csv_dir=str(folder), end=FIRST_END))
    for _ in starting_from(project_copy, "csv"):
        yield folder


def run(pipelines: str = PIPELINES, **ingestion) -> None:
    runtime = {"ingestion": ingestion} if ingestion else None
    with KedroSession.create(env="test", runtime_params=runtime) as session:
        session.run(pipeline_names=pipelines.split(","))


def snapshot_dates() -> pd.Series:
    """The trading days of the bundled snapshot (read independently, with pandas)."""
    return pd.to_datetime(pd.read_csv(SNAPSHOT / "MSFT.csv")["Date"])


def bars_on(day: pd.Timestamp) -> dict[str, int]:
    counts = {}
    for ticker, name in FILES.items():
        dates = pd.to_datetime(pd.read_csv(SNAPSHOT / name)["Date"])
        counts[ticker] = int((dates == day).sum())
    return {t: n for t, n in counts.items() if n}


def newest(stage: str) -> crud.VersionInfo:
    version = crud_on().latest_version(stage)
    assert version is not None
    return version


def test_a_daily_replay_adds_exactly_each_days_bars(ingested: Path) -> None:
    # run(end=FIRST_END): made once, `ingested`
    first = {stage: newest(stage) for stage in STAGES}
    days = snapshot_dates()
    replay = days[days > pd.Timestamp(FIRST_END)].iloc[:REPLAY_DAYS]
    assert len(replay) == REPLAY_DAYS
    for day in replay:
        before = {stage: newest(stage) for stage in STAGES}
        run(end=f"{day:%Y-%m-%d}")
        expected = bars_on(day)
        for stage in STAGES:
            version = newest(stage)
            assert version.id != before[stage].id, (stage, day)
            assert (version.rows_added, version.rows_closed) == (sum(expected.values()), 0)
            assert version.row_count == before[stage].row_count + sum(expected.values())
            changes = crud_on().ticker_changes(version.id)
            assert {c.ticker: c.rows_new for c in changes} == expected, (stage, day)
        assert newest("clean").parent_id == newest("raw").id
        assert newest("features").parent_id == newest("clean").id
        report = json.loads(Path("data/08_reporting/ingestion_report.json").read_text())
        assert report["raw_changes"] == [f"{t}: 1 new bar, 0 restated" for t in FILES]

    # time travel: the first version reads back exactly as it was written, hash and rows
    for stage in STAGES:
        pinned = crud_on().load_stage_frame(stage, first[stage].id)
        assert crud.table_hash(pinned, stage) == first[stage].content_hash
        assert len(pinned) == first[stage].row_count
        assert pinned["date"].max() == pd.Timestamp(FIRST_END)
        latest = crud_on().load_stage_frame(stage)
        assert crud.table_hash(latest, stage) == newest(stage).content_hash
    # the features built day by day equal the features of the whole clean table at once
    whole = add_log_returns(crud_on().load_stage_frame("clean"))
    assert crud.table_hash(whole, "features") == newest("features").content_hash

    # the same run again writes nothing anywhere
    versions = crud_on().list_versions()
    run(end=f"{replay.iloc[-1]:%Y-%m-%d}")
    assert crud_on().list_versions() == versions


def test_pinned_runs_read_the_table_as_it_was(ingested: Path) -> None:
    # run(end=FIRST_END): made once, `ingested`
    old_clean = newest("clean")
    run(end="2013-02-15")
    with KedroSession.create(env="test") as session:
        context = session.load_context()
        catalog = context._get_catalog(load_versions={"clean_prices": str(old_clean.id)})
        pinned = catalog.load("clean_prices")
    assert pinned.attrs["version_id"] == old_clean.id
    assert crud.table_hash(pinned, "clean") == old_clean.content_hash
    assert pinned["date"].max() == pd.Timestamp(FIRST_END)


def user_folder(root: Path, folder: str = "mine") -> Path:
    """A copy of the snapshot's CSV files, free to edit."""
    target = root / "data" / "01_raw" / folder
    shutil.rmtree(target, ignore_errors=True)  # an earlier test's edits
    shutil.copytree(SNAPSHOT, target)
    return target


def test_adding_a_ticker_keeps_the_others_readable(ingested: Path) -> None:
    # run(end=FIRST_END): made once, `ingested`
    folder = user_folder(ingested)
    msft = pd.read_csv(folder / "MSFT.csv")
    msft.to_csv(folder / "NEWCO.csv", index=False)  # another ticker: a relabelled copy
    (folder / "manifest.json").unlink(missing_ok=True)
    before = crud_on().load_ticker_prices("MSFT")
    run(csv_dir=str(folder), tickers="NEWCO", end=FIRST_END)

    assert [s.ticker for s in crud_on().ticker_summaries("clean")] == [
        "GOOG",
        "MSFT",
        "NEWCO",
        "^GSPC",
    ]
    pd.testing.assert_frame_equal(crud_on().load_ticker_prices("MSFT"), before, check_like=True)
    changes = crud_on().ticker_changes(newest("clean").id)
    assert [c.ticker for c in changes] == ["NEWCO"]  # the others were not rewritten
    app = create_app(settings_for(ingested, os.environ["DATABASE_URL"]))
    with TestClient(app) as client:
        for ticker in ("MSFT", "NEWCO", "GOOG"):
            response = client.get(f"/api/v1/prices/{ticker}", params={"limit": 5})
            assert response.status_code == 200, response.text
            assert response.json()["count"] == 5


def test_removing_a_ticker_is_a_version_of_its_own(ingested: Path) -> None:
    # run(end=FIRST_END): made once, `ingested`
    before = {stage: newest(stage) for stage in STAGES}
    assert versions_cli.main(["remove-ticker", "goog"]) == 0  # what a user types
    written = {stage: newest(stage) for stage in STAGES}
    assert all(written[stage].id != before[stage].id for stage in STAGES)
    assert [s.ticker for s in crud_on().ticker_summaries("clean")] == ["MSFT", "^GSPC"]
    assert written["clean"].parent_id == written["raw"].id
    for stage in STAGES:
        assert "GOOG" in set(crud_on().load_stage_frame(stage, before[stage].id)["ticker"])
        assert "GOOG" not in set(crud_on().load_stage_frame(stage)["ticker"])
        assert (
            crud.table_hash(crud_on().load_stage_frame(stage), stage) == written[stage].content_hash
        )
    with pytest.raises(crud.StageError, match="'GOOG' is not stored"):
        crud_on().remove_ticker("GOOG")
    assert versions_cli.main(["remove-ticker", "GOOG"]) == 1
    run(end=FIRST_END, tickers="MSFT ^GSPC")  # ingesting the others does not bring it back
    assert [s.ticker for s in crud_on().ticker_summaries("features")] == ["MSFT", "^GSPC"]


def test_a_restated_close_is_one_new_row_version(csv_ingested: Path) -> None:
    folder = csv_ingested  # run(csv_dir=str(folder), end=FIRST_END): made once
    msft = pd.read_csv(folder / "MSFT.csv")
    row = msft.index[msft["Date"] == "2013-01-15"][0]
    old_close = float(msft.loc[row, "Close"])
    msft.loc[row, "Close"] = old_close * 1.001  # still within the day's high/low? keep it so
    msft.loc[row, "High"] = max(float(msft.loc[row, "High"]), old_close * 1.001)
    msft.to_csv(folder / "MSFT.csv", index=False)
    previous = newest("raw")
    run(csv_dir=str(folder), end=FIRST_END)

    raw = newest("raw")
    assert (raw.rows_added, raw.rows_closed) == (1, 1)
    assert [(c.ticker, c.rows_new, c.rows_restated) for c in crud_on().ticker_changes(raw.id)] == [
        ("MSFT", 0, 1)
    ]
    report = json.loads(Path("data/08_reporting/ingestion_report.json").read_text())
    assert "MSFT: 0 new bars, 1 restated" in report["raw_changes"]
    assert report["tickers"]["MSFT"]["restated_bars"] == 1
    assert report["tickers"]["GOOG"]["restated_bars"] == 0
    features = newest("features")
    # the day's close and return, and the next day's return
    assert [(c.ticker, c.rows_restated) for c in crud_on().ticker_changes(features.id)] == [
        ("MSFT", 2)
    ]
    old = crud_on().load_stage_frame("raw", previous.id)
    assert old.loc[(old.ticker == "MSFT") & (old.date == "2013-01-15"), "close"].item() == (
        old_close
    )


def test_a_split_restates_a_whole_history_in_one_version(csv_ingested: Path) -> None:
    folder = csv_ingested  # run(csv_dir=str(folder), end=FIRST_END): made once
    msft = pd.read_csv(folder / "MSFT.csv")
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        msft[column] = msft[column] / 2  # a 2:1 split, back-adjusted by the source
    msft["Volume"] = msft["Volume"] * 2
    msft.to_csv(folder / "MSFT.csv", index=False)
    count = newest("raw").row_count
    versions = len(crud_on().list_versions("raw"))
    run(csv_dir=str(folder), end=FIRST_END)

    assert len(crud_on().list_versions("raw")) == versions + 1
    raw = newest("raw")
    msft_rows = int((crud_on().load_stage_frame("raw").ticker == "MSFT").sum())
    assert (raw.rows_added, raw.rows_closed, raw.row_count) == (msft_rows, msft_rows, count)
    assert [c.ticker for c in crud_on().ticker_changes(raw.id)] == ["MSFT"]
    features = newest("features")
    # log returns are split-free: only the closes changed... and every MSFT row holds a close
    assert [(c.ticker, c.rows_restated) for c in crud_on().ticker_changes(features.id)] == [
        ("MSFT", msft_rows)
    ]


def test_a_daily_yahoo_run_asks_only_for_the_overlap(project: Path, monkeypatch) -> None:
    table = pd.read_csv(SNAPSHOT / "MSFT.csv", index_col="Date", parse_dates=True)
    fake = RangedYahoo(table.rename_axis("Date"))
    monkeypatch.setattr(yf_source.yf, "download", fake)
    run(source="yfinance", tickers="MSFT", end=FIRST_END)
    day = snapshot_dates()[snapshot_dates() > pd.Timestamp(FIRST_END)].iloc[0]
    versions = len(crud_on().list_versions())
    run(source="yfinance", tickers="MSFT", end=f"{day:%Y-%m-%d}")

    overlap_start = table.index[table.index <= pd.Timestamp(FIRST_END)][-10]  # overlap_days
    assert fake.starts == [START, f"{overlap_start:%Y-%m-%d}"]
    assert len(crud_on().list_versions()) == versions + 3  # one per stage
    for stage in STAGES:
        assert newest(stage).rows_added == 1 and newest(stage).rows_closed == 0
    run(source="yfinance", tickers="MSFT", end=f"{day:%Y-%m-%d}")  # no new bar: nothing written
    assert len(crud_on().list_versions()) == versions + 3


def current_tables() -> dict[str, pd.DataFrame]:
    return {stage: crud_on().load_stage_frame(stage) for stage in STAGES}


def assert_nothing_changed(versions: list, tables: dict[str, pd.DataFrame]) -> None:
    assert crud_on().list_versions() == versions
    for stage, frame in current_tables().items():
        pd.testing.assert_frame_equal(frame, tables[stage])


def test_a_narrower_window_keeps_every_stored_bar(ingested: Path) -> None:
    # run(end=FIRST_END): made once, `ingested`
    versions, tables = crud_on().list_versions(), current_tables()
    run(end="2012-06-29")  # an earlier end: the bars after it are not fetched, not removed
    assert_nothing_changed(versions, tables)
    report = json.loads(Path("data/08_reporting/ingestion_report.json").read_text())
    assert report["outside_requested_range"] == "kept"
    run(start="2012-09-03", end=FIRST_END)  # a later start
    assert_nothing_changed(versions, tables)


def test_a_csv_with_a_gap_keeps_the_bars_it_lacks(csv_ingested: Path) -> None:
    folder = csv_ingested  # run(csv_dir=str(folder), end=FIRST_END): made once
    versions, tables = crud_on().list_versions(), current_tables()
    goog = pd.read_csv(folder / "GOOG.csv")
    goog[~goog["Date"].str.startswith("2012-10")].to_csv(folder / "GOOG.csv", index=False)
    run(csv_dir=str(folder), end=FIRST_END)
    assert_nothing_changed(versions, tables)


def without_goog(folder: Path) -> None:
    """The folder as a user's that lacks a stored ticker (GOOG): its file and manifest entry."""
    (folder / "GOOG.csv").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    kept = [entry for entry in manifest if entry["ticker"] != "GOOG"]
    (folder / "manifest.json").write_text(json.dumps(kept))


def test_a_folder_lacking_a_stored_ticker_keeps_it(csv_ingested: Path) -> None:
    folder = csv_ingested  # run(csv_dir=str(folder), end=FIRST_END): made once
    versions, tables = crud_on().list_versions(), current_tables()
    without_goog(folder)
    run(csv_dir=str(folder), tickers="all", end=FIRST_END)
    assert_nothing_changed(versions, tables)


def test_a_restatement_inside_a_narrower_window_closes_only_that_bar(csv_ingested: Path) -> None:
    folder = csv_ingested  # run(csv_dir=str(folder), end=FIRST_END): made once
    msft = pd.read_csv(folder / "MSFT.csv")
    row = msft.index[msft["Date"] == "2012-06-15"][0]
    msft.loc[row, "Volume"] = int(msft.loc[row, "Volume"]) + 100
    msft.to_csv(folder / "MSFT.csv", index=False)
    count = newest("raw").row_count
    run(csv_dir=str(folder), start="2012-06-01", end="2012-06-29")

    raw = newest("raw")
    assert (raw.rows_added, raw.rows_closed, raw.row_count) == (1, 1, count)
    assert [
        (c.ticker, c.rows_new, c.rows_restated, c.rows_removed)
        for c in crud_on().ticker_changes(raw.id)
    ] == [("MSFT", 0, 1, 0)]
    assert crud_on().load_stage_frame("raw")["date"].max() == pd.Timestamp(FIRST_END)


def test_a_source_returning_fewer_rows_keeps_the_stored_ones(project: Path, monkeypatch) -> None:
    table = pd.read_csv(SNAPSHOT / "MSFT.csv", index_col="Date", parse_dates=True)
    monkeypatch.setattr(yf_source.yf, "download", RangedYahoo(table.rename_axis("Date")))
    run(source="yfinance", tickers="MSFT", end=FIRST_END)
    versions, tables = crud_on().list_versions(), current_tables()
    # Yahoo now lacks the last week it gave (inside the overlap a daily run asks for again)
    fewer = table[
        (table.index < pd.Timestamp("2013-01-24")) | (table.index > pd.Timestamp(FIRST_END))
    ]
    monkeypatch.setattr(yf_source.yf, "download", RangedYahoo(fewer.rename_axis("Date")))
    run(source="yfinance", tickers="MSFT", end=FIRST_END)
    assert_nothing_changed(versions, tables)
