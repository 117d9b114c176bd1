"""A trained project's model versions: their artifact files and their registry rows."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stock_lstm.data_pipeline.database import Database
from tests.conftest import TrainedProject
from tests.helpers.database import crud_on

ARTIFACTS = {  # what the API loads
    "onnx_model": "onnx_model.onnx",
    "scaler_params": "scaler_params.json",
    "interval_calibration": "interval_calibration.json",
}
NEWER = "2999-01-01T00.00.00.000Z"  # sorts after any real Kedro save version
# A model_versions row's fields that tests of the registry do not look at.
RECORDED: dict[str, Any] = {
    "trained_at": datetime(2026, 1, 1, tzinfo=UTC),
    "data_version_id": None,
    "parameters": {},
    "metrics": {},
    "model_sha256": "0" * 64,
    "scaler_sha256": "1" * 64,
}


def record_version(database: str | Database, version: str, **changes: Any) -> None:
    """Record `version` in model_versions as evaluation does (crud): RECORDED's fields with
    `changes` (promote, reason, serving_sha256, metrics, a fingerprint...)."""
    crud_on(database).record_model_version(model_version=version, **{**RECORDED, **changes})


def artifact(project: TrainedProject, name: str, version: str) -> Path:
    file = ARTIFACTS.get(name, {"scaler": "scaler.pkl"}.get(name))
    return project.root / "data" / "06_models" / file / version / file


def only_version(project: TrainedProject) -> str:
    [version] = [p.name for p in (project.root / "data/06_models/onnx_model.onnx").iterdir()]
    return version


def copy_version(project: TrainedProject, names: tuple[str, ...], source: str, target: str):
    for name in names:
        destination = artifact(project, name, target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(artifact(project, name, source), destination)


def record_as(project: TrainedProject, source: str, target: str, **changes) -> None:
    """The model_versions row of `target` (a candidate): `source`'s row with `changes`."""
    row = crud_on(project.database_url).get_model_version(source)
    fields = {**dataclasses.asdict(row), "model_version": target, **changes}
    del fields["status"]
    crud_on(project.database_url).record_model_version(**fields)
