"""Settings read from the environment, so one code path serves a laptop, CI and a container.

`Settings` (pydantic-settings) is the one place an environment variable is read and checked: a
bad value stops start-up with a `SettingsError` naming the variable, not a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stock_lstm.common.errors import SettingsError

# src/stock_lstm/common/settings.py -> the project root (where pyproject.toml lives).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_SOURCE_ROOT = PACKAGE_DIR.parents[1]


# Room for the API's largest valid body (10,000 full-precision closes, ~200 KB), so "too many
# prices" is a 422 naming the field; anything far larger is cut off unread with a 413.
DEFAULT_MAX_BODY_BYTES = 512 * 1024

DEFAULT_LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_FILE_BACKUPS = 5
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


MIN_API_KEY_LENGTH = 16
_KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def check_api_key(key: str) -> None:
    """A weak key (short, or whitespace: it could never match a header) stops start-up."""
    if not key.strip():
        raise ValueError("an API key is whitespace only")
    if len(key) < MIN_API_KEY_LENGTH:
        raise ValueError(f"an API key is shorter than {MIN_API_KEY_LENGTH} characters")


def parse_api_keys(text: str) -> tuple[tuple[str, str], ...]:
    """`name:key` pairs separated by commas or new lines (blank lines and `#` comments
    skipped), as (name, key); ValueError names what is wrong, never the key."""
    keys: list[tuple[str, str]] = []
    for number, entry in enumerate(re.split(r"[,\n]", text), start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, separator, key = entry.partition(":")
        name, key = name.strip(), key.strip()
        if not separator or not _KEY_NAME.match(name):
            raise ValueError(f"entry {number} is not name:key")
        try:
            check_api_key(key)
        except ValueError as error:
            raise ValueError(f"key {name!r}: {error}") from None
        if name in {n for n, _ in keys}:
            raise ValueError(f"key name {name!r} is used twice")
        keys.append((name, key))
    return tuple(keys)


# The main data folder, relative to the project root. A Kedro environment meant for trying
# things names a folder of its own in conf/<env>/globals.yml (conf/test: data/test), and a
# replay writes under data/replay: neither can touch the main database, registry or reports.
DEFAULT_DATA_DIR = "data"


def data_folder(root: Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> Path:
    """The ABSOLUTE data folder: `data_dir` as given when absolute, else under `root`."""
    folder = Path(data_dir)
    return folder if folder.is_absolute() else root / folder


def default_database_url(root: Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> str:
    """An ABSOLUTE SQLite path: a relative one breaks as soon as the API runs from another folder."""
    return f"sqlite:///{data_folder(root, data_dir) / 'stock_lstm.db'}"


def default_mlflow_tracking_uri(root: Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> str:
    """A local SQLite store at the ABSOLUTE path <data folder>/mlflow/mlflow.db (no server)."""
    return f"sqlite:///{data_folder(root, data_dir) / 'mlflow' / 'mlflow.db'}"


def _root_of(data: dict[str, Any]) -> Path:
    return data.get("project_root", _SOURCE_ROOT)


def _data_dir_of(data: dict[str, Any]) -> str | Path:
    return data.get("data_dir") or DEFAULT_DATA_DIR


class Settings(BaseSettings):
    """Every setting, by the environment variable that sets it (an empty one means the default).

    A field's description says what a good value is: a bad one's message is built from it.
    """

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, frozen=True)

    # The Kedro project folder (conf/, data/); default: the checkout this package is in.
    project_root: Path = Field(
        default=_SOURCE_ROOT, alias="STOCK_LSTM_PROJECT_ROOT", description="a folder path"
    )
    # Where models, reports, MLflow runs and the default database go (relative: under the
    # project root). Unset: the Kedro environment's `data_dir` (conf/<env>/globals.yml).
    data_dir: str | None = Field(
        default=None, alias="STOCK_LSTM_DATA_DIR", description="a folder path"
    )
    database_url: str = Field(
        default_factory=lambda data: default_database_url(_root_of(data), _data_dir_of(data)),
        alias="DATABASE_URL",
        description="a SQLAlchemy database URL",
    )
    kedro_env: str | None = Field(
        default=None, alias="KEDRO_ENV", description="a Kedro environment name"
    )
    # The keys of the endpoints that change state: API_KEY (one key, named API_KEY_NAME in the
    # audit trail), API_KEYS (name:key,... several, so a key is rotated without downtime) and
    # API_KEYS_FILE (name:key lines, re-read on SIGHUP or when the file changes).
    api_key: str | None = Field(
        default=None,
        alias="API_KEY",
        description=f"a key of at least {MIN_API_KEY_LENGTH} characters",
    )
    api_keys: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(),
        alias="API_KEYS",
        description=f"comma-separated name:key pairs, each key of at least {MIN_API_KEY_LENGTH} "
        "characters, names unique",
    )
    api_keys_file: Path | None = Field(
        default=None, alias="API_KEYS_FILE", description="a file of name:key lines"
    )
    # Failed key attempts a client may make per window before it is answered 429.
    api_key_max_failures: int = Field(
        default=10, ge=1, alias="API_KEY_MAX_FAILURES", description="a whole number of at least 1"
    )
    api_key_failure_window_s: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        alias="API_KEY_FAILURE_WINDOW_SECONDS",
        description="a number of seconds above 0",
    )
    # Origins allowed by CORS, comma-separated in the environment; none = CORS closed.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="CORS_ORIGINS", description="comma-separated origins"
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1,
        alias="MAX_BODY_BYTES",
        description="a positive whole number of bytes",
    )
    log_level: str = Field(
        default="INFO", alias="LOG_LEVEL", description=f"one of {', '.join(_LOG_LEVELS)}"
    )
    # Runtime log files (conf/json_logging.yml, common/logging.py): their folder, the size a file
    # is rotated at and how many rotated files are kept. At least 1 each: 0 would turn rotation
    # off and let a file grow without bound.
    log_dir: Path = Field(
        default_factory=lambda data: _root_of(data) / "logs",
        alias="LOG_DIR",
        description="a folder path",
    )
    log_file_max_bytes: int = Field(
        default=DEFAULT_LOG_FILE_MAX_BYTES,
        ge=1,
        alias="LOG_FILE_MAX_BYTES",
        description="a whole number of bytes of at least 1",
    )
    log_file_backups: int = Field(
        default=DEFAULT_LOG_FILE_BACKUPS,
        ge=1,
        alias="LOG_FILE_BACKUPS",
        description="a whole number of at least 1",
    )
    # The MLflow tracking store of training runs; the model card links to a run on a server.
    mlflow_tracking_uri: str = Field(
        default_factory=lambda data: default_mlflow_tracking_uri(
            _root_of(data), _data_dir_of(data)
        ),
        alias="MLFLOW_TRACKING_URI",
        description="an MLflow tracking URI",
    )
    # The name the registry's audit trail records for changes made with API_KEY.
    api_key_name: str = Field(default="api-key", alias="API_KEY_NAME", description="a name")
    # How often (seconds) each worker checks the registry's champion. On PostgreSQL a
    # LISTEN/NOTIFY wakes it at once and this is the safety net; on SQLite it is the bound on
    # how long a worker serves a replaced champion. Also the retry interval while the database
    # is unreachable.
    registry_poll_s: float = Field(
        default=2.0,
        gt=0,
        allow_inf_nan=False,
        alias="REGISTRY_POLL_SECONDS",
        description="a number of seconds above 0",
    )
    # How long a `kedro run` on a SQLite database waits for another run writing to it (one
    # writer at a time: hooks/run_lock.py) before it gives up with a one-line message.
    run_lock_wait_s: float = Field(
        default=600.0,
        ge=0,
        allow_inf_nan=False,
        alias="RUN_LOCK_WAIT_SECONDS",
        description="a number of seconds of at least 0",
    )

    # Slow or oversized clients (api/server.py, observability.py): a request's headers must
    # arrive within HEADER_TIMEOUT_SECONDS and be at most MAX_HEADER_BYTES; each part of its
    # body within BODY_TIMEOUT_SECONDS (else 408 and the connection closes); an idle keep-alive
    # connection is closed after KEEP_ALIVE_SECONDS.
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        alias="HEADER_TIMEOUT_SECONDS",
        description="a number of seconds above 0",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        alias="BODY_TIMEOUT_SECONDS",
        description="a number of seconds above 0",
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        alias="MAX_HEADER_BYTES",
        description="a whole number of bytes of at least 1024",
    )
    keep_alive_s: int = Field(
        default=5,
        ge=1,
        alias="KEEP_ALIVE_SECONDS",
        description="a whole number of seconds of at least 1",
    )
    # Where each API worker spools the forecasts it served until they are in the database
    # (api/v1/services/prediction_log.py). Unset: beside a SQLite database file
    # (<file>.prediction-spool), else <data folder>/prediction-spool.
    prediction_spool_dir: Path | None = Field(
        default=None, alias="PREDICTION_SPOOL_DIR", description="a folder path"
    )

    @field_validator("project_root", "log_dir")
    @classmethod
    def _absolute(cls, folder: Path) -> Path:
        return folder.resolve()

    @property
    def spool_folder(self) -> Path:
        """PREDICTION_SPOOL_DIR, else the default above: one spool per database, so a worker
        never replays forecasts into a database they were not served from."""
        if self.prediction_spool_dir is not None:
            return self.prediction_spool_dir.resolve()
        prefix = "sqlite:///"
        path = self.database_url.removeprefix(prefix).partition("?")[0].removeprefix("file:")
        if self.database_url.startswith(prefix) and path and path != ":memory:":
            return Path(path).resolve().with_name(Path(path).name + ".prediction-spool")
        digest = hashlib.sha256(self.database_url.encode()).hexdigest()[:12]
        return data_folder(self.project_root, self.data_dir or DEFAULT_DATA_DIR) / (
            f"prediction-spool/{digest}"
        )

    @field_validator("api_key")
    @classmethod
    def _strong_key(cls, key: str | None) -> str | None:
        if key is not None:
            check_api_key(key)
        return key

    @field_validator("api_keys", mode="before")
    @classmethod
    def _named_keys(cls, keys: Any) -> Any:
        return parse_api_keys(keys) if isinstance(keys, str) else keys

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, origins: Any) -> Any:
        if isinstance(origins, str):
            return tuple(o.strip() for o in origins.split(",") if o.strip())
        return origins

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.upper() not in _LOG_LEVELS:
            raise ValueError(level)
        return level.upper()


_SECRETS = {"API_KEY", "API_KEYS"}


def _message(error: ValidationError) -> str:
    """One line naming each bad variable: "MAX_BODY_BYTES: expected a whole number of bytes, got
    'abc'"."""
    by_variable = {f.alias: f for f in Settings.model_fields.values()}
    problems = []
    for problem in error.errors():
        if problem["type"] == "default_factory_not_called":
            continue  # a default derived from a bad value: that value is reported
        variable = str(problem["loc"][0]) if problem["loc"] else "settings"
        field = by_variable.get(variable)
        expected = field.description if field else problem["msg"]
        if variable in _SECRETS:  # say what is wrong with a key, never the key
            reason = str(problem.get("ctx", {}).get("error", "")) or problem["msg"]
            problems.append(f"{variable}: expected {expected}: {reason}")
            continue
        problems.append(f"{variable}: expected {expected}, got {problem['input']!r}")
    return "; ".join(problems)


