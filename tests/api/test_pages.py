"""The pages and their assets are served by the app itself: nothing is loaded from a CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from tests.api.conftest import settings_for
from tests.conftest import make_project_copy
from tests.helpers.reports import backtest_report

EXTERNAL_URL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_load_nothing_from_another_host(untrained_client, path) -> None:
    response = untrained_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not EXTERNAL_URL.search(response.text), response.text
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", response.text):
        assert untrained_client.get(asset).status_code == 200, asset


def test_plotly_is_the_installed_packages_file(untrained_client) -> None:
    from importlib.resources import files

    response = untrained_client.get("/static/plotly/plotly.min.js")
    assert response.status_code == 200
    shipped = (files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    assert response.content == shipped


def test_docs_and_dashboard_are_not_api_operations(untrained_client) -> None:
    paths = untrained_client.get("/openapi.json").json()["paths"]
    assert "/api/v1/backtest" in paths
    assert not {"/", "/docs", "/redoc"} & set(paths)


def test_metrics_report_this_process_memory_and_not_the_page_assets(untrained_client) -> None:
    assert untrained_client.get("/static/dashboard/dashboard.js").status_code == 200
    assert untrained_client.get("/api/v1/tickers").status_code == 200
    text = untrained_client.get("/metrics").text
    assert 'handler="/api/v1/tickers"' in text
    assert 'handler="/static' not in text
    resident = re.search(r"^process_resident_memory_bytes (\S+)$", text, re.MULTILINE)
    assert resident and float(resident.group(1)) > 10 * 2**20


def test_backtest_before_any_backtest_is_a_normal_state(untrained_client) -> None:
    response = untrained_client.get("/api/v1/backtest")
    assert response.status_code == 200
    assert response.json() == {
        "available": False,
        "message": "no backtest yet: run `make backtest`",
        "folds": [],
        "leaderboard": {},
        "universe": [],
        "models": {},
        "significance": {},
        "significance_level": None,
    }


def test_backtest_serves_the_reports_leaderboard(untrained_client) -> None:
    report = backtest_report(["MSFT", "GOOG"])
    path = untrained_client.app.state.backtest_report.path
    path.write_text(json.dumps(report))
    body = untrained_client.get("/api/v1/backtest").json()
    assert body["available"] is True and body["message"] is None
    assert body["folds"] == report["folds"]
    assert body["leaderboard"] == report["leaderboard"]


def test_backtest_serves_what_the_significance_tests_claim(untrained_client) -> None:
    report = backtest_report(["MSFT", "GOOG"])
    cell = {
        "dm": {"statistic": -3.1, "p_value": 0.002, "p_holm": 0.004, "lags": 4},
        "positive_share": 0.97,
        "base_rate": 0.53,
        "direction": {"hit_rate": 0.53, "pt_statistic": None, "pt_p_value": None},
        "mae_ratio_pooled": 0.991,
        "mae": {"mean": 1.2, "std": 0.1, "folds": [1.1, 1.3]},  # per-fold figures: not served
    }
    report["universe"] = ["GOOG", "MSFT"]
    report["models"]["lstm"] = {
        "seeds": [42, 43, 44],
        "tickers": {"MSFT": {"h1": cell, "coverage_by_step": [0.9, 0.88]}},
        "summary": {
            "h1": {"avg_rel_mae": 0.995, "significant_wins": ["MSFT"], "significant_losses": []}
        },
        "seed_spread": {"MSFT": {"h1": {"mae_ratio_by_seed": [0.99, 1.0], "range": 0.01}}},
    }
    report["significance"] = {
        "level": 0.05,
        "mcs_size": 0.1,
        "h1": {"spa_p_value": 0.03, "mcs": ["lstm", "naive"], "dates": 500},
    }
    path = untrained_client.app.state.backtest_report.path
    path.write_text(json.dumps(report))
    body = untrained_client.get("/api/v1/backtest").json()
    assert body["universe"] == ["GOOG", "MSFT"]
    lstm = body["models"]["lstm"]
    assert lstm["seeds"] == [42, 43, 44]
    assert lstm["summary"]["h1"]["significant_wins"] == ["MSFT"]
    assert lstm["summary"]["h1"]["avg_rel_mae"] == 0.995
    assert lstm["seed_spread"]["MSFT"]["h1"]["range"] == 0.01
    served = lstm["tickers"]["MSFT"]
    assert served["coverage_by_step"] == [0.9, 0.88]
    assert served["h1"]["dm"] == cell["dm"]
    assert served["h1"]["positive_share"] == 0.97 and served["h1"]["base_rate"] == 0.53
    assert "mae" not in served["h1"]
    assert body["significance"] == {
        "h1": {"spa_p_value": 0.03, "mcs": ["lstm", "naive"], "dates": 500}
    }
    assert body["significance_level"] == 0.05


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"leaderboard": {"MSFT": 3}}'])
def test_an_unreadable_backtest_report_is_a_503_naming_it(untrained_client, content) -> None:
    path = untrained_client.app.state.backtest_report.path
    path.write_text(content)
    response = untrained_client.get("/api/v1/backtest")
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "backtest report data/08_reporting/backtest.json is unreadable"
    )


def test_the_backtest_report_is_read_where_its_catalog_entry_says(
    tmp_path: Path, sqlite_url: str
) -> None:
    """An environment that moves `backtest_report` moves what GET /api/v1/backtest reads."""
    root = make_project_copy(tmp_path / "moved")
    (root / "conf" / "test" / "catalog_backtest.yml").write_text(
        "backtest_report:\n"
        "  type: json.JSONDataset\n"
        "  filepath: data/08_reporting/elsewhere/backtest.json\n"
    )
    moved = root / "data" / "08_reporting" / "elsewhere" / "backtest.json"
    moved.parent.mkdir(parents=True)
    report = backtest_report(["MSFT"])
    moved.write_text(json.dumps(report))
    (root / "data" / "08_reporting" / "backtest.json").write_text("{not json")
    with TestClient(create_app(settings_for(root, sqlite_url))) as client:
        body = client.get("/api/v1/backtest").json()
    assert body["available"] is True
    assert body["leaderboard"] == report["leaderboard"]
