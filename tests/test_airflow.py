"""kedro-airflow (docs/scaling.md section 4): `kedro airflow create --jinja-file
deploy/airflow/dag_template.j2 --group-by namespace` writes a DAG that compiles and runs each
pipeline stage as ONE task (one KedroSession), in the stages' order. One session per stage
matters: the training artifacts (scaler, lstm_model, interval_calibration) must share one Kedro
save version for the API to serve them; a task per node would give each its own. Airflow itself
is not installed here: a stub of `airflow.sdk` records the tasks, their arguments, what each
runs, and the dependencies the DAG file declares. `make airflow-test` runs the same DAGs under
Airflow (deploy/airflow/airflow_test.py)."""

from __future__ import annotations

import datetime as dt
import sys
import types
from pathlib import Path

import pytest
import yaml
from slugify import slugify
from sqlalchemy.engine import make_url

from tests.conftest import PROJECT_ROOT, kedro_env, make_project_copy

# An Airflow connection password with the characters a URL must escape (not a real secret).
AWKWARD_PASSWORD = "p@ss/wd"

TEMPLATE = PROJECT_ROOT / "deploy" / "airflow" / "dag_template.j2"
AIRFLOW_CONFIG = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "airflow.yml").read_text())


class _Task:
    def __init__(self, task_id: str, edges: set[tuple[str, str]]) -> None:
        self.task_id = task_id
        self._edges = edges

    def __rshift__(self, other: _Task) -> _Task:
        self._edges.add((self.task_id, other.task_id))
        return other


def _airflow_stub() -> tuple[types.ModuleType, dict]:
    recorded: dict = {
        "dag": None,
        "tasks": [],
        "callables": {},
        "arguments": {},
        "branches": set(),
        "edges": set(),
        "context": {"params": {"kedro_params": ""}},
    }

    def dag(**kwargs):
        recorded["dag"] = kwargs
        return lambda fn: fn

    def task(task_id: str, branch: bool = False, **arguments):
        def decorate(fn):
            def instantiate(*upstream: _Task) -> _Task:
                recorded["tasks"].append(task_id)
                recorded["callables"][task_id] = fn
                recorded["arguments"][task_id] = arguments
                if branch:
                    recorded["branches"].add(task_id)
                for before in upstream:  # a task's output passed in: an upstream task
                    recorded["edges"].add((before.task_id, task_id))
                return _Task(task_id, recorded["edges"])

            return instantiate

        return decorate

    def chain(*tasks: _Task) -> None:
        for before, after in zip(tasks, tasks[1:], strict=False):
            before >> after

    sdk = types.ModuleType("airflow.sdk")
    sdk.dag, sdk.task, sdk.chain = dag, task, chain
    sdk.task.branch = lambda task_id, **arguments: task(task_id, branch=True, **arguments)
    sdk.Param = lambda default, **_: default
    sdk.get_current_context = lambda: recorded["context"]
    return sdk, recorded


