"""The model registry as Kedro datasets: register an evaluated version, read the champion.
The registry's rules (what may be served, promote, rollback) live in model_registry.py."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import JSONPreview

from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets.base import redacted_url

logger = logging.getLogger(__name__)


class ModelVersionDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """The model registry (`model_versions`): ``save(record)`` registers one evaluated version.

    ``record`` holds ``model_version`` (the Kedro save version that was evaluated),
    ``trained_at``, ``data_version_id``, ``parameters``, ``metrics`` and ``promotion``
    (``{"promote": bool, "reason": str}``, the evaluation's promotion policy decision). The
    dataset adds the sha256 of the files saved under exactly that version: the Keras model and
    scaler (``model_sha256``, ``scaler_sha256``) and every file the API loads
    (``serving_filepaths``, by catalog name, into ``serving_sha256``). A new version becomes a
    candidate; with ``promote`` the champion. ``load()`` gives the newest row. The filepaths
    may be local or any fsspec URL (s3://, gcs://, memory://).

    Only load and save: what may be served, promotion and rollback are the registry's rules
    (data_pipeline/model_registry.py), which read ``serving_filepaths`` from here.
    """

    def __init__(
        self,
        *,
        model_filepath: str,
        scaler_filepath: str,
        serving_filepaths: dict[str, str] | None = None,
        url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._model_filepath = str(model_filepath)
        self._scaler_filepath = str(scaler_filepath)
        self._serving = {name: str(path) for name, path in (serving_filepaths or {}).items()}
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_filepath": self._model_filepath,
            "scaler_filepath": self._scaler_filepath,
            "serving_filepaths": self._serving,
            "url": redacted_url(self._url),
        }

    @staticmethod
    def _sha256(filepath: str, version: str) -> str:
        digest = model_registry.artifact_sha256(filepath, version)
        if digest is None:
            raise DatasetError(
                f"model version {version} has no {PurePosixPath(filepath).name} saved "
                f"under {filepath}"
            )
        return digest

    def save(self, data: dict[str, Any]) -> None:
        missing = [
            k for k in ("model_version", "trained_at", "parameters", "metrics") if not data.get(k)
        ]
        if missing:
            raise DatasetError(f"a model_versions record needs {', '.join(missing)}")
        version = str(data["model_version"])
        trained_at = data["trained_at"]
        if isinstance(trained_at, str):
            trained_at = datetime.fromisoformat(trained_at)
        promotion = data.get("promotion") or {}
        sha256 = {
            "model_sha256": self._sha256(self._model_filepath, version),
            "scaler_sha256": self._sha256(self._scaler_filepath, version),
            "serving_sha256": {
                name: self._sha256(path, version) for name, path in self._serving.items()
            },
        }
        with get_database(self._url).session() as session:
            info = crud.record_model_version(
                session,
                model_version=version,
                trained_at=trained_at,
                data_version_id=data.get("data_version_id"),
                parameters=data["parameters"],
                metrics=data["metrics"],
                **sha256,
                promote=bool(promotion.get("promote")),
                reason=str(promotion.get("reason") or "evaluated"),
            )
        logger.info(
            "registered model version %s as %s (%s)",
            version,
            info.status,
            promotion.get("reason", "no promotion policy"),
        )

    def load(self) -> dict[str, Any]:
        with get_database(self._url).session() as session:
            info = crud.get_model_version(session)
        if info is None:
            raise DatasetError("no model version recorded yet: run the evaluation pipeline")
        return asdict(info)

    def _exists(self) -> bool:
        with get_database(self._url).session() as session:
            return crud.get_model_version(session) is not None

    def preview(self) -> JSONPreview:
        """The newest row (version, data version, metrics, sha256s), for kedro-viz."""
        return JSONPreview(json.dumps(self.load(), indent=2, default=str))

    @property
    def serving_filepaths(self) -> dict[str, str]:
        """The files the API loads, by catalog name (what `model_registry` checks)."""
        return dict(self._serving)


class ChampionDataset(ModelVersionDataset):
    """Read-only: the registry's current champion, for the evaluation's `if_better` policy.

    ``load()`` gives None when there is no champion, else its ``model_version``, ``metrics``
    and the serving files named in ``serving_filepaths`` (``onnx_model`` as bytes, JSON files
    parsed), each verified against the sha256 the registry recorded; or, when they fail that
    check, its ``model_version`` and the ``problem``.
    """

    def save(self, data: dict[str, Any]) -> None:
        raise DatasetError("ChampionDataset is read-only: promote with the registry")

    def load(self) -> dict[str, Any] | None:
        with get_database(self._url).session() as session:
            version = crud.champion_version(session)
            record = crud.get_model_version(session, version) if version is not None else None
        if version is None:
            return None
        verified: dict[str, bytes] = {}
        problem = model_registry.problem(record, version, self._serving, verified=verified)
        if problem is not None:
            return {"model_version": version, "problem": problem}
        loaded: dict[str, Any] = {"model_version": version, "metrics": record.metrics}
        for name, filepath in self._serving.items():
            content = verified[name]  # the bytes whose sha256 was checked, read once
            loaded[name] = json.loads(content) if filepath.endswith(".json") else content
        return loaded

    def _exists(self) -> bool:
        with get_database(self._url).session() as session:
            return crud.champion_version(session) is not None

    def preview(self) -> JSONPreview:
        with get_database(self._url).session() as session:
            champion = crud.champion_version(session)
        return JSONPreview(json.dumps({"champion": champion}))