_VARIABLES = tuple(f.alias for f in Settings.model_fields.values() if f.alias)


def get_settings(project_root: Path | None = None) -> Settings:
    """The settings of the environment as it is now, so tests can change it freely. Cheap: the
    (frozen) Settings are reused while the variables they read keep their values.
    `project_root` overrides STOCK_LSTM_PROJECT_ROOT (and so the defaults under it)."""
    return _settings(tuple(os.environ.get(name) for name in _VARIABLES), project_root)


@functools.lru_cache(maxsize=16)
def _settings(environment: tuple[str | None, ...], project_root: Path | None) -> Settings:
    """`environment` (the values of _VARIABLES) is the cache key; Settings reads os.environ."""
    overrides = {} if project_root is None else {"STOCK_LSTM_PROJECT_ROOT": project_root}
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_message(error)) from None


def settings_or_exit() -> Settings:
    """`get_settings()` for an entry point (the API's app, a command-line tool): a bad value ends
    the process with its one-line message and a non-zero exit code, not a traceback."""
    try:
        return get_settings()
    except SettingsError as error:
        raise SystemExit(f"Error: {error}") from None


def project_root() -> Path:
    """The Kedro project folder: STOCK_LSTM_PROJECT_ROOT, else the checkout this package is in."""
    return get_settings().project_root


