"""The one package that reads and writes the database, one module per concept.

Every public function takes a `Session` first: the caller owns the transaction
(``with database.session() as session:``, see `database.Database`), so several reads or
writes can share one. A write that must land whole (a stage save, a promotion, a monitoring
run) is whole within that transaction: it commits when the caller's block ends, and nothing of
it remains when the block raises.

- `stage_hashing`, `stage_versions`, `stage_write`, `stage_read`: the stage tables, versioned
  by change (raw_prices, clean_prices, features);
- `model_versions`: the model registry's table and audit trail;
- `closes`: a ticker's newest closes as an array, and the stage's newest version (the API's
  forecasts; no pandas);
- `predictions`: the log of served forecasts;
- `monitoring`: monitoring runs, shadow forecasts, scores, drift, decisions;
- `base`: what they share.

Callers write ``crud.save_stage_frame(...)``: every name is re-exported here, and the private
`_latest`, `_records`, `_typed_frame` that migration 0002 and tests reach (a test that patches
one patches the module that looks it up, e.g. `crud.stage_write`).

Imported lazily (PEP 562): `crud.x` imports the module that holds `x` on first use, so a
process that only reads the registry or a ticker's closes (an API worker) never imports
pandas, which the stage modules need.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from stock_lstm.common.lazy import lazy_exports

_EXPORTS = {  # module -> the names it holds
    "base": ("INSERT_CHUNK_ROWS", "ping", "probe_write"),
    "closes": ("StageVersionProbe", "StoredCloses", "newest_closes"),
    "model_versions": (
        "REGISTRY_CHANNEL",
        "ROLLBACK_REASON",
        "ModelVersionInfo",
        "Promotion",
        "RegistryEvent",
        "UnknownModelVersion",
        "champion_version",
        "get_model_version",
        "list_model_versions",
        "lock_registry",
        "model_version_trained_from",
        "previous_champion",
        "promote_model_version",
        "record_model_version",
        "registry_events",
        "set_model_version_mlflow_run",
    ),
    "monitoring": (
        "DRIFT_RESULT_COLUMNS",
        "REALIZED_SCORE_COLUMNS",
        "SHADOW_FORECAST_COLUMNS",
        "MonitoringRunInfo",
        "MonitoringSave",
        "latest_monitoring_run",
        "load_drift_results",
        "load_realized_scores",
        "load_shadow_forecasts",
        "recent_decisions",
        "record_decision",
        "save_monitoring_run",
    ),
    "predictions": ("load_logged_forecasts", "record_predictions"),
    "stage_hashing": (
        "FLOAT_HASH_FORMAT",
        "ROW_HASH_KEYS",
        "TABLE_HASH",
        "TICKERS_HASH",
        "canonical_frame",
        "content_hash",
        "table_hash",
        "ticker_hash",
    ),
    "stage_read": (
        "StageChanges",
        "TickerSummary",
        "TickerVersionInfo",
        "get_version",
        "latest_version",
        "list_versions",
        "load_stage_changes",
        "load_stage_frame",
        "load_ticker_prices",
        "stored_tails",
        "ticker_changes",
        "ticker_summaries",
    ),
    "stage_versions": (
        "STAGES",
        "SaveResult",
        "TickerChange",
        "TickerState",
        "VersionInfo",
        "_latest",
        "_typed_frame",
    ),
    "stage_write": ("_records", "remove_ticker", "save_stage_frame"),
    "stock_lstm.data_pipeline.schema": ("FrameSchemaError", "StageError", "stage_columns"),
}
__getattr__, __dir__, _names = lazy_exports(__name__, _EXPORTS)
__all__ = ["Session", *_names]
