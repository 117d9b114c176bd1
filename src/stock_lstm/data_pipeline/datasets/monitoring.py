"""Monitoring as Kedro datasets: what the daily check reads and writes, all through crud."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import JSONPreview, TablePreview
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets.base import redacted_url

logger = logging.getLogger(__name__)


class _ReadOnlyFrameDataset(AbstractDataset[pd.DataFrame, None]):
    """A read-only frame loaded by one crud function (the subclass's `_read`)."""

    def __init__(self, *, url: str | None = None, metadata: dict[str, Any] | None = None):
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"url": redacted_url(self._url)}

    def _read(self, session: Session) -> pd.DataFrame:
        raise NotImplementedError

    def load(self) -> pd.DataFrame:
        with get_database(self._url).session() as session:
            return self._read(session)

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows, for kedro-viz."""
        return TablePreview(self.load().head(nrows).astype(str).to_dict(orient="split"))


class LoggedForecastsDataset(_ReadOnlyFrameDataset):
    """Read-only: the API's predictions log as monitoring reads it (id, ticker, origin_date,
    model_version, values), oldest first."""

    def _read(self, session: Session) -> pd.DataFrame:
        return crud.load_logged_forecasts(session)


class RecentDecisionsDataset(_ReadOnlyFrameDataset):
    """Read-only: the newest stored decisions (retrain and promotion), newest first: kind,
    as_of, model_version, retrain, promoted, reasons (the retrain policy's cooldown)."""

    COLUMNS = ("kind", "as_of", "model_version", "retrain", "promoted", "reasons")

    def _read(self, session: Session) -> pd.DataFrame:
        return pd.DataFrame(crud.recent_decisions(session, limit=100), columns=self.COLUMNS)


class ShadowForecastsDataset(_ReadOnlyFrameDataset):
    """Read-only: the shadow forecasts stored by earlier monitoring runs (forecast rows)."""

    def _read(self, session: Session) -> pd.DataFrame:
        return crud.load_shadow_forecasts(session)


class MonitoringRunDataset(AbstractDataset[dict[str, Any], dict[str, Any] | None]):
    """One monitoring run, stored by `crud.save_monitoring_run` in one transaction.

    ``save(run)``: the keyword arguments of save_monitoring_run (as_of, model_version, shadow,
    scores, drift, decisions, parameters, forecast_counts, data_version_id); a run marked
    ``{"skipped": reason}`` stores nothing (no new bar, or no champion) and logs why.
    ``load()``: the newest stored run (MonitoringRunInfo as a dict), or None before the first.
    """

    def __init__(self, *, url: str | None = None, metadata: dict[str, Any] | None = None):
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"url": redacted_url(self._url)}

    def load(self) -> dict[str, Any] | None:
        with get_database(self._url).session() as session:
            run = crud.latest_monitoring_run(session)
        return asdict(run) if run is not None else None

    def save(self, data: dict[str, Any]) -> None:
        if data.get("skipped"):
            logger.info("monitoring: nothing stored (%s)", data["skipped"])
            return
        try:
            with get_database(self._url).session() as session:
                saved = crud.save_monitoring_run(session, **data)
        except (crud.FrameSchemaError, ValueError) as error:
            raise DatasetError(f"monitoring run not stored: {error}") from error
        logger.info(
            "monitoring run %d as of %s for %s: %d shadow forecast(s), %d scored step(s) "
            "added, %d drift row(s), %d decision(s)",
            saved.run.id,
            saved.run.as_of,
            saved.run.model_version,
            saved.shadow_added,
            saved.scores_added,
            saved.drift_rows,
            saved.decisions,
        )

    def _exists(self) -> bool:
        with get_database(self._url).session() as session:
            return crud.latest_monitoring_run(session) is not None

    def preview(self) -> JSONPreview:
        return JSONPreview(json.dumps(self.load(), indent=2, default=str))
