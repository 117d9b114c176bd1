"""The model registry as Kedro datasets: register an evaluated version, read the champion.
The registry's rules (what may be served, promote, rollback) live in model_registry.py."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, TypeVar

from kedro.io import AbstractDataset, DatasetError
from kedro.utils import load_obj
from kedro_datasets._typing import JSONPreview

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets.base import redacted_url

T = TypeVar("T")

logger = logging.getLogger(__name__)


class PromotionWithoutLoad(DatasetError, InputError):
    """The evaluation's promotion of a version whose serving files do not load (or with no load
    check configured): nothing is registered and the run ends with this one-line message."""


class ModelVersionDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """The model registry (`model_versions`): ``save(record)`` registers one evaluated version.

    ``record`` holds ``model_version`` (the Kedro save version that was evaluated),
    ``trained_at``, ``data_version_id``, ``parameters``, ``metrics`` and ``promotion``
    (``{"promote": bool, "reason": str}``, the evaluation's promotion policy decision). The
    dataset adds the sha256 of the files saved under exactly that version: the Keras model and
    scaler (``model_sha256``, ``scaler_sha256``) and every file the API loads
    (``serving_filepaths``, by catalog name, into ``serving_sha256``). A new version becomes a
    candidate; with ``promote`` the champion, once ``load_check`` (the dotted path of a
    `model_registry.LoadCheck`, named in the catalog as dataset types are: this layer imports no
    model code) has built a forecaster from exactly the bytes whose sha256 are recorded, and
    made one forecast. ``load()`` gives the newest row. The filepaths may be local or any fsspec
    URL (s3://, gcs://, memory://).

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
        load_check: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._model_filepath = str(model_filepath)
        self._scaler_filepath = str(scaler_filepath)
        self._serving = {name: str(path) for name, path in (serving_filepaths or {}).items()}
        self._url = url
        self._load_check = load_check
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_filepath": self._model_filepath,
            "scaler_filepath": self._scaler_filepath,
            "serving_filepaths": self._serving,
            "url": redacted_url(self._url),
            "load_check": self._load_check,
        }

    @staticmethod
    def _saved(read: Callable[[str, str], T | None], filepath: str, version: str) -> T:
        """`read(filepath, version)`, or a DatasetError naming the file the version lacks."""
        found = read(filepath, version)
        if found is None:
            raise DatasetError(
                f"model version {version} has no {PurePosixPath(filepath).name} saved "
                f"under {filepath}"
            )
        return found

    @classmethod
    def _sha256(cls, filepath: str, version: str) -> str:
        return cls._saved(model_registry.artifact_sha256, filepath, version)

    @classmethod
    def _read(cls, filepath: str, version: str) -> bytes:
        return cls._saved(model_registry.read_artifact, filepath, version)

    def _check_loads(self, version: str, files: dict[str, bytes]) -> None:
        """Refuse to promote `version` unless its files (the bytes about to be hashed) load."""
        if self._load_check is None:
            raise PromotionWithoutLoad(
                f"model version {version} cannot be promoted: the catalog's registry entry "
                "names no load_check to prove it loads"
            )
        found = model_registry.load_problem(version, files, load_obj(self._load_check))
        if found is not None:
            raise PromotionWithoutLoad(
                f"model version {version} cannot be promoted: {found}; it is not registered"
            )

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
        promote = bool(promotion.get("promote"))
        serving = {name: self._read(path, version) for name, path in self._serving.items()}
        if promote:
            self._check_loads(version, serving)
        sha256 = {
            "model_sha256": self._sha256(self._model_filepath, version),
            "scaler_sha256": self._sha256(self._scaler_filepath, version),
            "serving_sha256": {
                name: hashlib.sha256(content).hexdigest() for name, content in serving.items()
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
                training_fingerprint=data.get("training_fingerprint"),
                **sha256,
                promote=promote,
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

    def trained_from(self, training_fingerprint: str) -> str | None:
        """The newest registered version trained from these inputs (its
        ``training_fingerprint``, common/fingerprint.py), or None."""
        with get_database(self._url).session() as session:
            found = crud.model_version_trained_from(session, training_fingerprint)
        return found.model_version if found is not None else None

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
