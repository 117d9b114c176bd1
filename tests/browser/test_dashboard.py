"""The dashboard in Debian's Chromium against the app served by uvicorn with the fixed project's
model (tests/helpers/fixed_project.py); the realized-accuracy test runs the monitoring pipeline
on a fixed project of its own.

Every test that expects a clean page asserts that the browser reported no console error, no
failed request and no response >= 400.
"""

from __future__ import annotations

import os
from datetime import date
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stock_lstm.api import app as app_module
from stock_lstm.api.app import create_app
from stock_lstm.api.v1.services.health import DatabaseCheck
from tests.api.conftest import settings_for
from tests.browser.conftest import (
    NARROW,
    WIDE,
    Browsing,
    Served,
    Switchboard,
    answer_fetch,
    open_page,
    save_screenshot,
)
from tests.conftest import PROJECT_ROOT, copy_trained_project
from tests.helpers.fixed_project import build_fixed_project
from tests.helpers.outage import TcpProxy, seed, through, wait_for
from tests.helpers.reports import backtest_report

TIMEOUT_MS = 60_000


def traces(page, chart: str = "chart") -> dict[str, dict]:
    """The chart's Plotly traces by name: {name: {"x": [...], "y": [...]}}."""
    return page.evaluate(
        """(id) => Object.fromEntries(document.getElementById(id).data.map(
               t => [t.name, {x: Array.from(t.x), y: Array.from(t.y)}]))""",
        chart,
    )


def wait_for_chart(page, ticker: str, horizon: int) -> dict[str, dict]:
    page.wait_for_selector(
        f'#chart[data-state="forecast"][data-ticker="{ticker}"][data-horizon="{horizon}"]',
        state="attached",
        timeout=TIMEOUT_MS,
    )
    return traces(page)


def stored(served: Served) -> dict[str, dict]:
    body = httpx.get(f"{served.url}/api/v1/tickers").json()
    return {t["ticker"]: t for t in body["tickers"]}


def assert_forecast_drawn(found: dict[str, dict], ticker_info: dict, horizon: int) -> None:
    history, forecast = found["history"], found["forecast"]
    upper, lower = found["90% band (upper)"], found["90% band"]
    assert len(history["x"]) == ticker_info["rows"]
    assert history["x"][-1] == ticker_info["last_date"]
    # The forecast and its band start at the last close, then one point per business day.
    assert len(forecast["x"]) == len(upper["x"]) == len(lower["x"]) == horizon + 1
    assert forecast["x"][0] == history["x"][-1] and forecast["y"][0] == history["y"][-1]
    days = [date.fromisoformat(d) for d in forecast["x"][1:]]
    assert days == sorted(days) and all(d.weekday() < 5 for d in days)
    assert days[0] > date.fromisoformat(ticker_info["last_date"])
    for low, mid, high in zip(lower["y"][1:], forecast["y"][1:], upper["y"][1:], strict=True):
        assert low <= mid <= high


def test_the_page_loads_clean_with_history_forecast_band_and_panels(
    served_app: Served, browsing: Browsing
) -> None:
    served_app.remove_backtest()
    page = browsing.page
    page.goto(served_app.url + "/")
    tickers = stored(served_app)
    found = wait_for_chart(page, "MSFT", 5)
    assert_forecast_drawn(found, tickers["MSFT"], 5)
    # Every stored ticker is offered.
    options = page.eval_on_selector_all("#ticker option", "os => os.map(o => o.value)")
    assert sorted(options) == sorted(tickers)
    # Model card: the served version and the test metrics next to the naive forecast's.
    model = httpx.get(f"{served_app.url}/api/v1/model").json()
    page.wait_for_selector("#model-metrics:not([hidden])", timeout=TIMEOUT_MS)
    assert model["model_version"] in page.inner_text("#model-facts")
    metrics_rows = page.inner_text("#model-metrics tbody")
    msft_h5 = model["metrics"]["tickers"]["MSFT"]["h5"]
    assert f"{msft_h5['lstm']['mae']:.2f}" in metrics_rows
    assert f"{msft_h5['naive']['mae']:.2f}" in metrics_rows
    # Accuracy: no backtest yet is a normal state that says what to run.
    page.wait_for_function(
        "document.getElementById('backtest-message').textContent.includes('make backtest')"
    )
    assert page.inner_text("#backtest-message") == "no backtest yet: run make backtest"
    # Service health from the app's own metrics, with the link to /metrics.
    page.wait_for_selector('#health-facts[data-state="ready"]', timeout=TIMEOUT_MS)
    health = page.inner_text("#health-facts")
    assert "latency p50 / p99" in health and " ms" in health and "MiB" in health
    assert model["model_version"] in health
    assert page.locator('a[href="/metrics"]').count() >= 1
    assert page.inner_text("#service-status") == "service ok"
    assert browsing.log.problems() == []


