"""Kedro datasets whose load and save go through `crud`, so pipelines never open a session.

Each dataset names its database by URL (`url`, default: settings' DATABASE_URL) and gets the
process's shared `Database` for it (`get_database`) when it needs one: one load or save is one
session, one transaction."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd
from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError
from kedro.io.core import Version, get_filepath_str, get_protocol_and_path
from kedro_datasets._typing import JSONPreview, TablePreview
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lineage:
    """What a derived stage's save needs to know about the input it was computed from: the
    parent version read, and per ticker the date from which the frame replaces the stored rows
    (None: the whole ticker). Set by `stock_lstm.hooks.LineageHooks`, never by a node."""

    parent_version_id: int | None
    since: dict[str, date | None] | None


class VersionedTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A stage table (`raw`, `clean` or `features`) in the project's SQL database, versioned by
    change (see crud).

    ``load()`` gives the table as of the newest version, or as of the one pinned by
    ``version_id`` or by Kedro's load version (``versioned: true`` and
    ``--load-versions name:ID``). In a pipeline run, when the loading node writes a stage
    derived from this one, the lineage hook asks instead for only the rows that stage must redo
    (`read_changes_for`): the tickers changed since the version it was last derived from, with
    ``lookback_rows`` (declared on the derived entry) before their first change.

    ``save(frame)`` stores what the frame changes as one new version in one transaction, or
    nothing. A raw frame replaces each of its tickers from its first date in the frame on; a
    derived frame replaces what the hook's lineage says (else each of its tickers whole), and
    records the parent version read (else the parent stage's newest). The version's source is
    the frame's ``attrs["source"]`` when a price source labelled it, else ``source``.

    Example (conf/base/catalog.yml)::

        features:
          type: stock_lstm.data_pipeline.datasets.VersionedTableDataset
          stage: features
          parent_stage: clean
          lookback_rows: 1  # a log return needs the previous close
    """

    def __init__(
        self,
        *,
        stage: str,
        parent_stage: str | None = None,
        lookback_rows: int | None = None,
        source: str = "kedro",
        version_id: int | None = None,
        url: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        crud.stage_columns(stage)  # fail at catalog creation on an unknown stage
        if lookback_rows is not None and (not isinstance(lookback_rows, int) or lookback_rows < 0):
            raise DatasetError(
                f"lookback_rows of stage {stage!r} must be a whole number >= 0 or null "
                f"(the whole history), got {lookback_rows!r}"
            )
        self.stage = stage
        self.parent_stage = parent_stage
        self.lookback_rows = lookback_rows
        self._source = source
        self._url = url
        pinned = version.load if version is not None else None
        self._version_id = version_id if version_id is not None else _as_version_id(pinned)
        self.metadata = metadata
        self._changes_for: tuple[str, int | None] | None = None
        self._lineage: Lineage | None = None
        self.last_changes: crud.StageChanges | None = None
        self.last_save: crud.SaveResult | None = None

    def _describe(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "parent_stage": self.parent_stage,
            "version_id": self._version_id,
            "url": _redacted(self._url),
        }

    def read_changes_for(self, derived: VersionedTableDataset) -> None:
        """Make the next load give only the rows `derived` must redo."""
        self._changes_for = (derived.stage, derived.lookback_rows)

    def record_lineage(self, lineage: Lineage) -> None:
        """What the next save derives from (see `Lineage`)."""
        self._lineage = lineage

    def load(self) -> pd.DataFrame:
        changes_for, self._changes_for = self._changes_for, None
        self.last_changes = None
        try:
            with get_database(self._url).session() as session:
                if changes_for is None:
                    return crud.load_stage_frame(session, self.stage, self._version_id)
                derived_stage, lookback_rows = changes_for
                frame, self.last_changes = crud.load_stage_changes(
                    session,
                    self.stage,
                    derived_stage,
                    self._version_id,
                    lookback_rows=lookback_rows,
                )
        except crud.StageError as error:
            raise DatasetError(str(error)) from error
        logger.info(
            "%s version %d: %d row(s) of %d changed ticker(s) for %s",
            self.stage,
            self.last_changes.version_id,
            len(frame),
            len(self.last_changes.since),
            derived_stage,
        )
        return frame

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DatasetError(
                f"stage {self.stage!r} saves a pandas DataFrame, got {type(data).__name__}"
            )
        lineage, self._lineage = self._lineage, None
        source = str(data.attrs.get("source") or self._source)
        parent_id = lineage.parent_version_id if lineage is not None else None
        since = lineage.since if lineage is not None else None
        if self.parent_stage is not None and since is None and "ticker" in data.columns:
            since = dict.fromkeys(data["ticker"].astype(str).unique())
        database = get_database(self._url)
        try:
            if self.parent_stage is not None and parent_id is None:
                # Read before the save's own transaction: the stage lock comes first in that one.
                with database.session() as session:
                    parent = crud.latest_version(session, self.parent_stage)
                parent_id = parent.id if parent is not None else None
            with database.session() as session:
                result = crud.save_stage_frame(
                    session, data, self.stage, source=source, parent_id=parent_id, since=since
                )
        except (crud.FrameSchemaError, crud.StageError) as error:
            raise DatasetError(str(error)) from error
        self.last_save = result
        if not result.created:
            logger.info("%s: nothing changed, no new version", self.stage)
            return
        for ticker, change in result.changes.items():
            logger.info("%s %s", self.stage, change.describe(ticker))
        logger.info(
            "saved %s version %d: %d row(s) added, %d closed, %d in the table (parent %s)",
            self.stage,
            result.version.id,
            result.version.rows_added,
            result.version.rows_closed,
            result.version.row_count,
            result.version.parent_id,
        )

    def _exists(self) -> bool:
        with get_database(self._url).session() as session:
            return crud.latest_version(session, self.stage) is not None

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows of the latest version, for kedro-viz's table preview (kedro-viz picks
        the renderer from this return annotation; `preview_args` in the catalog set `nrows`)."""
        with get_database(self._url).session() as session:
            frame = crud.load_stage_frame(session, self.stage, self._version_id).head(nrows)
        return TablePreview(frame.astype(str).to_dict(orient="split"))


class StoredTailDataset(AbstractDataset[pd.DataFrame, None]):
    """Read-only: the newest ``rows`` current rows of each ticker of a stage table (empty when
    the stage has none): what incremental ingestion compares a source's overlap with. ``rows``
    must cover ``ingestion.overlap_days``."""

    def __init__(
        self,
        *,
        stage: str,
        rows: int,
        url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        crud.stage_columns(stage)
        if not isinstance(rows, int) or rows < 1:
            raise DatasetError(f"rows of a stored tail must be a whole number >= 1, got {rows!r}")
        self._stage = stage
        self._rows = rows
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"stage": self._stage, "rows": self._rows, "url": _redacted(self._url)}

    def load(self) -> pd.DataFrame:
        with get_database(self._url).session() as session:
            return crud.stored_tails(session, self._stage, self._rows)

    def save(self, data: None) -> None:
        raise DatasetError("StoredTailDataset is read-only")

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first rows, for kedro-viz."""
        return TablePreview(self.load().head(nrows).astype(str).to_dict(orient="split"))


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


