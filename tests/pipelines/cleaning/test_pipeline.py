"""The cleaning pipeline: its node and, with ingestion, full runs through a KedroSession."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from stock_lstm.data_pipeline.cleaning import CleaningError, CleaningParams
from stock_lstm.data_pipeline.sources import yfinance as yf_source
from stock_lstm.pipelines.cleaning import create_pipeline
from stock_lstm.pipelines.cleaning.nodes import clean
from tests.helpers.database import crud_on
from tests.helpers.dirty_bars import bars, dirty_fixture
from tests.helpers.ingestion import HEADER, INGESTION_REPORT, SharedProject, snapshot_rows
from tests.helpers.yahoo import OFFLINE, FakeYahoo

REPORT = Path("data/08_reporting/cleaning_report.json")


class Recorder(logging.Handler):
    """Kedro reconfigures logging when a session starts, so caplog cannot be relied on."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def project_copy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedProject]:
    """This module's project copy (copied and bootstrapped once)."""
    with SharedProject.create(request, tmp_path_factory.mktemp("cleaning")) as shared:
        yield shared


@pytest.fixture
def project(project_copy: SharedProject) -> Iterator[Path]:
    """The project copy on a SQLite database of the test's own, empty; no report of an earlier
    test left behind."""
    for report in (project_copy.root / "data" / "08_reporting").glob("*.json"):
        report.unlink()
    with project_copy.database():
        yield project_copy.root


@pytest.fixture
def warnings_of_stock_lstm(project):
    """Our WARNINGs during a run. After the project's bootstrap (`project_copy`): Kedro's
    logging set-up resets the handlers of the project's loggers, the one caplog relies on
    included."""
    recorder = Recorder()
    logger = logging.getLogger("stock_lstm")
    logger.addHandler(recorder)
    yield recorder.messages
    logger.removeHandler(recorder)


def run(project: Path, runtime_params: dict | None = None) -> None:
    with KedroSession.create(
        project_path=project, env="test", runtime_params=runtime_params
    ) as session:
        session.run(pipeline_names=["ingestion", "cleaning"])


def ingestion_report_of(raw: pd.DataFrame, source: str = "csv(x)") -> dict:
    """What ingestion would have written for `raw` (nothing repaired)."""
    return {
        "source": source,
        "rows": len(raw),
        "tickers": {
            t: {
                "source": source,
                "rows_from_source": int(n),
                "duplicate_dates_dropped": 0,
                "out_of_order_rows_sorted": 0,
                "rows_stored": int(n),
            }
            for t, n in raw.groupby("ticker").size().items()
        },
    }


def test_clean_node_is_pure_and_reports():
    raw = dirty_fixture()
    raw.attrs.update(version_id=7, stage="raw", source="csv(x)")
    ingested = ingestion_report_of(raw)
    cleaned, report = clean(raw, ingested, CleaningParams(min_rows_per_ticker=3))
    assert cleaned.attrs == {}  # lineage is the hook's and the dataset's business
    assert "raw_version_id" not in report  # the lineage hook adds the raw version read
    assert report["ingestion"] == ingested
    assert report["rows_out"] == len(cleaned) == 14
    json.dumps(report)  # the JSON dataset can write it