def test_the_chart_follows_the_ticker_and_the_horizon(
    served_app: Served, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(served_app.url + "/")
    tickers = stored(served_app)
    wait_for_chart(page, "MSFT", 5)
    page.select_option("#ticker", "GOOG")
    assert_forecast_drawn(wait_for_chart(page, "GOOG", 5), tickers["GOOG"], 5)
    page.locator("#horizon").fill("3")
    found = wait_for_chart(page, "GOOG", 3)
    assert_forecast_drawn(found, tickers["GOOG"], 3)
    # The drawn forecast is the API's forecast for that ticker and horizon.
    api = httpx.post(
        f"{served_app.url}/api/v1/predict", json={"ticker": "GOOG", "horizon": 3}
    ).json()
    assert found["forecast"]["y"][1:] == pytest.approx([s["close"] for s in api["predictions"]])
    assert found["90% band"]["y"][1:] == pytest.approx([s["lower"] for s in api["predictions"]])

    # The y axis fits the dates in view: the last 6 months and the forecast, then everything.
    def y_range() -> list[float]:
        return page.evaluate("document.getElementById('chart').layout.yaxis.range")

    history = found["history"]["y"]
    low, high = y_range()
    assert low > min(history) or high < max(history)
    page.click(".rangeselector .button >> text=all")
    page.wait_for_function(
        f"document.getElementById('chart').layout.yaxis.range[0] <= {min(history)}"
    )
    low, high = y_range()
    assert low <= min(history) and high >= max(found["90% band (upper)"]["y"])
    # The choice is in the address, so the view can be shared or reloaded.
    assert page.url.endswith("?ticker=GOOG&horizon=3")
    page.reload()
    wait_for_chart(page, "GOOG", 3)
    assert browsing.log.problems() == []


def test_forecast_my_own_prices_draws_it_and_shows_the_apis_422_message(
    served_app: Served, browsing: Browsing, tmp_path: Path
) -> None:
    page = browsing.page
    page.goto(served_app.url + "/")
    wait_for_chart(page, "MSFT", 5)
    closes = [round(100 + 0.3 * i + (1.5 if i % 5 == 0 else 0), 2) for i in range(80)]
    page.fill("#own-prices", ", ".join(map(str, closes)))
    page.fill("#own-horizon", "3")
    page.click("#own-submit")
    page.wait_for_selector('#own-chart[data-state="forecast"][data-horizon="3"]', state="attached")
    own = traces(page, "own-chart")
    assert own["your closes"]["y"] == closes
    api = httpx.post(f"{served_app.url}/api/v1/predict", json={"prices": closes, "horizon": 3})
    assert own["forecast"]["y"] == pytest.approx(
        [closes[-1]] + [s["close"] for s in api.json()["predictions"]]
    )
    assert page.is_hidden("#own-error")

    # A CSV file with a header: the close column is used.
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "Date,Open,Close\n"
        + "".join(f"2024-01-{i % 28 + 1:02d},1,{c}\n" for i, c in enumerate(closes))
    )
    page.set_input_files("#own-file", str(csv))
    page.wait_for_function("document.getElementById('own-prices').value.startsWith('Date')")
    page.fill("#own-horizon", "2")
    page.click("#own-submit")
    page.wait_for_selector('#own-chart[data-state="forecast"][data-horizon="2"]', state="attached")
    assert traces(page, "own-chart")["your closes"]["y"] == closes
    assert browsing.log.problems() == []

    # Too few prices: the API's own message next to the field.
    page.fill("#own-prices", "101.5 102 101.7 103")
    page.click("#own-submit")
    page.wait_for_selector("#own-error:not([hidden])")
    expected = httpx.post(
        f"{served_app.url}/api/v1/predict", json={"prices": [101.5, 102, 101.7, 103], "horizon": 2}
    )
    assert expected.status_code == 422
    assert page.inner_text("#own-error") == expected.json()["detail"]
    assert "4 closes given" in page.inner_text("#own-error")
    assert page.get_attribute("#own-prices", "aria-invalid") == "true"
    # That 422 is the only failed request.
    assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["422", "POST"]]


