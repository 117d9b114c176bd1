"""Training only when its inputs changed, for every way a run is started.

A training run whose inputs are unchanged (the features data version it reads, its `training`
parameters, the training code: common/fingerprint.py) trains the model a registered version was
already trained from. `already_trained` says so, from the run's own catalog: the `features`
entry gives the version training would read (the pinned one, else the newest), the registry
entry (`model_version_record`) the version trained from that fingerprint.

A Kedro pipeline is a static graph and a hook cannot take nodes out of a run, so the decision
is the runner's: `TrainOnceRunner`, the project's default runner of `kedro run` (stock_lstm/cli),
runs the nodes before training, then training and whatever follows it (evaluation) only when
`already_trained` finds nothing. Otherwise the registry, so the champion, is left as it is.
`python -m stock_lstm.cli.pipeline` (`make pipeline`) asks `already_trained` between its data
and its training session. `training.force: true` (`--params training.force=true`) trains
anyway; `--runner SequentialRunner` runs every node.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from stock_lstm.common.fingerprint import training_fingerprint
from stock_lstm.data_pipeline.datasets import ModelVersionDataset, VersionedTableDataset

logger = logging.getLogger(__name__)

TRAINING_NAMESPACE = "training"  # the training pipeline's nodes (pipelines/training)
FEATURES_DATASET = "features"  # what training reads
REGISTRY_DATASET = "model_version_record"  # where evaluation registers what training trained
TRAINING_PARAMETERS = "params:training"


def already_trained(catalog: Any) -> str | None:
    """ "model X already trained on data version N with these parameters ...", or None when
    no registered version was trained from what training would read now, or `training.force`
    is set, or the catalog has no registry to ask."""
    training = dict(catalog.load(TRAINING_PARAMETERS))
    if bool(training.get("force")):
        return None
    features = catalog.get(FEATURES_DATASET)
    registry = catalog.get(REGISTRY_DATASET)
    if not isinstance(features, VersionedTableDataset) or not isinstance(
        registry, ModelVersionDataset
    ):
        return None
    data_version = features.version_to_load()
    if data_version is None:
        return None
    found = registry.trained_from(training_fingerprint(data_version, training))
    if found is None:
        return None
    return (
        f"model {found} already trained on data version {data_version} with these parameters "
        "(and this code): nothing to train; the registry and its champion are left as they are "
        "(--params training.force=true trains again)"
    )


def training_part(pipeline: Pipeline) -> Pipeline:
    """The nodes of `pipeline` from training on: the training nodes and every node downstream
    of them (evaluation). Empty when the run trains nothing."""
    names = [
        node.name
        for node in pipeline.nodes
        if (node.namespace or "").split(".")[0] == TRAINING_NAMESPACE
    ]
    return pipeline.from_nodes(*names) if names else Pipeline([])


class TrainOnceRunner(SequentialRunner):
    """A `SequentialRunner` that skips training (and evaluation) when `already_trained`.

    ``skipped`` holds the message of the last run that skipped, else None."""

    def __init__(self, is_async: bool = False) -> None:
        super().__init__(is_async=is_async)
        self.skipped: str | None = None

    @property
    def _logger(self) -> logging.Logger:  # Kedro's runner lines, under the name Kedro gives them
        return logging.getLogger(SequentialRunner.__module__)

    def __repr__(self) -> str:
        # What a run's `run_params["runner"]` says; kedro-viz records a run's workflow events
        # only when this names a SequentialRunner object (and warns otherwise).
        return f"<{type(self).__name__}: a kedro.runner.sequential_runner.SequentialRunner object>"

    def _run(self, pipeline: Pipeline, catalog: Any, hook_manager=None, run_id=None) -> None:
        self.skipped = None
        trains = training_part(pipeline)
        if not trains.nodes:
            super()._run(pipeline, catalog, hook_manager, run_id)
            return
        before = pipeline - trains
        if before.nodes:
            super()._run(before, catalog, hook_manager, run_id)
        self.skipped = already_trained(catalog)
        if self.skipped is not None:
            logger.info(self.skipped)
            return
        super()._run(trains, catalog, hook_manager, run_id)
