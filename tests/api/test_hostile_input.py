"""Hostile requests to every endpoint: each is refused with a 4xx and a message, and none of
them changes the database (every table's row count, `predictions` included, is the same after).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import MetaData, func, inspect, select

from tests.helpers.database import crud_on, migrated_engine

SQL = "MSFT'; DROP TABLE raw_prices;--"
JSON = {"content-type": "application/json"}


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (case, method, url, keyword arguments for the client, status, words in the detail).
# Raw `content` is sent as application/json unless the case gives its own headers.
P, R = "/api/v1/predict", "/api/v1/model/reload"
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # --- POST /api/v1/predict -----------------------------------------------------------------
    ("10 001 prices", "POST", P, {"json": {"prices": [1.0] * 10_001}}, 422, "at most 10000"),
    ("200 000 prices", "POST", P, {"json": {"prices": [1.0] * 200_000}}, 413, "larger than"),
    ("nested lists", "POST", P, {"json": {"prices": [[[[1.0]]]] * 80}}, 422, "prices[0]: "),
    (
        "nested garbage",
        "POST",
        P,
        {"json": {"prices": {"a": [{"b": [None, {}, [[]]]}]}, "ticker": [{}], "horizon": {}}},
        422,
        "prices: Input should be a valid list",
    ),
    ("20 000 levels deep", "POST", P, {"content": _nested(20_000)}, 422, "malformed JSON"),
    ("NaN", "POST", P, {"content": b'{"prices": [NaN, 1, 2]}'}, 422, "prices[0]: "),
    ("Infinity", "POST", P, {"content": b'{"prices": [1, Infinity]}'}, 422, "finite"),
    ("-Infinity", "POST", P, {"content": b'{"prices": [-Infinity]}'}, 422, "prices[0]: "),
    ("NaN horizon", "POST", P, {"content": b'{"ticker":"MSFT","horizon":NaN}'}, 422, "horizon"),
    ("huge horizon", "POST", P, {"json": {"ticker": "MSFT", "horizon": 10**40}}, 422, "horizon"),
    ("1e400 price", "POST", P, {"content": b'{"prices": [1e400, 1.0]}'}, 422, "prices[0]: "),
    ("string prices", "POST", P, {"json": {"prices": ["1", "2"]}}, 422, "valid number"),
    ("bool prices", "POST", P, {"json": {"prices": [True] * 100}}, 422, "valid number"),
    ("string horizon", "POST", P, {"json": {"ticker": "MSFT", "horizon": "2"}}, 422, "integer"),
    ("SQL ticker", "POST", P, {"json": {"ticker": SQL}}, 422, "ticker: String should match"),
    ("OR 1=1 ticker", "POST", P, {"json": {"ticker": "' OR '1'='1"}}, 422, "ticker: "),
    ("path ticker", "POST", P, {"json": {"ticker": "../../etc/passwd"}}, 422, "ticker: "),
    ("NUL ticker", "POST", P, {"json": {"ticker": "MSFT\x00"}}, 422, "ticker: "),
    ("newline ticker", "POST", P, {"json": {"ticker": "MSFT\n"}}, 422, "ticker: "),
    ("CJK ticker", "POST", P, {"json": {"ticker": "微软"}}, 422, "ticker: "),
    ("fullwidth ticker", "POST", P, {"json": {"ticker": "ＭＳＦＴ"}}, 422, "ticker: "),
    ("RTL override", "POST", P, {"json": {"ticker": "MS\u202eFT"}}, 422, "ticker: "),
    ("emoji ticker", "POST", P, {"json": {"ticker": "📈"}}, 422, "ticker: "),
    ("dots ticker", "POST", P, {"json": {"ticker": ".."}}, 404, "unknown ticker '..'"),
    ("empty body", "POST", P, {"content": b""}, 422, "a JSON body is required"),
    ("null body", "POST", P, {"content": b"null"}, 422, "must be a JSON object"),
    ("not UTF-8", "POST", P, {"content": b'{"ticker": "\xff\xfe"}'}, 422, "malformed JSON"),
    ("text/plain body", "POST", P, {"content": b"MSFT", "headers": {}}, 422, "JSON object"),
    ("form body", "POST", P, {"data": {"ticker": "MSFT"}}, 422, "JSON object"),
    ("extra field", "POST", P, {"json": {"ticker": "MSFT", "sql": SQL}}, 422, "not permitted"),
    # --- GET /api/v1/prices/{ticker} ----------------------------------------------------------
    (
        "SQL in path",
        "GET",
        "/api/v1/prices/MSFT'%3B%20DROP%20TABLE%20raw_prices%3B--",
        {},
        422,
        "ticker: String should match",
    ),
    ("encoded traversal", "GET", "/api/v1/prices/..%2F..%2Fetc%2Fpasswd", {}, 404, "Not Found"),
    ("NUL in path", "GET", "/api/v1/prices/MSFT%00", {}, 422, "ticker: "),
    ("unicode in path", "GET", "/api/v1/prices/%E5%BE%AE%E8%BD%AF", {}, 422, "ticker: "),
    ("limit NaN", "GET", "/api/v1/prices/MSFT", {"params": {"limit": "NaN"}}, 422, "limit: "),
    ("limit huge", "GET", "/api/v1/prices/MSFT", {"params": {"limit": "9" * 40}}, 422, "limit: "),
    ("limit < 1", "GET", "/api/v1/prices/MSFT", {"params": {"limit": "-1"}}, 422, "limit: "),
    ("SQL in start", "GET", "/api/v1/prices/MSFT", {"params": {"start": SQL}}, 422, "start: "),
    ("bad end", "GET", "/api/v1/prices/MSFT", {"params": {"end": "2024-13-45"}}, 422, "end: "),
    ("number as start", "GET", "/api/v1/prices/MSFT", {"params": {"start": "0.0"}}, 422, "YYYY"),
    (
        "timestamp as end",
        "GET",
        "/api/v1/prices/MSFT",
        {"params": {"end": "1700000000"}},
        422,
        "end: ",
    ),
    # --- POST /api/v1/model/reload --------------------------------------------------------------
    ("SQL as API key", "POST", R, {"headers": {"X-API-Key": SQL}}, 401, "API_KEY"),
    ("no API key", "POST", R, {}, 401, "API_KEY"),
    ("wrong method", "DELETE", P, {}, 405, "Method Not Allowed"),
]


def table_counts(url: str) -> dict[str, int]:
    engine = migrated_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table))
            for name, table in metadata.tables.items()
            if name != "alembic_version"
        }


def test_hostile_requests_are_refused_cleanly_and_store_nothing(served: TestClient) -> None:
    url = served.app.state.settings.database_url
    assert served.app.state.prediction_log.flush(timeout_s=30)
    before = table_counts(url)
    versions = crud_on(url).list_versions()
    assert {"raw_prices", "clean_prices", "predictions", "model_versions"} <= set(before)
    assert before["raw_prices"] > 0 and before["clean_prices"] > 0

    for case, method, path, kwargs, status, words in CASES:
        if "content" in kwargs:
            kwargs = {"headers": JSON, **kwargs}
        response = served.request(method, path, **kwargs)
        assert response.status_code == status, (case, response.status_code, response.text[:300])
        assert words in response.json()["detail"], (case, response.json())

    assert served.app.state.prediction_log.flush(timeout_s=30)
    assert table_counts(url) == before
    assert crud_on(url).list_versions() == versions
    assert "raw_prices" in inspect(migrated_engine(url)).get_table_names()
    assert served.get("/health").status_code == 200  # still serving


def test_the_control_a_good_request_is_stored(served: TestClient) -> None:
    """The counting above can see a change: one accepted forecast adds one predictions row."""
    url = served.app.state.settings.database_url
    assert served.app.state.prediction_log.flush(timeout_s=30)
    before = table_counts(url)
    assert served.post("/api/v1/predict", json={"ticker": "MSFT"}).status_code == 200
    assert served.app.state.prediction_log.flush(timeout_s=30)
    assert table_counts(url) == {**before, "predictions": before["predictions"] + 1}
