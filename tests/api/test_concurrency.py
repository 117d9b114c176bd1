"""Load and concurrency: simultaneous forecasts equal sequential ones (the model object is safe
to share), and the API keeps answering while another process writes new versions to the same
SQLite database (WAL, busy timeout): no error, no "database is locked", no partial version.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.v1.main import create_app
from stock_lstm.api.v1.schemas.predict import PredictRequest
from stock_lstm.data_pipeline import crud
from tests.api.conftest import settings_for

ROUNDS = 3


def _bodies(model) -> list[dict]:
    """Distinct requests: a mix-up between concurrent requests changes some answer."""
    forecaster = model.forecaster
    rng = np.random.default_rng(11)
    bodies: list[dict] = []
    for i in range(48):
        steps = rng.normal(0.0003, 0.02, forecaster.min_history + i % 7)
        history = (float(v) for v in (20 + i) * np.exp(np.cumsum(steps)))
        bodies.append({"prices": [round(v, 4) for v in history], "horizon": 1 + i % 5})
    for ticker in ("MSFT", "GOOG", "^GSPC"):
        for horizon in range(1, forecaster.max_horizon + 1):
            bodies.append({"ticker": ticker, "horizon": horizon})
    return bodies


def _forecasts(answer: dict) -> list[tuple]:
    return [
        (p["step"], p["date"], p["close"], p["lower"], p["upper"]) for p in answer["predictions"]
    ]


def test_simultaneous_forecasts_equal_sequential_ones(served: TestClient) -> None:
    bodies = _bodies(served.app.state.model)
    sequential = []
    for body in bodies:
        response = served.post("/api/v1/predict", json=body)
        assert response.status_code == 200, response.text
        sequential.append(_forecasts(response.json()))
    assert len(set(map(tuple, sequential))) == len(bodies)  # all different: mix-ups show

    async def all_at_once(order: list[int]) -> dict[int, list[tuple]]:
        transport = httpx.ASGITransport(app=served.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.post("/api/v1/predict", json=bodies[i]) for i in order)
            )
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:3]
        return {i: _forecasts(r.json()) for i, r in zip(order, responses, strict=True)}

    def through_threads(order: list[int]) -> dict[int, list[tuple]]:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = pool.map(lambda i: served.post("/api/v1/predict", json=bodies[i]), order)
            return {i: _forecasts(r.json()) for i, r in zip(order, answers, strict=True)}

    def model_from_threads(order: list[int]) -> dict[int, list[tuple]]:
        """Straight into the shared Forecaster from 16 threads (no event loop in between)."""
        service = served.app.state.forecast_service

        def one(i: int) -> list[tuple]:
            answer = service.predict(PredictRequest(**bodies[i]), f"thread-{i}")
            return _forecasts(answer.model_dump(mode="json"))

        with ThreadPoolExecutor(max_workers=16) as pool:
            return dict(zip(order, pool.map(one, order), strict=True))

    rng = random.Random(5)
    for _ in range(ROUNDS):
        for way in (lambda o: asyncio.run(all_at_once(o)), through_threads, model_from_threads):
            order = list(range(len(bodies)))
            rng.shuffle(order)
            concurrent = way(order)
            assert [concurrent[i] for i in range(len(bodies))] == sequential


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import pandas as pd

    from stock_lstm.data_pipeline import crud

    url, started = sys.argv[1], Path(sys.argv[2])
    clean = crud.load_stage_frame("clean", url=url)
    others = clean[clean["ticker"] != "MSFT"]
    msft = clean[clean["ticker"] == "MSFT"]
    started.touch()
    for k in range(1, 4):
        # version k: MSFT loses its last 10*k rows, plus 100 copies of the other tickers
        copies = [others.assign(ticker=others["ticker"] + f"-{c}") for c in range(100)]
        frame = pd.concat([msft.iloc[: len(msft) - 10 * k], others, *copies])
        frame = frame.assign(close=frame["close"] * (1 + k / 100))
        result = crud.save_stage_frame(frame, "clean", source=f"writer {k}", parent_id=None, url=url)
        print(result.version.id, result.version.row_count, flush=True)
    """
)


@pytest.mark.slow
def test_reads_and_forecasts_keep_answering_while_a_pipeline_writes(trained_copy, tmp_path):
    url = trained_copy.database_url
    started = tmp_path / "writer-started"
    settings = settings_for(trained_copy.root, url)
    with TestClient(create_app(settings)) as client:
        min_history = client.app.state.model.forecaster.min_history
        history = [30.0 + 0.01 * i for i in range(min_history)]
        log = client.app.state.prediction_log
        assert log.flush(timeout_s=30)
        predictions_before = crud.count_predictions(url=url)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(started)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not started.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        answers, seen = [], {}
        forecasts = 0
        while writer.poll() is None and time.monotonic() < deadline:
            prices = client.get("/api/v1/prices/MSFT", params={"limit": 10_000})
            seen.setdefault(prices.json().get("data_version"), set()).add(prices.json()["count"])
            answers += [
                prices,
                client.get("/api/v1/tickers"),
                client.post("/api/v1/predict", json={"ticker": "MSFT"}),
                client.post("/api/v1/predict", json={"prices": history}),
            ]
            forecasts += 2
        output, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
        assert log.flush(timeout_s=60)
        failed = log.failed

    bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code != 200]
    assert bad == [], bad
    assert not any("locked" in r.text for r in answers)
    versions = [int(line.split()[0]) for line in output.strip().splitlines()]
    assert len(versions) == 3
    # Every read saw a complete version: the MSFT rows of the version it names, never part.
    for version_id, counts in seen.items():
        expected = len(crud.load_stage_frame("clean", version_id, tickers=["MSFT"], url=url))
        assert counts == {expected}, (version_id, counts, expected)
    assert len(seen) >= 2, "the reads never saw a new version land: they did not overlap it"
    # Every forecast served was logged, none lost while the writer held the database.
    assert failed == 0
    assert crud.count_predictions(url=url) == predictions_before + forecasts
