"""GET /health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stock_lstm.api.v1.schemas.examples import with_examples


class HealthResponse(BaseModel):
    model_config = with_examples(
        {
            "status": "ok",
            "model_version": "2026-01-05T10.00.00.000Z",
            "serving": "champion",
            "database": "ok",
            "reasons": [],
        },
        {
            "status": "degraded",
            "model_version": "2026-01-05T10.00.00.000Z",
            "serving": "stale: the champion is 2026-01-06T09.00.00.000Z, still serving "
            "2026-01-05T10.00.00.000Z: onnx_model of model version "
            "2026-01-06T09.00.00.000Z is missing (onnx_model.onnx)",
            "database": "read-only",
            "reasons": ["..."],
        },
    )

    status: Literal["ok", "degraded"]
    model_version: str | None
    serving: str = Field(
        description="\"champion\" when the registry's champion is served (as of this worker's "
        'last registry check), else "stale: <why>".'
    )
    database: Literal["ok", "read-only", "unavailable"] = Field(
        description="Whether the database answers and takes writes (checked every few seconds)."
    )
    reasons: list[str] = Field(default_factory=list, description="Why the status is degraded.")
