"""Load the trained model, scaler and interval calibration through the Kedro catalog, once.

The three artifacts are loaded at the same Kedro version (the newest `lstm_model`), so the API
never pairs a model with another run's scaler. Any failure leaves the API up without a model,
with the reason for /health.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MODEL_DATASET = "lstm_model"
SCALER_DATASET = "scaler"
CALIBRATION_DATASET = "interval_calibration"
NO_MODEL = "no trained model: run `make pipeline` first"


class ModelUnavailable(RuntimeError):
    """No servable model; the message starts with NO_MODEL and says why in parentheses."""


def try_load(
    project_root: Path, env: str | None, version: str | None = None
) -> tuple[LoadedModel | None, str | None]:
    """The loaded model, or None and the reason: the API starts either way."""
    try:
        return load_from_catalog(project_root, env, version), None
    except ModelUnavailable as error:
        logger.warning("serving without a model: %s", error)
        return None, str(error)
    except Exception as error:  # a corrupt artifact can raise anything while unpickling
        logger.exception("serving without a model: loading failed")
        return None, f"{NO_MODEL} ({type(error).__name__}: {error})"


@dataclass(frozen=True)
class LoadedModel:
    forecaster: Any  # ml_models.lstm_model.predict.Forecaster
    version: str
    loaded_at: datetime


def load_from_catalog(
    project_root: Path, env: str | None, version: str | None = None
) -> LoadedModel:
    """Bootstrap the Kedro project, load one model version's artifacts (the newest unless
    `version` pins one), warm up."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    # TensorFlow is imported here, once per process, never on a request.
    from stock_lstm.ml_models.lstm_model.predict import Forecaster

    bootstrap_project(project_root)
    with KedroSession.create(project_path=project_root, env=env) as session:
        catalog = session.load_context().catalog
        version = version or _newest_version(catalog)
        model = _load(catalog, MODEL_DATASET, version)
        scaler = _load(catalog, SCALER_DATASET, version)
        calibration = _load(catalog, CALIBRATION_DATASET, version)
    forecaster = Forecaster(model, scaler, calibration)
    forecaster.warm_up()
    logger.info("serving model version %s", version)
    return LoadedModel(forecaster=forecaster, version=version, loaded_at=datetime.now(UTC))


def _newest_version(catalog: Any) -> str:
    if MODEL_DATASET not in catalog:
        raise ModelUnavailable(
            f"{NO_MODEL} (the catalog has no {MODEL_DATASET!r} entry in this environment)"
        )
    dataset = catalog[MODEL_DATASET]
    try:
        version = dataset.resolve_load_version()
    except Exception as error:  # kedro's VersionNotFoundError, permissions, ...
        raise ModelUnavailable(f"{NO_MODEL} ({error})") from error
    if not version:
        raise ModelUnavailable(f"{NO_MODEL} ({MODEL_DATASET!r} must be a versioned dataset)")
    return str(version)


def _load(catalog: Any, name: str, version: str) -> Any:
    if name not in catalog:
        raise ModelUnavailable(f"{NO_MODEL} (the catalog has no {name!r} entry)")
    try:
        return catalog.load(name, version=version)
    except Exception as error:
        raise ModelUnavailable(
            f"{NO_MODEL} (cannot load {name!r} at model version {version}: {error})"
        ) from error
