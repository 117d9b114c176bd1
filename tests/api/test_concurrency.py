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

from stock_lstm.api.app import create_app
from stock_lstm.api.v1.schemas.predict import PredictRequest
from tests.api.conftest import settings_for
from tests.helpers.database import crud_on

ROUNDS = 1  # each of the three ways, on a shuffled order of 63 distinct requests


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
    import time
    from pathlib import Path

    import pandas as pd

    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    url, control = sys.argv[1], Path(sys.argv[2])
    database = get_database(url)


    def wait_for(name):
        deadline = time.monotonic() + 120
        while not (control / name).exists():
            if time.monotonic() > deadline:
                sys.exit(f"the test never wrote {name}")
            time.sleep(0.005)


    insert_rows = crud._records
    k = 0


    def pause_before_commit(frame, stage):
        # every row of version k is inserted, its transaction still open: let the test read
        yield from insert_rows(frame, stage)
        (control / f"inserted-{k}").touch()
        wait_for(f"read-{k}")


    crud.stage_write._records = pause_before_commit
    with database.session() as session:
        clean = crud.load_stage_frame(session, "clean")
    others = clean[clean["ticker"] != "MSFT"]
    msft = clean[clean["ticker"] == "MSFT"]
    for k in range(1, 4):
        wait_for(f"go-{k}")
        # version k: MSFT loses its last 10*k rows, plus 3 copies of the other tickers
        copies = [others.assign(ticker=others["ticker"] + f"-{c}") for c in range(3)]
        frame = pd.concat([msft.iloc[: len(msft) - 10 * k], others, *copies])
        frame = frame.assign(close=frame["close"] * (1 + k / 100))
        with database.session() as session:
            result = crud.save_stage_frame(
                session, frame, "clean", source=f"writer {k}", parent_id=None
            )
        # written whole, then renamed: the test sees done-k only with its content
        (control / f"done-{k}.tmp").write_text(str(result.version.id))
        (control / f"done-{k}.tmp").rename(control / f"done-{k}")
        print(result.version.id, result.version.row_count, flush=True)
    """
)


def test_reads_and_forecasts_keep_answering_while_a_pipeline_writes(fixed_copy, tmp_path):
    """The writer stops at known points: before each version, with the version's rows inserted
    but not committed (the database's write lock held), and after the commit. The API is read at
    each point, so the overlap does not depend on timing."""
    url = fixed_copy.database_url
    control = tmp_path
    settings = settings_for(fixed_copy.root, url)
    with TestClient(create_app(settings)) as client:
        min_history = client.app.state.model.forecaster.min_history
        history = [30.0 + 0.01 * i for i in range(min_history)]
        log = client.app.state.prediction_log
        assert log.flush(timeout_s=30)
        predictions_before = crud_on(url).count_predictions()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(control)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        answers, seen = [], {}

        def read() -> int | None:
            """Prices, tickers and two forecasts; the data version the prices came from."""
            prices = client.get("/api/v1/prices/MSFT", params={"limit": 10_000})
            body = prices.json()
            seen.setdefault(body.get("data_version"), set()).add(body.get("count"))
            answers.extend(
                [
                    prices,
                    client.get("/api/v1/tickers"),
                    client.post("/api/v1/predict", json={"ticker": "MSFT"}),
                    client.post("/api/v1/predict", json={"prices": history}),
                ]
            )
            return body.get("data_version")

        def wait_for(name: str) -> None:
            deadline = time.monotonic() + 120  # a hung writer fails the test, never a timing
            while not (control / name).exists():
                if writer.poll() is not None:
                    pytest.fail(f"the writer stopped before {name}: {writer.stderr.read()}")
                assert time.monotonic() < deadline, f"the writer never wrote {name}"
                time.sleep(0.005)

        try:
            versions = [read()]
            during = []
            for k in range(1, 4):
                (control / f"go-{k}").touch()
                wait_for(f"inserted-{k}")
                during.append(read())  # version k's rows are in the database, uncommitted
                (control / f"read-{k}").touch()
                wait_for(f"done-{k}")
                committed = int((control / f"done-{k}").read_text())
                versions.append(read())
                assert versions[-1] == committed, "a read after the commit missed the new version"
            output, errors = writer.communicate(timeout=120)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.communicate()
        assert writer.returncode == 0, errors
        assert log.flush(timeout_s=60)
        failed = log.failed

    bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code != 200]
    assert bad == [], bad
    assert not any("locked" in r.text for r in answers)
    written = [int(line.split()[0]) for line in output.strip().splitlines()]
    assert versions[1:] == written and len(set(versions)) == 4, versions
    # While version k was being written, reads saw the previous one, whole.
    assert during == versions[:-1], (during, versions)
    # Every read saw a complete version: the MSFT rows of the version it names, never part.
    for version_id, counts in seen.items():
        expected = len(crud_on(url).load_stage_frame("clean", version_id, tickers=["MSFT"]))
        assert counts == {expected}, (version_id, counts, expected)
    # Every forecast served was logged, none lost while the writer held the database.
    assert failed == 0
    forecasts = 2 * (len(versions) + len(during))
    assert crud_on(url).count_predictions() == predictions_before + forecasts
