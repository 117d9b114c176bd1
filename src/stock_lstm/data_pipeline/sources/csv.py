"""A folder of Yahoo-export CSV files (Date,Open,High,Low,Close,Adj Close,Volume) as a source.

Which file holds which ticker: `manifest.json` when the folder has one (a list of
``{"ticker": ..., "file": ...}`` objects, as in data/01_raw/snapshot, or a ``{file: ticker}``
object), else the file stem (``AAPL.csv`` → ``AAPL``). Tickers match case-insensitively.
Every problem with a file stops with a message naming the file, and the column or line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from stock_lstm.common.settings import project_root
from stock_lstm.data_pipeline.schema import KEY, stage_frame
from stock_lstm.data_pipeline.sources.base import SourceError, canonical_prices

MANIFEST = "manifest.json"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
# canonical name -> the Yahoo export's header; Adj Close may be absent (or empty).
COLUMNS = {
    "date": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adj_close": "Adj Close",
    "volume": "Volume",
}
OPTIONAL = {"adj_close"}
NUMBERS = stage_frame("raw").without(*KEY)  # every column but the key holds numbers
MISSING_TOKENS = {"", "null", "nan", "na", "n/a", "-"}  # Yahoo writes "null" for a missing value


def resolve_dir(csv_dir: str | Path) -> Path:
    """A relative folder is relative to the project root, wherever Kedro was started from."""
    path = Path(csv_dir).expanduser()
    return path if path.is_absolute() else project_root() / path


def describe_dir(csv_dir: str | Path) -> str:
    """The folder as a short label: relative to the project root when it is inside it."""
    path = resolve_dir(csv_dir)
    try:
        return path.relative_to(project_root()).as_posix()
    except ValueError:
        return path.as_posix()


def ticker_files(csv_dir: str | Path) -> dict[str, Path]:
    """Ticker (upper case) → CSV file of the folder, from its manifest or the file stems."""
    folder = resolve_dir(csv_dir)
    if not folder.is_dir():
        raise SourceError(f"CSV folder {folder} does not exist (ingestion.csv_dir)")
    manifest = folder / MANIFEST
    if manifest.exists():
        return {ticker.upper(): folder / name for name, ticker in _read_manifest(manifest)}
    return {path.stem.upper(): path for path in sorted(folder.glob("*.csv"))}


def folders_files(folders: Sequence[str | Path]) -> dict[str, Path]:
    """Ticker → CSV file over several folders: the FIRST folder that has a ticker gives it, so
    a ticker in two folders keeps one series (the stored history holds one per ticker)."""
    merged: dict[str, Path] = {}
    for folder in folders:
        for ticker, path in ticker_files(folder).items():
            merged.setdefault(ticker, path)
    return merged


def _read_manifest(path: Path) -> list[tuple[str, str]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"{path} is not valid JSON: {error}") from None
    if isinstance(entries, dict):
        pairs = list(entries.items())
    elif isinstance(entries, list) and all(
        isinstance(entry, dict) and "file" in entry and "ticker" in entry for entry in entries
    ):
        pairs = [(entry["file"], entry["ticker"]) for entry in entries]
    else:
        raise SourceError(
            f"{path} must be a list of {{'ticker': ..., 'file': ...}} objects "
            "or a {file: ticker} object"
        )
    if not all(isinstance(name, str) and isinstance(t, str) and t for name, t in pairs):
        raise SourceError(f"{path}: every file name and ticker must be a non-empty string")
    return pairs


def read_price_file(path: Path, ticker: str) -> pd.DataFrame:
    """One Yahoo-export CSV as canonical bars of `ticker`, every row as written."""
    text = _read_text(path)
    table = _read_table(path, text)
    parsed = {"date": _parse_dates(path, table.astype({"Date": str}))}
    for name in NUMBERS:
        header = COLUMNS[name]
        if header not in table.columns:
            continue
        column = table[header]
        plain = pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column)
        # the C parser typed a plainly numeric column; any other is judged cell by cell
        parsed[name] = (
            column if plain else _parse_numbers(path, table.astype({header: str}), header)
        )
    return canonical_prices(pd.DataFrame(parsed), ticker)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise SourceError(f"CSV file {path} does not exist")
    data = path.read_bytes()
    if not data.strip():
        raise SourceError(f"CSV file {path} is empty (expected the header {HEADER})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise SourceError(f"{path} is not a text CSV file (binary content)")
    return text


def _read_table(path: Path, text: str) -> pd.DataFrame:
    """The CSV as a table with the canonical headers. The C parser types plainly numeric
    columns; a column with anything else (tokens, blanks, text) keeps its cells as written."""
    try:
        table = pd.read_csv(io.StringIO(text), keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as error:
        raise SourceError(f"{path} is not a valid CSV file: {error}") from None
    table.columns = [str(column).strip() for column in table.columns]
    by_key = {_key(column): column for column in table.columns}
    table = table.rename(
        columns={by_key[_key(h)]: h for h in COLUMNS.values() if _key(h) in by_key}
    )
    missing = [h for name, h in COLUMNS.items() if name not in OPTIONAL and h not in table.columns]
    if missing:
        first_line = text.splitlines()[0][:80]
        hint = ""
        if first_line[:1].isdigit():
            hint = "; the first line is data: the header line is missing"
        for delimiter, label in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
            if len(table.columns) == 1 and delimiter in first_line:
                hint = f"; it seems to use {label} as delimiter, expected ','"
        raise SourceError(
            f"{path} lacks column(s) {', '.join(missing)} (header found: {first_line!r}; "
            f"expected {HEADER!r}){hint}"
        )
    if table.empty:
        raise SourceError(f"{path} has a header but no data rows")
    return table


def _key(header: str) -> str:
    return header.lower().replace("_", " ").replace("-", " ").strip()


def _parse_dates(path: Path, table: pd.DataFrame) -> pd.Series:
    raw = table["Date"].str.strip()
    dates = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=False)
    _refuse_bad_values(path, raw, dates.isna(), "Date", "a date (YYYY-MM-DD)")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # keep the exchange-local trading day
    return dates


def _parse_numbers(path: Path, table: pd.DataFrame, header: str) -> pd.Series:
    """Plain numbers convert in one vectorised pass; only the cells that do not (missing
    tokens, padded or bad text) are stripped and judged one by one (a long file stays fast)."""
    raw = table[header]
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    unparsed = numbers.isna()
    if unparsed.any():
        text = raw.where(~unparsed, raw.str.strip())
        missing = text.str.lower().isin(MISSING_TOKENS)
        retried = pd.to_numeric(text.where(unparsed & ~missing), errors="coerce")
        numbers = numbers.where(~unparsed, retried)
        _refuse_bad_values(path, text, numbers.isna() & ~missing, header, "a number")
    return numbers


def _refuse_bad_values(path: Path, raw: pd.Series, bad: pd.Series, header: str, what: str):
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0])
        count = int(bad.sum())
        more = f" ({count} such values in the column)" if count > 1 else ""
        raise SourceError(
            f"{path}, line {position + 2}, column {header!r}: {raw.iloc[position]!r} is not "
            f"{what}{more}"
        )


def fetch_ticker(
    ticker: str,
    *,
    csv_dir: str | Path,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    files: dict[str, Path] | None = None,
) -> pd.DataFrame:
    """`ticker`'s bars from start to end (inclusive) out of the folder's CSV file for it
    (`files`: the folder's `ticker_files`, when the caller already listed it)."""
    files = files if files is not None else ticker_files(csv_dir)
    path = files.get(ticker.upper())
    if path is None:
        available = ", ".join(sorted(files)) or "none"
        raise SourceError(
            f"no CSV file for ticker {ticker} in {resolve_dir(csv_dir)} (it has: {available})"
        )
    frame = read_price_file(path, ticker)
    in_range = frame["date"] >= start
    if end is not None:
        in_range &= frame["date"] <= end
    if not in_range.any():
        raise SourceError(
            f"{path} has no rows for {ticker} from {start.date()} to "
            f"{end.date() if end is not None else 'the latest'} (it covers "
            f"{frame['date'].min().date()} to {frame['date'].max().date()})"
        )
    return frame[in_range].reset_index(drop=True)
