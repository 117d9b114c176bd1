"""The one package that reads and writes the database, one module per concept.

Every public function takes a `Session` first: the caller owns the transaction
(``with database.session() as session:``, see `database.Database`), so several reads or
writes can share one. A write that must land whole (a stage save, a promotion, a monitoring
run) is whole within that transaction: it commits when the caller's block ends, and nothing of
it remains when the block raises.

- `stage_hashing`, `stage_versions`, `stage_write`, `stage_read`: the stage tables, versioned
  by change (raw_prices, clean_prices, features);
- `model_versions`: the model registry's table and audit trail;
- `predictions`: the log of served forecasts;
- `monitoring`: monitoring runs, shadow forecasts, scores, drift, decisions;
- `base`: what they share.

Callers write ``crud.save_stage_frame(...)``: every name is re-exported here, and the private
`_latest`, `_records`, `_typed_frame` that migration 0002 and tests reach (a test that patches
one patches the module that looks it up, e.g. `crud.stage_write`).
"""

from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.crud.base import INSERT_CHUNK_ROWS, ping, probe_write
from stock_lstm.data_pipeline.crud.model_versions import (
    REGISTRY_CHANNEL,
    ROLLBACK_REASON,
    ModelVersionInfo,
    Promotion,
    RegistryEvent,
    UnknownModelVersion,
    champion_version,
    get_model_version,
    list_model_versions,
    lock_registry,
    model_version_trained_from,
    previous_champion,
    promote_model_version,
    record_model_version,
    registry_events,
    set_model_version_mlflow_run,
)
from stock_lstm.data_pipeline.crud.monitoring import (
    DRIFT_RESULT_COLUMNS,
    REALIZED_SCORE_COLUMNS,
    SHADOW_FORECAST_COLUMNS,
    MonitoringRunInfo,
    MonitoringSave,
    latest_monitoring_run,
    load_drift_results,
    load_realized_scores,
    load_shadow_forecasts,
    recent_decisions,
    record_decision,
    save_monitoring_run,
)
from stock_lstm.data_pipeline.crud.predictions import load_logged_forecasts, record_predictions
from stock_lstm.data_pipeline.crud.stage_hashing import (
    FLOAT_HASH_FORMAT,
    ROW_HASH_KEYS,
    TABLE_HASH,
    TICKERS_HASH,
    canonical_frame,
    content_hash,
    table_hash,
    ticker_hash,
)
from stock_lstm.data_pipeline.crud.stage_read import (
    StageChanges,
    TickerSummary,
    TickerVersionInfo,
    get_version,
    latest_version,
    list_versions,
    load_stage_changes,
    load_stage_frame,
    load_ticker_prices,
    stored_tails,
    ticker_changes,
    ticker_summaries,
)
from stock_lstm.data_pipeline.crud.stage_versions import (
    STAGES,
    SaveResult,
    TickerChange,
    TickerState,
    VersionInfo,
)
from stock_lstm.data_pipeline.crud.stage_versions import _latest as _latest
from stock_lstm.data_pipeline.crud.stage_versions import _typed_frame as _typed_frame
from stock_lstm.data_pipeline.crud.stage_write import _records as _records
from stock_lstm.data_pipeline.crud.stage_write import remove_ticker, save_stage_frame
from stock_lstm.data_pipeline.schema import FrameSchemaError, StageError, stage_columns

__all__ = [
    "DRIFT_RESULT_COLUMNS",
    "FLOAT_HASH_FORMAT",
    "INSERT_CHUNK_ROWS",
    "REALIZED_SCORE_COLUMNS",
    "REGISTRY_CHANNEL",
    "ROLLBACK_REASON",
    "ROW_HASH_KEYS",
    "SHADOW_FORECAST_COLUMNS",
    "STAGES",
    "TABLE_HASH",
    "TICKERS_HASH",
    "FrameSchemaError",
    "ModelVersionInfo",
    "MonitoringRunInfo",
    "MonitoringSave",
    "Promotion",
    "RegistryEvent",
    "SaveResult",
    "Session",
    "StageChanges",
    "StageError",
    "TickerChange",
    "TickerState",
    "TickerSummary",
    "TickerVersionInfo",
    "UnknownModelVersion",
    "VersionInfo",
    "canonical_frame",
    "champion_version",
    "content_hash",
    "get_model_version",
    "get_version",
    "latest_monitoring_run",
    "latest_version",
    "list_model_versions",
    "list_versions",
    "load_drift_results",
    "load_logged_forecasts",
    "load_realized_scores",
    "load_shadow_forecasts",
    "load_stage_changes",
    "load_stage_frame",
    "load_ticker_prices",
    "lock_registry",
    "model_version_trained_from",
    "ping",
    "probe_write",
    "previous_champion",
    "promote_model_version",
    "record_decision",
    "record_model_version",
    "record_predictions",
    "recent_decisions",
    "registry_events",
    "remove_ticker",
    "save_stage_frame",
    "save_monitoring_run",
    "set_model_version_mlflow_run",
    "stage_columns",
    "stored_tails",
    "table_hash",
    "ticker_changes",
    "ticker_hash",
    "ticker_summaries",
]