def mlflow_tracking_uri(root: Path | None = None, data_dir: str | None = None) -> str:
    """Where training runs are logged: MLFLOW_TRACKING_URI (e.g. a shared http server), else a
    local SQLite store in the data folder `data_dir` (default: the settings') of the project
    `root` (default: the settings' project root)."""
    settings = get_settings(root)
    if data_dir is None or "mlflow_tracking_uri" in settings.model_fields_set:
        return settings.mlflow_tracking_uri
    return default_mlflow_tracking_uri(settings.project_root, data_dir)


def environment_data_dir(env_data_dir: str) -> str:
    """The data folder of a Kedro environment whose conf/<env>/globals.yml names
    `env_data_dir`: STOCK_LSTM_DATA_DIR wins when set (a replay, a project copy's tests)."""
    return get_settings().data_dir or env_data_dir


def environment_database_url(data_dir: str) -> str:
    """The database of a Kedro environment writing to `data_dir`: DATABASE_URL when set, else
    the SQLite file <data_dir>/stock_lstm.db (so `--env test` never opens the main one)."""
    settings = get_settings()
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    return default_database_url(settings.project_root, data_dir)


def mlflow_artifact_location(tracking_uri: str) -> str | None:
    """A local SQLite store keeps its runs' artifacts beside it (<store folder>/artifacts); any
    other store (a server, a folder) decides for itself (None)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return str(Path(tracking_uri.removeprefix(prefix)).resolve().parent / "artifacts")


def mlflow_run_url(tracking_uri: str | None, run_id: str | None) -> str | None:
    """A browser link to a run, when the tracking store is an MLflow server (http or https)."""
    if not tracking_uri or not run_id or not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/runs/{run_id}"
