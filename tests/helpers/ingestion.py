"""The bundled snapshot, user CSV files and ingestion runs through a KedroSession; a module's
shared project copy whose database states (empty, after a first run) are built once."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.data_pipeline.database import dispose_engines
from tests.conftest import make_project_copy

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "snapshot"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
INGESTION_REPORT = Path("data/08_reporting/ingestion_report.json")


def snapshot_rows(start: str, end: str | None = None) -> dict[str, int]:
    """Independent count of the snapshot's rows per ticker in [start, end], read with pandas."""
    files = {"^GSPC": "GSPC.csv", "GOOG": "GOOG.csv", "MSFT": "MSFT.csv"}
    counts = {}
    for ticker, name in files.items():
        dates = pd.to_datetime(pd.read_csv(SNAPSHOT / name)["Date"])
        keep = dates >= pd.Timestamp(start)
        if end is not None:
            keep &= dates <= pd.Timestamp(end)
        counts[ticker] = int(keep.sum())
    return counts


def run(project: Path, pipelines: str = "ingestion", **params) -> None:
    """One `kedro run --env test --pipeline <pipelines> --params ingestion.<k>=<v>,...` in
    the project copy `project` (bootstrapped: `SharedProject` does it once per module)."""
    runtime = {"ingestion": params} if params else None
    with KedroSession.create(project_path=project, env="test", runtime_params=runtime) as session:
        session.run(pipeline_names=pipelines.split(","))


def user_csv(folder: Path, name: str, days: int = 5, start: str = "2020-03-02") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{day:%Y-%m-%d},{10 + i},{11 + i},{9 + i},{10.5 + i},,{1000 + i}"
        for i, day in enumerate(pd.bdate_range(start, periods=days))
    ]
    path = folder / name
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


@contextmanager
def parsed_config_once() -> Iterator[None]:
    """While this lasts, Kedro's config loaders parse each conf/ YAML file once per (conf folder,
    environment, key) and get a deep copy of that parse afterwards (Kedro's merge alters the
    configs it is given). The merge, the runtime parameters and the interpolations (the
    environment's database, data folder...) are resolved per session as ever: Kedro split
    `_read_raw_config` out for callers to cache the parse. Credentials, which read environment
    variables while parsed, are read each time. The tests never edit conf/."""
    read = OmegaConfigLoader._read_raw_config
    parsed: dict[tuple, tuple] = {}

    def read_once(loader: OmegaConfigLoader, key: str) -> tuple:
        if key == "credentials":
            return read(loader, key)
        cache_key = (
            str(loader.conf_source),
            loader.base_env,
            loader.env,
            loader.default_run_env,
            key,
        )
        if cache_key not in parsed:
            parsed[cache_key] = read(loader, key)
        base, env, base_path, env_path, files = parsed[cache_key]
        return (
            {path: copy.deepcopy(config) for path, config in base.items()},
            {path: copy.deepcopy(config) for path, config in env.items()},
            base_path,
            env_path,
            set(files),
        )

    OmegaConfigLoader._read_raw_config = read_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        OmegaConfigLoader._read_raw_config = read  # type: ignore[method-assign]


class SharedProject:
    """One project copy per test module (copied and bootstrapped once, the working directory
    and STOCK_LSTM_PROJECT_ROOT while the module runs) on SQLite or PostgreSQL, and named
    database states: "migrated" (empty, at head), or one a `prepare` call built by running
    something once. Each test gets a database of its own in a state (`database`): on SQLite a
    copy of the state's file; on PostgreSQL the process's reused database (conftest's
    `reused_postgres`, emptied after each test) with the state's rows copied in."""

    def __init__(
        self, root: Path, backend: str, migrated: object, stack: ExitStack, postgres: object
    ) -> None:
        self.root = root
        self.backend = backend
        self._stack = stack
        # SQLite: the state's file; PostgreSQL: its rows (None: none, as migrated)
        self._states: dict[str, object] = {"migrated": migrated}
        self._postgres = postgres
        self._copies = 0

    @classmethod
    @contextmanager
    def create(
        cls, request: pytest.FixtureRequest, folder: Path, backend: str = "sqlite"
    ) -> Iterator[SharedProject]:
        with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
            root = make_project_copy(folder / "project")
            if backend == "sqlite":
                migrated, postgres = str(request.getfixturevalue("migrated_sqlite_template")), None
            else:
                migrated, postgres = None, request.getfixturevalue("reused_postgres")
            patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
            patch.chdir(root)
            bootstrap_project(root)
            stack.enter_context(parsed_config_once())
            stack.callback(dispose_engines)
            yield cls(root, backend, migrated, stack, postgres)

    @contextmanager
    def _database(self, state: str) -> Iterator[str]:
        """A database of its own in `state` while this lasts, then dropped (SQLite) or emptied
        (PostgreSQL)."""
        if self.backend == "sqlite":
            self._copies += 1
            path = self.root.parent / f"db-{self._copies}" / "test.db"
            path.parent.mkdir()
            shutil.copy(self._states[state], path)
            try:
                yield f"sqlite:///{path}"
            finally:
                dispose_engines()
                shutil.rmtree(path.parent, ignore_errors=True)
            return
        url = self._postgres.acquire()
        try:
            if self._states[state] is not None:
                self._postgres.restore(self._states[state])
            yield url
        finally:
            self._postgres.release()

    def prepare(self, state: str, arrange: Callable[[], object], start: str = "migrated") -> None:
        """Build the database state `state` once: `arrange()` on a copy of `start`."""
        if state in self._states:
            return
        if self.backend == "sqlite":
            self._copies += 1
            path = self.root.parent / f"db-{self._copies}" / "test.db"
            path.parent.mkdir()
            shutil.copy(self._states[start], path)
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("DATABASE_URL", f"sqlite:///{path}")
                arrange()
            dispose_engines()  # the last connection closed: the WAL checkpointed into the file
            self._states[state] = str(path)
            return
        with self._database(start) as url, pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", url)
            arrange()
            dispose_engines()
            self._states[state] = self._postgres.dump()

    @contextmanager
    def database(self, state: str = "migrated") -> Iterator[str]:
        """DATABASE_URL set to a test's own database in `state` while this lasts."""
        with self._database(state) as url, pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", url)
            yield url
