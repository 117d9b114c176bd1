"""A stored-ticker forecast is served from the worker's cache of closes, and a data version
written between two requests is seen by the second one: a new bar, a restated close, a ticker
removed. A cache hit reads no price row. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from stock_lstm.api.app import create_app
from stock_lstm.data_pipeline.database import get_database
from tests.api.conftest import settings_for
from tests.conftest import TrainedProject
from tests.helpers.database import crud_on
from tests.helpers.outage import seed


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, fixed_copy: TrainedProject) -> TrainedProject:
    """The fixed project (tests/helpers/fixed_project.py) on its own SQLite copy, or its model
    and prices on PostgreSQL."""
    if request.param == "sqlite":
        return fixed_copy
    url = request.getfixturevalue("postgres_url")
    seed(fixed_copy, url)
    return TrainedProject(root=fixed_copy.root, database_url=url)


@contextmanager
def price_reads(url: str) -> Iterator[list[str]]:
    """The statements that read a price table through the app's engine meanwhile."""
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "clean_prices" in statement:
            statements.append(statement)

    engine = get_database(url).engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def forecast(client: TestClient, ticker: str = "MSFT") -> dict:
    response = client.post("/api/v1/predict", json={"ticker": ticker, "horizon": 1})
    assert response.status_code == 200, response.text
    return response.json()


def expected_close(client: TestClient, url: str, ticker: str = "MSFT") -> tuple[float, date]:
    """The next close the served model forecasts from the ticker's newest stored closes."""
    forecaster = client.app.state.model.forecaster
    stored = crud_on(url).load_ticker_prices(ticker, limit=forecaster.min_history)
    closes = stored["close"].to_numpy(dtype=np.float64)
    return float(forecaster.forecast(closes, 1, ticker).close[0]), stored["date"].iloc[-1].date()


def save_clean(url: str, frame: pd.DataFrame, **kwargs) -> int:
    result = crud_on(url).save_stage_frame(frame, "clean", source="test", **kwargs)
    assert result.created
    return result.version.id


def test_a_forecast_sees_the_version_written_between_two_requests(project) -> None:
    url = project.database_url
    # No registry check during the test: only the closes cache can notice the new versions.
    settings = settings_for(project.root, url, registry_poll_s=3600)
    with TestClient(create_app(settings)) as client:
        first = forecast(client)
        close, last = expected_close(client, url)
        assert (first["predictions"][0]["close"], first["last_date"]) == (
            pytest.approx(close, rel=1e-9),
            last.isoformat(),
        )
        with price_reads(url) as reads:
            assert forecast(client) == first
        assert reads == [], "a cached forecast read price rows"

        # 1. A new bar, the next business day, 5 % up: the very next request forecasts from it.
        stored = crud_on(url).load_ticker_prices("MSFT", limit=1)
        bar = stored.assign(
            date=pd.Timestamp(np.busday_offset(np.datetime64(last), 1, roll="forward")),
            close=stored["close"] * 1.05,
        )
        save_clean(url, bar)
        second = forecast(client)
        close, new_last = expected_close(client, url)
        assert new_last > last and second["last_date"] == new_last.isoformat()
        assert second["predictions"][0]["close"] == pytest.approx(close, rel=1e-9)
        assert second["predictions"][0]["close"] != pytest.approx(
            first["predictions"][0]["close"], rel=1e-6
        )

        # 2. That bar restated (same dates, another close): seen too.
        save_clean(url, bar.assign(close=bar["close"] * 0.9))
        third = forecast(client)
        close, same_last = expected_close(client, url)
        assert same_last == new_last and third["last_date"] == new_last.isoformat()
        assert third["predictions"][0]["close"] == pytest.approx(close, rel=1e-9)
        assert third["predictions"][0]["close"] != pytest.approx(
            second["predictions"][0]["close"], rel=1e-6
        )

        # 3. A version that does not touch MSFT still leaves its forecast right (read again).
        goog = crud_on(url).load_ticker_prices("GOOG", limit=1)
        save_clean(url, goog.assign(close=goog["close"] * 1.01))
        assert forecast(client) == third

        # 4. MSFT removed: unknown from the next request on.
        crud_on(url).remove_ticker("MSFT", source="test")
        response = client.post("/api/v1/predict", json={"ticker": "MSFT"})
        assert response.status_code == 404, response.text
        assert response.json()["errors"][0]["type"] == "unknown_ticker"
