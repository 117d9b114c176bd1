"""The ingestion pipeline: its node, and full runs through a KedroSession on a temporary DB."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.sources import SourceError
from stock_lstm.pipelines.ingestion.nodes import IngestionParams, ingest_prices
from tests.helpers.database import crud_on
from tests.helpers.ingestion import (
    INGESTION_REPORT,
    SharedProject,
    run,
    snapshot_rows,
    user_csv,
)

NOTHING_STORED = pd.DataFrame(columns=crud.stage_columns("raw"))


@pytest.fixture(scope="module")
def project_copy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedProject]:
    """This module's project copy (copied and bootstrapped once)."""
    with SharedProject.create(request, tmp_path_factory.mktemp("ingestion")) as shared:
        yield shared


@pytest.fixture
def project(project_copy: SharedProject) -> Iterator[Path]:
    """The project copy on a SQLite database of the test's own, empty; no report of an earlier
    test left behind."""
    (project_copy.root / INGESTION_REPORT).unlink(missing_ok=True)
    with project_copy.database():
        yield project_copy.root


def test_repeated_and_unsorted_dates_are_repaired_and_reported(tmp_path, caplog):
    path = user_csv(tmp_path, "ABC.csv", days=4)
    lines = path.read_text().splitlines()
    lines[2], lines[3] = lines[3], lines[2]  # day 3 before day 2
    path.write_text("\n".join(lines) + "\n2020-03-03,99,100,98,99.5,,5\n")  # day 2 again
    params = IngestionParams(source="csv", tickers="abc", start=None, csv_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        raw, report = ingest_prices(params, NOTHING_STORED)
    assert "repeated dates in the source, kept the last row of each: ABC 1 row(s)" in caplog.text
    assert len(raw) == 4
    assert raw["date"].is_monotonic_increasing
    assert raw.loc[raw["date"] == "2020-03-03", "close"].tolist() == [99.5]
    assert raw.attrs["source"] == f"csv({tmp_path.as_posix()})"  # the version's source label
    assert report == {
        "source": f"csv({tmp_path.as_posix()})",
        "rows": 4,
        "outside_requested_range": "kept",
        "tickers": {
            "ABC": {
                "source": f"csv({tmp_path.as_posix()})",
                "fetched": "whole file",
                "rows_from_source": 5,
                "duplicate_dates_dropped": 1,
                "out_of_order_rows_sorted": 1,
                "rows_stored": 4,
            }
        },
    }


def test_ingestion_stores_the_snapshot_once(project):
    run(project)
    versions = crud_on().list_versions("raw")
    assert len(versions) == 1
    assert versions[0].source == "csv(data/01_raw/snapshot)"
    raw = crud_on().load_stage_frame("raw")
    expected = snapshot_rows("2012-01-01", "2013-03-01")
    assert raw.groupby("ticker").size().to_dict() == expected
    report = json.loads((project / INGESTION_REPORT).read_text())
    assert report["source"] == "csv(data/01_raw/snapshot)"
    assert {t: c["rows_stored"] for t, c in report["tickers"].items()} == expected
    run(project)  # unchanged data: no new version
    assert [v.id for v in crud_on().list_versions("raw")] == [versions[0].id]


def test_the_whole_snapshot_is_ingested(project):
    run(project, start="1900-01-01", end=None, tickers="all")
    version = crud_on().latest_version("raw")
    expected = snapshot_rows("1900-01-01")
    assert version.row_count == sum(expected.values()) == 15162


def test_another_csv_folder_ingests_its_tickers(project, tmp_path):
    folder = tmp_path / "mine"
    user_csv(folder, "AAA.csv", days=5)
    user_csv(folder, "bbb.csv", days=3)
    # as --params "ingestion.csv_dir=...,ingestion.tickers=AAA BBB"
    run(project, csv_dir=str(folder), tickers="AAA BBB", start="2020-01-01", end=None)
    raw = crud_on().load_stage_frame("raw")
    assert raw.groupby("ticker").size().to_dict() == {"AAA": 5, "BBB": 3}
    assert crud_on().latest_version("raw").source == f"csv({folder.as_posix()})"
    # a later start reads less of each file; the stored older bars stay (nothing changed)
    run(project, csv_dir=str(folder), tickers="all", start="2020-03-04", end=None)
    raw = crud_on().load_stage_frame("raw")
    assert raw.groupby("ticker").size().to_dict() == {"AAA": 5, "BBB": 3}
    assert len(crud_on().list_versions("raw")) == 1


def test_bad_parameters_and_files_stop_with_a_message(project, tmp_path):
    with pytest.raises(SourceError, match="unknown ingestion.source 'web': use one of auto"):
        run(project, source="web")
    with pytest.raises(SourceError, match="ingestion.tickers is empty"):
        run(project, tickers=[])
    folder = tmp_path / "bad"
    user_csv(folder, "AAA.csv").write_text(
        "Date,Open,High,Low,Adj Close,Volume\n2020-01-02,1,2,0.5,1,9\n"
    )
    with pytest.raises(SourceError, match=r"AAA\.csv lacks column\(s\) Close"):
        run(project, csv_dir=str(folder), tickers="AAA")
    assert crud_on().list_versions("raw") == []
