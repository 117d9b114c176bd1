"""GET /health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "model_version": "2026-01-05T10.00.00.000Z",
                    "database": "ok",
                    "reasons": [],
                },
                {
                    "status": "degraded",
                    "model_version": None,
                    "database": "ok",
                    "reasons": ["no trained model: run `make pipeline` first"],
                },
            ]
        },
    )

    status: Literal["ok", "degraded"]
    model_version: str | None
    database: Literal["ok", "unavailable"]
    reasons: list[str] = Field(default_factory=list, description="Why the status is degraded.")
