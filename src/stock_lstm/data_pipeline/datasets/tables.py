"""The versioned stage tables (raw, clean, features) as Kedro datasets, and the JSON reports of
the nodes that write them.

The datasets hold only their configuration: nothing a call leaves behind changes the next one,
so one instance serves any runner (sequential, threads, processes). What a call needs beyond
its configuration, or tells back, travels with the call:

- a read of only the rows a derived stage must redo is asked for by `request_changes` just
  before the load, in the same thread (the lineage hook does it), and the frame's
  ``attrs["changes"]`` says what was read (`crud.StageChanges`);
- what a derived frame derives from travels in its ``attrs["lineage"]`` (a `Lineage`), and a
  save leaves what it stored in the frame's ``attrs["saved"]`` (`crud.SaveResult`);
- a node's report gets the versions its node read and saved from `ReportLineage`, handed by
  `set_report_lineage` just before the report's save.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import Version
from kedro_datasets._typing import TablePreview
from kedro_datasets.json import JSONDataset

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets.base import redacted_url

logger = logging.getLogger(__name__)

CHANGES_ATTR = "changes"  # on a frame loaded for a derived stage: the crud.StageChanges read
LINEAGE_ATTR = "lineage"  # on a frame to save: the Lineage it was derived from
SAVED_ATTR = "saved"  # on a frame once saved: the crud.SaveResult


@dataclass(frozen=True)
class Lineage:
    """What a derived stage's save needs to know about the input it was computed from: the
    parent version read, and per ticker the date from which the frame replaces the stored rows
    (None: the whole ticker). Set by `stock_lstm.hooks.lineage.LineageHooks`, never by a node."""

    parent_version_id: int | None
    since: dict[str, date | None] | None


@dataclass(frozen=True)
class ChangesRequest:
    """The next load of `stage` (in this thread) gives only the rows `derived_stage` must redo,
    with `lookback_rows` before each ticker's first change."""

    stage: str
    derived_stage: str
    lookback_rows: int | None


_changes_request: ContextVar[ChangesRequest | None] = ContextVar("changes_request", default=None)


def request_changes(request: ChangesRequest | None) -> None:
    """Ask the next load of `request.stage` in this thread for only what changed (None: the
    whole table). The load consumes the request."""
    _changes_request.set(request)


def _take_changes_request(stage: str) -> ChangesRequest | None:
    request = _changes_request.get()
    if request is None or request.stage != stage:
        return None
    _changes_request.set(None)
    return request


class VersionedTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A stage table (`raw`, `clean` or `features`) in the project's SQL database, versioned by
    change (see crud).

    ``load()`` gives the table as of the newest version, or as of the one pinned by
    ``version_id`` or by Kedro's load version (``versioned: true`` and
    ``--load-versions name:ID``). In a pipeline run, when the loading node writes a stage
    derived from this one, the lineage hook asks instead for only the rows that stage must redo
    (`request_changes`): the tickers changed since the version it was last derived from, with
    ``lookback_rows`` (declared on the derived entry) before their first change.

    ``save(frame)`` stores what the frame changes as one new version in one transaction, or
    nothing. A raw frame (no ``parent_stage``) adds its new bars and restates the bars it gives
    that differ, and never closes a stored bar it lacks (a narrower window, a gap in a file or
    a source that returns fewer rows removes nothing: only `crud.remove_ticker` does); a
    derived frame replaces what its ``attrs["lineage"]`` says (else each of its tickers whole),
    and records the parent version read (else the parent stage's newest). The version's source
    is the frame's ``attrs["source"]`` when a price source labelled it, else ``source``.

    Example (conf/base/catalog.yml)::

        features:
          type: stock_lstm.data_pipeline.datasets.VersionedTableDataset
          stage: features
          parent_stage: clean
          lookback_rows: 1  # a log return needs the previous close
    """

    def __init__(
        self,
        *,
        stage: str,
        parent_stage: str | None = None,
        lookback_rows: int | None = None,
        source: str = "kedro",
        version_id: int | None = None,
        url: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        crud.stage_columns(stage)  # fail at catalog creation on an unknown stage
        if lookback_rows is not None and (not isinstance(lookback_rows, int) or lookback_rows < 0):
            raise DatasetError(
                f"lookback_rows of stage {stage!r} must be a whole number >= 0 or null "
                f"(the whole history), got {lookback_rows!r}"
            )
        self.stage = stage
        self.parent_stage = parent_stage
        self.lookback_rows = lookback_rows
        self._source = source
        self._url = url
        pinned = version.load if version is not None else None
        self._version_id = version_id if version_id is not None else _as_version_id(pinned)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "parent_stage": self.parent_stage,
            "version_id": self._version_id,
            "url": redacted_url(self._url),
        }

    def load(self) -> pd.DataFrame:
        request = _take_changes_request(self.stage)
        try:
            with get_database(self._url).session() as session:
                if request is None:
                    return crud.load_stage_frame(session, self.stage, self._version_id)
                frame, changes = crud.load_stage_changes(
                    session,
                    self.stage,
                    request.derived_stage,
                    self._version_id,
                    lookback_rows=request.lookback_rows,
                )
        except crud.StageError as error:
            raise DatasetError(str(error)) from error
        frame.attrs[CHANGES_ATTR] = changes
        logger.info(
            "%s version %d: %d row(s) of %d changed ticker(s) for %s",
            self.stage,
            changes.version_id,
            len(frame),
            len(changes.since),
            request.derived_stage,
        )
        return frame

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DatasetError(
                f"stage {self.stage!r} saves a pandas DataFrame, got {type(data).__name__}"
            )
        lineage = data.attrs.get(LINEAGE_ATTR)
        source = str(data.attrs.get("source") or self._source)
        parent_id = lineage.parent_version_id if lineage is not None else None
        since = lineage.since if lineage is not None else None
        if self.parent_stage is not None and since is None and "ticker" in data.columns:
            since = dict.fromkeys(data["ticker"].astype(str).unique())
        database = get_database(self._url)
        try:
            if self.parent_stage is not None and parent_id is None:
                # Read before the save's own transaction: the stage lock comes first in that one.
                with database.session() as session:
                    parent = crud.latest_version(session, self.parent_stage)
                parent_id = parent.id if parent is not None else None
            with database.session() as session:
                result = crud.save_stage_frame(
                    session,
                    data,
                    self.stage,
                    source=source,
                    parent_id=parent_id,
                    since=since,
                    keep_missing=self.parent_stage is None,
                )
        except (crud.FrameSchemaError, crud.StageError) as error:
            raise DatasetError(str(error)) from error
        data.attrs[SAVED_ATTR] = result
        if not result.created:
            logger.info("%s: nothing changed, no new version", self.stage)
            return
        for ticker, change in result.changes.items():
            logger.info("%s %s", self.stage, change.describe(ticker))
        logger.info(
            "saved %s version %d: %d row(s) added, %d closed, %d in the table (parent %s)",
            self.stage,
            result.version.id,
            result.version.rows_added,
            result.version.rows_closed,
            result.version.row_count,
            result.version.parent_id,
        )

    def _exists(self) -> bool:
        with get_database(self._url).session() as session:
            return crud.latest_version(session, self.stage) is not None

    def version_to_load(self) -> int | None:
        """The data_versions id ``load()`` reads now: the pinned one, else the stage's newest
        (None while the stage is empty). What a training run's fingerprint names."""
        if self._version_id is not None:
            return self._version_id
        with get_database(self._url).session() as session:
            latest = crud.latest_version(session, self.stage)
        return latest.id if latest is not None else None

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows of the latest version, for kedro-viz's table preview (kedro-viz picks
        the renderer from this return annotation; `preview_args` in the catalog set `nrows`)."""
        with get_database(self._url).session() as session:
            frame = crud.load_stage_frame(session, self.stage, self._version_id).head(nrows)
        return TablePreview(frame.astype(str).to_dict(orient="split"))


class StoredTailDataset(AbstractDataset[pd.DataFrame, None]):
    """Read-only: the newest ``rows`` current rows of each ticker of a stage table (empty when
    the stage has none): what incremental ingestion compares a source's overlap with. ``rows``
    must cover ``ingestion.overlap_days``."""

    def __init__(
        self,
        *,
        stage: str,
        rows: int,
        url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        crud.stage_columns(stage)
        if not isinstance(rows, int) or rows < 1:
            raise DatasetError(f"rows of a stored tail must be a whole number >= 1, got {rows!r}")
        self._stage = stage
        self._rows = rows
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"stage": self._stage, "rows": self._rows, "url": redacted_url(self._url)}

    def load(self) -> pd.DataFrame:
        with get_database(self._url).session() as session:
            return crud.stored_tails(session, self._stage, self._rows)

    def save(self, data: None) -> None:
        raise DatasetError("StoredTailDataset is read-only")

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows, for kedro-viz."""
        return TablePreview(self.load().head(nrows).astype(str).to_dict(orient="split"))


