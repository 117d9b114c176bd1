"""Malformed CSV files through the whole ingestion pipeline (KedroSession, env test): the run
stops with a message naming the file, and nothing of that run is stored (no new raw version,
the previous one intact), even when the folder's other files are fine.

tests/data_pipeline/test_sources.py checks each message at the source level; this checks what
reaches the database when a real `kedro run` meets the same files.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from stock_lstm.data_pipeline.sources import SourceError
from tests.helpers.database import crud_on
from tests.helpers.ingestion import HEADER, SharedProject, run, user_csv

# (case, how to spoil BBB.csv's valid text, the message, after the file's path)
SPOILED = [
    (
        "wrong delimiter",
        lambda t: t.replace(",", ";"),
        r" lacks column.*seems to use ';' as delimiter",
    ),
    ("missing header", lambda t: t.split("\n", 1)[1], r" lacks column.*header line is missing"),
    (
        "text in a number column",
        lambda t: t.replace(",10.5,", ",ten,", 1),
        r", line 2, column 'Close': 'ten' is not a number",
    ),
    ("empty file", lambda t: "", r" is empty"),
    ("header only", lambda t: HEADER, r" has a header but no data rows"),
    (
        "binary file",
        lambda t: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x10",
        r" is not a text CSV file",
    ),
    ("ragged row", lambda t: t + "2021-01-04,1,2,3,4,5,6,7,8\n", r" is not a valid CSV file"),
]


@pytest.fixture(scope="module")
def project_copy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedProject]:
    """This module's project copy (copied and bootstrapped once), each test on a SQLite
    database of its own."""
    with SharedProject.create(request, tmp_path_factory.mktemp("malformed")) as shared:
        yield shared


@pytest.fixture
def project(project_copy: SharedProject) -> Iterator[Path]:
    """The project copy on an empty database."""
    with project_copy.database():
        yield project_copy.root


@pytest.fixture
def aaa_ingested(project_copy: SharedProject) -> Iterator[Path]:
    """A folder holding a valid AAA.csv (5 days), and the project copy after
    `run(csv_dir=<folder>, tickers="AAA", start="2020-01-01", end=None)` (made once)."""
    folder = project_copy.root.parent / "csv"
    shutil.rmtree(folder, ignore_errors=True)  # an earlier test's spoiled file
    user_csv(folder, "AAA.csv", days=5)
    project_copy.prepare(
        "aaa",
        lambda: run(
            project_copy.root, csv_dir=str(folder), tickers="AAA", start="2020-01-01", end=None
        ),
    )
    with project_copy.database("aaa"):
        yield folder


@pytest.mark.parametrize(("case", "spoil", "message"), SPOILED, ids=[c[0] for c in SPOILED])
def test_a_malformed_file_stops_the_run_and_stores_nothing(
    project_copy, aaa_ingested, case, spoil, message
) -> None:
    folder = aaa_ingested  # AAA.csv ingested
    [previous] = crud_on().list_versions("raw")
    stored = crud_on().load_stage_frame("raw")

    bad = user_csv(folder, "BBB.csv", days=5)
    text = spoil(bad.read_text())
    bad.write_bytes(text.encode("latin-1") if "PNG" in text else text.encode())
    with pytest.raises(SourceError, match=re.escape(str(bad)) + message):
        run(project_copy.root, csv_dir=str(folder), tickers="AAA BBB", start="2020-01-01", end=None)

    assert crud_on().list_versions("raw") == [previous], "a failed ingestion stored a version"
    pd.testing.assert_frame_equal(crud_on().load_stage_frame("raw"), stored)


def test_dates_out_of_order_are_sorted_not_refused(project, tmp_path) -> None:
    """Out-of-order rows are a repairable property of the file, not an error: the stored
    version is exactly the sorted file's (re-ingesting the sorted file stores nothing new)."""
    folder = tmp_path / "csv"
    path = user_csv(folder, "AAA.csv", days=8)
    header, *rows = path.read_text().strip().split("\n")
    shuffled = [rows[i] for i in (5, 0, 7, 2, 1, 6, 3, 4)]
    assert shuffled != sorted(shuffled)
    path.write_text("\n".join([header, *shuffled]) + "\n")
    run(project, csv_dir=str(folder), tickers="AAA", start="2020-01-01", end=None)

    raw = crud_on().load_stage_frame("raw")
    assert raw["date"].is_monotonic_increasing and len(raw) == 8
    expected = pd.read_csv(folder / "AAA.csv", parse_dates=["Date"]).sort_values("Date")
    assert raw["close"].tolist() == expected["Close"].tolist()
    [version] = crud_on().list_versions("raw")

    path.write_text("\n".join([header, *rows]) + "\n")  # the same rows, in order
    run(project, csv_dir=str(folder), tickers="AAA", start="2020-01-01", end=None)
    assert crud_on().list_versions("raw") == [version]  # same content: no new version
