"""Glue of the evaluation pipeline: what the registry records for a version, and whether it
becomes the champion (the `evaluation.promote` policy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.recurrent.evaluate import model_version_record

PROMOTION_POLICIES = ("always", "never", "if_better")


def promotion_decision(
    policy: str, comparison: Mapping[str, Any], model_version: str
) -> dict[str, Any]:
    """Whether `model_version` becomes the champion, and why (the reason is audited).

    The first version of an empty registry always does, whatever the policy: something must
    be served. `if_better`: its validation MAE must beat the champion's on the same window.
    """
    if policy not in PROMOTION_POLICIES:
        raise InputError(
            f"evaluation.promote is {policy!r}; use one of {', '.join(PROMOTION_POLICIES)}"
        )
    champion = comparison.get("champion_version")
    if champion is None:
        return {"promote": True, "reason": "first version of an empty registry"}
    if champion == model_version:
        return {"promote": False, "reason": "re-evaluated; already the champion"}
    if policy == "always":
        return {"promote": True, "reason": "promote: always (the newest evaluated version wins)"}
    if policy == "never":
        return {"promote": False, "reason": "promote: never (promote it by hand)"}
    scores = comparison["mae"]
    if "champion" not in scores:
        return {
            "promote": True,
            "reason": f"promote: if_better; champion {champion} cannot be scored: "
            f"{comparison.get('champion_problem')}",
        }
    candidate, incumbent = scores["candidate"], scores["champion"]
    window = f"validation {comparison['validation_start']}..{comparison['test_start']}"
    if candidate < incumbent:
        return {
            "promote": True,
            "reason": f"promote: if_better; validation MAE {candidate:.6g} < champion "
            f"{champion}'s {incumbent:.6g} ({window})",
        }
    return {
        "promote": False,
        "reason": f"promote: if_better; validation MAE {candidate:.6g} >= champion "
        f"{champion}'s {incumbent:.6g} ({window})",
    }


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
    ONNX parity and validation comparison in its metrics, and the promotion decision. A version
    whose ONNX export does not compute what the Keras model computes is never a candidate:
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
    metrics = {**fields["metrics"], "onnx_parity": dict(parity), "validation": dict(comparison)}
    return {
        **fields,
        "metrics": metrics,
        "promotion": promotion_decision(policy, comparison, version),
    }
