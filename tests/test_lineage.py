"""kedro-viz lineage: every catalog entry has a layer, and `kedro viz build` (the CLI, offline, in the tests' process)
writes a graph with every pipeline (backtest, tuning, interval_scope, monitoring and daily too),
the SQL tables and the model artifacts on their layers."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import multiprocessing
from pathlib import Path

import pytest
import yaml

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import dispose_engines
from stock_lstm.pipeline_registry import PIPELINE_ORDER
from tests.conftest import PROJECT_ROOT, TrainedProject, copy_trained_project, kedro_env

# Left to right in the graph.
LAYERS = ("raw", "intermediate", "primary", "feature", "model_input", "models", "reporting")
TABLES = {"raw_prices": "raw", "clean_prices": "clean", "features": "features"}


def catalog_entries() -> dict[str, dict]:
    """conf/base/catalog*.yml, without the `_name` template values."""
    entries: dict[str, dict] = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("catalog*.yml")):
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if not name.startswith("_"):
                entries[name] = entry
    return entries


def test_every_catalog_entry_has_a_kedro_viz_layer() -> None:
    entries = catalog_entries()
    assert set(TABLES) <= set(entries)
    missing = {
        name: (entry.get("metadata") or {}).get("kedro-viz", {}).get("layer")
        for name, entry in entries.items()
        if (entry.get("metadata") or {}).get("kedro-viz", {}).get("layer") not in LAYERS
    }
    assert not missing, f"catalog entries without a kedro-viz layer in {LAYERS}: {missing}"


# What the previews need of backtest's, tuning's and interval_scope's outputs is that they
# exist: the fewest fits that write them (the tiny backtest of every model is
# tests/pipelines/backtest/test_pipeline.py's, the tuner's tests/pipelines/tuning's).
PREVIEWED_RUNS = {
    "backtest": {"models": ["naive", "drift"], "seeds": [7]},
    "tuning": {"n_trials": 1, "folds": 1},
}


def _kedro_viz_build(project: TrainedProject) -> str:
    """`kedro viz build --include-previews` in the project copy, through the `kedro` command line
    (kedro.framework.cli.KedroCLI, what `python -m kedro` runs) in this process, with the
    environment a `kedro` subprocess there gets (tests.conftest.kedro_env): no second interpreter
    importing Kedro and the project again. kedro-viz builds in a process it forks: what it logs
    there (kedro_viz's loggers: a dataset that could not be previewed, layers on a cycle) is
    read from a file its handler writes; the command's own lines from this process's stdout."""
    from kedro.framework.cli.cli import KedroCLI

    log = project.root.parent / "kedro-viz.log"
    handler = logging.FileHandler(log)
    viz_logger = logging.getLogger("kedro_viz")  # Kedro's logging setup leaves its handlers be
    viz_logger.addHandler(handler)
    console = io.StringIO()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in kedro_env(project.root, project.database_url).items():
                patch.setenv(name, value)
            patch.chdir(project.root)
            with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
                KedroCLI(project_path=project.root).main(
                    ["viz", "build", "--include-previews"],
                    prog_name="kedro",
                    standalone_mode=False,  # an error is raised here, not an exit status
                )
    finally:
        viz_logger.removeHandler(handler)
        handler.close()
        multiprocessing.active_children()  # the build's process, ended: reaped
    return console.getvalue() + log.read_text()


@pytest.fixture(scope="module")
def viz_api(trained_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro viz build --include-previews` in a copy of the trained project: its build/api."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project = copy_trained_project(trained_project, tmp_path_factory.mktemp("viz") / "project")
    # backtest's, tuning's and interval_scope's outputs exist only after `make backtest` /
    # `make tune` / `make interval-scope`: make them (tiny, conf/test) so they are previewed too
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kedro_env(project.root, project.database_url).items():
            patch.setenv(name, value)
        patch.chdir(project.root)
        bootstrap_project(project.root)
        with KedroSession.create(
            project_path=project.root, env="test", runtime_params=PREVIEWED_RUNS
        ) as session:
            session.run(pipeline_names=["backtest", "tuning", "interval_scope"])
        dispose_engines()
    output = _kedro_viz_build(project)
    bootstrap_project(PROJECT_ROOT)
    assert "Success" in output, output
    assert "could not be previewed" not in output, output
    assert "circular dependency detected among layers" not in output, output
    return project.root / "build" / "api"


@pytest.fixture(scope="module")
def graph(viz_api: Path) -> dict:
    return json.loads((viz_api / "main").read_text())


def data_nodes(graph: dict) -> dict[str, dict]:
    return {node["name"]: node for node in graph["nodes"] if node["type"] == "data"}


def node_details(viz_api: Path, node: dict) -> dict:
    return json.loads((viz_api / "nodes" / node["id"]).read_text())


# Registered, but not part of `kedro run` (__default__).
OFF_DEFAULT = ("backtest", "tuning", "interval_scope", "monitoring", "daily")


def test_the_build_lists_every_pipeline(viz_api: Path, graph: dict) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    assert {p["id"] for p in graph["pipelines"]} == {"__default__", *PIPELINE_ORDER, *OFF_DEFAULT}
    for name in (*PIPELINE_ORDER, *OFF_DEFAULT):
        built = json.loads((viz_api / "pipelines" / name).read_text())
        # kedro-viz names a task without its namespace and files it under that namespace
        tasks = {
            ".".join([*(node["modular_pipelines"] or []), node["name"]])
            for node in built["nodes"]
            if node["type"] == "task"
        }
        assert tasks == {node.name for node in pipelines[name].nodes}, name


@pytest.fixture(scope="module")
def off_default_nodes(viz_api: Path) -> dict[str, dict]:
    """The data nodes of the pipelines outside __default__ (the main graph)."""
    nodes: dict[str, dict] = {}
    for name in OFF_DEFAULT:
        nodes |= data_nodes(json.loads((viz_api / "pipelines" / name).read_text()))
    return nodes


def test_every_dataset_sits_on_its_catalog_layer_left_to_right(
    graph: dict, off_default_nodes: dict[str, dict]
) -> None:
    nodes = {**off_default_nodes, **data_nodes(graph)}
    expected = {
        name: entry["metadata"]["kedro-viz"]["layer"] for name, entry in catalog_entries().items()
    }
    assert set(expected) <= set(nodes), f"not in the graph: {set(expected) - set(nodes)}"
    assert {name: nodes[name]["layer"] for name in expected} == expected
    # The SQL tables and the model artifacts, where a reader looks for them.
    assert {name: nodes[name]["layer"] for name in (*TABLES, "lstm_model", "scaler")} == {
        "raw_prices": "raw",
        "clean_prices": "primary",
        "features": "feature",
        "lstm_model": "models",
        "scaler": "model_input",
    }
    for name in TABLES:
        assert nodes[name]["dataset_type"].endswith("VersionedTableDataset")
    assert nodes["lstm_model"]["dataset_type"].endswith("TensorFlowModelDataset")
    assert list(graph["layers"]) == list(LAYERS)  # drawn in layers (none on a cycle)


def test_the_sql_tables_preview_as_tables(viz_api: Path, graph: dict) -> None:
    nodes = data_nodes(graph)
    for name, stage in TABLES.items():
        details = node_details(viz_api, nodes[name])
        assert details["preview_type"] == "TablePreview", name
        preview = details["preview"]
        assert preview["columns"] == crud.stage_columns(stage), name
        assert len(preview["data"]) == 10, name  # preview_args.nrows in catalog.yml


def test_the_backtest_overview_and_model_record_preview(viz_api: Path, graph: dict) -> None:
    nodes = data_nodes(graph)
    image = node_details(viz_api, nodes["backtest_overview"])
    assert image["preview_type"] == "ImagePreview"
    assert base64.b64decode(image["preview"]).startswith(b"\x89PNG")
    record = node_details(viz_api, nodes["model_version_record"])
    assert record["preview_type"] == "JSONPreview"
    assert {"model_version", "metrics"} <= set(json.loads(record["preview"]))


def test_the_backtest_and_tuning_reports_preview(
    viz_api: Path, off_default_nodes: dict[str, dict]
) -> None:
    nodes = off_default_nodes
    table = node_details(viz_api, nodes["backtest_leaderboard"])
    assert table["preview_type"] == "TablePreview"
    assert {"ticker", "step", "rank", "model", "mae_ratio_mean"} <= set(table["preview"]["columns"])
    image = node_details(viz_api, nodes["backtest_fold_ratios"])
    assert image["preview_type"] == "ImagePreview"
    assert base64.b64decode(image["preview"]).startswith(b"\x89PNG")
    report = node_details(viz_api, nodes["backtest_report"])
    assert report["preview_type"] == "JSONPreview"
    assert {"folds", "models", "leaderboard"} <= set(json.loads(report["preview"]))
    tuning = node_details(viz_api, nodes["tuning_report"])
    assert tuning["preview_type"] == "JSONPreview"
    assert {"best", "default"} <= set(json.loads(tuning["preview"]))
    scopes = node_details(viz_api, nodes["interval_scope_report"])
    assert scopes["preview_type"] == "JSONPreview"
    assert {"scopes", "chosen"} <= set(json.loads(scopes["preview"]))
