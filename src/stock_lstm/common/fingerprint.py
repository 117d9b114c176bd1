"""The fingerprint of a training run's inputs: the features data version it reads, its
training parameters and the code that trains. Two runs with the same fingerprint train the same
model, so the second one trains nothing (`python -m stock_lstm.cli.pipeline`, `make pipeline`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import stock_lstm

# Parameters that say how to run, not what to train: not part of the fingerprint.
RUN_ONLY_PARAMETERS = ("force",)
# The code a trained model depends on (ml_models: windows, networks, fitting, calibration,
# export; the training and evaluation pipelines' wiring), relative to the package.
TRAINING_CODE = ("ml_models", "pipelines/training", "pipelines/evaluation")


@cache
def training_code_hash() -> str:
    """sha256 of the package version and every source file of TRAINING_CODE (path and bytes):
    an edit to the code that trains is a new input."""
    package = Path(stock_lstm.__file__).resolve().parent
    digest = hashlib.sha256(f"stock-lstm {stock_lstm.__version__}\n".encode())
    for folder in TRAINING_CODE:
        for path in sorted((package / folder).rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\n")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def training_fingerprint(
    data_version_id: int | None, training_parameters: Mapping[str, Any]
) -> str:
    """sha256 of the features data version, the training parameters (without
    RUN_ONLY_PARAMETERS, in canonical JSON) and `training_code_hash()`."""
    parameters = {k: v for k, v in training_parameters.items() if k not in RUN_ONLY_PARAMETERS}
    canonical = json.dumps(
        {"data_version": data_version_id, "training": parameters, "code": training_code_hash()},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
