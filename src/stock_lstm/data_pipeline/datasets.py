"""Kedro datasets whose load and save go through `crud`, so pipelines never open a session."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import Version
from kedro_datasets._typing import JSONPreview, TablePreview

from stock_lstm.data_pipeline import crud

logger = logging.getLogger(__name__)


class VersionedTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A versioned stage table (`raw`, `clean` or `features`) in the project's SQL database.

    ``save(frame)`` stores a new data version in one transaction, or nothing when the content
    equals the latest version. Lineage comes from ``frame.attrs``: ``source`` (else the
    dataset's ``source``) and ``parent_version_id`` (else the latest version of
    ``parent_stage``). ``load()`` gives the latest version, or the one pinned by ``version_id``
    or by Kedro's load version (``versioned: true`` and ``--load-versions name:ID``).

    Example (conf/base/catalog.yml)::

        clean_prices:
          type: stock_lstm.data_pipeline.datasets.VersionedTableDataset
          stage: clean
          parent_stage: raw
    """

    def __init__(
        self,
        *,
        stage: str,
        parent_stage: str | None = None,
        source: str = "kedro",
        version_id: int | None = None,
        url: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        crud.stage_columns(stage)  # fail at catalog creation on an unknown stage
        self._stage = stage
        self._parent_stage = parent_stage
        self._source = source
        self._url = url
        pinned = version.load if version is not None else None
        self._version_id = version_id if version_id is not None else _as_version_id(pinned)
        self.metadata = metadata
        self.last_save: crud.SaveResult | None = None

    def _describe(self) -> dict[str, Any]:
        return {
            "stage": self._stage,
            "parent_stage": self._parent_stage,
            "version_id": self._version_id,
            "url": _redacted(self._url),
        }

    def load(self) -> pd.DataFrame:
        try:
            return crud.load_stage_frame(self._stage, self._version_id, url=self._url)
        except crud.StageError as error:
            raise DatasetError(str(error)) from error

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DatasetError(
                f"stage {self._stage!r} saves a pandas DataFrame, got {type(data).__name__}"
            )
        source = str(data.attrs.get("source") or self._source)
        parent_id = data.attrs.get("parent_version_id")
        if parent_id is None and self._parent_stage is not None:
            parent = crud.latest_version(self._parent_stage, url=self._url)
            parent_id = parent.id if parent is not None else None
        try:
            result = crud.save_stage_frame(
                data, self._stage, source=source, parent_id=parent_id, url=self._url
            )
        except (crud.FrameSchemaError, crud.StageError) as error:
            raise DatasetError(str(error)) from error
        self.last_save = result
        verb = "saved new" if result.created else "content unchanged, kept"
        logger.info(
            "%s %s version %d (%d rows, parent %s)",
            verb,
            self._stage,
            result.version.id,
            result.version.row_count,
            result.version.parent_id,
        )

    def _exists(self) -> bool:
        return crud.latest_version(self._stage, url=self._url) is not None

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows of the latest version, for kedro-viz's table preview (kedro-viz picks
        the renderer from this return annotation; `preview_args` in the catalog set `nrows`)."""
        frame = self.load().head(nrows)
        return TablePreview(frame.astype(str).to_dict(orient="split"))


def _as_version_id(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise DatasetError(
            f"a table load version is a data_versions id (an integer), got {value!r}"
        ) from None


def _redacted(url: str | None) -> str | None:
    if url is None:
        return None
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- model artifacts -------------------------------------------------------------------------


def newest_artifact_version(filepath: str | Path) -> str:
    """The newest Kedro save version of a versioned artifact (layout <filepath>/<version>/<name>).

    Kedro's version strings (UTC timestamps) sort lexicographically, as Kedro itself resolves
    the latest load version.
    """
    path = Path(filepath)
    versions = sorted(
        (p.parent.name for p in path.glob(f"*/{path.name}") if p.exists()), reverse=True
    )
    if not versions:
        raise DatasetError(f"no saved version of {path}: run `kedro run --pipelines training`")
    return versions[0]


def stream_sha256(handle: BinaryIO) -> str:
    """sha256 of an open binary file, read in blocks (the API checks artifacts with it)."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_sha256(handle)


class ArtifactVersionDataset(AbstractDataset[str, None]):
    """Read-only: the newest Kedro save version of a versioned artifact, e.g. the model's.

    Lets a node (evaluation) name the model version it evaluates without doing I/O itself.
    """

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = filepath
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}

    def load(self) -> str:
        return newest_artifact_version(self._filepath)

    def save(self, data: None) -> None:
        raise DatasetError("ArtifactVersionDataset is read-only")


class ModelVersionDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """The `model_versions` table: ``save(record)`` writes (or updates) one model's row.

    ``record`` holds ``model_version`` (a Kedro save version of the model; the newest when
    absent), ``trained_at``, ``data_version_id``, ``parameters`` and ``metrics``. The dataset
    adds the sha256 of the model and scaler files saved under that version, so the row
    identifies exactly the artifacts the API loads. ``load()`` gives the newest row.
    """

    def __init__(
        self,
        *,
        model_filepath: str,
        scaler_filepath: str,
        url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._model_filepath = Path(model_filepath)
        self._scaler_filepath = Path(scaler_filepath)
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_filepath": str(self._model_filepath),
            "scaler_filepath": str(self._scaler_filepath),
            "url": _redacted(self._url),
        }

    def _artifact(self, filepath: Path, version: str) -> Path:
        path = filepath / version / filepath.name
        if not path.exists():
            raise DatasetError(f"model version {version} has no {filepath.name} at {path}")
        return path

    def save(self, data: dict[str, Any]) -> None:
        missing = [k for k in ("trained_at", "parameters", "metrics") if k not in data]
        if missing:
            raise DatasetError(f"a model_versions record needs {', '.join(missing)}")
        version = str(data.get("model_version") or newest_artifact_version(self._model_filepath))
        trained_at = data["trained_at"]
        if isinstance(trained_at, str):
            trained_at = datetime.fromisoformat(trained_at)
        info = crud.record_model_version(
            model_version=version,
            trained_at=trained_at,
            data_version_id=data.get("data_version_id"),
            parameters=data["parameters"],
            metrics=data["metrics"],
            model_sha256=_sha256(self._artifact(self._model_filepath, version)),
            scaler_sha256=_sha256(self._artifact(self._scaler_filepath, version)),
            url=self._url,
        )
        logger.info("recorded model version %s (data version %s)", version, info.data_version_id)

    def load(self) -> dict[str, Any]:
        info = crud.get_model_version(url=self._url)
        if info is None:
            raise DatasetError("no model version recorded yet: run the evaluation pipeline")
        return asdict(info)

    def _exists(self) -> bool:
        return crud.get_model_version(url=self._url) is not None

    def preview(self) -> JSONPreview:
        """The newest row (version, data version, metrics, sha256s), for kedro-viz."""
        return JSONPreview(json.dumps(self.load(), indent=2, default=str))
