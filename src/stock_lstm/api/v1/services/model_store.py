"""Load a trained model version through the Kedro catalog, only once it is complete and verified.

A version is served only when it is *complete*: its model, scaler and interval calibration are
all saved under that Kedro save version, and the evaluation pipeline recorded it in
`model_versions` with the sha256 of the model and scaler files, which must match the files.
The hashes are checked BEFORE anything is deserialised: unpickling runs code, so only our own,
recorded artifacts are ever unpickled. A version without a `model_versions` row (evaluation not
run yet, or training still writing) is refused, never served half-made.

Without a pinned version the newest complete version is chosen; incomplete or altered newer
ones are skipped with a warning naming them. Any failure leaves the API up without a model,
with the reason for /health.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from stock_lstm.common.settings import Settings
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.datasets import stream_sha256

logger = logging.getLogger(__name__)

MODEL_DATASET = "lstm_model"
SCALER_DATASET = "scaler"
CALIBRATION_DATASET = "interval_calibration"
NO_MODEL = "no trained model: run `make pipeline` first"
MAX_REASONS = 3  # rejected versions named in a message


class ModelUnavailable(RuntimeError):
    """No servable model; the message says why."""


class DatabaseUnavailable(ModelUnavailable):
    """`model_versions` cannot be read, so no artifact can be verified; worth retrying."""


@dataclass(frozen=True)
class LoadedModel:
    forecaster: Any  # ml_models.lstm_model.predict.Forecaster
    version: str
    loaded_at: datetime


def load_configured(settings: Settings, *, unless_version: str | None = None) -> LoadedModel | None:
    """`load_from_catalog` with the project, environment, pinned version and database of
    `settings`: what the app (and the benchmark of it) serves."""
    return load_from_catalog(
        settings.project_root,
        settings.kedro_env,
        settings.model_version,
        url=settings.database_url,
        unless_version=unless_version,
    )


def load_from_catalog(
    project_root: Path,
    env: str | None,
    version: str | None = None,
    *,
    url: str | None = None,
    unless_version: str | None = None,
) -> LoadedModel | None:
    """Bootstrap the Kedro project and load the newest complete model version (or the pinned
    `version`), verified against `model_versions` in the database at `url`, then warm up.

    Returns None without loading anything when the version to serve is `unless_version` (a
    reload finding nothing newer than what is served).
    """
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_root)
    with KedroSession.create(project_path=project_root, env=env) as session:
        catalog = session.load_context().catalog
        for name in (MODEL_DATASET, SCALER_DATASET, CALIBRATION_DATASET):
            if name not in catalog:
                raise ModelUnavailable(f"{NO_MODEL} (the catalog has no {name!r} entry)")
        chosen = select_version(catalog, url, pinned=version)
        if chosen == unless_version:
            return None
        model = _load(catalog, MODEL_DATASET, chosen)
        scaler = _load(catalog, SCALER_DATASET, chosen)
        calibration = _load(catalog, CALIBRATION_DATASET, chosen)

    # TensorFlow is imported here, once per process, never on a request.
    from stock_lstm.ml_models.lstm_model.predict import Forecaster

    forecaster = Forecaster(model, scaler, calibration)
    forecaster.warm_up()
    logger.info("serving model version %s", chosen)
    return LoadedModel(forecaster=forecaster, version=chosen, loaded_at=datetime.now(UTC))


def select_version(catalog: Any, url: str | None, pinned: str | None = None) -> str:
    """The pinned version if it is complete, else the newest complete one; else why none is."""
    candidates = [pinned] if pinned else _saved_versions(catalog)
    if not candidates:
        raise ModelUnavailable(f"{NO_MODEL} (no saved {MODEL_DATASET!r} version)")
    rejected = []
    for version in candidates:
        problem = incompleteness(catalog, version, url)
        if problem is None:
            if rejected:
                logger.warning("newer model version(s) skipped: %s", "; ".join(rejected))
            return version
        rejected.append(f"{version}: {problem}")
        logger.warning("model version %s is not servable: %s", version, problem)
    more = f"; and {len(rejected) - MAX_REASONS} older" if len(rejected) > MAX_REASONS else ""
    prefix = "model version" if pinned else "no complete model version"
    raise ModelUnavailable(f"{prefix} {'; '.join(rejected[:MAX_REASONS])}{more}")


def incompleteness(catalog: Any, version: str, url: str | None) -> str | None:
    """Why `version` must not be served, or None when it is complete and its hashes match."""
    paths = {}
    for name in (MODEL_DATASET, SCALER_DATASET, CALIBRATION_DATASET):
        fs, path = _artifact(catalog, name, version)
        if not fs.exists(path):
            return f"{name} is missing ({path}): training did not finish this version"
        paths[name] = (fs, path)
    try:
        record = crud.get_model_version(version, url=url)
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(
            f"database unavailable ({type(error).__name__}): cannot check model version "
            f"{version}'s sha256 against model_versions; retrying"
        ) from error
    if record is None:
        return (
            f"model version {version} has no recorded sha256 in model_versions: "
            "run `kedro run --pipelines evaluation`"
        )
    for name, recorded in (
        (MODEL_DATASET, record.model_sha256),
        (SCALER_DATASET, record.scaler_sha256),
    ):
        fs, path = paths[name]
        with fs.open(path, "rb") as handle:
            actual = stream_sha256(handle)
        if actual != recorded:
            return (
                f"{name} file {path} has sha256 {actual[:12]}..., model_versions records "
                f"{recorded[:12]}...: refusing to load an artifact that is not the one evaluated"
            )
    return None


def _saved_versions(catalog: Any) -> list[str]:
    """Every save version of the model, newest first (Kedro's versions sort as timestamps)."""
    fs, pattern = _artifact(catalog, MODEL_DATASET, "*")
    return sorted((Path(found).parent.name for found in fs.glob(pattern)), reverse=True)


def _artifact(catalog: Any, name: str, version: str) -> tuple[Any, str]:
    """The filesystem and path of a versioned artifact's file at `version`."""
    from kedro.io.core import get_filepath_str

    dataset = catalog[name]
    filepath = getattr(dataset, "_filepath", None)
    if getattr(dataset, "_version", None) is None or filepath is None:
        raise ModelUnavailable(f"{NO_MODEL} ({name!r} must be a versioned file dataset)")
    path = filepath / version / filepath.name
    return dataset._fs, get_filepath_str(path, dataset._protocol)


def _load(catalog: Any, name: str, version: str) -> Any:
    try:
        return catalog.load(name, version=version)
    except Exception as error:
        raise ModelUnavailable(
            f"cannot load {name!r} of model version {version}: {type(error).__name__}: {error}"
        ) from error
