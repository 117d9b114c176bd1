"""The project's Data Catalog without a Kedro session: for the API and the registry CLI.

A session's context validates parameters against every registered pipeline, which imports the
pipelines and with them TensorFlow; the API only needs the catalog. This builds it the way the
session does (the project's config loader and catalog class, stock_lstm/kedro_config.py) from
`catalog*.yml` and credentials alone, without bootstrapping the project (which loads settings.py
and every hook through Kedro's framework and applies its logging configuration), with every
relative file path made absolute under the project (also our datasets' `*_filepath` and
`serving_filepaths`, which Kedro's own conversion skips), so the process may run from any
folder. Datasets are created lazily, on first use.

It also names an environment's database (`environment_database`), so the API and the commands
open the one its pipelines write to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException

from stock_lstm import kedro_config
from stock_lstm.common.settings import (
    DEFAULT_DATA_DIR,
    Settings,
    default_database_url,
    get_settings,
)


def open_catalog(project_root: Path, env: str | None) -> Any:
    """The catalog of the Kedro project at `project_root` in environment `env`."""
    loader = _config_loader(project_root, env)
    try:
        credentials = loader["credentials"]
    except MissingConfigException:
        credentials = {}
    catalog = _absolute_paths(Path(project_root).resolve(), loader["catalog"])
    return kedro_config.DATA_CATALOG_CLASS.from_config(catalog, credentials)


def catalog_config(project_root: Path, env: str | None) -> dict[str, Any]:
    """The catalog's configuration (entries resolved, file paths absolute), no dataset created:
    what the registry CLI reads the serving files' paths from."""
    return _absolute_paths(
        Path(project_root).resolve(), _config_loader(project_root, env)["catalog"]
    )


def environment_database(
    project_root: Path, env: str | None, settings: Settings | None = None
) -> str:
    """The database the Kedro environment `env` writes to, as a `kedro run` there opens it:
    DATABASE_URL when set (in `settings`, default: the process's), else <data_dir>/stock_lstm.db
    of its conf/<env>/globals.yml (STOCK_LSTM_DATA_DIR wins), so `--env test` never opens the
    main database."""
    settings = settings or get_settings()
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    data_dir = settings.data_dir or str(
        _config_loader(project_root, env)["globals"].get("data_dir", DEFAULT_DATA_DIR)
    )
    return default_database_url(Path(project_root).resolve(), data_dir)


def _config_loader(project_root: Path, env: str | None) -> Any:
    return kedro_config.CONFIG_LOADER_CLASS(
        conf_source=str(Path(project_root) / kedro_config.CONF_SOURCE),
        env=env,
        **kedro_config.CONFIG_LOADER_ARGS,
    )


def _absolute(root: Path, path: str) -> str:
    if "://" in path or Path(path).is_absolute():
        return path
    return (root / path).as_posix()


def _absolute_paths(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and key.endswith("filepaths"):
            converted[key] = {name: _absolute(root, str(p)) for name, p in value.items()}
        elif isinstance(value, dict):
            converted[key] = _absolute_paths(root, value)
        elif isinstance(value, str) and key.endswith(("filepath", "filename", "path")):
            converted[key] = _absolute(root, value)
        else:
            converted[key] = value
    return converted
