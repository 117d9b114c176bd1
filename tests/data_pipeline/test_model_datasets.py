"""ArtifactVersionDataset and ModelVersionDataset: the newest Kedro version and its row."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from kedro.io import DatasetError

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.datasets import ArtifactVersionDataset, ModelVersionDataset

OLD, NEW = "2026-01-05T10.00.00.000Z", "2026-02-01T09.30.00.000Z"


def artifacts(root: Path) -> tuple[Path, Path]:
    model, scaler = root / "lstm_model.keras", root / "scaler.pkl"
    for version, payload in ((OLD, b"old"), (NEW, b"new")):
        for path in (model, scaler):
            (path / version).mkdir(parents=True)
            (path / version / path.name).write_bytes(payload + path.name.encode())
    return model, scaler


def record(**extra) -> dict:
    return {
        "trained_at": "2026-02-01T09:30:05+00:00",
        "data_version_id": None,
        "parameters": {"model": {"window": 60}},
        "metrics": {"summary": {"h1": {"max_mae_ratio": 0.99}}},
        **extra,
    }


def test_artifact_version_is_the_newest_folder(tmp_path: Path) -> None:
    model, _ = artifacts(tmp_path)
    assert ArtifactVersionDataset(filepath=str(model)).load() == NEW
    with pytest.raises(DatasetError, match="no saved version"):
        ArtifactVersionDataset(filepath=str(tmp_path / "missing.keras")).load()


def test_model_version_row_hashes_that_versions_files(tmp_path: Path, database_url: str) -> None:
    model, scaler = artifacts(tmp_path)
    dataset = ModelVersionDataset(
        model_filepath=str(model), scaler_filepath=str(scaler), url=database_url
    )
    dataset.save(record())
    row = crud.get_model_version(NEW, url=database_url)
    assert row is not None
    assert row.model_sha256 == hashlib.sha256(b"newlstm_model.keras").hexdigest()
    assert row.scaler_sha256 == hashlib.sha256(b"newscaler.pkl").hexdigest()
    assert row.parameters == {"model": {"window": 60}}
    assert dataset.load()["model_version"] == NEW

    dataset.save(record(model_version=OLD))  # a named version is recorded as named
    old = crud.get_model_version(OLD, url=database_url)
    assert old.model_sha256 == hashlib.sha256(b"oldlstm_model.keras").hexdigest()


def test_model_version_row_needs_its_artifacts(tmp_path: Path, database_url: str) -> None:
    model, scaler = artifacts(tmp_path)
    (scaler / NEW / "scaler.pkl").unlink()
    dataset = ModelVersionDataset(
        model_filepath=str(model), scaler_filepath=str(scaler), url=database_url
    )
    with pytest.raises(DatasetError, match=f"model version {NEW} has no scaler.pkl"):
        dataset.save(record())
    with pytest.raises(DatasetError, match="needs metrics"):
        dataset.save({"trained_at": "2026-02-01T00:00:00+00:00", "parameters": {}})
    assert crud.get_model_version(url=database_url) is None