class BytesDataset(AbstractVersionedDataset[bytes, bytes]):
    """A file's raw bytes, optionally versioned: the ONNX export (`onnx_model`), which ONNX
    Runtime builds a session from. Any fsspec filepath (local, s3://, memory://)."""

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(
            protocol, **({"auto_mkdir": True} if protocol == "file" else {})
        )
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def load(self) -> bytes:
        with self._fs.open(get_filepath_str(self._get_load_path(), self._protocol), "rb") as f:
            return f.read()

    def save(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray):
            raise DatasetError(f"BytesDataset saves bytes, got {type(data).__name__}")
        with self._fs.open(get_filepath_str(self._get_save_path(), self._protocol), "wb") as f:
            f.write(bytes(data))
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)


class SaveVersionDataset(AbstractDataset[str, None]):
    """Read-only: the Kedro save version of this run, under which every versioned artifact the
    run saves (lstm_model, scaler, interval_calibration, training_history) is written.

    The training pipeline records it in the interval calibration, so evaluation knows exactly
    which model version the calibration (and, through its fingerprints, the model and scaler)
    belongs to. Always versioned: the catalog hands it the session's save version.
    """

    versioned = True  # kedro.io.core reads this: the catalog passes Version(load, save)

    def __init__(self, *, version: Version | None = None, metadata: dict[str, Any] | None = None):
        self._version = version
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"version": self._version}

    def load(self) -> str:
        if self._version is None or not self._version.save:
            raise DatasetError("no save version: run through a Kedro session (`kedro run`)")
        return str(self._version.save)

    def save(self, data: None) -> None:
        raise DatasetError("SaveVersionDataset is read-only")


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
            "url": _redacted(self._url),
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


# --- monitoring: what the daily check reads and writes, all through crud ----------------------


class _ReadOnlyFrameDataset(AbstractDataset[pd.DataFrame, None]):
    """A read-only frame loaded by one crud function (the subclass's `_read`)."""

    def __init__(self, *, url: str | None = None, metadata: dict[str, Any] | None = None):
        self._url = url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"url": _redacted(self._url)}

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
        self.last_save: crud.MonitoringSave | None = None

    def _describe(self) -> dict[str, Any]:
        return {"url": _redacted(self._url)}

    def load(self) -> dict[str, Any] | None:
        with get_database(self._url).session() as session:
            run = crud.latest_monitoring_run(session)
        return asdict(run) if run is not None else None

    def save(self, data: dict[str, Any]) -> None:
        self.last_save = None
        if data.get("skipped"):
            logger.info("monitoring: nothing stored (%s)", data["skipped"])
            return
        try:
            with get_database(self._url).session() as session:
                saved = crud.save_monitoring_run(session, **data)
        except (crud.FrameSchemaError, ValueError) as error:
            raise DatasetError(f"monitoring run not stored: {error}") from error
        self.last_save = saved
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
