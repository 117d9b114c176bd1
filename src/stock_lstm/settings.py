"""Kedro project settings (see https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from stock_lstm.hooks.console import ConsoleHooks
from stock_lstm.hooks.input_errors import InputErrorHooks
from stock_lstm.hooks.lineage import LineageHooks
from stock_lstm.hooks.run_lock import RunLockHooks
from stock_lstm.hooks.tracking import ExperimentTrackingHooks

# How configuration is read, and the catalog class: in a module of their own, from which the API
# builds the same catalog without bootstrapping the project (data_pipeline/catalog.py).
from stock_lstm.kedro_config import (  # noqa: F401 (Kedro reads them from this module)
    CONF_SOURCE,
    CONFIG_LOADER_ARGS,
    CONFIG_LOADER_CLASS,
    DATA_CATALOG_CLASS,
)

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
