"""The model registry's rules, in one place: which saved versions exist and may be served
(`saved_versions`, `problem`), changing the champion (`promote`, `rollback`: only to a version
that loads, checked by the caller's `LoadCheck`), the evaluation's
promotion policy (`promotion_decision`), and a worker following the champion
(`RegistryListener`).

The rows are crud's (`crud.model_versions`); the Kedro registry dataset only loads and saves
them. The API, `python -m stock_lstm.cli.registry`, the evaluation pipeline and the daily loop
call these functions. The files a version serves are named by catalog entry (``onnx_model``,
``scaler_params``, ``interval_calibration``) with their versioned filepaths, local or any
fsspec URL (s3://, gcs://, memory://): `serving_filepaths` reads them from the project's
catalog configuration.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypeVar

import fsspec
from kedro.io import DatasetError
from kedro.io.core import get_protocol_and_path
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

REGISTRY_DATASET = "model_version_record"  # the catalog entry whose serving_filepaths we check
PROMOTION_POLICIES = ("always", "never", "if_better")
LISTEN_SLICE_S = 0.5  # a listener looks at its stop event at least this often
_LISTEN_STATEMENT = 'LISTEN "stock_lstm_model_registry"'  # crud.REGISTRY_CHANNEL, a constant


LoadCheck = Callable[[Mapping[str, bytes]], object]
"""Builds what a worker serves from a version's checked files (bytes by catalog name) and makes
one forecast, raising when it cannot. The caller passes the serving runtime's
(`ml_models.serving.onnx_forecaster.forecaster_from_files`): this layer imports no model code.
Its error messages name files, never where they are stored (they reach HTTP clients)."""


class PromotionRefused(ValueError):
    """The registry refuses a promotion: the version cannot be served, or there is nothing to
    roll back to. The message says why."""


# --- saved artifacts: which versions are saved, where, with what sha256 ----------------------


def _filesystem(filepath: str) -> tuple[Any, str]:
    """The fsspec filesystem and protocol-less path of `filepath` (local, s3://, memory://...),
    resolved as Kedro's own file datasets do."""
    protocol, path = get_protocol_and_path(str(filepath))
    return fsspec.filesystem(protocol), path


def _artifact_path(path: str, version: str) -> str:
    """<filepath>/<version>/<name>: where Kedro saves a versioned artifact."""
    return f"{path.rstrip('/')}/{version}/{PurePosixPath(path).name}"


def artifact_versions(filepath: str) -> list[str]:
    """Every saved Kedro version of a versioned artifact (layout <filepath>/<version>/<name>),
    newest first: Kedro's version strings (UTC timestamps) sort lexicographically, as Kedro
    itself resolves the latest load version."""
    fs, path = _filesystem(filepath)
    found = fs.glob(_artifact_path(path, "*"))
    return sorted((PurePosixPath(p).parent.name for p in found), reverse=True)


def newest_artifact_version(filepath: str) -> str:
    """The newest saved Kedro version of a versioned artifact."""
    versions = artifact_versions(filepath)
    if not versions:
        raise DatasetError(f"no saved version of {filepath}: run `kedro run --pipelines training`")
    return versions[0]


T = TypeVar("T")


def _read_saved(filepath: str, version: str, read: Callable[[BinaryIO], T]) -> T | None:
    """`read` of the open artifact file saved at `version`, or None when there is no such file."""
    fs, path = _filesystem(filepath)
    artifact = _artifact_path(path, version)
    if not fs.exists(artifact):
        return None
    with fs.open(artifact, "rb") as handle:
        return read(handle)


def read_artifact(filepath: str, version: str) -> bytes | None:
    """The bytes of the artifact file saved at `version`, or None when there is no such file."""
    return _read_saved(filepath, version, lambda handle: handle.read())


def artifact_sha256(filepath: str, version: str) -> str | None:
    """sha256 of the artifact file saved at `version`, or None when there is no such file."""
    return _read_saved(filepath, version, stream_sha256)


def stream_sha256(handle: BinaryIO) -> str:
    """sha256 of an open binary file, read in blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def saved_versions(serving_filepaths: Mapping[str, str]) -> list[str]:
    """Versions with a saved serving model file (the first of `serving_filepaths`), newest
    first."""
    return artifact_versions(next(iter(serving_filepaths.values())))


def serving_filepaths(project_root: Path, env: str | None) -> dict[str, str]:
    """The files the API loads, by catalog name: the registry entry's ``serving_filepaths`` in
    the project's catalog configuration (absolute; no dataset is created)."""
    from stock_lstm.data_pipeline.catalog import catalog_config

    entry = catalog_config(project_root, env).get(REGISTRY_DATASET)
    if not entry or not entry.get("serving_filepaths"):
        raise DatasetError(f"the catalog has no {REGISTRY_DATASET!r} entry with serving_filepaths")
    return dict(entry["serving_filepaths"])


# --- what may be served ----------------------------------------------------------------------


def problem(
    record: crud.ModelVersionInfo | None,
    version: str,
    serving_filepaths: Mapping[str, str],
    *,
    verified: dict[str, bytes] | None = None,
) -> str | None:
    """Why `version` must not be served, or None when every file the API loads is saved and
    matches the sha256 its registry `record` holds (None: the registry has no such version).
    Checked BEFORE anything is deserialised. The caller reads the record (through the database
    it serves from) and closes that session first: hashing the files, which may be remote, then
    holds no connection.

    With `verified` (a dict), each file is read once, hashed from those bytes, and the bytes of
    every file that matched are put in it: the caller deserialises exactly what was checked.
    """
    if record is None:
        return (
            f"model version {version} is not in model_versions: run "
            "`kedro run --pipelines evaluation` on it"
        )
    if not record.serving_sha256:
        return f"model version {version} has no ONNX export recorded: retrain to serve it"
    for name, filepath in serving_filepaths.items():
        recorded = record.serving_sha256.get(name)
        if verified is None:
            actual = artifact_sha256(filepath, version)
        else:
            content = read_artifact(filepath, version)
            actual = hashlib.sha256(content).hexdigest() if content is not None else None
        if actual is None:
            # the file's name, not where it is stored: this reaches HTTP clients
            return f"{name} of model version {version} is missing ({PurePosixPath(filepath).name})"
        if recorded is None:
            return f"model_versions records no sha256 for {name} of model version {version}"
        if actual != recorded:
            return (
                f"{name} of model version {version} has sha256 {actual[:12]}..., "
                f"model_versions records {recorded[:12]}...: refusing to load an artifact "
                "that is not the one evaluated"
            )
        if verified is not None:
            verified[name] = content
    return None


def load_problem(version: str, files: Mapping[str, bytes], load_check: LoadCheck) -> str | None:
    """Why `version`'s checked `files` do not make a working forecaster, or None: a file whose
    sha256 matches its record can still be corrupt (it was recorded so)."""
    try:
        load_check(files)
    except Exception as error:  # any failure to load is the reason, not a crash
        return f"it does not load: {error}"
    return None


# --- changing the champion (the API and `python -m stock_lstm.cli.registry`) -----------------


def promote(
    session: Session,
    version: str,
    serving_filepaths: Mapping[str, str],
    *,
    actor: str,
    reason: str,
    load_check: LoadCheck,
    verified: dict[str, bytes] | None = None,
) -> crud.Promotion:
    """Make `version` the champion once it is proven servable (every file saved, its sha256
    the recorded one, and `load_check` builds a forecaster from those bytes and forecasts),
    in the caller's transaction (other workers see it once that commits). Raises
    crud.UnknownModelVersion, or PromotionRefused naming the problem; promoting the champion
    changes nothing. The registry's lock comes first, so what is read is what the promotion
    changes. `verified`: see `problem` (the API loads the promoted files from it, so each is
    read and hashed once)."""
    crud.lock_registry(session)
    record = crud.get_model_version(session, version)
    if record is None:
        raise crud.UnknownModelVersion(f"unknown model version {version!r}")
    if record.status != "champion":
        files: dict[str, bytes] = {} if verified is None else verified
        found = problem(record, version, serving_filepaths, verified=files)
        if found is None:
            found = load_problem(version, files, load_check)
        if found is not None:
            raise PromotionRefused(f"model version {version} cannot be promoted: {found}")
    return crud.promote_model_version(session, version, reason=reason, actor=actor)


def rollback(
    session: Session,
    serving_filepaths: Mapping[str, str],
    *,
    actor: str,
    load_check: LoadCheck,
    verified: dict[str, bytes] | None = None,
) -> crud.Promotion:
    """Promote the version the current champion replaced (under the registry's lock), with
    `promote`'s checks."""
    crud.lock_registry(session)
    previous = crud.previous_champion(session)
    if previous is None:
        raise PromotionRefused("no previous champion to roll back to")
    current = crud.champion_version(session)
    return promote(
        session,
        previous,
        serving_filepaths,
        actor=actor,
        reason=crud.ROLLBACK_REASON.format(version=current),
        load_check=load_check,
        verified=verified,
    )


# --- the evaluation's promotion policy -------------------------------------------------------


def promotion_decision(
    policy: str, comparison: Mapping[str, Any], model_version: str
) -> dict[str, Any]:
    """Whether `model_version` becomes the champion, and why (the reason is audited).

    The first version of an empty registry always does, whatever the policy: something must
    be served. `if_better`: its MAE must beat the champion's on the same window, one neither
    model was fitted, early-stopped or calibrated on (`comparison`: the evaluation's
    `champion_comparison`, ml_models/serving/model_comparison.py); without such a window the
    champion stays.
    """
    if policy not in PROMOTION_POLICIES:
        raise InputError(
            f"evaluation.promote is {policy!r}; use one of {', '.join(PROMOTION_POLICIES)}"
        )
    champion = comparison.get("champion_version")
    if champion is None:
        return {"promote": True, "reason": "first version of an empty registry"}
    if champion == model_version:
        return {"promote": False, "reason": "re-evaluated; already the champion"}
    if policy == "always":
        return {"promote": True, "reason": "promote: always (the newest evaluated version wins)"}
    if policy == "never":
        return {"promote": False, "reason": "promote: never (promote it by hand)"}
    if comparison.get("champion_problem") is not None:
        return {
            "promote": True,
            "reason": f"promote: if_better; champion {champion} cannot be scored: "
            f"{comparison['champion_problem']}",
        }
    scores = comparison["mae"]
    if "champion" not in scores:
        return {
            "promote": False,
            "reason": f"promote: if_better; no window neither model saw: "
            f"{comparison.get('window_problem')}; champion {champion} kept",
        }
    candidate, incumbent = scores["candidate"], scores["champion"]
    window = f"unseen window {comparison['window_start']}..{comparison['window_end']}"
    verdict = "<" if candidate < incumbent else ">="
    return {
        "promote": candidate < incumbent,
        "reason": f"promote: if_better; MAE {candidate:.6g} {verdict} champion "
        f"{champion}'s {incumbent:.6g} ({window})",
    }


# --- following the champion ------------------------------------------------------------------


class RegistryListener:
    """Wakes a worker as soon as the champion changes: PostgreSQL LISTEN on
    crud.REGISTRY_CHANNEL (a promotion notifies it when it commits).

    On other databases (SQLite) `wait` just sleeps: the caller polls `crud.champion_version`
    after every wait, which is also the safety net if a notification is missed.

    It takes the `Database`, not a session: LISTEN needs a connection of its own, in autocommit
    and held for the worker's life, outside the pool and any transaction.
    """

    def __init__(self, database: Database) -> None:
        self._url = database.url
        self._connection: Any = None
        self._listens = database.backend == "postgresql"

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Return on a notification, after `timeout_s` seconds, or soon after `stop` is set."""
        if not self._listens:
            stop.wait(timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        try:
            if self._connection is None:
                self._connection = self._connect()
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                slice_s = min(left, LISTEN_SLICE_S)
                if any(True for _ in self._connection.notifies(timeout=slice_s, stop_after=1)):
                    return
        except Exception:  # the server went away: poll until it is back
            self.close()
            stop.wait(max(deadline - time.monotonic(), 0.0))

    def _connect(self) -> Any:
        import psycopg

        conninfo = (
            make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        connection.execute(_LISTEN_STATEMENT)
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