def test_the_leaderboard_follows_the_ticker_and_horizon(
    served_app: Served, browsing: Browsing
) -> None:
    report = backtest_report(["MSFT", "GOOG"])
    served_app.write_backtest(report)
    try:
        page = browsing.page
        page.goto(served_app.url + "/?ticker=GOOG&horizon=4")
        wait_for_chart(page, "GOOG", 4)
        page.wait_for_selector("#leaderboard:not([hidden])")
        rows = page.eval_on_selector_all(
            "#leaderboard tbody tr", "rs => rs.map(r => Array.from(r.cells, c => c.textContent))"
        )
        expected = report["leaderboard"]["GOOG"]["h1"]  # the report's step at or below 4
        assert [r[1] for r in rows] == [e["model"] for e in expected]
        assert (
            rows[0][2]
            == f"{expected[0]['mae_ratio']['mean']:.3f} ± {expected[0]['mae_ratio']['std']:.3f}"
        )
        assert "2 fold(s)" in page.inner_text("#leaderboard-caption")
        bars = page.evaluate("document.getElementById('leaderboard-chart').data[0]")
        by_model = dict(zip(bars["y"], bars["x"], strict=True))
        assert by_model == {e["model"]: e["mae_ratio"]["mean"] for e in expected}
        save_screenshot(page, "leaderboard-GOOG")
        page.locator("#horizon").fill("5")
        page.wait_for_function(
            "document.getElementById('leaderboard-caption').textContent.startsWith('GOOG, 5 ')"
        )
        first = page.inner_text("#leaderboard tbody tr:first-child td:nth-child(3)")
        h5 = report["leaderboard"]["GOOG"]["h5"][0]["mae_ratio"]
        assert first == f"{h5['mean']:.3f} ± {h5['std']:.3f}"
        # A stored ticker the backtest did not cover says so.
        page.select_option("#ticker", "^GSPC")
        page.wait_for_function(
            "document.getElementById('backtest-message').textContent.includes('No backtest of ^GSPC')"
        )
        assert page.is_hidden("#leaderboard")
        assert page.get_attribute("#leaderboard-chart", "data-state") == "empty"
        assert browsing.log.problems() == []
    finally:
        served_app.remove_backtest()


def test_an_unreadable_backtest_report_is_named_in_its_panel(
    served_app: Served, browsing: Browsing
) -> None:
    served_app.backtest_path.parent.mkdir(parents=True, exist_ok=True)
    served_app.backtest_path.write_text('{"folds": [')  # as if cut off while written
    try:
        page = browsing.page
        page.goto(served_app.url + "/")
        wait_for_chart(page, "MSFT", 5)
        page.wait_for_function(
            "document.getElementById('backtest-message').textContent.includes('unreadable')"
        )
        assert page.inner_text("#backtest-message").endswith("rerun make backtest")
        assert page.is_hidden("#leaderboard")
        # The rest of the page works; the report's 503 is the only failed request.
        assert page.inner_text("#notices") == ""
        assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["503", "GET"]]
        assert browsing.log.page_errors == []
    finally:
        served_app.remove_backtest()


def test_an_unknown_ticker_is_named_without_asking_the_api(
    served_app: Served, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(served_app.url + "/?ticker=NOPE")
    page.wait_for_selector('#chart[data-state="unknown-ticker"]', state="attached")
    message = page.inner_text("#chart-message")
    assert message.startswith("Unknown ticker NOPE: it is not stored.")
    for ticker in stored(served_app):
        assert ticker in message
    # Choosing a stored one draws it.
    page.select_option("#ticker", "MSFT")
    wait_for_chart(page, "MSFT", 5)
    assert page.is_hidden("#chart-message")
    assert browsing.log.problems() == []


def test_no_model_yet_says_run_make_pipeline(untrained_url: str, browsing: Browsing) -> None:
    page = browsing.page
    page.goto(untrained_url + "/")
    page.wait_for_selector("#notices .notice")
    assert "No trained model yet: run make pipeline" in page.inner_text("#notices")
    page.wait_for_selector("#chart-message:not([hidden])")
    assert page.inner_text("#chart-message").startswith("No stored prices yet: run make pipeline")
    assert page.inner_text("#model-message") == "No trained model yet: run make pipeline."
    assert page.is_disabled("#own-submit")
    assert page.inner_text("#service-status").startswith("degraded: no trained model")
    page.wait_for_selector('#health-facts[data-state="ready"]')
    # /health answers 503 while degraded (for load balancers): the only failed request.
    assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["503", "GET"]]
    assert browsing.log.failed_requests == [] and browsing.log.page_errors == []
    assert all("503" in error for error in browsing.log.console_errors)


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280px", "390px"])
def test_readable_at_1280_and_390_px(served_app: Served, browser, viewport: dict) -> None:
    """No sideways scrolling, every panel visible; the screenshots are kept as artifacts (and
    DASHBOARD_SCREENSHOT=docs/img/dashboard.png makes the 1280 px one the README's)."""
    served_app.remove_backtest()
    opened = open_page(browser, viewport)
    page = opened.page
    try:
        page.goto(served_app.url + "/")
        wait_for_chart(page, "MSFT", 5)
        page.wait_for_selector('#health-facts[data-state="ready"]')
        page.wait_for_selector("#model-metrics:not([hidden])")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        for panel in (
            "forecast-panel",
            "own-panel",
            "accuracy-panel",
            "model-panel",
            "health-panel",
        ):
            box = page.locator(f"#{panel}").bounding_box()
            assert box and box["width"] > 0.5 * viewport["width"] - 40
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        assert opened.log.problems() == []
        target = os.environ.get("DASHBOARD_SCREENSHOT")
        also = PROJECT_ROOT / target if target and viewport is WIDE else None
        save_screenshot(page, f"dashboard-{viewport['width']}px", also=also)
    finally:
        page.close()


