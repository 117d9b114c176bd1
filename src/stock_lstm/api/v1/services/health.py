"""GET /health: whether a model is served and the database answers, and why not."""

from __future__ import annotations

import logging

from stock_lstm.api.v1.schemas.health import HealthResponse
from stock_lstm.api.v1.services.model_store import LoadedModel
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

logger = logging.getLogger(__name__)


def health(
    model: LoadedModel | None, model_error: str | None, database: Database
) -> HealthResponse:
    """ok only when a model is loaded and the database answers; otherwise degraded and why."""
    reasons = []
    if model is None:
        reasons.append(model_error or "no trained model: run `make pipeline` first")
    answers = "ok"
    try:
        with database.session() as session:
            crud.ping(session)
    except Exception as error:  # any driver error means the same thing to a caller
        answers = "unavailable"
        reasons.append(f"database unavailable: {type(error).__name__}")
        logger.warning("health: database unavailable: %s", error)
    return HealthResponse(
        status="degraded" if reasons else "ok",
        model_version=model.version if model is not None else None,
        database=answers,
        reasons=reasons,
    )
