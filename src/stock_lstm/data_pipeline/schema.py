"""The one map of column types, read once from the ORM models (orm_models.py is the schema).

Per mapped table: its columns in table order, each one's kind (date, int, float, bool, str;
``object`` for JSON and timestamps, left as they are) and the columns that may be NULL. A
stage table's frame is ``ticker, date`` then its value columns. Everything that types such a
frame asks here: crud's canonical frame (what is hashed) and loads, the sources' bars, and
cleaning's pandera schemas. `as_kind` and `python_values` are the only date/int/float/str
dispatch: into a frame column's dtype, and back to the Python values an insert binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from stock_lstm.common.lazy import lazy_module
from stock_lstm.data_pipeline.orm_models import STAGE_MODELS, Base

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: an API worker that only reads the registry never needs it
    pd = lazy_module("pandas")

VALIDITY_COLUMNS = ("valid_from", "valid_to")  # a stage row's versions, never in its frame
KEY = ("ticker", "date")  # a stage frame's key, its first columns
_KINDS = {date: "date", int: "int", float: "float", bool: "bool", str: "str"}


class StageError(LookupError):
    """A stage table has no version (yet), or not the one asked for."""


class FrameSchemaError(ValueError):
    """A frame handed to a save lacks a column its table needs."""


@dataclass(frozen=True)
class TableColumns:
    """A table's (or a stage frame's) columns in order, their kinds, and the nullable ones."""

    names: tuple[str, ...]
    kinds: dict[str, str]
    nullable: frozenset[str]  # may be NULL (keys never are)

    def of_kind(self, *kinds: str) -> tuple[str, ...]:
        return tuple(name for name in self.names if self.kinds[name] in kinds)

    def without(self, *names: str) -> tuple[str, ...]:
        return tuple(name for name in self.names if name not in names)

    def dtypes(self) -> dict[str, str]:
        """Each column's pandas dtype."""
        return {name: dtype(self.kinds[name], name in self.nullable) for name in self.names}


def _kind(column: Any) -> str:
    try:
        return _KINDS.get(column.type.python_type, "object")
    except NotImplementedError:
        return "object"


@cache
def table_columns(model: type[Base]) -> TableColumns:
    """The columns of a mapped class's table, read from its SQLAlchemy columns once."""
    columns = list(model.__table__.columns)
    return TableColumns(
        names=tuple(c.name for c in columns),
        kinds={c.name: _kind(c) for c in columns},
        nullable=frozenset(c.name for c in columns if c.nullable and not c.primary_key),
    )


@cache
def stage_frame(stage: str) -> TableColumns:
    """A stage table's frame: ticker, date, then the value columns in table order."""
    try:
        table = table_columns(STAGE_MODELS[stage])
    except KeyError:
        raise StageError(
            f"unknown stage {stage!r}; the stages are {', '.join(STAGE_MODELS)}"
        ) from None
    names = (*KEY, *table.without(*VALIDITY_COLUMNS, *KEY))
    return TableColumns(names, {n: table.kinds[n] for n in names}, table.nullable)


def stage_columns(stage: str) -> list[str]:
    """The frame columns of a stage table: ticker, date, then the values in table order."""
    return list(stage_frame(stage).names)


def dtype(kind: str, nullable: bool = True) -> str:
    """The pandas dtype of a kind; a nullable int is pandas' nullable Int64."""
    if kind == "int":
        return "Int64" if nullable else "int64"
    return {"date": "datetime64[ns]", "float": "float64", "bool": "bool", "str": "str"}.get(
        kind, "object"
    )


def as_kind(values: pd.Series, kind: str, nullable: bool = True) -> pd.Series:
    """`values` as the dtype of `kind`: dates at midnight, ints rounded, numbers parsed."""
    if kind == "date":
        return pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
    if kind == "int":
        return pd.to_numeric(values).round().astype(dtype(kind, nullable))
    if kind == "float":
        return pd.to_numeric(values).astype("float64")
    if kind in ("bool", "str"):
        return values.astype(dtype(kind))
    return values


def typed_frame(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """`frame`'s columns of `stage` in table order, each as its kind, in `frame`'s row order;
    a nullable column the frame lacks comes back all missing. Raises FrameSchemaError when it
    lacks another."""
    spec = stage_frame(stage)
    missing = [c for c in spec.names if c not in frame.columns and c not in spec.nullable]
    if missing:
        raise FrameSchemaError(
            f"cannot save stage {stage!r}: the frame lacks column(s) {', '.join(missing)}"
        )
    # One constructor call, not a column insert per name: the API reads a ticker through here
    # on every request, and eight inserts cost more than the query.
    return pd.DataFrame(
        {
            name: as_kind(
                frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index),
                spec.kinds[name],
                name in spec.nullable,
            )
            for name in spec.names
        },
        index=frame.index,
    )


def python_values(series: pd.Series, kind: str) -> list[Any]:
    """A typed column (as `as_kind` makes it) as the Python values an insert binds; missing
    values become None."""
    if kind == "date":
        return [ts.date() for ts in series]
    if kind == "int":
        return [None if pd.isna(v) else int(v) for v in series]
    if kind == "float":
        return [None if np.isnan(v) else float(v) for v in series.to_numpy()]
    if kind == "bool":
        return [bool(v) for v in series]
    return series.tolist()
