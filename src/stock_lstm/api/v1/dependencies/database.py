"""The database, injected: the app's `Database` (created once by the lifespan) and one session
per request, the way FastAPI's full-stack template does it (`SessionDep`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.database import Database


async def get_database(request: Request) -> Database:
    """The app's `Database`: for what opens its own sessions (/health, the registry's changes)."""
    return request.app.state.database


def get_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """One session per request, one transaction: committed when the route returns and before
    the response is sent (`scope="function"`), rolled back when it raises, then closed. A plain
    `def`: opening the first session migrates the schema, and a commit waits on the database,
    so FastAPI runs it in the thread pool. A database error reaches the app's handler (503
    "database unavailable")."""
    with database.session() as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
