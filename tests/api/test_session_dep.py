"""SessionDep: one session per request, committed or rolled back, closed before the response;
routes that need no database open none."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stock_lstm.api.v1.dependencies import SessionDep
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database
from tests.helpers.database import crud_on

BACKGROUND_THREADS = {"prediction-log", "registry-follower"}


class RecordingDatabase(Database):
    """A Database that records every session it opens and when each one ends."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.events: list[tuple[str, Session]] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        with super().session() as session:
            self.events.append(("open", session))
            try:
                yield session
            finally:
                self.events.append(("closed", session))


def decision(reason: str) -> dict:
    return {"kind": "retrain", "as_of": date(2024, 1, 2), "retrain": True, "reasons": [reason]}


def same_session(session: SessionDep) -> Session:
    """A sub-dependency asking for the request's session too."""
    return session


@pytest.fixture
def app(sqlite_url: str) -> FastAPI:
    app = FastAPI()
    app.state.database = RecordingDatabase(sqlite_url)

    @app.get("/twice")
    def twice(session: SessionDep, again: Annotated[Session, Depends(same_session)]) -> dict:
        app.state.database.events.append(("in the route", session))
        return {"same": session is again}

    @app.post("/write")
    def write(session: SessionDep, fail: bool = False) -> dict:
        crud.record_decision(session, decision("written by a request"))
        if fail:
            raise RuntimeError("after the write")
        return {"ok": True}

    return app


def test_one_session_per_request_closed_before_the_next(app: FastAPI) -> None:
    events = app.state.database.events
    with TestClient(app) as client:
        assert client.get("/twice").json() == {"same": True}
        assert client.get("/twice").json() == {"same": True}
    assert [what for what, _ in events] == ["open", "in the route", "closed"] * 2
    first, second = events[0][1], events[3][1]
    assert first is not second  # a new session for each request
    assert events[1][1] is first and events[2][1] is first


def test_a_request_commits_its_writes_and_a_failed_one_leaves_none(
    app: FastAPI, sqlite_url: str
) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/write").status_code == 200
        assert client.post("/write", params={"fail": True}).status_code == 500
    decisions = crud_on(sqlite_url).recent_decisions()
    assert [d["reasons"] for d in decisions] == [["written by a request"]]
    assert [what for what, _ in app.state.database.events] == ["open", "closed"] * 2


def test_routes_without_the_database_open_no_session(
    served: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forecast from a sent history opens no session; a stored read opens exactly one."""
    opened: list[str] = []
    original = Database.session

    @contextmanager
    def recording(self: Database) -> Iterator[Session]:
        if threading.current_thread().name not in BACKGROUND_THREADS:
            opened.append(threading.current_thread().name)
        with original(self) as session:
            yield session

    monkeypatch.setattr(Database, "session", recording)
    history = {"prices": [40.0 + 0.1 * i for i in range(200)]}
    assert served.post("/api/v1/predict", json=history).status_code == 200
    assert opened == []
    assert served.get("/api/v1/tickers").status_code == 200
    assert len(opened) == 1
