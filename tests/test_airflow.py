"""kedro-airflow (docs/scaling.md section 4): the generated DAG compiles and runs every node of
the default pipeline as a task, in the pipeline's order. Airflow itself is not installed: a stub
of `airflow.sdk` records the tasks and the `>>` dependencies the DAG file declares."""

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
    recorded: dict = {"dag": None, "tasks": [], "edges": set()}

    def dag(**kwargs):
        recorded["dag"] = kwargs
        return lambda fn: fn

    def task(task_id: str):
        def decorate(fn):
            def instantiate() -> _Task:
                recorded["tasks"].append(task_id)
                return _Task(task_id, recorded["edges"])

            return instantiate

        return decorate

    sdk = types.ModuleType("airflow.sdk")
    sdk.dag, sdk.task = dag, task
    return sdk, recorded


@pytest.fixture(scope="module")
def generated_dag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro airflow create --target-dir <tmp> --env base`, the command of docs/scaling.md."""
    tmp = tmp_path_factory.mktemp("airflow")
    root = make_project_copy(tmp / "project")
    target = tmp / "dags"
    completed = subprocess.run(
        [sys.executable, "-m", "kedro", "airflow", "create", "--target-dir", str(target)]
        + ["--env", "base"],
        cwd=root,
        env=kedro_env(root, f"sqlite:///{tmp / 'airflow.db'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return target / "stock_lstm_base_dag.py"


@pytest.fixture(scope="module")
def default_pipeline():
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    return pipelines["__default__"]


def test_the_dag_has_a_task_per_node_in_pipeline_order(
    generated_dag: Path, default_pipeline, monkeypatch: pytest.MonkeyPatch
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
    nodes = default_pipeline.nodes
    assert sorted(recorded["tasks"]) == sorted(slugify(node.name) for node in nodes)
    expected_edges = {
        (slugify(parent.name), slugify(child.name))
        for child, parents in default_pipeline.node_dependencies.items()
        for parent in parents
    }
    assert recorded["edges"] == expected_edges


def test_tasks_hand_over_data_through_the_catalog_only(default_pipeline) -> None:
    """Each Airflow task is its own Kedro session, maybe on another worker: a dataset passed
    between nodes must be a catalog entry, never an in-memory one."""
    from kedro.config import OmegaConfigLoader

    catalog = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base"
    )["catalog"]
    handed_over = {
        name
        for name in default_pipeline.datasets()
        if not name.startswith("params:") and name != "parameters"
    }
    assert not handed_over - set(catalog), f"in-memory datasets: {handed_over - set(catalog)}"
