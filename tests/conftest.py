"""Shared fixtures: a database per test at head (a copy of a migrated SQLite file, or the
process's PostgreSQL database put back to its migrated template's state), the tiers, projects."""

from __future__ import annotations

import atexit
import graphlib
import importlib.abc
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kedro.config import OmegaConfigLoader
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from stock_lstm.data_pipeline.database import Database, dispose_engines, get_database

if TYPE_CHECKING:
    import psycopg

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The two test workers share two cores: TensorFlow's default thread pools (one thread per core,
# in each worker and each Kedro run or Dask worker a test starts) would only contend for them.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# ONNX Runtime's telemetry file (~/.cache/Microsoft) is one SQLite file that concurrent
# processes importing onnxruntime wait on.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
# No test ever logs into the project's tracking store (data/mlflow) or a shared server named by
# the developer's MLFLOW_TRACKING_URI: runs go to a throw-away store unless a fixture names one
# inside its project copy.
_MLFLOW_FALLBACK_STORE = tempfile.mkdtemp(prefix="mlflow-")
atexit.register(shutil.rmtree, _MLFLOW_FALLBACK_STORE, ignore_errors=True)
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_MLFLOW_FALLBACK_STORE}/mlflow.db"
# Nor into the project's logs/: the log files of every app and `kedro` run of the tests go here.
_LOG_DIR = tempfile.mkdtemp(prefix="logs-")
atexit.register(shutil.rmtree, _LOG_DIR, ignore_errors=True)
os.environ["LOG_DIR"] = _LOG_DIR
# Every Kedro environment a test runs (conf/test's too, which alone writes to data/test) writes
# to the data/ folder of the throw-away project copy it runs in, where tests look for artifacts;
# tests/test_environments.py unsets this to check each environment's own folder.
os.environ["STOCK_LSTM_DATA_DIR"] = "data"

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The tiers (README "Tests"). A test's markers follow from the fixtures it uses (directly or
# through another fixture), so a new test lands in its tier without anyone marking it:
# `make test` runs every test, `make test-fast` (pytest --fast) those with none of these.
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "trained_project": ("slow",),  # every pipeline ran once: a model trained with TensorFlow
    "replay": ("slow",),  # the daily loop replayed day by day over weeks of the snapshot
    # Kedro sessions run in a project copy (each run loads the project's settings and catalog
    # again): `project` is tests/pipelines/ingestion/test_incremental.py's copy on SQLite and
    # PostgreSQL.
    "project_copy": ("slow",),
    "project": ("slow",),
    "postgres_url": ("postgres",),
    "empty_postgres_url": ("postgres",),
    "browser": ("browser",),
}
# What the fast tier never does; a test that does it anyway is skipped there, saying why (it
# runs in the full tier), so the tier's promise holds whatever the markers say.
FAST_TIER_MARKEXPR = "not slow and not postgres and not browser"
TENSORFLOW_MODULES = ("tensorflow", "keras", "tf2onnx", "tf_keras")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help=f"the inner loop (make test-fast): -m '{FAST_TIER_MARKEXPR}'; a test that imports "
        "TensorFlow or starts a subprocess is skipped there (the full tier runs it)",
    )


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """Fast tier: importing TensorFlow/Keras skips the test (or module) that does it."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in TENSORFLOW_MODULES:
            pytest.skip(
                f"imports {name}: TensorFlow runs in the full tier (make test)",
                allow_module_level=True,
            )


# Probes of the system that libraries make, not commands under test: platform.processor() asks
# `uname -p`, a KedroSession records the `git` commit it runs on.
_SYSTEM_PROBES = {"uname", "git"}
_running_tests = False
_execute_child = subprocess.Popen._execute_child


def _no_subprocess(popen: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
    program = Path(str(args if isinstance(args, str | bytes | os.PathLike) else args[0])).name
    if _running_tests and program not in _SYSTEM_PROBES:
        pytest.skip(f"starts a subprocess ({program}): runs in the full tier (make test)")
    _execute_child(popen, args, *rest, **kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    global _running_tests
    _running_tests = True
    try:
        return (yield)
    finally:
        _running_tests = False


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("fast"):
        return
    config.option.markexpr = " and ".join(
        f"({expr})" for expr in (config.option.markexpr, FAST_TIER_MARKEXPR) if expr
    )
    already = [m for m in TENSORFLOW_MODULES if m in sys.modules]
    if already:
        raise pytest.UsageError(f"--fast: {already} imported before the tests started")
    sys.meta_path.insert(0, _NoTensorFlow())
    subprocess.Popen._execute_child = _no_subprocess  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test from the fixtures it uses (FIXTURE_MARKERS); under pytest-xdist, keep on
    one worker the tests that share an expensive fixture (`--dist loadgroup`)."""
    grouping = config.pluginmanager.hasplugin("xdist")
    on_cluster = {
        item.nodeid.split("::")[0]
        for item in items
        if "dask_cluster" in getattr(item, "fixturenames", ())
    }
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, markers in FIXTURE_MARKERS.items():
            if fixture in names:
                for marker in markers:
                    item.add_marker(marker)
        if grouping and (group := _shared_fixture_group(item, names, on_cluster)):
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadgroup` pytest-xdist puts a grouped test's group in its node id; a pytest
    whose node ids it cannot extend (9.2, pytest-xdist issue 1386) drops the groups without a
    word, and each worker trains its own project: stop the run instead."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            f"--dist loadgroup ignored the xdist_group of {len(lost)} tests ({lost[0]}, ...): "
            "this pytest-xdist does not support this pytest (see pyproject.toml's dev extra)"
        )


def _shared_fixture_group(item: pytest.Item, names: set[str], on_cluster: set[str]) -> str | None:
    """The one session's trained project is trained once, by one worker; so is its Dask
    cluster (dask_cluster), by the worker that also runs the module-scoped fixtures of the
    modules whose tests use it (`on_cluster`); a module's module-scoped fixture (a replay, a
    generated DAG) is built once, by one worker."""
    if "trained_project" in names:
        return "trained_project"
    module = item.nodeid.split("::")[0]
    if "dask_cluster" in names:
        return "dask_cluster"
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    if any(defs and defs[-1].scope == "module" for defs in definitions.values()):
        return "dask_cluster" if module in on_cluster else module
    return None


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """A client of one local Dask cluster of two worker processes, started as run_tasks(workers=2)
    and `make tune WORKERS=2` start theirs (distributed.dask_client: LOCAL_CLUSTER_CONFIG, one
    thread per worker; any free dashboard port), shared by the session's tests that run on one:
    its processes (and TensorFlow's import in them) are started once. A test using it first
    waits for both workers (an earlier one may have killed one, which its nanny restarts)."""
    from stock_lstm.ml_models.common import distributed

    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:  # for the start only
            patch.setattr(distributed, "DASHBOARD_ADDRESS", ":0")
            patch.delenv(distributed.SCHEDULER_ENV, raising=False)
            client = stack.enter_context(distributed.dask_client(2))
        yield client


def _postgres_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                "TEST_DATABASE_URL must be set in CI: the PostgreSQL tests never skip there"
            )
        pytest.skip("TEST_DATABASE_URL is not set (make test sets it to the local PostgreSQL)")
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head: each test's database starts as a copy of it, so the
    migrations run once per session, not once per test."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()  # the last connection closed: the WAL is checkpointed into the file
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite_template: Path) -> Iterator[str]:
    """A SQLite database of the test's own, its schema at head."""
    shutil.copy(migrated_sqlite_template, tmp_path / "test.db")
    yield f"sqlite:///{tmp_path / 'test.db'}"
    dispose_engines()


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite database with no schema yet (for the tests of the migrations themselves)."""
    yield f"sqlite:///{tmp_path / 'empty.db'}"
    dispose_engines()


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A database of its own on TEST_DATABASE_URL's server (a copy of the database `template`
    when given), dropped afterwards: independent of what earlier runs left behind."""
    base = _postgres_base_url()
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(
            text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        )
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """The name of one PostgreSQL database migrated to head: each test's database is a copy of
    it (CREATE DATABASE ... TEMPLATE), so the migrations run once per session, not per test."""
    with _postgres_database() as url:
        database = Database(url)
        database.migrate()
        database.dispose()  # a template is copied only while nobody is connected to it
        yield make_url(url).database


# Everything a test could change in a database besides its tables' rows and its sequences: the
# schemas, relations, columns, constraints, indexes, functions, triggers and types outside the
# system catalogs (their definitions, one line each, hashed). A reused database whose fingerprint
# is not the template's is replaced by a new copy.
_SCHEMA_FINGERPRINT = """
WITH user_namespaces AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
      AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'
)
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
    SELECT 'schema ' || nspname FROM user_namespaces
    UNION ALL
    SELECT format('relation %s.%s %s', n.nspname, c.relname, c.relkind)
    FROM pg_class c JOIN user_namespaces n ON n.oid = c.relnamespace
    UNION ALL
    SELECT format('column %s.%s %s %s %s %s', n.nspname, c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN user_namespaces n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s %s %s', co.conrelid::regclass, co.conname,
                  pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN user_namespaces n ON n.oid = co.connamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN user_namespaces n ON n.oid = c.relnamespace
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p JOIN user_namespaces n ON n.oid = p.pronamespace
    UNION ALL
    SELECT format('trigger %s %s', t.tgrelid::regclass, pg_get_triggerdef(t.oid))
    FROM pg_trigger t WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('type %s.%s %s', n.nspname, t.typname, t.typtype)
    FROM pg_type t JOIN user_namespaces n ON n.oid = t.typnamespace
    UNION ALL
    SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel)
    FROM pg_enum e
    UNION ALL
    SELECT 'large object ' || oid FROM pg_largeobject_metadata
) AS items(item)
"""


@dataclass(frozen=True)
class PostgresRows:
    """What a PostgreSQL database holds (its schema aside): each table's rows (binary COPY) and
    the last value of each sequence used."""

    tables: dict[str, bytes]
    sequences: list[tuple[str, int]]


class _ReusedPostgresDatabase:
    """One PostgreSQL database per test process, a copy of the migrated template made once and
    handed to each `postgres_url` test in turn, put back to the template's state after each: the
    connections left to it ended, the rows of its tables deleted, its sequences restarted, and
    renamed (each test's URL is its own). A copy per test (CREATE DATABASE ... TEMPLATE, then
    DROP) costs the server 0.3-0.6 s of file copies and fsyncs; this a few milliseconds. A test
    that left anything else changed (a downgraded schema, a table or schema of its own, the
    Alembic revision) gets a new copy.

    Not a rolled-back transaction per test: the code under test opens its own connections and
    commits (the API's threads, `kedro` runs, subprocesses), and the tests check what was
    committed."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.url = ""  # none yet, or dropped
        self._template_state: tuple[str, list[str]] | None = None
        self._reset: psycopg.sql.Composed | None = None  # deletes every row, restarts sequences
        self._tables: list[str] = []  # the public tables, each before those it references

    def acquire(self) -> str:
        from psycopg import sql

        if not self.url:
            name = f"t_{uuid.uuid4().hex[:12]}"
            self._admin(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template)
                )
            )
            self.url = self._named(name)
            with self._connect() as connection:
                self._template_state = self._state(connection)
                self._tables = _deletion_order(connection)
            deletions = [
                sql.SQL("DELETE FROM {}").format(sql.Identifier(table)) for table in self._tables
            ]
            restart = sql.SQL(
                "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                "start_value, false) FROM pg_sequences WHERE last_value IS NOT NULL"
            )
            self._reset = sql.SQL("; ").join(
                # a lock a terminated connection still held: fail (a new copy), not hang
                [sql.SQL("SET lock_timeout = '10s'; BEGIN"), *deletions, restart, sql.SQL("COMMIT")]
            )
        return self.url

    def release(self) -> None:
        """Back to the template's state, or dropped (the next test gets a new copy)."""
        from psycopg import sql

        dispose_engines()
        old, name = str(make_url(self.url).database), f"t_{uuid.uuid4().hex[:12]}"
        try:
            # First a name of its own for the next test, as a copy had: whatever of this test
            # still connects afterwards (a thread that outlived it) fails as on a dropped
            # database instead of reaching the next test's rows, and each test's first session
            # checks the revision (Database.migrate, once per URL). A client that connected
            # again before the rename makes it fail: a new copy. Then, under a name no one
            # else knows, the reset.
            self._admin(
                sql.SQL(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = {}"
                ).format(sql.Literal(old))
            )
            self._admin(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(old), sql.Identifier(name)
                )
            )
            self.url = self._named(name)
            with self._connect() as connection:
                if self._state(connection) == self._template_state:
                    connection.execute(self._reset)
                    return
        except Exception:  # e.g. a schema the deletions cannot empty: a new copy, as before
            pass
        self.close()

    def dump(self) -> PostgresRows:
        """The rows of every table and the sequences' positions (a state `restore` brings back)."""
        from psycopg import sql

        tables = {}
        with self._connect() as connection, connection.cursor() as cursor:
            for table in self._tables:
                statement = sql.SQL("COPY {} TO STDOUT (FORMAT binary)")
                with cursor.copy(statement.format(sql.Identifier(table))) as copy:
                    tables[table] = b"".join(bytes(block) for block in copy)
            sequences = cursor.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
                "FROM pg_sequences WHERE last_value IS NOT NULL"
            ).fetchall()
        return PostgresRows(tables, sequences)

    def restore(self, rows: PostgresRows) -> None:
        """Write `rows` (a `dump`) into the database, as acquired: empty, its sequences unused."""
        from psycopg import sql

        with self._connect() as connection, connection.transaction():
            cursor = connection.cursor()
            for table in reversed(self._tables):  # a table after those it references
                statement = sql.SQL("COPY {} FROM STDIN (FORMAT binary)")
                with cursor.copy(statement.format(sql.Identifier(table))) as copy:
                    copy.write(rows.tables[table])
            for sequence, value in rows.sequences:
                cursor.execute("SELECT setval(%s, %s, true)", (sequence, value))

    def close(self) -> None:
        from psycopg import sql

        if self.url:
            name, self.url = str(make_url(self.url).database), ""
            dispose_engines()
            self._admin(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    @staticmethod
    def _named(name: str) -> str:
        return (
            make_url(_postgres_base_url()).set(database=name).render_as_string(hide_password=False)
        )

    @staticmethod
    def _admin(statement: psycopg.sql.Composable) -> None:
        """`statement` on TEST_DATABASE_URL's own database (CREATE, ALTER or DROP DATABASE)."""
        import psycopg

        conninfo = make_url(_postgres_base_url()).set(drivername="postgresql")
        with psycopg.connect(
            conninfo.render_as_string(hide_password=False), autocommit=True
        ) as connection:
            connection.execute(statement)

    def _connect(self) -> psycopg.Connection:
        import psycopg  # imported when a PostgreSQL test runs, not by every pytest

        conninfo = make_url(self.url).set(drivername="postgresql")
        return psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True)

    @staticmethod
    def _state(connection: psycopg.Connection) -> tuple[str, list[str]]:
        """The schema's fingerprint, and the rows no reset deletes (Alembic's revision)."""
        fingerprint = connection.execute(_SCHEMA_FINGERPRINT).fetchone()[0]
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        return fingerprint, sorted(row[0] for row in revision)


def _deletion_order(connection: psycopg.Connection) -> list[str]:
    """The public tables but alembic_version, each after the tables that reference it."""
    tables = connection.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind = 'r' AND relname <> 'alembic_version'"
    ).fetchall()
    referenced_by: dict[str, set[str]] = {table: set() for (table,) in tables}
    for child, parent in connection.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    ).fetchall():
        if child != parent:
            referenced_by[parent].add(child)
    return list(graphlib.TopologicalSorter(referenced_by).static_order())


@pytest.fixture(scope="session")
def reused_postgres(migrated_postgres_template: str) -> Iterator[_ReusedPostgresDatabase]:
    """The process's PostgreSQL database the `postgres_url` tests take in turn."""
    database = _ReusedPostgresDatabase(migrated_postgres_template)
    yield database
    database.close()


@pytest.fixture
def postgres_url(reused_postgres: _ReusedPostgresDatabase) -> Iterator[str]:
    """A PostgreSQL database at head, empty, the test's alone while it runs (the process's
    reused one, put back to the migrated template's state afterwards)."""
    yield reused_postgres.acquire()
    reused_postgres.release()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database with no schema yet (for the tests of the migrations themselves)."""
    with _postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(
        f"{request.param}_url" if request.param == "sqlite" else "postgres_url"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """`database_url` before any migration: SQLite and PostgreSQL, no schema yet."""
    return request.getfixturevalue(
        "empty_sqlite_url" if request.param == "sqlite" else "empty_postgres_url"
    )


@pytest.fixture
def db(database_url: str) -> Database:
    """The `Database` of `database_url`: on SQLite and on PostgreSQL."""
    return get_database(database_url)


def mlflow_store(root: Path) -> str:
    """The MLflow tracking store of a project copy (its artifacts go beside it)."""
    return f"sqlite:///{root / 'data' / 'mlflow' / 'mlflow.db'}"


def environment_parameters(env: str, conf: Path = PROJECT_ROOT / "conf") -> dict[str, Any]:
    """The parameters a Kedro session in `env` gets: base's, with the environment's merged in
    the way settings.py's config loader merges them."""
    from stock_lstm.settings import CONFIG_LOADER_ARGS

    return OmegaConfigLoader(str(conf), **{**CONFIG_LOADER_ARGS, "default_run_env": env})[
        "parameters"
    ]


def make_project_copy(root: Path) -> Path:
    """Copy the Kedro project's conf + bundled raw data to `root` (src is symlinked)."""
    root.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    (root / "src").mkdir()  # Kedro's bootstrap wants <project>/src/<package>
    (root / "src" / "stock_lstm").symlink_to(PROJECT_ROOT / "src" / "stock_lstm")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    for sub in (
        "02_intermediate",
        "03_primary",
        "04_feature",
        "05_model_input",
        "06_models",
        "07_model_output",
        "08_reporting",
    ):
        (root / "data" / sub).mkdir(parents=True)
    if (PROJECT_ROOT / "data" / "01_raw").exists():
        shutil.copytree(PROJECT_ROOT / "data" / "01_raw", root / "data" / "01_raw")
    return root


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Path:
    """A throw-away copy of the Kedro project (conf + bundled raw data) on a temporary database."""
    root = make_project_copy(tmp_path / "project")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


@dataclass(frozen=True)
class TrainedProject:
    root: Path
    database_url: str


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedProject]:
    """A project copy on which every pipeline ran once (env "test"): a tiny trained model,
    its artifacts and model_versions row, and the clean prices, on its own SQLite file."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    root = make_project_copy(tmp_path_factory.mktemp("trained") / "project")
    url = f"sqlite:///{root / 'data' / 'trained.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
        patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
        patch.chdir(root)
        bootstrap_project(root)
        with KedroSession.create(project_path=root, env="test") as session:
            session.run()
    yield TrainedProject(root=root, database_url=url)
    dispose_engines()


@pytest.fixture(scope="session")
def fixed_project(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_template: Path
) -> TrainedProject:
    """A project copy as the API sees a trained one (clean prices, a champion's files and
    registry row), its model the fixed ONNX graph of tests/helpers/fixed_project.py: what the
    API and browser tests serve, without TensorFlow."""
    from tests.helpers.fixed_project import build_fixed_project  # it imports this module

    return build_fixed_project(
        tmp_path_factory.mktemp("fixed") / "project", migrated_sqlite_template
    )


def copy_trained_project(trained: TrainedProject, root: Path) -> TrainedProject:
    """A private copy of the trained project (artifacts and SQLite file) for a test that runs a
    command there (kedro viz, a notebook) and must not touch the shared one."""
    shutil.copytree(trained.root, root, symlinks=True)
    database = trained.database_url.removeprefix("sqlite:///")
    relative = Path(database).relative_to(trained.root)
    return TrainedProject(root=root, database_url=f"sqlite:///{root / relative}")


@pytest.fixture
def trained_copy(tmp_path: Path, trained_project: TrainedProject) -> TrainedProject:
    """A private copy of the trained project (artifacts and SQLite file) a test may alter."""
    return copy_trained_project(trained_project, tmp_path / "trained-copy")


@pytest.fixture
def trained_project_copy(trained_copy: TrainedProject, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`project_copy` after `session.run()` in env "test", without training again: a private
    copy of the session's trained project, set up as the working project."""
    root = trained_copy.root
    monkeypatch.setenv("DATABASE_URL", trained_copy.database_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


def kedro_env(root: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `kedro` subprocess (or kernel) working on the project copy `root`,
    in env "test" unless `extra` says otherwise."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "STOCK_LSTM_PROJECT_ROOT": str(root),
        "MLFLOW_TRACKING_URI": mlflow_store(root),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "KEDRO_ENV": "test",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "COLUMNS": "250",  # Kedro's rich log lines unwrapped, so a test can search them
        **extra,
    }


def _count_marked(terminalreporter, marker: str) -> dict[str, int]:
    return {
        outcome: sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if getattr(report, "when", "call") in ("call", "setup")
            and marker in getattr(report, "keywords", {})
        )
        for outcome in ("passed", "failed", "error", "skipped")
    }


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say how many PostgreSQL and browser tests ran, so a CI log shows they were not skipped."""
    terminalreporter.write_line(
        "PostgreSQL tests ({}): {passed} passed, {failed} failed, {error} errors, "
        "{skipped} skipped".format(
            os.environ.get("TEST_DATABASE_URL") or "unset",
            **_count_marked(terminalreporter, "postgres"),
        )
    )
    terminalreporter.write_line(
        "Browser tests (Chromium): {passed} passed, {failed} failed, {error} errors, "
        "{skipped} skipped".format(**_count_marked(terminalreporter, "browser"))
    )
