"""The backtest pipeline end to end on the test environment: a tiny 2-fold walk-forward of every
model writes the report, its versioned copy, the leaderboard table and the per-fold plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import PROJECT_ROOT

MODELS = {"lstm", "gru", "naive", "drift", "median_drift", "garch", "ets", "lightgbm"}


def test_backtest_is_registered_but_not_in_the_default_run() -> None:
    bootstrap_project(PROJECT_ROOT)
    from kedro.framework.project import pipelines

    assert "backtest" in pipelines
    default_nodes = {n.name for n in pipelines["__default__"].nodes}
    assert not default_nodes & {n.name for n in pipelines["backtest"].nodes}


# The networks are refitted every 2 folds here (fitted on fold 1, forecasting both folds):
# every output is still written from both folds of every model, and each network's seeds are
# fitted once instead of twice (the refit schedule itself: tests/ml_models).
NETWORKS_REFIT_ONCE = {"backtest": {"refit_every": {"lstm": 2, "gru": 2}}}


def test_tiny_backtest_writes_every_output(project_copy: Path) -> None:
    bootstrap_project(project_copy)
    with KedroSession.create(
        project_path=project_copy, env="test", runtime_params=NETWORKS_REFIT_ONCE
    ) as session:
        session.run(pipeline_names=["ingestion", "cleaning", "feature_engineering", "backtest"])

    reporting = project_copy / "data" / "08_reporting"
    report = json.loads((reporting / "backtest.json").read_text())
    assert len(report["folds"]) == 2
    first, second = report["folds"]
    assert first["test_start"] <= first["test_end"] < second["test_start"] <= second["test_end"]
    assert first["origin"] < first["test_start"] and second["test_end"] == "2013-03-01"
    assert set(report["models"]) == MODELS and report["served_model_type"] == "lstm"
    tickers = {"^GSPC", "GOOG", "MSFT"}
    assert report["universe"] == sorted(tickers) and report["universe_name"] == "snapshot"
    for network in ("lstm", "gru"):  # one fit per seed; the extra seeds only as the spread
        assert report["models"][network]["seeds"] == [7, 8]
        spread = report["models"][network]["seed_spread"]["GOOG"]["h1"]
        assert len(spread["mae_ratio_by_seed"]) == 2
        assert (
            spread["mae_ratio_by_seed"][0]
            == (report["models"][network]["tickers"]["GOOG"]["h1"]["mae_ratio"]["mean"])
        )
    assert not any("@" in name for name in report["models"])
    for name in MODELS:
        assert len(report["models"][name]["tickers"]["GOOG"]["coverage_by_step"]) == 5
    for name, model in report["models"].items():
        assert set(model["tickers"]) == tickers
        for ticker in tickers:
            for k in (1, 5):
                entry = model["tickers"][ticker][f"h{k}"]
                assert len(entry["mae_ratio"]["folds"]) == 2
                ratios = entry["mae_ratio"]["folds"]
                assert entry["mae_ratio"]["mean"] == pytest.approx(np.mean(ratios))
                assert entry["mae_ratio"]["std"] == pytest.approx(np.std(ratios, ddof=1))
                interval = entry["interval"]
                for covered, winkler, width in zip(
                    interval["coverage"]["folds"],
                    interval["winkler"]["folds"],
                    interval["mean_width"]["folds"],
                    strict=True,
                ):  # the Winkler score adds a penalty exactly when an actual falls outside
                    assert (winkler > width) == (covered < 1)
                for metric in ("mae", "rmse", "mape", "directional_accuracy"):
                    assert entry[metric]["mean"] == pytest.approx(np.mean(entry[metric]["folds"]))
                if name == "naive":
                    assert entry["mae_ratio"]["folds"] == [1.0, 1.0]
    # what the report may claim: DM against naive (Holm across tickers), SPA, MCS
    for name, model in report["models"].items():
        for k in (1, 5):
            summary = model["summary"][f"h{k}"]
            claimed = summary["significant_wins"] + summary["significant_losses"]
            assert set(claimed) <= tickers
            for ticker in claimed:
                assert model["tickers"][ticker][f"h{k}"]["dm"]["p_holm"] < 0.05
            if name == "naive":
                assert summary["avg_rel_mae"] == 1.0 and claimed == []
            for ticker in tickers:
                cell = model["tickers"][ticker][f"h{k}"]
                assert {"statistic", "p_value", "p_holm"} <= set(cell["dm"])
                assert "positive_share" in cell and "base_rate" in cell
                if name == "naive":  # no change forecast is ever "up"
                    assert cell["positive_share"] == 0.0
    for k in (1, 5):
        step = report["significance"][f"h{k}"]
        assert step["mcs"] and set(step["mcs"]) <= MODELS
        assert 0 <= step["spa_p_value"] <= 1
    for ticker in tickers:
        ranked = report["leaderboard"][ticker]["h1"]
        assert [r["rank"] for r in ranked] == list(range(1, len(MODELS) + 1))
        assert {r["model"] for r in ranked} == MODELS
        means = [r["mae_ratio"]["mean"] for r in ranked]
        assert means == sorted(means)

    versions = list((reporting / "backtest_versions" / "backtest.json").iterdir())
    assert len(versions) == 1
    assert json.loads((versions[0] / "backtest.json").read_text()) == report
    table = pd.read_csv(reporting / "backtest_leaderboard.csv")
    assert len(table) == 3 * 2 * len(MODELS) and set(table["model"]) == MODELS
    assert (reporting / "backtest_fold_ratios.png").stat().st_size > 0
    headline = (reporting / "headline.md").read_text()
    assert headline.startswith("# Backtest headline") and "## Step 5" in headline
