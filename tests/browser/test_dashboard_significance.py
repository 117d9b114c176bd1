"""The accuracy panel shows what the backtest's significance tests claim, in Debian's Chromium:
the universe, per model the Holm-corrected DM verdict against naive, the up share next to the
base rate, a network's seed range, and the step's SPA p-value and model confidence set."""

from __future__ import annotations

from tests.browser.conftest import Browsing, Served, save_screenshot
from tests.browser.test_dashboard import wait_for_chart
from tests.helpers.reports import backtest_report


def _with_significance(report: dict) -> dict:
    def cell(statistic: float, p_holm: float, up: float) -> dict:
        return {
            "dm": {"statistic": statistic, "p_value": p_holm / 2, "p_holm": p_holm},
            "positive_share": up,
            "base_rate": 0.53,
        }

    report["universe"] = ["GOOG", "MSFT"]
    report["models"]["lstm"] = {
        "seeds": [42, 43, 44],
        "tickers": {"GOOG": {"h1": cell(-3.2, 0.004, 0.97)}},
        "seed_spread": {"GOOG": {"h1": {"mae_ratio_by_seed": [0.99, 1.0, 1.01], "range": 0.0123}}},
    }
    report["models"]["drift"] = {"tickers": {"GOOG": {"h1": cell(1.1, 0.52, 1.0)}}}
    report["significance"] = {
        "level": 0.05,
        "h1": {"spa_p_value": 0.031, "mcs": ["lstm", "naive"]},
    }
    return report


def test_the_accuracy_panel_shows_the_significance_of_each_claim(
    served_app: Served, browsing: Browsing
) -> None:
    served_app.write_backtest(_with_significance(backtest_report(["MSFT", "GOOG"])))
    try:
        page = browsing.page
        page.goto(served_app.url + "/?ticker=GOOG&horizon=1")
        wait_for_chart(page, "GOOG", 1)
        page.wait_for_selector("#significance:not([hidden])")
        assert page.inner_text("#backtest-universe") == "Universe: 2 ticker(s): GOOG, MSFT."
        rows = page.eval_on_selector_all(
            "#significance tbody tr", "rs => rs.map(r => Array.from(r.cells, c => c.textContent))"
        )
        assert rows == [
            ["lstm", "-3.20", "0.004", "beats naive", "97.0%", "53.0%", "0.0123 (3 seeds)"],
            ["drift", "1.10", "0.520", "no significant difference", "100.0%", "53.0%", "–"],
        ]
        summary = page.inner_text("#significance-summary")
        assert "SPA p-value 0.031" in summary and "model confidence set: lstm, naive" in summary
        save_screenshot(page, "significance-GOOG")
        # a ticker the report has no test for hides the table
        page.select_option("#ticker", "MSFT")
        page.wait_for_function(
            "document.getElementById('leaderboard-caption').textContent.startsWith('MSFT')"
        )
        assert page.is_hidden("#significance")
        assert browsing.log.problems() == []
    finally:
        served_app.remove_backtest()
