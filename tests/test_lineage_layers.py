"""kedro-viz draws the lineage in layers only when the layers form no cycle: every path from a
dataset on one layer to a dataset on another (through any nodes) goes left to right, in every
registered pipeline and in all of them together (`kedro viz` warns "circular dependency
detected among layers" and draws none otherwise)."""

from __future__ import annotations

from collections import defaultdict
from graphlib import TopologicalSorter

import pytest
from kedro.config import OmegaConfigLoader
from kedro.pipeline import Pipeline

from tests.conftest import PROJECT_ROOT

LAYERS = ("raw", "intermediate", "primary", "feature", "model_input", "models", "reporting")


def _layers() -> dict[str, str]:
    from stock_lstm.settings import CONFIG_LOADER_ARGS

    catalog = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "base"}
    )["catalog"]
    return {
        name: entry["metadata"]["kedro-viz"]["layer"]
        for name, entry in catalog.items()
        if isinstance(entry, dict) and "layer" in (entry.get("metadata") or {}).get("kedro-viz", {})
    }


def layer_order(pipeline: Pipeline, layers: dict[str, str]) -> list[str]:
    """kedro-viz's rule (kedro_viz.services.layers.sort_layers): a layer comes after every
    layer upstream of one of its datasets; graphlib raises CycleError on a cycle."""
    children: dict[str, set[str]] = defaultdict(set)
    for node in pipeline.nodes:
        for name in node.inputs:
            children[name].add(f"node:{node.name}")
        children[f"node:{node.name}"] |= set(node.outputs)
    # kedro-viz also draws each namespace as one node, from its inputs to its outputs
    for namespace in {n.namespace.split(".")[0] for n in pipeline.nodes if n.namespace}:
        part = pipeline.only_nodes_with_namespaces([namespace])
        for name in part.inputs():
            children[name].add(f"namespace:{namespace}")
        children[f"namespace:{namespace}"] |= {o for n in part.nodes for o in n.outputs}
    downstream: dict[str, set[str]] = {}

    def below(name: str) -> set[str]:
        if name not in downstream:
            downstream[name] = set()
            for child in children.get(name, ()):
                downstream[name] |= {layers[child]} if child in layers else set()
                downstream[name] |= below(child)
        return downstream[name]

    after: dict[str, set[str]] = defaultdict(set)
    for name in list(children):
        if name in layers:
            after[layers[name]] |= set()
            for layer in below(name) - {layers[name]}:
                after[layer].add(layers[name])
    return list(TopologicalSorter(after).static_order())


def test_the_layers_form_no_cycle_and_read_left_to_right() -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    layers = _layers()
    everything = sum(pipelines.values(), start=Pipeline([]))
    order = layer_order(everything, layers)
    assert order == list(LAYERS)
    for name, pipeline in pipelines.items():
        assert set(layer_order(pipeline, layers)) <= set(LAYERS), name


@pytest.mark.parametrize(
    ("edges", "cyclic"),
    [({"a": "x", "b": "y"}, False), ({"a": "x", "b": "y", "c": "x"}, True)],
)
def test_the_rule_finds_a_cycle(edges: dict[str, str], cyclic: bool) -> None:
    from graphlib import CycleError

    from kedro.pipeline import node

    def step(value):
        return value

    pipeline = Pipeline([node(step, "a", "b", name="one"), node(step, "b", "c", name="two")])
    if cyclic:
        with pytest.raises(CycleError):
            layer_order(pipeline, edges)
    else:
        assert layer_order(pipeline, edges) == ["x", "y"]
