"""Glue of the evaluation pipeline: what the registry records for a version, and whether it
becomes the champion (the `evaluation.promote` policy, data_pipeline/model_registry.py's
`promotion_decision`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_lstm.common.errors import InputError
from stock_lstm.common.fingerprint import training_fingerprint
from stock_lstm.data_pipeline.model_registry import promotion_decision
from stock_lstm.ml_models.recurrent.evaluate import model_version_record


def registry_entry(
    report: Mapping[str, Any],
    calibration: Mapping[str, Any],
    training_history: Mapping[str, Any],
    parameters: Mapping[str, Any],
    parity: Mapping[str, Any],
    comparison: Mapping[str, Any],
    policy: str,
) -> dict[str, Any]:
    """The model_versions record: the evaluation's fields (evaluate.model_version_record), the
    fingerprint of the training's inputs (common/fingerprint.py), the ONNX parity and the
    comparison with the champion on a window neither saw (`comparison`) in its metrics, and
    the promotion decision. A version whose ONNX export does not compute what the Keras model computes is never a candidate:
    the run stops here."""
    fields = model_version_record(report, calibration, training_history, parameters)
    version = str(fields["model_version"])
    if not parity["passed"]:
        raise InputError(
            f"the ONNX export of model version {version} differs from the Keras model by "
            f"{parity['max_abs_diff']:.3g} on the test windows (tolerance "
            f"{parity['tolerance']:.3g}, evaluation.onnx_parity.max_abs_diff): it is not "
            "registered; see data/08_reporting/onnx_parity.json"
        )
    metrics = {**fields["metrics"], "onnx_parity": dict(parity), "comparison": dict(comparison)}
    return {
        **fields,
        "training_fingerprint": training_fingerprint(calibration.get("data_version"), parameters),
        "metrics": metrics,
        "promotion": promotion_decision(policy, comparison, version),
    }