def test_pipeline_runs_on_an_in_memory_catalog():
    raw = pd.concat([bars("AAA"), bars("BBB")])
    catalog = DataCatalog(
        {
            "raw_prices": MemoryDataset(raw),
            "ingestion_report": MemoryDataset(ingestion_report_of(raw)),
            "params:cleaning": MemoryDataset(CleaningParams(min_rows_per_ticker=5)),
            "clean_prices": MemoryDataset(),
            "cleaning_report": MemoryDataset(),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    assert catalog.load("cleaning_report")["rows_out"] == 20
    assert catalog.load("cleaning_report")["ingestion"] == ingestion_report_of(raw)
    assert len(catalog.load("clean_prices")) == 20


def test_offline_auto_run_end_to_end(project, monkeypatch, warnings_of_stock_lstm):
    fake = FakeYahoo(**{"^GSPC": OFFLINE, "GOOG": OFFLINE, "MSFT": OFFLINE})
    monkeypatch.setattr(yf_source.yf, "download", fake)
    run(project, {"ingestion": {"source": "auto"}})

    assert len(fake.calls) == 1
    fallbacks = [m for m in warnings_of_stock_lstm if "yfinance failed" in m]
    assert [m.split(":")[0] for m in fallbacks] == ["^GSPC", "GOOG", "MSFT"]
    raw_version = crud_on().latest_version("raw")
    assert raw_version.source == (
        "auto: csv(data/01_raw/snapshot) for ^GSPC,GOOG,MSFT (yfinance failed)"
    )
    clean_version = crud_on().latest_version("clean")
    assert clean_version.parent_id == raw_version.id
    assert clean_version.source == "cleaning"
    expected = snapshot_rows("2012-01-01", "2013-03-01")
    assert clean_version.row_count == raw_version.row_count == sum(expected.values())

    report = json.loads((project / REPORT).read_text())
    assert report["raw_version_id"] == raw_version.id == report["ingestion"]["raw_version_id"]
    assert report["raw_source"] == raw_version.source
    assert report["clean_version_id"] == clean_version.id
    assert report["rows_in"] == report["rows_out"] == raw_version.row_count
    assert {t: c["rows_in"] for t, c in report["tickers"].items()} == expected
    assert {t: c["source"] for t, c in report["ingestion"]["tickers"].items()} == dict.fromkeys(
        expected, "csv(data/01_raw/snapshot)"
    )

    run(project, {"ingestion": {"source": "auto"}})  # rerun: no new version anywhere
    assert [v.id for v in crud_on().list_versions()] == [raw_version.id, clean_version.id]


def dirty_csv(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{day:%Y-%m-%d},{10 + i},{11 + i},{9 + i},{10.5 + i},,{1000 + i}"
        for i, day in enumerate(pd.bdate_range("2020-03-02", periods=60))
    ]
    rows[3] = "2020-03-05,13,14,12,null,,1003"  # missing close
    rows[4] = "2020-03-06,14,10,12,13.5,,1004"  # high below open
    rows[5] = "2020-03-09,0,16,14,15.5,,1005"  # zero price
    rows[6] = "2020-03-10,16,17,15,16.5,,-1"  # negative volume
    rows[20], rows[21] = rows[21], rows[20]  # two days swapped: one row out of order
    rows.append(rows[10])  # a repeated day
    (folder / "DIRTY.csv").write_text(HEADER + "\n".join(rows) + "\n")


def test_dirty_user_csv_gives_the_report(project, tmp_path, warnings_of_stock_lstm):
    dirty_csv(tmp_path / "user")
    params = {"csv_dir": str(tmp_path / "user"), "tickers": "dirty", "start": None, "end": None}
    run(project, {"ingestion": params, "cleaning": {"min_rows_per_ticker": 20}})

    assert crud_on().latest_version("raw").row_count == 60  # the repeated day kept once
    assert any("DIRTY 1 row(s)" in m for m in warnings_of_stock_lstm)
    report = json.loads((project / REPORT).read_text())
    # one report tells the whole story: what ingestion repaired (raw_prices cannot keep a
    # repeated day, and gives its rows back sorted), then what cleaning dropped
    assert report["ingestion"]["tickers"] == {
        "DIRTY": {
            "source": f"csv({(tmp_path / 'user').as_posix()})",
            "fetched": "whole file",
            "rows_from_source": 61,
            "duplicate_dates_dropped": 1,
            "out_of_order_rows_sorted": 1,
            "rows_stored": 60,
            "new_bars": 60,
            "restated_bars": 0,
            "removed_bars": 0,
        }
    }
    assert report["ingestion"] == json.loads((project / INGESTION_REPORT).read_text())
    assert report["dropped"] == {
        "missing_price": {"DIRTY": 1},
        "non_finite_price": {},
        "non_positive_price": {"DIRTY": 1},
        "inconsistent_high_low": {"DIRTY": 1},
        "negative_volume": {"DIRTY": 1},
    }
    assert report["rows_out"] == 56 == crud_on().latest_version("clean").row_count
    clean = crud_on().load_stage_frame("clean")
    assert not clean["close"].isna().any()
    assert np.all(clean["low"] <= clean[["open", "close"]].min(axis=1))


def test_too_few_rows_stop_the_run_naming_the_ticker(project, tmp_path):
    dirty_csv(tmp_path / "user")
    params = {"csv_dir": str(tmp_path / "user"), "tickers": "DIRTY", "start": None, "end": None}
    with pytest.raises(CleaningError, match=r"too few clean rows .* DIRTY \(56 of 60 rows left\)"):
        run(project, {"ingestion": params, "cleaning": {"min_rows_per_ticker": 100}})
    assert crud_on().latest_version("clean") is None
