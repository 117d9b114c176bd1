"""Lineage of the versioned stage tables, kept by a hook so node functions stay pure."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from stock_lstm.data_pipeline.crud import SaveResult, TickerChange
from stock_lstm.data_pipeline.datasets import Lineage, VersionedTableDataset


class LineageHooks:
    """The version bookkeeping of the stage tables, so node functions stay pure.

    When a node reads a stage table (say ``clean_prices``) and writes a table derived from it
    (``features``, ``parent_stage: clean``), the read gives only the rows the derived table must
    redo (the tickers changed since its newest version was derived, with the derived entry's
    ``lookback_rows``), and the write records the version read as its parent and replaces
    exactly those tickers from their first change.

    A JSON report a node writes after saving a stage table (``ingestion_report``,
    ``cleaning_report``; other nodes' outputs are left alone) gets the versions involved (``raw_version_id``/``raw_source`` of the table read or saved,
    the saved one winning) and, per ticker, what the save did: ``new_bars``,
    ``restated_bars``, ``removed_bars``, and one line each (``MSFT: 1 new bar, 0 restated``).
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

    def _table(self, name: str) -> VersionedTableDataset | None:
        if self._catalog is None or name.startswith("params:") or name == "parameters":
            return None
        try:
            dataset = self._catalog.get(name)
        except Exception:  # noqa: BLE001 - not a dataset of this catalog: nothing to track
            return None
        return dataset if isinstance(dataset, VersionedTableDataset) else None

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
        if len(derived) == 1:
            table.read_changes_for(derived[0])

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Node) -> None:
        table = self._table(dataset_name)
        if table is None:
            return
        changes = table.last_changes
        if changes is not None:
            lineage = Lineage(changes.version_id, dict(changes.since))
        else:  # a whole table was read: a derived save redoes its tickers whole
            lineage = Lineage(data.attrs.get("version_id"), None)
        self._read.setdefault(node.name, {})[table.stage] = lineage
        self._sources.setdefault(node.name, {})[table.stage] = data.attrs.get("source")

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        table = self._table(dataset_name)
        if table is not None:
            lineage = self._read.get(node.name, {}).get(table.parent_stage or "")
            if lineage is not None:
                table.record_lineage(lineage)
        elif isinstance(data, dict) and node.name in self._saved:  # a report of a table's node
            read = self._read.get(node.name, {})
            for stage, lineage in read.items():
                data[f"{stage}_version_id"] = lineage.parent_version_id
                data[f"{stage}_source"] = self._sources.get(node.name, {}).get(stage)
            for stage, result in self._saved.get(node.name, {}).items():
                _add_changes(data, stage, result)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        table = self._table(dataset_name)
        if table is not None and table.last_save is not None:
            self._saved.setdefault(node.name, {})[table.stage] = table.last_save


def _add_changes(report: dict[str, Any], stage: str, result: SaveResult) -> None:
    """The stage version a node saved, and per ticker of its report what the save did."""
    if result.version is not None:
        report[f"{stage}_version_id"] = result.version.id
        report[f"{stage}_source"] = result.version.source
    report[f"{stage}_version_created"] = result.created
    lines = []
    tickers = report.get("tickers")
    names = list(tickers) if isinstance(tickers, dict) else sorted(result.changes)
    for ticker in names:
        change = result.changes.get(ticker, TickerChange())
        if isinstance(tickers, dict) and isinstance(tickers.get(ticker), dict):
            tickers[ticker].update(
                new_bars=change.new, restated_bars=change.restated, removed_bars=change.removed
            )
        lines.append(change.describe(ticker))
    report[f"{stage}_changes"] = lines