def test_database_down_says_what_still_works(
    fixed_project,
    postgres_url: str,
    browsing: Browsing,
    switchboard: Switchboard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL cut off while serving: the page says so, and forecasting sent prices works."""
    seed(fixed_project, postgres_url)
    # /health caches its database check (DATABASE_CHECK_TTL_S, 2 s): the app under test caches
    # it for 0.1 s, so /health sees the outage without waiting out the 2 s (as
    # tests/api/test_database_outage.py does).
    monkeypatch.setattr(app_module, "DatabaseCheck", partial(DatabaseCheck, ttl_s=0.1))
    proxy = TcpProxy(("127.0.0.1", make_url(postgres_url).port or 5432))
    proxy.up()
    try:
        settings = settings_for(fixed_project.root, through(proxy, postgres_url))
        # one client polls /health (`httpx.get` builds a client, and its TLS context, per call)
        with switchboard.serving(create_app(settings)) as url, httpx.Client() as http:
            wait_for(lambda: http.get(f"{url}/health").status_code == 200, "model loaded")
            proxy.down()
            # load the page once /health sees the outage (its check is cached for a while)
            wait_for(
                lambda: http.get(f"{url}/health").json().get("database") != "ok",
                "the outage seen by /health",
            )
            page = browsing.page
            page.goto(url + "/")
            page.wait_for_selector('#notices .notice[data-kind="bad"]')
            notice = page.inner_text("#notices")
            assert "The database is unavailable" in notice
            assert "Still working: forecasts of your own prices" in notice
            assert page.inner_text("#model-message").startswith("The model card needs the database")
            assert page.inner_text("#chart-message").startswith("Stored prices cannot be read")
            assert page.inner_text("#service-status").startswith("degraded: database unavailable")
            closes = [50 + 0.1 * i for i in range(40)]
            page.fill("#own-prices", "\n".join(map(str, closes)))
            page.fill("#own-horizon", "2")
            page.click("#own-submit")
            page.wait_for_selector(
                '#own-chart[data-state="forecast"][data-horizon="2"]', state="attached"
            )
            page.wait_for_function(
                "document.getElementById('backtest-message').textContent.includes('make backtest')"
            )
            # /health answers 503 while degraded: the only failed request.
            assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["503", "GET"]]
            assert browsing.log.failed_requests == [] and browsing.log.page_errors == []
    finally:
        proxy.close()


def test_no_model_with_stored_prices_shows_the_history_without_a_forecast(
    fixed_project, browsing: Browsing, tmp_path: Path, switchboard: Switchboard
) -> None:
    """Prices ingested, no model registered yet (a copy of the fixed project's database without
    its model_versions rows)."""
    project = copy_trained_project(fixed_project, tmp_path / "project")
    engine = create_engine(project.database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM model_version_events"))
        connection.execute(text("DELETE FROM model_versions"))
    engine.dispose()
    settings = settings_for(project.root, project.database_url)
    with switchboard.serving(create_app(settings)) as url:
        page = browsing.page
        page.goto(url + "/?ticker=GOOG")
        page.wait_for_selector('#chart[data-state="history"][data-ticker="GOOG"]', state="attached")
        assert set(traces(page)) == {"history"}
        assert page.inner_text("#forecast-summary").endswith("No forecast: no trained model.")
        assert "No trained model yet: run make pipeline" in page.inner_text("#notices")
        assert page.is_disabled("#own-submit")
        assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["503", "GET"]]


# A registry answer whose changes share one moment: the page orders them newest first.
REGISTRY = {
    "champion": "2026-01-06T09.00.00.000Z",
    "versions": [],
    "events": [
        {
            "model_version": "2026-01-05T10.00.00.000Z",
            "from_status": "champion",
            "to_status": "retired",
            "at": "2026-01-06T09:05:00Z",
            "reason": "beaten by 2026-01-06T09.00.00.000Z on the backtest",
            "actor": "make daily",
        },
        {
            "model_version": "2026-01-06T09.00.00.000Z",
            "from_status": "candidate",
            "to_status": "champion",
            "at": "2026-01-06T09:05:00Z",
            "reason": "MAE ratio 0.991 < 0.998",
            "actor": "make daily",
        },
    ],
}


def test_the_registry_history_shows_the_champion_and_every_change(
    served_app: Served, browsing: Browsing
) -> None:
    registry = httpx.get(served_app.url + "/api/v1/models").json()
    assert registry["champion"] is not None and registry["events"]
    page = browsing.page
    page.goto(served_app.url + "/")
    wait_for_chart(page, "MSFT", 5)
    page.wait_for_selector("#registry:not([hidden])")
    assert page.inner_text("#registry-title") == (
        f"Registry history (champion: {registry['champion']})"
    )
    rows = page.eval_on_selector_all(
        "#registry-events tbody tr", "rs => rs.map(r => Array.from(r.cells, c => c.textContent))"
    )
    assert len(rows) == len(registry["events"])
    assert [registry["champion"], "candidate → champion"] in [r[1:3] for r in rows]

    # Newest first, whatever order the server lists changes of the same moment in.
    answer_fetch(page, "/api/v1/models", REGISTRY)
    page.reload()
    page.wait_for_selector("#registry:not([hidden])")
    assert page.inner_text("#registry-title") == (
        "Registry history (champion: 2026-01-06T09.00.00.000Z)"
    )
    rows = page.eval_on_selector_all(
        "#registry-events tbody tr", "rs => rs.map(r => Array.from(r.cells, c => c.textContent))"
    )
    assert ["candidate → champion", "MAE ratio 0.991 < 0.998"] == rows[0][2:4]
    assert "champion → retired" in [r[2] for r in rows]
    assert browsing.log.problems() == []


def run_pipeline(root: Path, database_url: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kedro run --pipeline <name> --env test` in the project copy `root`, in-process (its
    MLflow runs go to the session's throw-away store, tests/conftest.py)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    bootstrap_project(root)
    with KedroSession.create(project_path=root, env="test") as session:
        session.run(pipeline_name=name)


def test_realized_accuracy_shows_empty_history_then_the_monitoring_figures(
    migrated_sqlite_template: Path,
    tmp_path: Path,
    browsing: Browsing,
    monkeypatch: pytest.MonkeyPatch,
    switchboard: Switchboard,
) -> None:
    """On a fixed project (its champion's calibration records the split, as training's does)
    whose features were computed: monitoring judges the champion's forecasts with ONNX Runtime,
    so no model needs training with TensorFlow for it."""
    project = build_fixed_project(
        tmp_path / "monitored", migrated_sqlite_template, calibration_split=True
    )
    run_pipeline(project.root, project.database_url, "feature_engineering", monkeypatch)
    with switchboard.serving(create_app(settings_for(project.root, project.database_url))) as url:
        page = browsing.page
        page.goto(url + "/")
        page.wait_for_function(
            "document.getElementById('realized-message').textContent.includes('make daily')",
            timeout=TIMEOUT_MS,
        )
        assert page.inner_text("#realized-message").startswith("no monitoring run yet")
        assert page.is_hidden("#realized-table")

        run_pipeline(project.root, project.database_url, "monitoring", monkeypatch)
        body = httpx.get(f"{url}/api/v1/monitoring").json()
        assert body["model_version"] and set(body["tickers"]) == {"^GSPC", "GOOG", "MSFT"}

        page.reload()
        page.wait_for_selector('#realized-table[data-state="figures"]', timeout=TIMEOUT_MS)
        assert page.is_hidden("#realized-message")
        assert body["model_version"] in page.inner_text("#realized-caption")
        rows = page.eval_on_selector_all(
            "#realized-table tbody tr", "rs => rs.map(r => r.innerText.split('\\t'))"
        )
        assert [r[0] for r in rows] == sorted(body["tickers"])
        for cells in rows:
            figures = body["tickers"][cells[0]]
            assert cells[1] == str(figures["realized"]["n"])
            assert cells[5].startswith("drifted" if figures["drift"]["flag"] else "no")
        assert browsing.log.problems() == []
