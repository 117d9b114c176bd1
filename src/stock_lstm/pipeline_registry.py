"""Project pipelines: one package per stage under pipelines/, found by `find_pipelines`."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

PIPELINE_ORDER = ("ingestion", "cleaning", "feature_engineering", "training", "evaluation")


def register_pipelines() -> dict[str, Pipeline]:
    """Every stage by name, and `__default__` running them all in data-flow order."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in PIPELINE_ORDER if name in pipelines), Pipeline([])
    )
    return pipelines
