"""Kedro datasets whose load and save go through `crud`, so pipelines never open a session.

Thin and stateless: an instance holds only its configuration. Each names its database by URL
(`url`, default: settings' DATABASE_URL) and gets the process's shared `Database` for it
(`get_database`) when it needs one: one load or save is one session, one transaction.

- tables.py: the versioned stage tables, the stored tails ingestion compares with, and the
  reports of the nodes that write the tables;
- artifacts.py: raw bytes (the ONNX export) and the run's save version;
- registry.py: the model registry (register a version, read the champion);
- monitoring.py: what the daily monitoring reads and stores.

The catalog names them here (``type: stock_lstm.data_pipeline.datasets.<Class>``).
"""

from stock_lstm.data_pipeline.datasets.artifacts import BytesDataset, SaveVersionDataset
from stock_lstm.data_pipeline.datasets.monitoring import (
    LoggedForecastsDataset,
    MonitoringRunDataset,
    RecentDecisionsDataset,
    ShadowForecastsDataset,
)
from stock_lstm.data_pipeline.datasets.registry import ChampionDataset, ModelVersionDataset
from stock_lstm.data_pipeline.datasets.tables import (
    CHANGES_ATTR,
    LINEAGE_ATTR,
    SAVED_ATTR,
    ChangesRequest,
    Lineage,
    ReportLineage,
    StageReportDataset,
    StoredTailDataset,
    VersionedTableDataset,
    report_with_lineage,
    request_changes,
    set_report_lineage,
)

__all__ = [
    "CHANGES_ATTR",
    "LINEAGE_ATTR",
    "SAVED_ATTR",
    "BytesDataset",
    "ChampionDataset",
    "ChangesRequest",
    "Lineage",
    "LoggedForecastsDataset",
    "ModelVersionDataset",
    "MonitoringRunDataset",
    "RecentDecisionsDataset",
    "ReportLineage",
    "SaveVersionDataset",
    "ShadowForecastsDataset",
    "StageReportDataset",
    "StoredTailDataset",
    "VersionedTableDataset",
    "report_with_lineage",
    "request_changes",
    "set_report_lineage",
]
