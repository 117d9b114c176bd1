"""The model registry over HTTP: list versions and events, promote a version, roll back.

The checks and the change are the registry's (data_pipeline/model_registry.py: `promote`,
`rollback`), shared with `python -m stock_lstm.cli.registry`. Every worker follows a promotion
(services/serving.py); this worker converges at once, from the files the promotion checked
(each read and hashed once), so its own answers change immediately.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from stock_lstm.api.v1.errors import Conflict, NotFound, ServiceUnavailable
from stock_lstm.api.v1.schemas.registry import (
    ModelsResponse,
    ModelVersionOut,
    PromotionResponse,
    RegistryEventOut,
)
from stock_lstm.api.v1.services.serving import ModelSwitch, ReloadFailed
from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.model_registry import PromotionRefused
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files

logger = logging.getLogger(__name__)

DEFAULT_MODEL_TYPE = "lstm"


def models_overview(session: Session) -> ModelsResponse:
    versions = crud.list_model_versions(session)
    return ModelsResponse(
        champion=next((v.model_version for v in versions if v.status == "champion"), None),
        versions=[
            ModelVersionOut(
                model_version=v.model_version,
                status=v.status,
                trained_at=v.trained_at,
                data_version_id=v.data_version_id,
                model_type=_model_type(v.parameters),
                metrics=v.metrics,
                parameters=v.parameters,
                serving_sha256=v.serving_sha256,
            )
            for v in versions
        ],
        events=[
            RegistryEventOut.model_validate(event, from_attributes=True)
            for event in crud.registry_events(session)
        ],
    )


def _model_type(parameters: dict) -> str:
    """`model_type` of the training parameters (or `model.type`); the LSTM's have neither."""
    model = parameters.get("model")
    nested = model.get("type") if isinstance(model, dict) else None
    return str(parameters.get("model_type") or nested or DEFAULT_MODEL_TYPE)


def promote(switch: ModelSwitch, version: str, *, actor: str, reason: str) -> PromotionResponse:
    """Make `version` the champion: 404 unknown, 409 not servable (incomplete, tampered, or its
    files do not load: built and tried before anything is recorded), no-op when it already is."""
    return _change(
        switch,
        lambda session, files, verified: model_registry.promote(
            session,
            version,
            files,
            actor=actor,
            reason=reason,
            load_check=forecaster_from_files,
            verified=verified,
        ),
    )


def rollback(switch: ModelSwitch, *, actor: str) -> PromotionResponse:
    """Promote the champion's predecessor (409 when there is none)."""
    return _change(
        switch,
        lambda session, files, verified: model_registry.rollback(
            session, files, actor=actor, load_check=forecaster_from_files, verified=verified
        ),
    )


def _change(switch: ModelSwitch, change: Callable) -> PromotionResponse:
    """Apply `change` to the registry in a transaction of its own, committed before this worker
    converges (so it sees the change): not the request's session, which commits only when the
    route returns. A database error reaches the app's handler (503 "database unavailable")."""
    store = switch.store
    if store is None:
        raise ServiceUnavailable(
            f"the registry cannot be changed here: {switch.error}", type="no_catalog"
        )
    verified: dict[str, bytes] = {}  # the promoted files' checked bytes, loaded below
    try:
        with store.database.session() as session:
            promotion = change(session, store.serving_filepaths, verified)
    except crud.UnknownModelVersion as error:
        raise NotFound(f"{error}: see GET /api/v1/models", type="unknown_model_version") from error
    except PromotionRefused as error:
        raise Conflict(str(error), type="promotion_refused") from error
    if promotion.changed:
        logger.info(
            "model version %s is the champion (was %s)", promotion.champion, promotion.previous
        )
    try:
        served = switch.converge(promotion.champion, verified).model.version
    except ReloadFailed:  # logged by the switch; this worker keeps its old model
        served = switch.served_version
    return PromotionResponse(
        champion=promotion.champion,
        previous=promotion.previous,
        changed=promotion.changed,
        served_here=served,
    )
