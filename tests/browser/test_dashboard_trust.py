"""Dashboard fixes of issue 21 in Debian's Chromium: the own-prices panel (a failed forecast
clears the old chart, the same file chosen again is read again, CSV dates on the x axis), the
tables at 1280 and 390 px, the default chart window, the leaderboard's legend and an invalid
?horizon= in the address."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.browser.conftest import (
    NARROW,
    WIDE,
    Browsing,
    Served,
    answer_fetch,
    open_page,
    save_screenshot,
)
from tests.browser.test_dashboard import REGISTRY, traces, wait_for_chart
from tests.helpers.reports import backtest_report

CLOSES = [round(100 + 0.3 * i + (1.5 if i % 5 == 0 else 0), 2) for i in range(80)]


def own_forecast(page, horizon: int) -> None:
    page.fill("#own-horizon", str(horizon))
    page.click("#own-submit")
    page.wait_for_selector(
        f'#own-chart[data-state="forecast"][data-horizon="{horizon}"]', state="attached"
    )


def test_own_prices_error_clears_the_chart_a_file_reloads_and_dates_are_the_x_axis(
    served_app: Served, browsing: Browsing, tmp_path: Path
) -> None:
    page = browsing.page
    page.goto(served_app.url + "/")
    wait_for_chart(page, "MSFT", 5)
    page.fill("#own-prices", ", ".join(map(str, CLOSES)))
    own_forecast(page, 3)

    # An error after a forecast: the message, and no chart of the earlier prices under it.
    page.fill("#own-prices", "101.5 102 101.7 103")
    page.click("#own-submit")
    page.wait_for_selector("#own-error:not([hidden])")
    assert page.get_attribute("#own-chart", "data-state") == "error"
    assert page.evaluate("document.getElementById('own-chart').data") is None
    assert page.locator("#own-chart").bounding_box()["height"] == 0

    # A CSV with dates: they are the x axis; the forecast follows on the next weekdays.
    days = [f"2024-{1 + i // 28:02d}-{i % 28 + 1:02d}" for i in range(len(CLOSES))]
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(days, CLOSES, strict=True))
    )
    page.set_input_files("#own-file", str(csv))
    page.wait_for_function("document.getElementById('own-prices').value.startsWith('Date')")
    own_forecast(page, 2)
    drawn = traces(page, "own-chart")
    assert drawn["your closes"]["x"] == days and drawn["your closes"]["y"] == CLOSES
    forecast_days = [date.fromisoformat(d[:10]) for d in drawn["forecast"]["x"]]
    assert forecast_days[0] == date.fromisoformat(days[-1])
    assert all(d.weekday() < 5 for d in forecast_days[1:])
    assert forecast_days[1:] == sorted(forecast_days[1:]) and forecast_days[1] > forecast_days[0]

    # The same file again, after editing it: read again.
    edited = [c + 10 for c in CLOSES]
    csv.write_text(
        "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(days, edited, strict=True))
    )
    page.set_input_files("#own-file", str(csv))
    page.wait_for_function(f"document.getElementById('own-prices').value.includes(',{edited[0]}')")
    own_forecast(page, 3)
    assert traces(page, "own-chart")["your closes"]["y"] == edited
    assert [r.split(" ")[:2] for r in browsing.log.bad_responses] == [["422", "POST"]]


def test_the_default_view_shows_the_forecast_readably(
    served_app: Served, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(served_app.url + "/?ticker=GOOG&horizon=5")
    found = wait_for_chart(page, "GOOG", 5)
    start, end = (
        date.fromisoformat(str(d)[:10])
        for d in page.evaluate("document.getElementById('chart').layout.xaxis.range")
    )
    last = date.fromisoformat(found["history"]["x"][-1])
    assert end == date.fromisoformat(found["forecast"]["x"][-1])
    # the forecast takes at least a sixth of the width in view (it was ~1/40: 5 days of 6 months)
    assert (end - last).days / (end - start).days >= 1 / 6
    assert browsing.log.problems() == []


def test_the_leaderboard_dots_have_a_legend(served_app: Served, browsing: Browsing) -> None:
    served_app.write_backtest(backtest_report(["MSFT"]))
    try:
        page = browsing.page
        page.goto(served_app.url + "/")
        wait_for_chart(page, "MSFT", 5)
        page.wait_for_selector('#leaderboard-chart[data-state="drawn"]', state="attached")
        assert page.evaluate("document.getElementById('leaderboard-chart').layout.showlegend")
        legend = page.locator("#leaderboard-chart .legend").text_content()
        for entry in ("network", "baseline", "1 = naive"):
            assert entry in legend
        assert browsing.log.problems() == []
    finally:
        served_app.remove_backtest()


@pytest.mark.parametrize("asked", ["99", "abc", "2.5"])
def test_an_invalid_horizon_in_the_address_is_named(
    served_app: Served, browsing: Browsing, asked: str
) -> None:
    page = browsing.page
    page.goto(served_app.url + f"/?ticker=MSFT&horizon={asked}")
    wait_for_chart(page, "MSFT", 5)
    text = page.inner_text("#notices")
    assert f'horizon "{asked}"' in text and "showing 5 instead" in text
    assert browsing.log.problems() == []


def cut_off(page, selector: str) -> list[str]:
    """The cells, headers and captions under `selector` that do not fit its scroll box."""
    return page.evaluate(
        """(selector) => {
            const table = document.querySelector(selector);
            const box = table.closest('.scroll').getBoundingClientRect();
            return Array.from(table.querySelectorAll('th, td, caption'))
              .filter(c => c.getBoundingClientRect().right > box.right + 1
                        || c.scrollWidth > c.clientWidth + 1)
              .map(c => c.textContent);
        }""",
        selector,
    )


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280px", "390px"])
def test_the_model_card_and_registry_tables_fit(
    served_app: Served, browser, viewport: dict
) -> None:
    opened = open_page(browser, viewport)
    page = opened.page
    try:
        answer_fetch(page, "/api/v1/models", REGISTRY)
        page.goto(served_app.url + "/")
        wait_for_chart(page, "MSFT", 5)
        page.wait_for_selector("#model-metrics:not([hidden])")
        page.wait_for_selector("#registry:not([hidden])")
        assert cut_off(page, "#registry-events") == []
        assert cut_off(page, "#model-metrics") == []
        save_screenshot(page, f"model-card-{viewport['width']}px")
        assert opened.log.problems() == []
    finally:
        page.close()
