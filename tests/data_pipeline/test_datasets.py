"""The versioned table dataset, alone and declared in the project's real catalog.yml."""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DatasetError

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.datasets import (
    CHANGES_ATTR,
    LINEAGE_ATTR,
    SAVED_ATTR,
    ChangesRequest,
    Lineage,
    VersionedTableDataset,
    request_changes,
)
from stock_lstm.data_pipeline.schema import StageError
from tests.helpers.bars import bars
from tests.helpers.database import crud_on


def test_save_records_the_lineage_it_is_given_and_the_source_label(database_url):
    raw = VersionedTableDataset(stage="raw", url=database_url)
    frame = bars(days=6)
    frame.attrs["source"] = "csv:data/01_raw/snapshot"  # how a price source labels its frame
    raw.save(frame)
    first = crud_on(database_url).latest_version("raw")
    assert first.source == "csv:data/01_raw/snapshot"
    raw.save(bars(days=7))
    assert crud_on(database_url).latest_version("raw").source == "kedro"

    clean = VersionedTableDataset(stage="clean", parent_stage="raw", url=database_url)
    clean.save(bars(days=6))
    changed = bars(days=7, shift=1.0)  # every day differs, but only 2020-01-08 on is replaced
    changed.attrs[LINEAGE_ATTR] = Lineage(first.id, {"MSFT": date(2020, 1, 8)})
    clean.save(changed)
    version = crud_on(database_url).latest_version("clean")
    assert version.parent_id == first.id
    assert changed.attrs[SAVED_ATTR].changes == {"MSFT": crud.TickerChange(new=1, restated=2)}
    stored = crud_on(database_url).load_stage_frame("clean")
    assert list(stored["close"]) == [10.0, 11.0, 12.0, 13.0, 15.0, 16.0, 17.0]


def test_parent_stage_defaults_to_its_latest_version(database_url):
    VersionedTableDataset(stage="raw", url=database_url).save(bars())
    clean = VersionedTableDataset(
        stage="clean", parent_stage="raw", source="cleaning", url=database_url
    )
    frame = bars()
    clean.save(frame)
    version = crud_on(database_url).latest_version("clean")
    assert version.parent_id == crud_on(database_url).latest_version("raw").id
    assert version.source == "cleaning"
    assert frame.attrs[SAVED_ATTR].created


def test_a_changes_request_serves_one_load_of_its_stage_in_its_thread(database_url):
    """The dataset keeps nothing between calls: a request made in another thread, or already
    served, leaves a load with the whole table."""
    raw = VersionedTableDataset(stage="raw", url=database_url)
    raw.save(pd.concat([bars("MSFT", days=6), bars("GOOG", days=6)]))
    clean = VersionedTableDataset(stage="clean", parent_stage="raw", url=database_url)
    clean.save(raw.load())
    raw.save(pd.concat([bars("MSFT", days=7), bars("GOOG", days=6)]))  # one new MSFT bar

    request = ChangesRequest("raw", "clean", lookback_rows=0)
    thread = threading.Thread(target=request_changes, args=(request,))
    thread.start()
    thread.join()
    assert len(raw.load()) == 13  # the other thread's request is not this one's

    request_changes(request)
    changed = raw.load()
    assert list(changed["ticker"].unique()) == ["MSFT"]
    assert changed.attrs[CHANGES_ATTR].since == {"MSFT": date(2020, 1, 10)}
    assert len(raw.load()) == 13  # served once


def test_load_of_an_empty_stage_is_a_dataset_error_naming_it(database_url):
    with pytest.raises(DatasetError, match="stage 'features' has no data yet"):
        VersionedTableDataset(stage="features", url=database_url).load()
    assert not VersionedTableDataset(stage="features", url=database_url).exists()


def test_unknown_stage_and_bad_data_are_refused():
    with pytest.raises(StageError, match="unknown stage 'prices'"):
        VersionedTableDataset(stage="prices")
    with pytest.raises(DatasetError, match="saves a pandas DataFrame"):
        VersionedTableDataset(stage="raw", url="sqlite://").save([1, 2])


def test_preview_gives_the_first_rows(database_url):
    dataset = VersionedTableDataset(stage="raw", url=database_url)
    dataset.save(bars(days=8))
    preview = dataset.preview(nrows=3)
    assert preview["columns"] == crud.stage_columns("raw")
    assert len(preview["data"]) == 3


def test_catalog_entries_load_and_save_through_a_kedro_session(project_copy):
    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy) as session:
        catalog = session.load_context().catalog
        catalog.save("raw_prices", bars())
        catalog.save("raw_prices", bars(shift=2.0))
        catalog.save("clean_prices", bars(shift=2.0))
        loaded = catalog.load("clean_prices")
    assert loaded["close"].iloc[0] == 12.0
    raw_versions = crud_on().list_versions("raw")
    assert len(raw_versions) == 2
    assert crud_on().latest_version("clean").parent_id == raw_versions[-1].id


def test_load_versions_pin_a_table_version(project_copy):
    bootstrap_project(project_copy)
    crud_on().save_stage_frame(bars(), "raw", source="a")
    crud_on().save_stage_frame(bars(shift=1.0), "raw", source="b")
    first = crud_on().list_versions("raw")[0].id
    with KedroSession.create(project_path=project_copy) as session:
        context = session.load_context()
        catalog = context._get_catalog(load_versions={"raw_prices": str(first)})
        pinned: pd.DataFrame = catalog.load("raw_prices")
    assert pinned.attrs["version_id"] == first and pinned.attrs["source"] == "a"
