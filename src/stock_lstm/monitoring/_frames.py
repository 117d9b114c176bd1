"""Column checks and per-ticker calendars shared by the monitoring modules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError

_Parameters = TypeVar("_Parameters")
# The field types a parameter dataclass may declare, by the name its annotation is stored under
# (the modules use `from __future__ import annotations`, so annotations are strings).
_PARAMETER_TYPES = {"int": (int, "whole number"), "float": (float, "number"), "str": (str, "text")}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name} lacks column(s) {', '.join(missing)}")


def parameters_from_mapping(
    cls: type[_Parameters], params: Mapping[str, Any], what: str
) -> _Parameters:
    """A frozen parameter dataclass from its YAML mapping, each field converted to its declared
    type; a missing key or a value of the wrong kind is an InputError naming the parameter."""
    declared = fields(cls)  # type: ignore[arg-type]
    missing = [f.name for f in declared if f.name not in params]
    if missing:
        raise InputError(f"{what} parameters lack {', '.join(missing)}")
    values: dict[str, Any] = {}
    for field in declared:
        convert, kind = _PARAMETER_TYPES[str(field.type)]
        try:
            values[field.name] = convert(params[field.name])
        except (TypeError, ValueError):
            raise InputError(
                f"{what} parameter {field.name} must be a {kind}, got {params[field.name]!r}"
            ) from None
    return cls(**values)


def frame_of(frames: list[pd.DataFrame], columns: Iterable[str]) -> pd.DataFrame:
    """The frames stacked in the order of `columns`, or an empty frame with those columns."""
    columns = list(columns)
    if not frames:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(frames, ignore_index=True).loc[:, columns]


def as_dates(values: pd.Series | Iterable[object]) -> pd.Series:
    """Calendar dates as datetime64[ns] at midnight (dates, strings and timestamps alike)."""
    return pd.Series(pd.to_datetime(values)).dt.normalize().astype("datetime64[ns]")


@dataclass(frozen=True)
class TickerCalendar:
    """One ticker's trading days (sorted, unique, datetime64[ns]) and its closes on them."""

    dates: np.ndarray
    closes: np.ndarray


def ticker_calendars(prices: pd.DataFrame) -> dict[str, TickerCalendar]:
    """Each ticker's own calendar: the dates it has a close on. A repeated date is an error."""
    require_columns(prices, ("ticker", "date", "close"), "prices")
    frame = pd.DataFrame(
        {
            "ticker": prices["ticker"].astype(str).to_numpy(),
            "date": as_dates(prices["date"]).to_numpy(),
            "close": pd.to_numeric(prices["close"]).astype("float64").to_numpy(),
        }
    ).sort_values(["ticker", "date"], kind="stable")
    repeated = frame.duplicated(["ticker", "date"])
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise InputError(
            f"prices: ticker {row['ticker']!r} has more than one close on {row['date']:%Y-%m-%d}"
        )
    return {
        str(ticker): TickerCalendar(
            dates=group["date"].to_numpy(dtype="datetime64[ns]"),
            closes=group["close"].to_numpy(dtype="float64"),
        )
        for ticker, group in frame.groupby("ticker", sort=True)
    }
