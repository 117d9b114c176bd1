"""A small walk-forward backtest report of the shape `make backtest` writes (issue 12)."""

from __future__ import annotations

FOLDS = [
    {"origin": "2011-12-07", "test_start": "2011-12-08", "test_end": "2012-06-07"},
    {"origin": "2012-06-07", "test_start": "2012-06-08", "test_end": "2012-12-06"},
]
MODELS = ("lstm", "naive", "drift")


def backtest_report(tickers: list[str]) -> dict:
    """Per ticker and horizon, three models with distinct figures (so a test can find them)."""
    leaderboard: dict = {}
    for t, ticker in enumerate(tickers):
        leaderboard[ticker] = {}
        for k in (1, 5, 30):
            rows = []
            for rank, model in enumerate(MODELS, start=1):
                mean = round(0.95 + 0.01 * t + 0.001 * k + 0.02 * rank, 4)
                rows.append(
                    {
                        "model": model,
                        "rank": rank,
                        "mae_ratio": {"mean": mean, "std": round(0.001 * k, 4)},
                        "coverage": round(0.8 + 0.01 * rank, 3),
                        "winkler": round(k * (1 + rank / 10), 3),
                    }
                )
            leaderboard[ticker][f"h{k}"] = rows
    return {
        "folds": FOLDS,
        "leaderboard": leaderboard,
        "models": {m: {"tickers": {}} for m in MODELS},
    }