def _as_version_id(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise DatasetError(
            f"a table load version is a data_versions id (an integer), got {value!r}"
        ) from None


# --- the reports of the nodes that write stage tables ----------------------------------------


@dataclass(frozen=True)
class ReportLineage:
    """What the node of a report read and saved: per stage read, its version id and source;
    per stage saved, the save's result."""

    read: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    saved: dict[str, crud.SaveResult] = field(default_factory=dict)


_report_lineage: ContextVar[ReportLineage | None] = ContextVar("report_lineage", default=None)


def set_report_lineage(lineage: ReportLineage | None) -> None:
    """What the next report saved in this thread adds (None: nothing); the save consumes it."""
    _report_lineage.set(lineage)


def report_with_lineage(report: Mapping[str, Any], lineage: ReportLineage) -> dict[str, Any]:
    """A copy of `report` with the versions involved (``<stage>_version_id``/``_source`` of the
    table read or saved, the saved one winning) and, per ticker, what the save did:
    ``new_bars``, ``restated_bars``, ``removed_bars``, and one line each
    (``<stage>_changes``: ``MSFT: 1 new bar, 0 restated``)."""
    out = copy.deepcopy(dict(report))
    for stage, (version_id, source) in lineage.read.items():
        out[f"{stage}_version_id"] = version_id
        out[f"{stage}_source"] = source
    for stage, result in lineage.saved.items():
        if result.version is not None:
            out[f"{stage}_version_id"] = result.version.id
            out[f"{stage}_source"] = result.version.source
        out[f"{stage}_version_created"] = result.created
        lines = []
        tickers = out.get("tickers")
        names = list(tickers) if isinstance(tickers, dict) else sorted(result.changes)
        for ticker in names:
            change = result.changes.get(ticker, crud.TickerChange())
            if isinstance(tickers, dict) and isinstance(tickers.get(ticker), dict):
                tickers[ticker].update(
                    new_bars=change.new, restated_bars=change.restated, removed_bars=change.removed
                )
            lines.append(change.describe(ticker))
        out[f"{stage}_changes"] = lines
    return out


class StageReportDataset(JSONDataset):
    """The JSON report of a node that writes a stage table (``ingestion_report``,
    ``cleaning_report``): the node's report plus what the lineage hook says its node read and
    saved (`report_with_lineage`); the node's own dict is left as it was."""

    def save(self, data: Any) -> None:
        lineage = _report_lineage.get()
        _report_lineage.set(None)
        if lineage is not None and isinstance(data, Mapping):
            data = report_with_lineage(data, lineage)
        super().save(data)