def _load_dag(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    """Execute a generated DAG file against the stub: its namespace and what it declared."""
    code = compile(path.read_text(), str(path), "exec")
    sdk, recorded = _airflow_stub()
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    namespace: dict = {"__name__": path.stem}
    exec(code, namespace)  # noqa: S102 - the file kedro-airflow just generated
    return namespace, recorded


def _what_stage_tasks_run(namespace: dict, recorded: dict, monkeypatch) -> dict[str, tuple]:
    """Call every task that runs Kedro with `_run_kedro` replaced by a recorder: task id ->
    (pipeline, namespaces, runtime parameters)."""
    runs: dict[str, tuple] = {}
    for task_id, run_task in recorded["callables"].items():
        if run_task.__name__ != "run_stage":
            continue
        monkeypatch.setitem(
            namespace,
            "_run_kedro",
            lambda *args, task_id=task_id: runs.update({task_id: args}),
        )
        run_task()
    return runs


def _create_dags(tmp: Path, *extra: str) -> Path:
    """Run `kedro airflow create --jinja-file deploy/airflow/dag_template.j2 --env base
    --group-by namespace [extra]` in a project copy, through the `kedro` command line
    (kedro.framework.cli.KedroCLI, what `python -m kedro` runs) in this process, in the copy
    with the environment a `kedro` subprocess there gets (tests.conftest.kedro_env): no second
    interpreter importing Kedro, the project and TensorFlow again. The folder the DAG files were
    written to."""
    from kedro.framework.cli.cli import KedroCLI

    root = make_project_copy(tmp / "project")
    target = tmp / "dags"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kedro_env(root, f"sqlite:///{tmp / 'airflow.db'}").items():
            patch.setenv(name, value)
        patch.chdir(root)
        KedroCLI(project_path=root).main(
            ["airflow", "create", "--target-dir", str(target), "--jinja-file", str(TEMPLATE)]
            + ["--env", "base", "--group-by", "namespace", *extra],
            prog_name="kedro",
            standalone_mode=False,  # an error is raised here, not turned into an exit status
        )
    return target


@pytest.fixture(scope="module")
def generated_dags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro airflow create --jinja-file deploy/airflow/dag_template.j2 --target-dir <tmp>
    --env base --group-by namespace`, the command of docs/scaling.md, for the full pipeline and
    the daily one of docs/operations.md (`--pipelines daily`) at once: the folder of both DAGs."""
    return _create_dags(tmp_path_factory.mktemp("airflow"), "--pipelines", "__default__,daily")


@pytest.fixture(scope="module")
def generated_dag(generated_dags: Path) -> Path:
    """The full pipeline's DAG."""
    return generated_dags / "stock_lstm_base_dag.py"


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
    namespace, recorded = _load_dag(generated_dag, monkeypatch)

    assert recorded["dag"]["dag_id"] == "stock-lstm-base"
    assert namespace["ENV"] == "base"
    assert namespace["PACKAGE"] == "stock_lstm"
    # one task per stage, nothing else
    assert sorted(recorded["tasks"]) == sorted(slugify(stage) for stage in stages)

    # what each task runs: call it with the session replaced by a recorder
    runs = _what_stage_tasks_run(namespace, recorded, monkeypatch)
    for stage, pipeline in stages.items():
        selected = runs[slugify(stage)]
        assert selected == ("__default__", [stage], {}), (stage, selected)
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
def generated_daily_dag(generated_dags: Path) -> Path:
    """`kedro airflow create ... --pipelines daily`, the daily DAG of docs/operations.md."""
    return generated_dags / "stock_lstm_base_daily_dag.py"


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
    namespace, recorded = _load_dag(generated_daily_dag, monkeypatch)

    assert namespace["PIPELINE"] == "daily"
    stage_tasks = [t for t in recorded["tasks"] if t in {slugify(stage) for stage in order}]
    assert stage_tasks == [slugify(stage) for stage in order]
    runs = _what_stage_tasks_run(namespace, recorded, monkeypatch)
    for stage in order:
        assert runs[slugify(stage)] == ("daily", [stage], {})
        assert daily.only_nodes_with_namespaces([stage]).nodes, stage
    assert {n.namespace for n in daily.nodes} == set(order)
    chain = {(slugify(a), slugify(b)) for a, b in zip(order, order[1:], strict=False)}
    stage_edges = {(a, b) for a, b in recorded["edges"] if a in stage_tasks and b in stage_tasks}
    assert stage_edges == chain


def test_the_full_and_the_daily_dag_have_ids_of_their_own(
    generated_dag: Path, generated_daily_dag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployed side by side without a hand edit: the dag_id names the environment and the
    pipeline, like the file name."""
    full = _load_dag(generated_dag, monkeypatch)[1]["dag"]
    daily = _load_dag(generated_daily_dag, monkeypatch)[1]["dag"]
    assert (full["dag_id"], daily["dag_id"]) == ("stock-lstm-base", "stock-lstm-base-daily")
    assert full["schedule"] is None
    assert daily["schedule"] == AIRFLOW_CONFIG["daily"]["schedule"]


def test_retries_and_timeouts_come_from_the_airflow_parameters(
    generated_dag: Path, generated_daily_dag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = AIRFLOW_CONFIG["default"]
    by_task = default["task_timeout_minutes_by_task"]
    assert by_task, "conf/base/airflow.yml gives some task a timeout of its own"
    for path in (generated_dag, generated_daily_dag):
        _, recorded = _load_dag(path, monkeypatch)
        arguments = recorded["dag"]["default_args"]
        assert arguments["retries"] == default["retries"]
        assert arguments["retry_delay"] == dt.timedelta(minutes=default["retry_delay_minutes"])
        assert arguments["execution_timeout"] == dt.timedelta(
            minutes=default["task_timeout_minutes"]
        )
        assert recorded["dag"]["dagrun_timeout"] == dt.timedelta(
            minutes=default["dagrun_timeout_minutes"]
        )
        for task_id, given in recorded["arguments"].items():
            if "execution_timeout" in given:
                minutes = by_task.get(task_id, default["task_timeout_minutes"])
                assert given["execution_timeout"] == dt.timedelta(minutes=minutes), task_id
        assert {"training"} & set(recorded["arguments"]) <= {
            t for t, a in recorded["arguments"].items() if "execution_timeout" in a
        }


def test_the_daily_dag_branches_on_the_stored_retrain_decision(
    generated_daily_dag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the monitoring, `retrain-decision` (a branch) follows the retrain tasks only when
    the decision stored by that day's monitoring says retrain; they run the retrain pipelines
    with the daily loop's promotion policy, then store the promotion decision."""
    from stock_lstm.cli import daily

    namespace, recorded = _load_dag(generated_daily_dag, monkeypatch)
    assert recorded["branches"] == {"retrain-decision"}
    retrain = [*daily.RETRAIN_PIPELINES, "record-promotion"]
    assert recorded["tasks"][-len(retrain) :] == retrain
    assert {
        ("monitoring-baseline", "ingestion"),
        ("monitoring-baseline", "retrain-decision"),
        ("monitoring", "retrain-decision"),
        ("retrain-decision", retrain[0]),
        *zip(retrain, retrain[1:], strict=False),
    } <= recorded["edges"]

    runs = _what_stage_tasks_run(namespace, recorded, monkeypatch)
    for pipeline in daily.RETRAIN_PIPELINES:
        assert runs[pipeline] == (pipeline, None, {"evaluation": {"promote": "if_better"}})

    monkeypatch.setitem(namespace, "_database_url", lambda: "sqlite:///unused.db")
    monkeypatch.setattr("stock_lstm.data_pipeline.database.get_database", lambda url: url)
    pushed: dict = {}
    recorded["context"]["ti"] = types.SimpleNamespace(
        xcom_push=lambda key, value: pushed.update({key: value})
    )
    decide = recorded["callables"]["retrain-decision"]
    for stored, follow in ((True, [retrain[0]]), (False, [])):
        monkeypatch.setattr(
            daily, "retrain_decision", lambda db, before, r=stored: (True, r, ["a reason"])
        )
        assert decide(7) == follow
        assert pushed["reasons"] == ["a reason"]


def test_the_database_url_comes_from_the_airflow_connection_or_the_environment(
    generated_dag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL in the DAG file: the Airflow connection `stock_lstm_database` (a Postgres
    connection, as the Airflow UI creates it), else the worker's DATABASE_URL, else an error."""
    assert "://" not in generated_dag.read_text()
    namespace, _ = _load_dag(generated_dag, monkeypatch)
    assert namespace["DATABASE_CONN_ID"] == AIRFLOW_CONFIG["default"]["database_conn_id"]

    class NotFound(Exception):
        pass

    connections: dict = {}

    def get_connection(conn_id: str):
        if conn_id not in connections:
            raise NotFound(conn_id)
        return connections[conn_id]

    exceptions = types.ModuleType("airflow.sdk.exceptions")
    exceptions.AirflowNotFoundException = NotFound
    monkeypatch.setitem(sys.modules, "airflow.sdk.exceptions", exceptions)
    sys.modules["airflow.sdk"].BaseHook = types.SimpleNamespace(get_connection=get_connection)

    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="stock_lstm_database.*DATABASE_URL"):
        namespace["_database_url"]()
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/stock.db")
    assert namespace["_database_url"]() == "sqlite:////srv/stock.db"
    connections["stock_lstm_database"] = types.SimpleNamespace(
        conn_type="postgres",
        login="stock",
        password=AWKWARD_PASSWORD,
        host="db.internal",
        port=5433,
        schema="stock_lstm",
        extra_dejson={"sslmode": "require"},
    )
    url = namespace["_database_url"]()
    # the password's "@" and "/" are escaped, so the URL parses back to every part of the connection
    assert url.startswith("postgresql+psycopg://stock:") and "%40" in url and "%2F" in url
    parsed = make_url(url)
    assert (parsed.username, parsed.password) == ("stock", AWKWARD_PASSWORD)
    assert (parsed.host, parsed.port, parsed.database) == ("db.internal", 5433, "stock_lstm")
    assert dict(parsed.query) == {"sslmode": "require"}
