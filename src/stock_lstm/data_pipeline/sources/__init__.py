"""Price sources, each giving one canonical frame: ticker, date, open, high, low, close,
adj_close, volume (see base.py).

`fetch_prices` picks the source: ``yfinance``, ``csv`` (a folder of Yahoo-export CSVs) or
``auto``: yfinance first and, for each ticker it cannot give, the CSV folder, with a WARNING
naming the ticker and the reason. The universe (`universe_folders`) says which CSV folders
that is: ``snapshot`` (``csv_dir``, by default the bundled snapshot), a bundled universe such as
``sp500_20``, or ``all`` (``csv_dir`` first, then every bundled folder; the first folder that
has a ticker gives it). The frame's ``attrs["source"]`` says which source gave what
(the versioned table dataset records it on the data version) and ``attrs["ticker_sources"]``
names each ticker's source.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from stock_lstm.data_pipeline.sources import csv, yfinance
from stock_lstm.data_pipeline.sources.base import SourceError

__all__ = [
    "SOURCES",
    "UNIVERSES",
    "SourceError",
    "fetch_prices",
    "parse_tickers",
    "universe_folders",
    "universe_tickers",
]

logger = logging.getLogger(__name__)

SOURCES = ("auto", "yfinance", "csv")
ALL_TICKERS = "all"  # every ticker of the CSV folder; exactly this, lower case ("ALL" is Allstate)
LABEL_MAX_TICKERS = 5
SNAPSHOT_UNIVERSE = (
    "snapshot"  # csv_dir alone: the bundled snapshot unless the user points elsewhere
)
ALL_UNIVERSES = "all"
# The bundled universes (conf/base/parameters_ingestion.yml `ingestion.universes` may override).
BUNDLED_UNIVERSES: dict[str, tuple[str, ...]] = {
    "snapshot": ("data/01_raw/snapshot",),
    "sp500_20": ("data/01_raw/sp500_20",),
}
UNIVERSES = (*BUNDLED_UNIVERSES, ALL_UNIVERSES)


def universe_folders(
    universe: str,
    csv_dir: str | Path | Sequence[str | Path],
    universes: Mapping[str, Sequence[str]] | None = None,
) -> list[str | Path]:
    """The CSV folders of `universe`, in precedence order (the first that has a ticker gives it).

    ``snapshot``: ``csv_dir`` (the bundled snapshot by default, or the user's folder), exactly
    as before universes existed; another bundled name: its folders; ``all``: ``csv_dir`` first,
    then every bundled universe's folders in their order, so a ticker in two of them (MSFT in
    the snapshot and in sp500_20) keeps the snapshot's series.
    """
    bundled = {name: tuple(dirs) for name, dirs in (universes or BUNDLED_UNIVERSES).items()}
    choices = (*bundled, ALL_UNIVERSES)
    name = str(universe).strip().lower()
    if name not in choices:
        raise SourceError(
            f"unknown ingestion.universe {universe!r}: use one of {', '.join(choices)}"
        )
    own = [csv_dir] if isinstance(csv_dir, str | Path) else list(csv_dir)
    if name == SNAPSHOT_UNIVERSE:
        folders: list[str | Path] = own
    elif name == ALL_UNIVERSES:
        folders = [*own, *(d for dirs in bundled.values() for d in dirs)]
    else:
        folders = list(bundled[name])
    unique: dict[Path, str | Path] = {}
    for folder in folders:
        unique.setdefault(csv.resolve_dir(folder).resolve(), folder)
    return list(unique.values())


def universe_tickers(
    universe: str,
    csv_dir: str | Path | Sequence[str | Path],
    universes: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Every ticker of the universe's CSV folders, sorted."""
    return sorted(csv.folders_files(universe_folders(universe, csv_dir, universes)))


def bundled_tickers(universes: Mapping[str, Sequence[str]] | None = None) -> set[str]:
    """Every ticker of every bundled universe (a stored ticker outside them is the user's)."""
    bundled = universes or BUNDLED_UNIVERSES
    return set(csv.folders_files([d for dirs in bundled.values() for d in dirs]))


def parse_tickers(
    value: str | Sequence[str] | None, csv_dir: str | Path | Sequence[str | Path]
) -> list[str]:
    """Upper-case tickers, once each, in the order given.

    Accepts a YAML list, one ticker, or a string of tickers separated by spaces or commas
    (``--params "ingestion.tickers=AAPL MSFT"``: Kedro splits ``--params`` on commas).
    ``all`` (exactly, in lower case) means every ticker of the CSV folder; ``ALL`` or ``All``
    is the ticker ALL (Allstate), so the check comes before upper-casing.
    """
    if value is None:
        items: list[str] = []
    elif isinstance(value, str | int | float):
        items = str(value).replace(",", " ").split()
    else:
        items = [part for item in value for part in str(item).replace(",", " ").split()]
    items = [item.strip() for item in items if item.strip()]
    if items == [ALL_TICKERS]:
        folders = [csv_dir] if isinstance(csv_dir, str | Path) else list(csv_dir)
        tickers = list(csv.folders_files(folders))
    else:
        tickers = list(dict.fromkeys(item.upper() for item in items))
    if not tickers:
        raise SourceError(
            "ingestion.tickers is empty: give a YAML list such as [^GSPC, GOOG, MSFT], a "
            'space-separated string (--params "ingestion.tickers=AAPL MSFT"), or "all" for '
            "every ticker of ingestion.csv_dir"
        )
    return tickers


