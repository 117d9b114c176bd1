"""GET /api/v1/models and the promote/rollback answers: the model registry as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stock_lstm.api.v1.schemas.model import UtcDateTime

_VERSION = "2026-01-05T10.00.00.000Z"


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    status: str = Field(
        description="`candidate`, `champion` (served by every worker) or `retired`."
    )
    trained_at: UtcDateTime
    data_version_id: int | None
    model_type: str = Field(description="The model family (from its parameters), e.g. `lstm`.")
    metrics: dict[str, Any] = Field(
        description="The evaluation's record: per ticker and step the model's test metrics next "
        "to the naive forecast's (`tickers`, `summary`), the ONNX parity (`onnx_parity`) and "
        "the comparison with the champion on a window neither model saw (`comparison`)."
    )
    parameters: dict[str, Any]
    serving_sha256: dict[str, str] | None = Field(
        description="sha256 of each file the API loads, checked before loading."
    )


class RegistryEventOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    from_status: str | None
    to_status: str
    at: UtcDateTime
    reason: str
    actor: str = Field(description="The API key's name, `cli`, or `evaluation`.")


class ModelsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "champion": _VERSION,
                    "versions": [
                        {
                            "model_version": _VERSION,
                            "status": "champion",
                            "trained_at": "2026-01-05T10:00:00Z",
                            "data_version_id": 3,
                            "model_type": "lstm",
                            "metrics": {"summary": {"h1": {"max_mae_ratio": 0.99}}},
                            "parameters": {"model": {"window": 60}},
                            "serving_sha256": {"onnx_model": "ab12..."},
                        }
                    ],
                    "events": [
                        {
                            "model_version": _VERSION,
                            "from_status": "candidate",
                            "to_status": "champion",
                            "at": "2026-01-05T10:01:00Z",
                            "reason": "first version of an empty registry",
                            "actor": "evaluation",
                        }
                    ],
                }
            ]
        }
    )

    champion: str | None = Field(description="The version every worker serves (null: none).")
    versions: list[ModelVersionOut] = Field(description="Every version, newest first.")
    events: list[RegistryEventOut] = Field(description="Every status change, newest first.")


class PromotionResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    champion: str = Field(description="The champion from now on.")
    previous: str | None = Field(description="The champion it replaced (null: none, or no-op).")
    changed: bool = Field(description="False when the version already was the champion.")
    served_here: str | None = Field(
        description="The version the worker that answered serves now; the others follow "
        "within the registry's poll bound (at once on PostgreSQL)."
    )
