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

from stock_lstm.common.lazy import lazy_exports

# Imported on first use (crud's way): the API reads the registry's entry without the table
# datasets (pandas).
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "artifacts": ("BytesDataset", "SaveVersionDataset"),
        "monitoring": (
            "LoggedForecastsDataset",
            "MonitoringRunDataset",
            "RecentDecisionsDataset",
            "ShadowForecastsDataset",
        ),
        "registry": ("ChampionDataset", "ModelVersionDataset"),
        "tables": (
            "CHANGES_ATTR",
            "LINEAGE_ATTR",
            "SAVED_ATTR",
            "ChangesRequest",
            "Lineage",
            "ReportLineage",
            "StageReportDataset",
            "StoredTailDataset",
            "VersionedTableDataset",
            "report_with_lineage",
            "request_changes",
            "set_report_lineage",
        ),
        "base": (),
    },
)
