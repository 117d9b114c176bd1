"""Lineage of the versioned stage tables, kept by a hook so node functions stay pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from stock_lstm.common.lazy import lazy_module

if TYPE_CHECKING:
    from stock_lstm.data_pipeline.crud import SaveResult
    from stock_lstm.data_pipeline.datasets import Lineage, VersionedTableDataset

# Imported when a run first uses it (with pandas): an API worker reads the project's settings,
# which name this hook, and never runs a pipeline.
datasets = lazy_module("stock_lstm.data_pipeline.datasets")


class LineageHooks:
    """The version bookkeeping of the stage tables, so node functions stay pure.

    When a node reads a stage table (say ``clean_prices``) and writes a table derived from it
    (``features``, ``parent_stage: clean``), the read gives only the rows the derived table must
    redo (the tickers changed since its newest version was derived, with the derived entry's
    ``lookback_rows``), and the write records the version read as its parent and replaces
    exactly those tickers from their first change.

    The report a node writes after saving a stage table (a `StageReportDataset`:
    ``ingestion_report``, ``cleaning_report``) is stored with the versions involved and, per
    ticker, what the save did (see `report_with_lineage`).

    What a node read and saved is this hook's own state, by node name; the datasets keep none
    between calls: a load request and a report's lineage are handed over just before the call,
    in the thread that makes it, and a frame carries its lineage and its save's result in its
    ``attrs``.
    """

    def __init__(self) -> None:
        self._catalog: Any = None
        self._read: dict[str, dict[str, Lineage]] = {}  # node name -> stage read -> lineage
        self._sources: dict[str, dict[str, str | None]] = {}  # node name -> stage -> source
        self._saved: dict[str, dict[str, SaveResult]] = {}  # node name -> stage -> save

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        self._catalog = catalog
        self._read.clear()
        self._sources.clear()
        self._saved.clear()

    def _dataset(self, name: str) -> Any:
        if self._catalog is None or name.startswith("params:") or name == "parameters":
            return None
        try:
            return self._catalog.get(name)
        except Exception:  # noqa: BLE001 - not a dataset of this catalog: nothing to track
            return None

    def _table(self, name: str) -> VersionedTableDataset | None:
        dataset = self._dataset(name)
        return dataset if isinstance(dataset, datasets.VersionedTableDataset) else None

    def _derived_outputs(self, node: Node, stage: str) -> list[VersionedTableDataset]:
        tables = (self._table(name) for name in node.outputs)
        return [t for t in tables if t is not None and t.parent_stage == stage]

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Node) -> None:
        if dataset_name == node.inputs[0]:  # a new run of this node: forget the previous one
            self._read.pop(node.name, None)
            self._sources.pop(node.name, None)
            self._saved.pop(node.name, None)
        table = self._table(dataset_name)
        if table is None:
            return
        derived = self._derived_outputs(node, table.stage)
        request = None
        if len(derived) == 1:
            request = datasets.ChangesRequest(
                table.stage, derived[0].stage, derived[0].lookback_rows
            )
        datasets.request_changes(request)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Node) -> None:
        table = self._table(dataset_name)
        if table is None:
            return
        changes = data.attrs.get(datasets.CHANGES_ATTR)
        if changes is not None:
            lineage = datasets.Lineage(changes.version_id, dict(changes.since))
        else:  # a whole table was read: a derived save redoes its tickers whole
            lineage = datasets.Lineage(data.attrs.get("version_id"), None)
        self._read.setdefault(node.name, {})[table.stage] = lineage
        self._sources.setdefault(node.name, {})[table.stage] = data.attrs.get("source")

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, datasets.VersionedTableDataset):
            lineage = self._read.get(node.name, {}).get(dataset.parent_stage or "")
            data.attrs.pop(datasets.LINEAGE_ATTR, None)
            if lineage is not None:
                data.attrs[datasets.LINEAGE_ATTR] = lineage
        elif isinstance(dataset, datasets.StageReportDataset):
            report = None
            if node.name in self._saved:  # the report of a node that saved a table
                read = self._read.get(node.name, {})
                sources = self._sources.get(node.name, {})
                report = datasets.ReportLineage(
                    read={s: (lin.parent_version_id, sources.get(s)) for s, lin in read.items()},
                    saved=dict(self._saved[node.name]),
                )
            datasets.set_report_lineage(report)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        table = self._table(dataset_name)
        if table is not None and data.attrs.get(datasets.SAVED_ATTR) is not None:
            self._saved.setdefault(node.name, {})[table.stage] = data.attrs[datasets.SAVED_ATTR]

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        datasets.request_changes(None)  # a failed load leaves no request behind for the next one
        datasets.set_report_lineage(None)
