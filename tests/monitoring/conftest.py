"""Small price calendars and forecasts whose scores can be computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stock_lstm.ml_models.common.series import add_log_returns

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "snapshot"


def forecast_rows(
    forecast_id: str,
    ticker: str | None,
    origin: str | None,
    closes: list[float],
    *,
    source: str = "api",
    model_version: str = "v1",
    half_width: float = 1.0,
) -> list[dict[str, object]]:
    """One forecast's rows: steps 1..len(closes), interval close ± half_width."""
    return [
        {
            "forecast_id": forecast_id,
            "source": source,
            "ticker": ticker,
            "origin_date": origin,
            "model_version": model_version,
            "step": step,
            "close": close,
            "lower": close - half_width,
            "upper": close + half_width,
        }
        for step, close in enumerate(closes, start=1)
    ]


@pytest.fixture
def prices() -> pd.DataFrame:
    """AAA trades Mon-Fri; BBB skips Wednesday 2024-01-03 (its own calendar)."""
    aaa = pd.DataFrame(
        {
            "ticker": "AAA",
            "date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
            "close": [100.0, 102.0, 101.0, 105.0, 104.0],
        }
    )
    bbb = pd.DataFrame(
        {
            "ticker": "BBB",
            "date": ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05"],
            "close": [50.0, 51.0, 49.0, 52.0],
        }
    )
    return pd.concat([aaa, bbb], ignore_index=True)


def snapshot_features() -> pd.DataFrame:
    """Features (ticker, date, close, log_return) of every ticker of the bundled snapshot."""
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text())
    frames = []
    for entry in manifest:
        raw = pd.read_csv(SNAPSHOT / entry["file"])
        frames.append(
            pd.DataFrame({"ticker": entry["ticker"], "date": raw["Date"], "close": raw["Close"]})
        )
    return add_log_returns(pd.concat(frames, ignore_index=True))
