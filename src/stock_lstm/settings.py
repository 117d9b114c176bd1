"""Kedro project settings (see https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from kedro.config import OmegaConfigLoader

from stock_lstm.common.settings import (
    environment_data_dir,
    environment_database_url,
    mlflow_artifact_location,
    mlflow_tracking_uri,
)
from stock_lstm.hooks.console import ConsoleHooks
from stock_lstm.hooks.input_errors import InputErrorHooks
from stock_lstm.hooks.lineage import LineageHooks
from stock_lstm.hooks.run_lock import RunLockHooks
from stock_lstm.hooks.tracking import ExperimentTrackingHooks

# Telemetry never runs here (the Makefile also exports KEDRO_DISABLE_TELEMETRY=1).
# kedro-mlflow's own hook would set MLflow up in every Kedro session, the API's too:
# ExperimentTrackingHooks drives it only when a pipeline runs (or a `kedro mlflow` command).
DISABLE_HOOKS_FOR_PLUGINS = (
    "kedro-telemetry",
    "kedro_mlflow",
)  # names as their metadata spells them

# Bad input data or parameters end a command-line run with a message, not a traceback.
# Stage tables: derived stages read only what changed and record the version they came from.
# Every `kedro run` that trains logs one MLflow run (conf/base/mlflow.yml).
# One run at a time writes a SQLite database (hooks/run_lock.py); last, so its
# before_pipeline_run runs first (pluggy calls the last registered first).
# A piped console gets plain lines, and no note about raw-dictionary parameters (hooks/console.py).
HOOKS = (
    ConsoleHooks(),
    InputErrorHooks(),
    LineageHooks(),
    ExperimentTrackingHooks(),
    RunLockHooks(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (conf/test, conf/tuned) states only the parameters it changes: its keys are
    # merged into base's key by key, at any depth (lists are replaced whole).
    "merge_strategy": {"parameters": "soft"},
    # Each environment writes to its own data folder (conf/<env>/globals.yml `data_dir`:
    # STOCK_LSTM_DATA_DIR wins): its database (DATABASE_URL wins), models, reports and, in
    # conf/base/mlflow.yml, its tracking store (MLFLOW_TRACKING_URI wins) and artifacts.
    "custom_resolvers": {
        "data_dir": environment_data_dir,
        "database_url": environment_database_url,
        "mlflow_tracking_uri": lambda data_dir=None: mlflow_tracking_uri(data_dir=data_dir),
        "mlflow_artifact_location": lambda data_dir=None: mlflow_artifact_location(
            mlflow_tracking_uri(data_dir=data_dir)
        ),
    },
}
