"""GET /api/v1/model: which model serves, what data it saw, how it did against the naive forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from stock_lstm.api.v1.schemas.examples import with_examples


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Stored timestamps are UTC, but SQLite gives them back naive: answer RFC 3339 with the offset.
UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class DataVersionOut(BaseModel):
    id: int
    stage: str
    created_at: UtcDateTime
    source: str
    row_count: int
    parent_id: int | None


class ArtifactsOut(BaseModel):
    model_sha256: str = Field(description="sha256 of the Keras model file (training's).")
    scaler_sha256: str
    serving_sha256: dict[str, str] | None = Field(
        default=None, description="sha256 of each file the API loads (ONNX, JSON), by name."
    )


class ServingOut(BaseModel):
    min_history: int = Field(description="Closes a `prices` request must give at least.")
    max_horizon: int
    interval_level: float
    interval_tickers: list[str] = Field(
        default_factory=list,
        description="Stored tickers whose bands use quantiles of their own (interval scope "
        "`ticker`); any other history, and every sent price list, gets the pooled ones.",
    )
    loaded_at: UtcDateTime


class ModelResponse(BaseModel):
    model_config = with_examples(
        {
            "model_version": "2026-01-05T10.00.00.000Z",
            "trained_at": "2026-01-05T10:00:00Z",
            "data_version": {
                "id": 3,
                "stage": "features",
                "created_at": "2026-01-05T09:59:00Z",
                "source": "feature_engineering",
                "row_count": 8000,
                "parent_id": 2,
            },
            "parameters": {"window": 60, "max_horizon": 30},
            "metrics": {"tickers": {"MSFT": {"h1": {"mae_ratio": 0.99}}}},
            "artifacts": {"model_sha256": "ab12...", "scaler_sha256": "cd34..."},
            "serving": {
                "min_history": 61,
                "max_horizon": 30,
                "interval_level": 0.9,
                "interval_tickers": [],
                "loaded_at": "2026-01-05T10:05:00Z",
            },
            "mlflow_run_id": "3f2b8c4d5e6f47a8b9c0d1e2f3a4b5c6",
            "mlflow_run_url": "http://mlflow.internal:5000/#/runs/3f2b8c4d5e6f47a8b9c0d1e2f3a4b5c6",
        }
    )

    model_version: str
    trained_at: UtcDateTime
    data_version: DataVersionOut | None = Field(description="The data version trained on.")
    parameters: dict[str, Any]
    metrics: dict[str, Any] = Field(
        description="Test-split metrics as the evaluation pipeline recorded them: per ticker and "
        "step, the LSTM's next to the naive forecast's (`lstm`, `naive`, `mae_ratio`)."
    )
    artifacts: ArtifactsOut
    serving: ServingOut
    mlflow_run_id: str | None = Field(
        default=None,
        description="The MLflow run that trained this version (parameters, per-epoch losses, "
        "metrics, artifacts); null when the training run was not tracked.",
    )
    mlflow_run_url: str | None = Field(
        default=None,
        description="A link to that run when MLFLOW_TRACKING_URI is an MLflow server (http); "
        "null for the local store (open it with `kedro mlflow ui`).",
    )


class ReloadResponse(BaseModel):
    model_config = with_examples(
        {
            "model_version": "2026-01-06T09.00.00.000Z",
            "previous_version": "2026-01-05T10.00.00.000Z",
            "changed": True,
            "loaded_at": "2026-01-06T09.05.00Z",
        }
    )

    model_version: str = Field(description="The version served from now on.")
    previous_version: str | None = Field(description="The version served before the call.")
    changed: bool = Field(description="False when the champion was already served.")
    loaded_at: UtcDateTime
