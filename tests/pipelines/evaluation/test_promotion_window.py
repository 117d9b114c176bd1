"""`evaluation.promote=if_better` compares candidate and champion on a window neither model was
fitted, early-stopped or calibrated on: from the later of the two models' test starts to the
data's end (ml_models/serving/model_comparison.py), not on the candidate's validation window."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stock_lstm.data_pipeline.model_registry import promotion_decision
from stock_lstm.ml_models.common.splits import split_dates
from stock_lstm.ml_models.serving import model_comparison

SPLIT = {"train": 0.70, "validation": 0.15, "test": 0.15}
NEW = "2026-01-02T00.00.00.000Z"
WINDOW, HORIZON = 5, 3


def _features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2010-01-04", periods=400)
    frames = [
        pd.DataFrame(
            {
                "ticker": ticker,
                "date": dates,
                "close": 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, dates.size))),
            }
        )
        for ticker in ("AAA", "BBB")
    ]
    return pd.concat(frames, ignore_index=True)


class _Fake:
    """A forecaster of the comparison's contract that finds each origin by its last close.

    `seen_until`: before this date it forecasts the true future closes (it was fitted or
    stopped there, so it looks perfect); from it on, the true future off by `error`."""

    window, max_horizon = WINDOW, HORIZON

    def __init__(self, features: pd.DataFrame, seen_until: pd.Timestamp, error: float) -> None:
        self.futures: dict[float, tuple[pd.Timestamp, np.ndarray]] = {}
        for _, group in features.groupby("ticker"):
            closes, dates = group["close"].to_numpy(), group["date"].to_numpy()
            for t in range(len(closes) - HORIZON):
                self.futures[closes[t]] = (pd.Timestamp(dates[t]), closes[t + 1 : t + 1 + HORIZON])
        self.seen_until, self.error = seen_until, error
        self.origins: list[pd.Timestamp] = []

    def point_batch(self, closes: np.ndarray) -> np.ndarray:
        rows = []
        for last in closes[:, -1]:
            date, future = self.futures[last]
            self.origins.append(date)
            rows.append(future if date < self.seen_until else future * (1.0 + self.error))
        return np.asarray(rows)


def _compare(
    monkeypatch: pytest.MonkeyPatch, candidate: _Fake, champion: _Fake, champion_split: Any
) -> dict[str, Any]:
    fakes = {b"candidate": candidate, b"champion": champion}
    monkeypatch.setattr(model_comparison, "OnnxForecaster", lambda onnx, *_: fakes[onnx])
    record = {"model_version": "old", "onnx_model": b"champion", "scaler_params": {}}
    if champion_split is not None:
        record["metrics"] = {"split": champion_split}
    return model_comparison.compare_with_champion(b"candidate", {}, record, _features(), SPLIT)


def test_if_better_scores_after_both_models_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A champion trained on the same rows looks perfect on the validation window it was
    stopped on; on the unseen test window the candidate is better and is promoted."""
    features = _features()
    cutoffs = split_dates(features, SPLIT)
    candidate = _Fake(features, cutoffs.validation_start, error=0.01)
    champion = _Fake(features, cutoffs.test_start, error=0.03)  # stopped on validation

    comparison = _compare(monkeypatch, candidate, champion, cutoffs.as_dict())

    assert min(candidate.origins) >= cutoffs.test_start
    assert min(champion.origins) >= cutoffs.test_start
    assert comparison["window_start"] == f"{cutoffs.test_start:%Y-%m-%d}"
    assert comparison["mae"]["candidate"] < comparison["mae"]["champion"]
    decision = promotion_decision("if_better", comparison, NEW)
    assert decision["promote"] is True
    assert f"unseen window {cutoffs.test_start:%Y-%m-%d}.." in decision["reason"]


def test_a_champion_trained_later_is_scored_after_its_own_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    features = _features()
    cutoffs = split_dates(features, SPLIT)
    later = pd.Timestamp(features["date"].sort_values().iloc[-60])
    candidate = _Fake(features, cutoffs.validation_start, error=0.01)
    champion = _Fake(features, later, error=0.0)
    champion_split = {**cutoffs.as_dict(), "test_start": f"{later:%Y-%m-%d}"}

    comparison = _compare(monkeypatch, candidate, champion, champion_split)

    assert comparison["window_start"] == f"{later:%Y-%m-%d}"
    assert min(candidate.origins) >= later and min(champion.origins) >= later
    assert promotion_decision("if_better", comparison, NEW)["promote"] is False


@pytest.mark.parametrize("rows_left", [2, None])
def test_no_unseen_window_keeps_the_champion(
    monkeypatch: pytest.MonkeyPatch, rows_left: int | None
) -> None:
    """No origin after both models' validation (or the champion's split unknown): the
    candidate cannot be shown better, so the champion stays, saying why."""
    features = _features()
    cutoffs = split_dates(features, SPLIT)
    candidate = _Fake(features, cutoffs.validation_start, error=0.0)
    champion = _Fake(features, cutoffs.test_start, error=0.5)
    split = None
    if rows_left is not None:
        late = pd.Timestamp(features["date"].sort_values().iloc[-rows_left])
        split = {**cutoffs.as_dict(), "test_start": f"{late:%Y-%m-%d}"}

    comparison = _compare(monkeypatch, candidate, champion, split)

    assert "champion" not in comparison["mae"]
    decision = promotion_decision("if_better", comparison, NEW)
    assert decision["promote"] is False
    assert decision["reason"].startswith("promote: if_better; no window neither model saw")
