"""SaveVersionDataset, newest_artifact_version and ModelVersionDataset: the run's version, the
newest saved one, and the model_versions row hashing exactly the evaluated version's files
(local paths and fsspec URLs alike)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import fsspec
import pytest
from kedro.io import DatasetError
from kedro.io.core import Version

from stock_lstm.data_pipeline.datasets import ModelVersionDataset, SaveVersionDataset
from stock_lstm.data_pipeline.model_registry import newest_artifact_version
from tests.helpers.database import crud_on

OLD, NEW = "2026-01-05T10.00.00.000Z", "2026-02-01T09.30.00.000Z"


def artifacts(root: str) -> tuple[str, str]:
    """Two versions of a model and a scaler under `root` (a folder or an fsspec URL)."""
    model, scaler = f"{root}/lstm_model.keras", f"{root}/scaler.pkl"
    for version, payload in ((OLD, b"old"), (NEW, b"new")):
        for path in (model, scaler):
            name = path.rsplit("/", 1)[-1]
            with fsspec.open(f"{path}/{version}/{name}", "wb", auto_mkdir=True) as handle:
                handle.write(payload + name.encode())
    return model, scaler


def record(**extra) -> dict:
    return {
        "model_version": NEW,
        "trained_at": "2026-02-01T09:30:05+00:00",
        "data_version_id": None,
        "parameters": {"model": {"window": 60}},
        "metrics": {"summary": {"h1": {"max_mae_ratio": 0.99, "mean_mae_ratio": None}}},
        **extra,
    }


def test_save_version_is_the_sessions() -> None:
    assert SaveVersionDataset(version=Version(None, NEW)).load() == NEW
    with pytest.raises(DatasetError, match="no save version"):
        SaveVersionDataset().load()
    with pytest.raises(DatasetError, match="read-only"):
        SaveVersionDataset(version=Version(None, NEW)).save("v")


@pytest.mark.parametrize("where", ["local", "memory"])
def test_newest_artifact_version(where: str, tmp_path: Path) -> None:
    root = str(tmp_path) if where == "local" else f"memory:///{uuid.uuid4().hex}"
    model, _ = artifacts(root)
    assert newest_artifact_version(model) == NEW
    with pytest.raises(DatasetError, match="no saved version"):
        newest_artifact_version(f"{root}/missing.keras")


@pytest.mark.parametrize("where", ["local", "memory"])
def test_model_version_row_hashes_exactly_that_versions_files(
    where: str, tmp_path: Path, database_url: str
) -> None:
    root = str(tmp_path) if where == "local" else f"memory:///{uuid.uuid4().hex}"
    model, scaler = artifacts(root)
    dataset = ModelVersionDataset(model_filepath=model, scaler_filepath=scaler, url=database_url)
    dataset.save(record(model_version=OLD))  # the older version, though a newer one exists
    row = crud_on(database_url).get_model_version(OLD)
    assert row is not None
    assert row.model_sha256 == hashlib.sha256(b"oldlstm_model.keras").hexdigest()
    assert row.scaler_sha256 == hashlib.sha256(b"oldscaler.pkl").hexdigest()
    assert row.parameters == {"model": {"window": 60}}
    assert row.metrics["summary"]["h1"]["mean_mae_ratio"] is None  # JSON null, also on PG
    assert crud_on(database_url).get_model_version(NEW) is None

    dataset.save(record())
    new = crud_on(database_url).get_model_version(NEW)
    assert new.model_sha256 == hashlib.sha256(b"newlstm_model.keras").hexdigest()
    assert dataset.load()["model_version"] == NEW


def test_model_version_row_needs_its_version_and_artifacts(
    tmp_path: Path, database_url: str
) -> None:
    model, scaler = artifacts(str(tmp_path))
    (tmp_path / "scaler.pkl" / NEW / "scaler.pkl").unlink()
    dataset = ModelVersionDataset(model_filepath=model, scaler_filepath=scaler, url=database_url)
    with pytest.raises(DatasetError, match=f"model version {NEW} has no scaler.pkl"):
        dataset.save(record())
    with pytest.raises(DatasetError, match="needs model_version"):
        dataset.save(record(model_version=None))
    with pytest.raises(DatasetError, match="needs metrics"):
        dataset.save({"model_version": OLD, "trained_at": "2026-02-01", "parameters": {"a": 1}})
    assert crud_on(database_url).get_model_version() is None


def test_a_promotion_needs_the_files_to_load_and_registers_nothing_otherwise(
    tmp_path: Path, database_url: str
) -> None:
    """The evaluation's automatic promotion (and so the daily loop's) runs the catalog's load
    check on exactly the bytes it hashes: serving files that do not load are refused with one
    line, and nothing is recorded; without a promotion, a candidate needs no load."""
    from stock_lstm.common.errors import InputError

    model, scaler = artifacts(str(tmp_path))
    serving = {}
    for name, content in (
        ("onnx_model.onnx", b"not an onnx graph"),
        ("scaler_params.json", b'{"mean": [0.0], "scale": [1.0]}'),
        ("interval_calibration.json", b'{"level": 0.9}'),
    ):
        path = tmp_path / name / NEW / name
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        serving[name.split(".")[0]] = str(tmp_path / name)
    checked = ModelVersionDataset(
        model_filepath=model,
        scaler_filepath=scaler,
        serving_filepaths=serving,
        url=database_url,
        load_check="stock_lstm.ml_models.serving.onnx_forecaster.forecaster_from_files",
    )
    promote = {"promotion": {"promote": True, "reason": "first version of an empty registry"}}
    with pytest.raises(InputError, match=f"{NEW} cannot be promoted: it does not load: onnx_model"):
        checked.save(record(**promote))
    assert crud_on(database_url).get_model_version() is None
    unchecked = ModelVersionDataset(
        model_filepath=model, scaler_filepath=scaler, serving_filepaths=serving, url=database_url
    )
    with pytest.raises(DatasetError, match="names no load_check"):
        unchecked.save(record(**promote))
    assert crud_on(database_url).get_model_version() is None

    checked.save(record())  # a candidate only: promoting it later loads it then
    assert crud_on(database_url).get_model_version(NEW).status == "candidate"
