"""MLflow experiment tracking of Kedro runs, as hooks: no node function knows about MLflow.

kedro-mlflow's own hook opens one MLflow run per `kedro run` (skipping the pipelines that
conf/base/mlflow.yml lists), logs the parameters every node reads and closes the run. Around it,
this module logs what only the project knows:

- the data versions the run read or wrote (`data.<dataset>.version_id`, `.content_hash`,
  `.row_count`), from the versioned SQL stage tables;
- every file the run saved through the catalog, as artifacts under `<dataset>/` (the model,
  scaler, calibration, history, reports, plots, whatever later pipelines add);
- the numbers of every JSON-like report the run saved, flattened into metrics
  `<dataset>.<key>.<key>...`; a list of numbers (a training history's per-epoch `loss` and
  `val_loss`) becomes one metric logged at steps 1, 2, ...;
- the run id on the `model_versions` row of the model this run trained;
- each trial of a report's `trials` list (the tuning report: Optuna trials) as a child run of
  the run: its parameters, value, per-fold intermediate values and state.

A local store (SQLite under the data folder) writes artifacts beside itself: MLflow records the
experiment's artifact root as an absolute file:// URI, so a copied, moved or mounted project
has it re-rooted to its own folder before a run starts (`reroot_local_artifacts`).

kedro-mlflow (and so mlflow) is imported only when a pipeline runs: the API, which also opens
Kedro sessions to load its model, never sets MLflow up, and an install without mlflow runs the
pipelines untracked (the serving image has neither).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset

from stock_lstm.common.lazy import lazy_module
from stock_lstm.common.settings import DEFAULT_DATA_DIR, environment_database_url
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database

# Imported when a run first uses it (with pandas): an API worker reads the project's settings,
# which name this hook, and never runs a pipeline.
datasets = lazy_module("stock_lstm.data_pipeline.datasets")

logger = logging.getLogger(__name__)

# MLflow accepts these characters in metric and parameter names (mlflow.utils.validation).
_INVALID_KEY_CHARACTERS = re.compile(r"[^/\w.\- ]")
_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call


def metric_key(*parts: object) -> str:
    """A valid MLflow metric name: the parts joined by dots, other characters as "_" (^GSPC)."""
    return _INVALID_KEY_CHARACTERS.sub("_", ".".join(str(p) for p in parts))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def flatten_metrics(
    report: Mapping[str, Any], prefix: str
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The numbers of a JSON-like report: `{key: value}` for each number, found at any depth
    (lists of mappings by index: folds.0.mae), and `{key: [values]}` for each list of numbers
    (per-epoch losses), logged as one metric over steps. Text, booleans and NaN are skipped."""
    scalars: dict[str, float] = {}
    series: dict[str, list[float]] = {}

    def walk(value: Any, path: tuple[object, ...]) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list | tuple):
            if value and all(_is_number(item) for item in value):
                series[metric_key(*path)] = [float(item) for item in value]
            else:
                for index, item in enumerate(value):
                    walk(item, (*path, index))
        elif _is_number(value):
            scalars[metric_key(*path)] = float(value)

    walk(report, (prefix,))
    return scalars, series


def saved_files(dataset: Any) -> Path | None:
    """The local file or folder a catalog dataset has just saved, or None (not a file, or a
    remote one: MLflow shows what a server already holds)."""
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or getattr(dataset, "_protocol", "file") not in ("file", None):
        return None
    if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
        filepath = dataset._get_versioned_path(dataset.resolve_save_version())
    path = Path(str(filepath))
    return path if path.exists() else None


def _millis(timestamp: str | None) -> int | None:
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000) if timestamp else None


def _command_path() -> str:
    context = click.get_current_context(silent=True)
    return context.command_path if context is not None else ""


def reroot_local_artifacts(
    tracking_uri: str, experiment_name: str, artifact_location: str | None
) -> str | None:
    """Point a local SQLite store's experiment, and the runs it holds, at `artifact_location`
    (the configured root beside the store) when it names another folder: MLflow stores the root
    as an absolute file:// URI when the experiment is created, so a copy of the project would
    otherwise write its runs' artifacts into the original checkout. Returns the old root when
    it moved, else None. A server's store, or a root that is not a local folder, is left alone.
    """
    if not artifact_location or not tracking_uri.startswith("sqlite:///"):
        return None
    if not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        return None  # a new store: MLflow creates the experiment at the configured root
    from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlRun
    from sqlalchemy import create_engine, func, select, update
    from sqlalchemy.orm import Session

    engine = create_engine(tracking_uri)
    try:
        with Session(engine) as session, session.begin():
            experiment = session.scalars(
                select(SqlExperiment).where(SqlExperiment.name == experiment_name)
            ).first()
            old = experiment.artifact_location if experiment is not None else None
            if old is None or old == artifact_location or not old.startswith("file:"):
                return None
            experiment.artifact_location = artifact_location
            session.execute(
                update(SqlRun)
                .where(
                    SqlRun.experiment_id == experiment.experiment_id,
                    SqlRun.artifact_uri.startswith(f"{old}/"),
                )
                .values(
                    artifact_uri=artifact_location + func.substr(SqlRun.artifact_uri, len(old) + 1)
                )
            )
    finally:
        engine.dispose()
    logger.info(
        "MLflow artifacts of %s: %s (the store named %s)", experiment_name, artifact_location, old
    )
    return old


