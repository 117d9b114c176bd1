"""Settings read from the environment, so one code path serves a laptop, CI and a container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# src/stock_lstm/common/settings.py -> the project root (where pyproject.toml lives).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_SOURCE_ROOT = PACKAGE_DIR.parents[1]


# Room for the API's largest valid body (10,000 full-precision closes, ~200 KB), so "too many
# prices" is a 422 naming the field; anything far larger is cut off unread with a 413.
DEFAULT_MAX_BODY_BYTES = 512 * 1024


def project_root() -> Path:
    """The Kedro project folder: STOCK_LSTM_PROJECT_ROOT, else the checkout this package is in."""
    configured = os.environ.get("STOCK_LSTM_PROJECT_ROOT")
    return Path(configured).resolve() if configured else _SOURCE_ROOT


def default_database_url(root: Path | None = None) -> str:
    """An ABSOLUTE SQLite path: a relative one breaks as soon as the API runs from another folder."""
    return f"sqlite:///{(root or project_root()) / 'data' / 'stock_lstm.db'}"


def mlflow_tracking_uri(root: Path | None = None) -> str:
    """Where training runs are logged: MLFLOW_TRACKING_URI (e.g. a shared http server), else a
    local SQLite store at the ABSOLUTE path <project>/data/mlflow/mlflow.db (offline, no server)."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{(root or project_root()) / 'data' / 'mlflow' / 'mlflow.db'}"


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


@dataclass(frozen=True)
class Settings:
    database_url: str
    project_root: Path
    kedro_env: str | None
    api_key: str | None
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    log_level: str
    # The MLflow tracking store of training runs; the model card links to a run on a server.
    mlflow_tracking_uri: str | None = None
    # The name the registry's audit trail records for changes made with API_KEY.
    api_key_name: str = "api-key"
    # How often (seconds) each worker checks the registry's champion. On PostgreSQL a
    # LISTEN/NOTIFY wakes it at once and this is the safety net; on SQLite it is the bound on
    # how long a worker serves a replaced champion. Also the retry interval while the database
    # is unreachable.
    registry_poll_s: float = 2.0


def get_settings() -> Settings:
    """Read the environment on every call: cheap, and tests can change it freely."""
    root = project_root()
    origins = os.environ.get("CORS_ORIGINS", "")
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_database_url(root),
        project_root=root,
        kedro_env=os.environ.get("KEDRO_ENV") or None,
        api_key=os.environ.get("API_KEY") or None,
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        max_body_bytes=int(os.environ.get("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        log_level=os.environ.get("LOG_LEVEL", "INFO"),
        mlflow_tracking_uri=mlflow_tracking_uri(root),
        api_key_name=os.environ.get("API_KEY_NAME") or "api-key",
        registry_poll_s=float(os.environ.get("REGISTRY_POLL_SECONDS", 2.0)),
    )
