"""The monitoring node does nothing costly when there is nothing new to judge."""

from __future__ import annotations

import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.pipelines.monitoring import nodes
from stock_lstm.pipelines.monitoring.nodes import monitor_champion

FEATURES = pd.DataFrame(
    {"ticker": ["AAA"], "date": [pd.Timestamp("2024-01-02")], "close": [1.0], "log_return": [0.0]}
)
FEATURES.attrs["version_id"] = 7
EMPTY = pd.DataFrame()


def _unbuildable_champion(version: str) -> dict:
    # No ONNX bytes: building the forecaster would fail, so a skip proves nothing was built.
    return {"model_version": version, "onnx_model": b"", "scaler_params": {}}


def test_no_champion_is_skipped_with_what_to_run() -> None:
    result = monitor_champion(None, FEATURES, EMPTY, EMPTY, None, {})
    assert result == {"skipped": "no champion in the registry yet: run `make pipeline`"}


def test_an_already_monitored_features_version_is_skipped() -> None:
    last = {"data_version_id": 7, "model_version": "v1"}
    result = monitor_champion(_unbuildable_champion("v1"), FEATURES, EMPTY, EMPTY, last, {})
    assert result == {
        "skipped": "features version 7 was already monitored for champion v1 (no new bar)"
    }


@pytest.mark.parametrize(
    "last",
    [{"data_version_id": 6, "model_version": "v1"}, {"data_version_id": 7, "model_version": "v0"}],
)
def test_a_new_bar_or_a_new_champion_is_monitored(last: dict, monkeypatch) -> None:
    # Not skipped: the node goes on to build the champion's forecaster from its record (a
    # stand-in records the call and stops the run there; a full run is in
    # test_champion_record.py).
    built: list[dict] = []

    class Built(Exception):
        pass

    def build(record: dict) -> None:
        built.append(record)
        raise Built

    monkeypatch.setattr(nodes, "champion_from_record", build)
    champion = _unbuildable_champion("v1")
    with pytest.raises(Built):
        monitor_champion(champion, FEATURES, EMPTY, EMPTY, last, {})
    assert built == [champion]


def test_a_champion_that_fails_its_checks_stops_the_run_naming_the_problem() -> None:
    champion = {"model_version": "v1", "problem": "onnx_model of model version v1 is missing"}
    with pytest.raises(InputError, match="champion v1 cannot be monitored: onnx_model of"):
        monitor_champion(champion, FEATURES, EMPTY, EMPTY, None, {})
