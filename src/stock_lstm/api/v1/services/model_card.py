"""GET /api/v1/model: the serving model's card, its registry record and how it serves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from stock_lstm.api.v1.errors import NotFound
from stock_lstm.api.v1.schemas.model import (
    ArtifactsOut,
    DataVersionOut,
    ModelResponse,
    ServingOut,
)
from stock_lstm.api.v1.services.model_store import LoadedModel
from stock_lstm.common.settings import mlflow_run_url
from stock_lstm.data_pipeline import crud


def model_details(
    session: Session, model: LoadedModel, mlflow_tracking_uri: str | None = None
) -> ModelResponse:
    record = crud.get_model_version(session, model.version)
    if record is None:
        raise NotFound(
            f"model version {model.version} has no model_versions record: "
            "run `kedro run --pipelines evaluation`",
            type="unevaluated_model",
        )
    data_version = (
        crud.get_version(session, record.data_version_id)
        if record.data_version_id is not None
        else None
    )
    forecaster = model.forecaster
    return ModelResponse(
        model_version=record.model_version,
        trained_at=record.trained_at,
        data_version=(
            DataVersionOut.model_validate(data_version, from_attributes=True)
            if data_version is not None
            else None
        ),
        parameters=record.parameters,
        metrics=record.metrics,
        artifacts=ArtifactsOut(
            model_sha256=record.model_sha256,
            scaler_sha256=record.scaler_sha256,
            serving_sha256=record.serving_sha256,
        ),
        serving=ServingOut(
            min_history=forecaster.min_history,
            max_horizon=forecaster.max_horizon,
            interval_level=forecaster.interval_level,
            interval_tickers=forecaster.interval_tickers,
            loaded_at=model.loaded_at,
        ),
        mlflow_run_id=record.mlflow_run_id,
        mlflow_run_url=mlflow_run_url(mlflow_tracking_uri, record.mlflow_run_id),
    )
