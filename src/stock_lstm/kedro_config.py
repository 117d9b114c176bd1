"""How the project reads its configuration: the Kedro settings that build its config loader
and Data Catalog (settings.py takes them from here). In a module of their own so that a process
which needs only the catalog (an API worker, the registry commands: data_pipeline/catalog.py)
builds exactly the loader a Kedro session builds without bootstrapping the project, which
loads settings.py through dynaconf (and with it every hook) and applies the logging
configuration: about a third of a second of an API worker's start."""

from __future__ import annotations

from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from stock_lstm.common.settings import (
    environment_data_dir,
    environment_database_url,
    mlflow_artifact_location,
    mlflow_tracking_uri,
)

CONF_SOURCE = "conf"
DATA_CATALOG_CLASS = DataCatalog
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