def parse_date(value: str | date | None, name: str) -> pd.Timestamp | None:
    """A parameter date (YYYY-MM-DD) as a Timestamp; None stays None (no bound)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "null", "none"}):
        return None
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise SourceError(f"{name} must be a date YYYY-MM-DD or null, got {value!r}") from None


def fetch_prices(
    source: str,
    tickers: str | Sequence[str] | None,
    *,
    start: str | date | None,
    end: str | date | None = None,
    csv_dir: str | Path,
    yfinance_timeout: float = yfinance.DEFAULT_TIMEOUT_S,
    overlap_days: int = 10,
    stored: pd.DataFrame | None = None,
    universe: str = SNAPSHOT_UNIVERSE,
    universes: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Every ticker's daily bars from start to end (inclusive; end None = the latest).

    A CSV file is read whole (the save diffs it against what is stored). From Yahoo, a ticker
    with `stored` bars (the newest stored rows per ticker) is asked only for the bars from its
    last `overlap_days` stored days on (see yfinance.fetch_after_stored). ``attrs["fetched"]``
    says, per ticker, what was asked for. The CSV folders are the universe's
    (`universe_folders`).
    """
    source = str(source).strip().lower()
    if source not in SOURCES:
        raise SourceError(
            f"unknown ingestion.source {source!r}: use one of {', '.join(SOURCES)} "
            "(auto = yfinance, falling back to the CSV folder per ticker)"
        )
    folders = universe_folders(universe, csv_dir, universes)
    names = parse_tickers(tickers, folders)
    first = parse_date(start, "ingestion.start") or pd.Timestamp("1900-01-01")
    last = parse_date(end, "ingestion.end")
    if last is not None and last < first:
        raise SourceError(f"ingestion.end {last.date()} is before ingestion.start {first.date()}")

    tails = {} if stored is None else dict(tuple(stored.groupby("ticker", sort=False)))
    fetched: dict[str, str] = {}

    listed: dict[str, dict[str, Path]] = {}

    def from_csv(ticker: str) -> pd.DataFrame:
        fetched[ticker] = "whole file"
        if not listed:
            listed["files"] = csv.folders_files(folders)  # once per run, not once per ticker
        files = listed["files"]
        return csv.fetch_ticker(ticker, csv_dir=folders[0], start=first, end=last, files=files)

    def from_yahoo(ticker: str) -> pd.DataFrame:
        bars, fetched[ticker] = yfinance.fetch_after_stored(
            ticker,
            start=first,
            end=last,
            stored_tail=tails.get(ticker),
            overlap_days=overlap_days,
            timeout=yfinance_timeout,
        )
        return bars

    csv_label = f"csv({' + '.join(csv.describe_dir(folder) for folder in folders)})"
    if source == "csv":
        frames, label = [from_csv(t) for t in names], csv_label
        used = dict.fromkeys(names, csv_label)
    elif source == "yfinance":
        frames, label = [from_yahoo(t) for t in names], "yfinance"
        used = dict.fromkeys(names, "yfinance")
    else:
        frames, label, used = _auto(names, from_yahoo, from_csv, csv_label)
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs = {"source": label, "ticker_sources": used, "fetched": fetched}
    return frame


def _auto(names, from_yahoo, from_csv, csv_label) -> tuple[list[pd.DataFrame], str, dict[str, str]]:
    """yfinance per ticker; after a network failure it is not asked again (fail fast offline)."""
    frames: list[pd.DataFrame] = []
    fell_back: list[str] = []
    unreachable: str | None = None
    for ticker in names:
        if unreachable is None:
            try:
                frames.append(from_yahoo(ticker))
                continue
            except yfinance.YahooUnreachable as error:
                unreachable, reason = ticker, str(error)
            except SourceError as error:
                reason = str(error)
        else:
            reason = f"Yahoo Finance unreachable (see {unreachable}), not asked again"
        logger.warning(
            "%s: yfinance failed, using %s instead. Reason: %s", ticker, csv_label, reason
        )
        try:
            frames.append(from_csv(ticker))
        except SourceError as error:
            raise SourceError(
                f"no source could give {ticker}: yfinance: {reason} | CSV: {error}"
            ) from None
        fell_back.append(ticker)
    used = {t: csv_label if t in fell_back else "yfinance" for t in names}
    if not fell_back:
        return frames, "auto: yfinance", used
    which = (
        ",".join(fell_back) if len(fell_back) <= LABEL_MAX_TICKERS else f"{len(fell_back)} tickers"
    )
    rest = "yfinance for the others; " if len(fell_back) < len(names) else ""
    return frames, f"auto: {rest}{csv_label} for {which} (yfinance failed)", used
