"""kedro-airflow (docs/scaling.md section 4): `kedro airflow create --group-by namespace` writes a
DAG that compiles and runs each pipeline stage as ONE task (one KedroSession), in the stages'
order. One session per stage matters: the training artifacts (scaler, lstm_model,
interval_calibration) must share one Kedro save version for the API to serve them; a task per
node would give each its own. Airflow itself is not installed: a stub of `airflow.sdk` records
the tasks, what each runs, and the `>>` dependencies the DAG file declares."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
from slugify import slugify

from tests.conftest import PROJECT_ROOT, kedro_env, make_project_copy

pytestmark = pytest.mark.slow


class _Task:
    def __init__(self, task_id: str, edges: set[tuple[str, str]]) -> None:
        self.task_id = task_id
        self._edges = edges

    def __rshift__(self, other: _Task) -> _Task:
        self._edges.add((self.task_id, other.task_id))
        return other


def _airflow_stub() -> tuple[types.ModuleType, dict]:
    recorded: dict = {"dag": None, "tasks": [], "callables": {}, "edges": set()}

    def dag(**kwargs):
        recorded["dag"] = kwargs
        return lambda fn: fn

    def task(task_id: str):
        def decorate(fn):
            def instantiate() -> _Task:
                recorded["tasks"].append(task_id)
                recorded["callables"][task_id] = fn
                return _Task(task_id, recorded["edges"])

            return instantiate

        return decorate

    sdk = types.ModuleType("airflow.sdk")
    sdk.dag, sdk.task = dag, task
    return sdk, recorded


def _create_dags(tmp: Path, *extra: str) -> Path:
    """Run `kedro airflow create --env base --group-by namespace [extra]` in a project copy;
    the folder the DAG files were written to."""
    root = make_project_copy(tmp / "project")
    target = tmp / "dags"
    completed = subprocess.run(
        [sys.executable, "-m", "kedro", "airflow", "create", "--target-dir", str(target)]
        + ["--env", "base", "--group-by", "namespace", *extra],
        cwd=root,
        env=kedro_env(root, f"sqlite:///{tmp / 'airflow.db'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return target


@pytest.fixture(scope="module")
def generated_dag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro airflow create --target-dir <tmp> --env base --group-by namespace`, the command
    of docs/scaling.md."""
    return _create_dags(tmp_path_factory.mktemp("airflow")) / "stock_lstm_base_dag.py"


@pytest.fixture(scope="module")
def default_pipeline():
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    return pipelines["__default__"]


@pytest.fixture(scope="module")
def stages():
    """Each stage's registered pipeline, in run order."""
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    from stock_lstm.pipeline_registry import PIPELINE_ORDER

    bootstrap_project(PROJECT_ROOT)
    return {name: pipelines[name] for name in PIPELINE_ORDER}


def test_the_dag_runs_each_stage_as_one_task_in_stage_order(
    generated_dag: Path, default_pipeline, stages, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert generated_dag.is_file(), f"kedro airflow create wrote no {generated_dag.name}"
    code = compile(generated_dag.read_text(), str(generated_dag), "exec")
    sdk, recorded = _airflow_stub()
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    namespace: dict = {"__name__": "stock_lstm_base_dag"}
    exec(code, namespace)  # noqa: S102 - the file kedro-airflow just generated

    assert recorded["dag"]["dag_id"] == "stock-lstm"
    assert namespace["env"] == "base"
    assert namespace["package_name"] == "stock_lstm"
    # one task per stage, nothing else
    assert sorted(recorded["tasks"]) == sorted(slugify(stage) for stage in stages)

    # what each task runs: call it with the session replaced by a recorder
    runs: dict[str, dict] = {}
    for task_id, run_task in recorded["callables"].items():
        monkeypatch.setitem(
            namespace, "_run_kedro_node", lambda task_id=task_id, **kw: runs.update({task_id: kw})
        )
        run_task()
    for stage, pipeline in stages.items():
        selected = runs[slugify(stage)]
        assert selected == {"namespaces": [stage]}, (stage, selected)
        # the task's one session runs every node of the stage: for training, the scaler, the
        # model and the calibration get one save version
        ran = default_pipeline.only_nodes_with_namespaces([stage])
        assert {n.name for n in ran.nodes} == {n.name for n in pipeline.nodes}, stage
    assert len(stages["training"].nodes) > 1  # the case the grouping exists for

    # a stage waits for every stage whose outputs it reads, and only ever for an earlier one
    order = list(stages)
    expected_edges = {
        (slugify(before), slugify(after))
        for after in order
        for before in order
        if before != after
        and stages[before].all_outputs() & stages[after].inputs() - stages[after].all_outputs()
    }
    assert recorded["edges"] == expected_edges
    assert all(
        order.index(a) < order.index(b)
        for a, b in ((_stage_of(x, order), _stage_of(y, order)) for x, y in recorded["edges"])
    )
    chain = {(slugify(a), slugify(b)) for a, b in zip(order, order[1:], strict=False)}
    assert chain <= recorded["edges"], "each stage follows the one before it"


def _stage_of(task_id: str, order: list[str]) -> str:
    return next(stage for stage in order if slugify(stage) == task_id)


def test_tasks_hand_over_data_through_the_catalog_only(default_pipeline) -> None:
    """Each Airflow task is its own Kedro session, maybe on another worker: a dataset passed
    between nodes must be a catalog entry, never an in-memory one."""
    from kedro.config import OmegaConfigLoader

    from stock_lstm.settings import CONFIG_LOADER_ARGS

    catalog = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "base"}
    )["catalog"]
    handed_over = {
        name
        for name in default_pipeline.datasets()
        if not name.startswith("params:") and name != "parameters"
    }
    assert not handed_over - set(catalog), f"in-memory datasets: {handed_over - set(catalog)}"


@pytest.fixture(scope="module")
def generated_daily_dag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro airflow create ... --pipelines daily`, the daily DAG of docs/operations.md."""
    target = _create_dags(tmp_path_factory.mktemp("airflow-daily"), "--pipelines", "daily")
    return target / "stock_lstm_base_daily_dag.py"


def test_the_daily_dag_runs_the_data_stages_then_the_monitoring(
    generated_daily_dag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    from stock_lstm.pipelines.daily.pipeline import STAGES

    bootstrap_project(PROJECT_ROOT)
    daily = pipelines["daily"]
    order = ["ingestion", "cleaning", "feature_engineering", "monitoring"]
    assert [stage.__module__.rsplit(".", 2)[-2] for stage in STAGES] == order
    code = compile(generated_daily_dag.read_text(), str(generated_daily_dag), "exec")
    sdk, recorded = _airflow_stub()
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    namespace: dict = {"__name__": "stock_lstm_base_daily_dag"}
    exec(code, namespace)  # noqa: S102 - the file kedro-airflow just generated

    assert namespace["pipeline_name"] == "daily"
    assert recorded["tasks"] == [slugify(stage) for stage in order]
    runs: dict[str, dict] = {}
    for task_id, run_task in recorded["callables"].items():
        monkeypatch.setitem(
            namespace, "_run_kedro_node", lambda task_id=task_id, **kw: runs.update({task_id: kw})
        )
        run_task()
    for stage in order:
        assert runs[slugify(stage)] == {"namespaces": [stage]}
        assert daily.only_nodes_with_namespaces([stage]).nodes, stage
    assert {n.namespace for n in daily.nodes} == set(order)
    chain = {(slugify(a), slugify(b)) for a, b in zip(order, order[1:], strict=False)}
    assert recorded["edges"] == chain
