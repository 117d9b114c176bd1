"""Kedro wiring: one package per stage, found by `find_pipelines`.

Each stage's `Pipeline` puts its nodes in one namespace, the stage's name (node names
`<stage>.<node>`): kedro-viz groups them and `kedro airflow create --group-by namespace` runs a
stage as one task. `prefix_datasets_with_namespace=False` keeps the catalog's dataset and
parameter names as they are."""

from kedro.pipeline import Node, Pipeline


def stage_pipeline(stage: str, nodes: list[Node]) -> Pipeline:
    """The stage's nodes in its namespace, the catalog's names kept as they are."""
    return Pipeline(nodes, namespace=stage, prefix_datasets_with_namespace=False)
