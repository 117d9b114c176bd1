"""The model versions the API can serve, loaded through the Kedro catalog: ONNX + JSON only.

A version is served only when the registry (`model_versions`) records it and every file the
API loads (`onnx_model`, `scaler_params`, `interval_calibration`, saved under that Kedro save
version) matches the sha256 recorded there. The check is the registry's (data_pipeline/model_registry.py,
shared with the registry CLI); it reads each file once and the forecaster is built from exactly
the bytes it checked, before anything else is deserialised. Nothing is unpickled and TensorFlow is never imported: the forecaster
is ml_models/serving/onnx_forecaster.py on ONNX Runtime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from stock_lstm.common.settings import Settings
from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.catalog import open_catalog
from stock_lstm.data_pipeline.database import Database
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster, forecaster_from_files

logger = logging.getLogger(__name__)

MODEL_DATASET = "onnx_model"
SCALER_DATASET = "scaler_params"
CALIBRATION_DATASET = "interval_calibration"
REGISTRY_DATASET = "model_version_record"
NO_MODEL = "no trained model: run `make pipeline` first"
NO_CHAMPION = (
    f"{NO_MODEL} (the model registry has no champion; or promote a version: "
    "POST /api/v1/models/{version}/promote)"
)


class ModelUnavailable(RuntimeError):
    """No servable model; the message says why."""


class DatabaseUnavailable(ModelUnavailable):
    """The registry cannot be read, so no artifact can be verified; worth retrying."""


@dataclass(frozen=True)
class LoadedModel:
    forecaster: OnnxForecaster
    version: str
    loaded_at: datetime


class ModelStore:
    """The project's catalog, opened once per process; loads verified versions from it."""

    def __init__(self, catalog: Any, database: Database) -> None:
        for name in (MODEL_DATASET, SCALER_DATASET, CALIBRATION_DATASET, REGISTRY_DATASET):
            if name not in catalog:
                raise ModelUnavailable(f"{NO_MODEL} (the catalog has no {name!r} entry)")
        self._serving = catalog[REGISTRY_DATASET].serving_filepaths
        self.database = database

    @classmethod
    def open(cls, project_root: Path, env: str | None, database: Database) -> ModelStore:
        """The project's catalog (no Kedro session: that would import every pipeline, and with
        them TensorFlow; datasets are created lazily, so the Keras model's is never touched)."""
        return cls(open_catalog(project_root, env), database)

    @classmethod
    def configured(cls, settings: Settings, database: Database) -> ModelStore:
        """The store of the project and environment of `settings`, on `database`."""
        return cls.open(settings.project_root, settings.kedro_env, database)

    @property
    def serving_filepaths(self) -> dict[str, str]:
        """The files a version serves, by catalog name, as the registry checks them
        (`model_registry.problem`, `promote`, `rollback`)."""
        return dict(self._serving)

    def champion(self) -> str | None:
        """The registry's champion version (None: there is none)."""
        try:
            with self.database.session() as session:
                return crud.champion_version(session)
        except SQLAlchemyError as error:
            raise _database_unavailable(error, "read the registry's champion") from error

    def problem(self, version: str, verified: dict[str, bytes] | None = None) -> str | None:
        """Why `version` cannot be served (incomplete, unrecorded, sha256 mismatch), or None;
        `verified` receives the checked files' bytes (see `model_registry.problem`)."""
        try:
            with self.database.session() as session:
                record = crud.get_model_version(session, version)
        except SQLAlchemyError as error:
            raise _database_unavailable(error, f"check model version {version}") from error
        return model_registry.problem(record, version, self._serving, verified=verified)

    def load(self, version: str, verified: dict[str, bytes] | None = None) -> LoadedModel:
        """Verify, load and warm up `version`; ModelUnavailable says why it cannot be.
        `verified`: the files' bytes a promotion has just checked (not hashed again)."""
        if not verified:
            verified = {}
            problem = self.problem(version, verified)
            if problem is not None:
                raise ModelUnavailable(problem)
        try:  # the promotion's load check, again: a worker serves what it has proven
            forecaster = forecaster_from_files(verified)
        except Exception as error:  # a corrupt artifact whose hash matched
            raise ModelUnavailable(f"model version {version} does not load: {error}") from error
        logger.info("loaded model version %s", version)
        return LoadedModel(forecaster=forecaster, version=version, loaded_at=datetime.now(UTC))


def _database_unavailable(error: Exception, doing: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"database unavailable ({type(error).__name__}): cannot {doing}; retrying"
    )