def _end_run(run_id: str) -> None:
    """kedro-mlflow reopens the run before every node, and MLflow stacks each reopening: end
    them all, or the next session of this process (a test, a notebook) logs into this run."""
    import mlflow

    while (active := mlflow.active_run()) is not None and active.info.run_id == run_id:
        mlflow.end_run()


# A warning a library prints on every command that tells a user of this project nothing: mlflow
# asks for type hints on a class of kedro-mlflow's this project never uses.
KEDRO_MLFLOW_NOISE = "Add type hints to the `predict` method"


def import_kedro_mlflow_quietly() -> None:
    """Import kedro-mlflow's model class without mlflow's KEDRO_MLFLOW_NOISE warning (every
    other warning of the import is shown as usual). mlflow shows that warning under a "once"
    filter of its own, which no PYTHONWARNINGS filter overrides, so it is recorded and dropped
    here. The `kedro.init` entry point (pyproject.toml) runs this before any `kedro` command
    loads kedro-mlflow's commands; the tracking hook, before it sets kedro-mlflow up."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            import kedro_mlflow.mlflow  # noqa: F401
    except ImportError:  # the `train` extra is not installed: nothing imports it
        return
    for warning in caught:
        if KEDRO_MLFLOW_NOISE not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


class ExperimentTrackingHooks:
    """One MLflow run per `kedro run` that trains: kedro-mlflow's hook, set up lazily, plus the
    project's data versions, report metrics, artifacts and the run id on `model_versions`."""

    def __init__(self) -> None:
        self._context: Any = None
        self._catalog: Any = None
        self._save_version: str | None = None
        self._plugin: Any = None  # kedro-mlflow's hook, once a tracked pipeline runs
        self._logged_data: dict[str, str] = {}
        self._database_url: str | None = None  # this environment's (conf/<env>/globals.yml)

    @property
    def _tracking(self) -> bool:
        return self._plugin is not None and self._plugin.run_id is not None

    def _start_plugin(self) -> bool:
        """A fresh kedro-mlflow hook set up from this session's context (one process may run
        several sessions, e.g. the tests): reads mlflow.yml, opens the store."""
        self._plugin = None
        import_kedro_mlflow_quietly()
        try:
            from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
        except ImportError:
            logger.info("kedro-mlflow is not installed: this run is not tracked")
            return False
        self._plugin = MlflowHook()
        self._plugin.after_context_created(self._context)
        config = getattr(self._context, "mlflow", None)  # kedro-mlflow's, validated URIs
        if config is not None:
            reroot_local_artifacts(
                config.server.mlflow_tracking_uri,
                config.tracking.experiment.name,
                config.tracking.experiment.create_experiment_kwargs.artifact_location,
            )
        return True

    @hook_impl
    def after_context_created(self, context) -> None:
        self._context = context
        data_dir = context.config_loader["globals"].get("data_dir", DEFAULT_DATA_DIR)
        self._database_url = environment_database_url(str(data_dir))
        # `kedro mlflow ui` reads the configuration kedro-mlflow puts on the context.
        if _command_path().split()[1:2] == ["mlflow"]:
            self._start_plugin()

    @hook_impl
    def after_catalog_created(self, save_version: str) -> None:
        self._save_version = save_version  # every versioned artifact of the run is saved under it

    def _untracked(self, run_params: dict[str, Any]) -> bool:
        """True when every pipeline run is one mlflow.yml leaves untracked: then MLflow is not
        even set up (a new store costs seconds to create)."""
        names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
        names = [names] if isinstance(names, str) else names or ["__default__"]
        loader = self._context.config_loader
        loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
        try:
            untracked = loader["mlflow"]["tracking"]["disable_tracking"]["pipelines"]
        except (KeyError, TypeError, MissingConfigException):
            return False
        return all(name in untracked for name in names)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._logged_data = {}
        self._catalog = catalog
        self._plugin = None
        if self._untracked(run_params) or not self._start_plugin():
            return
        self._plugin.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
        if self._tracking:
            self._client().set_tag(self._plugin.run_id, "kedro.save_version", self._save_version)

    @hook_impl
    def before_node_run(self, node, catalog, inputs: dict[str, Any], is_async: bool) -> None:
        if self._plugin is not None:  # logs the node's parameters
            self._plugin.before_node_run(
                node=node, catalog=catalog, inputs=inputs, is_async=is_async
            )

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node) -> None:
        if self._tracking:
            dataset = self._catalog.get(dataset_name)
            if isinstance(dataset, datasets.VersionedTableDataset):
                version_id = getattr(data, "attrs", {}).get("version_id")
                version = None
                if version_id is not None:
                    with get_database(self._database_url).session() as session:
                        version = crud.get_version(session, int(version_id))
                if version is not None:
                    self._log_data_version(dataset_name, version)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        if not self._tracking:
            return
        dataset = self._catalog.get(dataset_name)
        if isinstance(dataset, datasets.VersionedTableDataset):
            # what the save stored (see datasets.tables)
            saved = data.attrs.get(datasets.SAVED_ATTR)
            if saved is not None:
                self._log_data_version(dataset_name, saved.version)
            return
        if isinstance(dataset, datasets.ModelVersionDataset):
            self._record_run_id(data)
            return
        path = saved_files(dataset)
        if path is None:
            return
        if path.is_dir():
            self._client().log_artifacts(self._plugin.run_id, str(path), dataset_name)
        else:
            self._client().log_artifact(self._plugin.run_id, str(path), dataset_name)
        if isinstance(dataset, datasets.StageReportDataset):
            data = dataset.load()  # the report as stored, with the versions its node wrote
        if isinstance(data, Mapping):
            self._log_report(dataset_name, {k: v for k, v in data.items() if k != "trials"})
            if isinstance(data.get("trials"), list):
                self._log_trials(dataset_name, data["trials"])

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if self._plugin is not None:  # ends the MLflow run
            run_id = self._plugin.run_id
            self._plugin.after_pipeline_run(
                run_params=run_params, pipeline=pipeline, catalog=catalog
            )
            self._plugin.run_id = None
            if run_id is not None:
                _end_run(run_id)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog):
        if self._plugin is not None:  # marks the MLflow run FAILED
            self._plugin.on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )
            self._plugin.run_id = None

    @staticmethod
    def _client() -> Any:
        import mlflow

        return mlflow.MlflowClient()  # the tracking URI kedro-mlflow set up

    def _log_data_version(self, dataset_name: str, version: crud.VersionInfo) -> None:
        """Parameters of the data version, once per dataset (a stage saved then read again is
        one version; MLflow refuses to change a logged parameter)."""
        from mlflow.entities import Param

        if dataset_name in self._logged_data:
            if self._logged_data[dataset_name] != version.content_hash:
                logger.warning(
                    "%s: this run used more than one data version; MLflow records version %s",
                    dataset_name,
                    self._logged_data[dataset_name],
                )
            return
        self._logged_data[dataset_name] = version.content_hash
        values = {
            "version_id": version.id,
            "content_hash": version.content_hash,
            "row_count": version.row_count,
        }
        params = [Param(f"data.{dataset_name}.{k}", str(v)) for k, v in values.items()]
        self._client().log_batch(self._plugin.run_id, params=params)

    def _log_report(self, dataset_name: str, report: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric
        from mlflow.utils.time import get_current_time_millis

        scalars, series = flatten_metrics(report, dataset_name)
        now = get_current_time_millis()
        metrics = [Metric(key, value, now, 0) for key, value in scalars.items()]
        metrics += [
            Metric(key, value, now, step)
            for key, values in series.items()
            for step, value in enumerate(values, start=1)
        ]
        client = self._client()
        for start in range(0, len(metrics), _METRICS_PER_BATCH):
            batch = metrics[start : start + _METRICS_PER_BATCH]
            client.log_batch(self._plugin.run_id, metrics=batch)

    def _log_trials(self, dataset_name: str, trials: list[Mapping[str, Any]]) -> None:
        """One child run per trial (MLflow's nested runs: the `mlflow.parentRunId` tag), named
        `trial-<number>`, FINISHED when complete, KILLED when pruned, FAILED otherwise."""
        from mlflow.entities import Metric, Param
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        client = self._client()
        parent = client.get_run(self._plugin.run_id)
        status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}
        for trial in trials:
            start = _millis(trial.get("datetime_start"))
            end = _millis(trial.get("datetime_complete")) or start
            child = client.create_run(
                parent.info.experiment_id,
                start_time=start,
                tags={
                    MLFLOW_PARENT_RUN_ID: parent.info.run_id,
                    MLFLOW_RUN_NAME: f"trial-{trial['number']}",
                    "source_dataset": dataset_name,
                    "trial.state": str(trial["state"]),
                    **{f"trial.{k}": str(v) for k, v in trial.get("user_attrs", {}).items()},
                },
            )
            params = [Param(k, str(v)) for k, v in trial.get("params", {}).items()]
            metrics = [
                Metric("validation_score", float(value), end, int(step))
                for step, value in trial.get("intermediate_values", {}).items()
                if _is_number(value)
            ]
            if _is_number(trial.get("value")):
                metrics.append(Metric("value", float(trial["value"]), end, 0))
            client.log_batch(child.info.run_id, metrics=metrics, params=params)
            client.set_terminated(
                child.info.run_id, status.get(str(trial["state"]), "FAILED"), end_time=end
            )

    def _record_run_id(self, record: Mapping[str, Any]) -> None:
        """The model_versions row of the model THIS run trained gets the run id; a run that
        only re-evaluates an older model is tagged with it but leaves the row alone."""
        model_version = str(record.get("model_version"))
        run_id = self._plugin.run_id
        self._client().set_tag(run_id, "model_version", model_version)
        if model_version == self._save_version:
            with get_database(self._database_url).session() as session:
                crud.set_model_version_mlflow_run(session, model_version, run_id)
            logger.info("model version %s: MLflow run %s", model_version, run_id)
