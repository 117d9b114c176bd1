"""Price sources: faked yfinance 1.7 responses, CSV folders (good and malformed), auto fallback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_lstm.data_pipeline import sources
from stock_lstm.data_pipeline.schema import stage_columns
from stock_lstm.data_pipeline.sources import SourceError, csv, fetch_prices, parse_tickers
from stock_lstm.data_pipeline.sources import yfinance as yf_source
from tests.helpers.yahoo import OFFLINE, FakeYahoo, RangedYahoo, yahoo_download, yahoo_history

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "snapshot"


# --- a fake yf.download (tests/helpers/yahoo.py) for one test -------------------------------


@pytest.fixture
def fake_yahoo(monkeypatch):
    def install(**answers) -> FakeYahoo:
        fake = FakeYahoo(**answers)
        monkeypatch.setattr(yf_source.yf, "download", fake)
        return fake

    return install


# --- yfinance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["America/New_York", None])
def test_yfinance_response_becomes_canonical_bars(fake_yahoo, tz):
    fake = fake_yahoo(MSFT=yahoo_history(days=5, tz=tz))
    frame = yf_source.fetch_ticker(
        "MSFT", start=pd.Timestamp("2024-01-01"), end=pd.Timestamp("2024-01-31"), timeout=3
    )
    assert list(frame.columns) == stage_columns("raw")  # the raw_prices table's columns
    assert frame["ticker"].unique().tolist() == ["MSFT"]
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
    ]
    assert frame["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert frame["adj_close"].iloc[0] == pytest.approx(98.0)
    assert str(frame["volume"].dtype) == "Int64"
    assert frame["volume"].iloc[1] == 6_000
    ticker, kwargs = fake.calls[0]
    assert ticker == "MSFT"
    assert kwargs["start"] == "2024-01-01"
    assert kwargs["end"] == "2024-02-01"  # yfinance's end is exclusive, ours inclusive
    assert kwargs["auto_adjust"] is False
    assert kwargs["timeout"] == 3
    assert kwargs["progress"] is False


def test_yfinance_offline_is_an_unreachable_error_naming_the_ticker(fake_yahoo, caplog):
    fake_yahoo(GOOG=OFFLINE)
    with caplog.at_level(logging.ERROR), pytest.raises(yf_source.YahooUnreachable) as raised:
        yf_source.fetch_ticker("GOOG", start=pd.Timestamp("2020-01-01"), end=None)
    assert "yfinance returned no data for GOOG" in str(raised.value)
    assert "Could not resolve host" in str(raised.value)
    assert "See https://" not in str(raised.value)
    # yfinance's own error lines are kept for our message, not echoed
    assert not [r for r in caplog.records if r.name == "yfinance"]


def test_yfinance_unknown_ticker_is_a_source_error_naming_it(fake_yahoo):
    fake_yahoo()  # every ticker "possibly delisted"
    with pytest.raises(SourceError, match="no data for NOPE: .*possibly delisted") as raised:
        yf_source.fetch_ticker("NOPE", start=pd.Timestamp("2020-01-01"), end=None)
    assert not isinstance(raised.value, yf_source.YahooUnreachable)


def test_yfinance_exception_is_turned_into_a_source_error(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(yf_source.yf, "download", explode)
    with pytest.raises(SourceError, match="no data for MSFT: RuntimeError: boom"):
        yf_source.fetch_ticker("MSFT", start=pd.Timestamp("2020-01-01"), end=None)


def test_yfinance_source_for_all_tickers(fake_yahoo):
    fake_yahoo(AAPL=yahoo_history(3), MSFT=yahoo_history(4))
    frame = fetch_prices("yfinance", ["AAPL", "msft"], start="2024-01-01", csv_dir=SNAPSHOT)
    assert frame.groupby("ticker").size().to_dict() == {"AAPL": 3, "MSFT": 4}
    assert frame.attrs["source"] == "yfinance"


# --- CSV --------------------------------------------------------------------------------------


def test_snapshot_manifest_maps_files_to_tickers():
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text())
    files = csv.ticker_files(SNAPSHOT)
    assert files == {entry["ticker"]: SNAPSHOT / entry["file"] for entry in manifest}
    frame = fetch_prices("csv", "all", start=None, csv_dir=SNAPSHOT)
    counts = frame.groupby("ticker").size().to_dict()
    assert counts == {entry["ticker"]: entry["rows"] for entry in manifest}
    assert frame.attrs["source"].startswith("csv(")
    goog = frame[frame["ticker"] == "GOOG"]
    assert goog["adj_close"].isna().all()  # GOOG.csv has an empty Adj Close column
    assert goog["date"].min() == pd.Timestamp("2004-08-19")


SP500_20 = SNAPSHOT.parent / "sp500_20"


def test_the_bundled_sp500_universe_is_read_by_the_same_csv_code_as_close_only_bars():
    manifest = json.loads((SP500_20 / "manifest.json").read_text())
    assert len(manifest) == 20
    frame = fetch_prices(
        "csv", ["AAPL", "XOM"], start="2022-12-01", csv_dir=SNAPSHOT, universe="sp500_20"
    )
    assert frame.groupby("ticker").size().to_dict() == {"AAPL": 19, "XOM": 19}
    assert frame[["open", "high", "low"]].isna().all().all()  # close-only bars
    assert frame["volume"].isna().all() and (frame["close"] == frame["adj_close"]).all()
    assert frame.attrs["source"] == "csv(data/01_raw/sp500_20)"


def test_universes_pick_their_folders_and_a_ticker_in_two_keeps_the_first():
    snapshot = sorted(e["ticker"] for e in json.loads((SNAPSHOT / "manifest.json").read_text()))
    assert sources.universe_tickers("snapshot", SNAPSHOT) == snapshot
    sp500 = sources.universe_tickers("sp500_20", SNAPSHOT)
    assert len(sp500) == 20 and "MSFT" in sp500 and "GOOG" not in sp500
    every = sources.universe_tickers("all", SNAPSHOT)
    assert every == sorted({*snapshot, *sp500}) and len(every) == 22  # MSFT once
    # MSFT comes from the snapshot (its traded closes, with open/high/low), not sp500_20
    msft = fetch_prices("csv", ["MSFT"], start="2017-11-01", csv_dir=SNAPSHOT, universe="all")
    assert msft["open"].notna().all() and msft["date"].max() == pd.Timestamp("2017-11-10")
    both = fetch_prices("csv", "all", start="2012-12-28", csv_dir=SNAPSHOT, universe="all")
    assert sorted(both["ticker"].unique()) == every
    with pytest.raises(SourceError, match=r"unknown ingestion.universe 'nasdaq'.*snapshot"):
        sources.universe_folders("nasdaq", SNAPSHOT)


def test_a_users_folder_comes_first_in_the_all_universe(tmp_path):
    write(tmp_path, "MSFT.csv", GOOD)
    write(tmp_path, "OWN.csv", GOOD)
    folders = sources.universe_folders("all", tmp_path)
    assert folders[0] == tmp_path and len(folders) == 3
    tickers = sources.universe_tickers("all", tmp_path)
    assert "OWN" in tickers and "GOOG" in tickers and "AAPL" in tickers
    msft = fetch_prices("csv", ["MSFT"], start=None, csv_dir=tmp_path, universe="all")
    assert len(msft) == 3  # the user's own MSFT file wins
    # the snapshot universe is csv_dir alone, exactly as before universes existed
    assert sources.universe_tickers("snapshot", tmp_path) == ["MSFT", "OWN"]
    assert "OWN" not in sources.bundled_tickers()


def test_csv_dates_are_filtered_inclusively():
    frame = fetch_prices("csv", ["GOOG"], start="2012-01-03", end="2012-01-05", csv_dir=SNAPSHOT)
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2012-01-03",
        "2012-01-04",
        "2012-01-05",
    ]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


GOOD = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2024-01-02,10.0,11.0,9.5,10.5,10.4,1000\n"
    "2024-01-03,10.5,11.5,10.0,11.0,10.9,1200\n"
    "2024-01-04,11.0,12.0,10.5,11.5,null,1300\n"
)
NO_ADJ_CLOSE = (
    "Date,Open,High,Low,Close,Volume\n"
    "2024-01-02,10.0,11.0,9.5,10.5,1000\n"
    "2024-01-03,10.5,11.5,10.0,11.0,1200\n"
    "2024-01-04,11.0,12.0,10.5,11.5,1300\n"
)


def test_csv_folder_without_manifest_uses_file_stems(tmp_path):
    write(tmp_path, "aapl.csv", GOOD)
    write(tmp_path, "BRK-B.csv", NO_ADJ_CLOSE)
    assert sorted(csv.ticker_files(tmp_path)) == ["AAPL", "BRK-B"]
    frame = fetch_prices("csv", "AAPL BRK-B", start="2000-01-01", csv_dir=tmp_path)
    assert frame.groupby("ticker").size().to_dict() == {"AAPL": 3, "BRK-B": 3}
    aapl = frame[frame["ticker"] == "AAPL"]
    assert aapl["adj_close"].tolist()[:2] == [10.4, 10.9]
    assert np.isnan(aapl["adj_close"].iloc[2])  # Yahoo's "null" is a missing value
    assert frame[frame["ticker"] == "BRK-B"]["adj_close"].isna().all()  # no Adj Close column


def test_csv_manifest_as_a_file_to_ticker_object(tmp_path):
    write(tmp_path, "prices_one.csv", GOOD)
    write(tmp_path, "manifest.json", json.dumps({"prices_one.csv": "xyz"}))
    frame = fetch_prices("csv", ["XYZ"], start=None, csv_dir=tmp_path)
    assert frame["ticker"].unique().tolist() == ["XYZ"]


def test_a_relative_csv_dir_is_relative_to_the_project_root(tmp_path, monkeypatch):
    write(tmp_path / "mine", "ABC.csv", GOOD)
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(tmp_path))
    monkeypatch.chdir(SNAPSHOT)  # anywhere else
    frame = fetch_prices("csv", ["ABC"], start=None, csv_dir="mine")
    assert len(frame) == 3
    assert frame.attrs["source"] == "csv(mine)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "ABC.csv",
            GOOD.replace(",Close,", ",Shut,"),
            r"ABC\.csv lacks column\(s\) Close",
        ),
        (
            "ABC.csv",
            GOOD.replace(",", ";"),
            r"ABC\.csv lacks column\(s\) Date, Open.*seems to use ';' as delimiter",
        ),
        (
            "ABC.csv",
            GOOD.split("\n", 1)[1],
            r"ABC\.csv lacks column\(s\) Date.*header found: .2024-01-02,10\.0.*header line is missing",
        ),
        (
            "ABC.csv",
            GOOD.replace("11.0,10.9", "eleven,10.9"),
            r"ABC\.csv, line 3, column 'Close': 'eleven' is not a number",
        ),
        (
            "ABC.csv",
            GOOD.replace("2024-01-04", "04/01/2024x"),
            r"ABC\.csv, line 4, column 'Date': '04/01/2024x' is not a date",
        ),
        ("ABC.csv", "", r"ABC\.csv is empty"),
        ("ABC.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n", r"ABC\.csv has a header but no"),
        ("ABC.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", r"ABC\.csv is not a text CSV"),
        ("ABC.csv", GOOD + "2024-01-05,1,2,3,4,5,6,7,8\n", r"ABC\.csv is not a valid CSV file"),
    ],
    ids=[
        "missing-column",
        "wrong-delimiter",
        "no-header",
        "text-in-number",
        "bad-date",
        "empty",
        "header-only",
        "binary",
        "ragged-row",
    ],
)
def test_malformed_csv_files_are_named_in_the_error(tmp_path, name, content, message):
    write(tmp_path, name, content)
    with pytest.raises(SourceError, match=message):
        fetch_prices("csv", ["ABC"], start=None, csv_dir=tmp_path)


def test_missing_files_and_tickers_are_named(tmp_path):
    write(tmp_path, "manifest.json", json.dumps([{"ticker": "ABC", "file": "ABC.csv"}]))
    with pytest.raises(SourceError, match=r"CSV file .*ABC\.csv does not exist"):
        fetch_prices("csv", ["ABC"], start=None, csv_dir=tmp_path)
    with pytest.raises(SourceError, match=r"no CSV file for ticker ZZZ in .* \(it has: ABC\)"):
        fetch_prices("csv", ["ZZZ"], start=None, csv_dir=tmp_path)
    with pytest.raises(SourceError, match=r"CSV folder .*nowhere does not exist"):
        fetch_prices("csv", ["ABC"], start=None, csv_dir=tmp_path / "nowhere")


def test_a_malformed_manifest_is_named(tmp_path):
    write(tmp_path, "manifest.json", "[{'ticker': 'ABC'")
    with pytest.raises(SourceError, match=r"manifest\.json is not valid JSON"):
        csv.ticker_files(tmp_path)
    write(tmp_path, "manifest.json", json.dumps([{"ticker": "ABC"}]))
    with pytest.raises(SourceError, match=r"manifest\.json must be a list"):
        csv.ticker_files(tmp_path)


def test_a_range_without_rows_names_the_file_and_its_span(tmp_path):
    write(tmp_path, "ABC.csv", GOOD)
    with pytest.raises(SourceError, match=r"ABC\.csv has no rows for ABC from 2025-01-01"):
        fetch_prices("csv", ["ABC"], start="2025-01-01", csv_dir=tmp_path)


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["^GSPC", "GOOG", "MSFT"], ["^GSPC", "GOOG", "MSFT"]),
        ("AAPL MSFT", ["AAPL", "MSFT"]),  # --params "ingestion.tickers=AAPL MSFT"
        ("aapl", ["AAPL"]),  # --params ingestion.tickers=aapl
        ("AAPL, msft,AAPL", ["AAPL", "MSFT"]),
        (["goog msft"], ["GOOG", "MSFT"]),
        ("all", ["^GSPC", "GOOG", "MSFT"]),
        (["all"], ["^GSPC", "GOOG", "MSFT"]),
        ("ALL", ["ALL"]),  # Allstate, not every ticker: only lower-case `all` is the sentinel
        (["ALL"], ["ALL"]),
        ("All", ["ALL"]),
        ("all MSFT", ["ALL", "MSFT"]),  # `all` among tickers is the ticker ALL
    ],
)
def test_tickers_parameter_forms(value, expected):
    assert parse_tickers(value, SNAPSHOT) == expected


def test_allstate_alone_is_ingested_from_its_csv(tmp_path):
    write(tmp_path, "ALL.csv", GOOD)
    write(tmp_path, "MSFT.csv", GOOD)
    frame = fetch_prices("csv", "ALL", start=None, csv_dir=tmp_path)
    assert set(frame["ticker"]) == {"ALL"}


@pytest.mark.parametrize("value", [None, [], "", "  ", [""]])
def test_an_empty_ticker_list_says_what_is_allowed(value):
    with pytest.raises(SourceError, match=r"ingestion.tickers is empty: give a YAML list"):
        parse_tickers(value, SNAPSHOT)


def test_an_unknown_source_says_what_is_allowed():
    with pytest.raises(SourceError, match=r"unknown ingestion.source 'ftp': use one of auto, yfi"):
        fetch_prices("ftp", ["GOOG"], start=None, csv_dir=SNAPSHOT)


def test_bad_dates_are_refused():
    with pytest.raises(SourceError, match="ingestion.start must be a date"):
        fetch_prices("csv", ["GOOG"], start="yesterday-ish", csv_dir=SNAPSHOT)
    with pytest.raises(SourceError, match="ingestion.end 2010-01-01 is before ingestion.start"):
        fetch_prices("csv", ["GOOG"], start="2011-01-01", end="2010-01-01", csv_dir=SNAPSHOT)


# --- auto ------------------------------------------------------------------------------------


def test_auto_falls_back_per_ticker_with_a_warning(fake_yahoo, caplog):
    fake_yahoo(MSFT=yahoo_history(days=4, start="2012-01-03"))  # GOOG: "possibly delisted"
    with caplog.at_level(logging.WARNING, logger=sources.__name__):
        frame = fetch_prices(
            "auto", ["MSFT", "GOOG"], start="2012-01-01", end="2012-01-31", csv_dir=SNAPSHOT
        )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("GOOG: yfinance failed, using csv(")
    assert "possibly delisted" in warnings[0]
    counts = frame.groupby("ticker").size().to_dict()
    assert counts["MSFT"] == 4  # from the fake Yahoo
    assert counts["GOOG"] == 20  # January 2012 from the snapshot CSV
    assert frame.attrs["source"] == (
        "auto: yfinance for the others; csv(data/01_raw/snapshot) for GOOG (yfinance failed)"
    )
    assert frame.attrs["ticker_sources"] == {
        "MSFT": "yfinance",
        "GOOG": "csv(data/01_raw/snapshot)",
    }


def test_auto_offline_asks_yahoo_once_then_uses_the_csv_folder(fake_yahoo, caplog):
    fake = fake_yahoo(**{"^GSPC": OFFLINE, "GOOG": OFFLINE, "MSFT": OFFLINE})
    with caplog.at_level(logging.WARNING, logger=sources.__name__):
        frame = fetch_prices(
            "auto",
            ["^GSPC", "GOOG", "MSFT"],
            start="2012-01-01",
            end="2012-12-31",
            csv_dir=SNAPSHOT,
        )
    assert len(fake.calls) == 1  # no time lost on the other tickers
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.split(":")[0] for w in warnings] == ["^GSPC", "GOOG", "MSFT"]
    assert "Could not resolve host" in warnings[0]
    assert "unreachable (see ^GSPC)" in warnings[1]
    assert sorted(frame["ticker"].unique()) == ["GOOG", "MSFT", "^GSPC"]
    assert frame.attrs["source"] == (
        "auto: csv(data/01_raw/snapshot) for ^GSPC,GOOG,MSFT (yfinance failed)"
    )


def test_auto_all_from_yahoo(fake_yahoo):
    fake_yahoo(GOOG=yahoo_history(3))
    frame = fetch_prices("auto", ["GOOG"], start="2024-01-01", csv_dir=SNAPSHOT)
    assert frame.attrs["source"] == "auto: yfinance"
    assert frame.attrs["ticker_sources"] == {"GOOG": "yfinance"}
    assert len(frame) == 3


def test_auto_names_the_ticker_no_source_could_give(fake_yahoo):
    fake_yahoo()
    with pytest.raises(SourceError, match=r"no source could give AAPL: yfinance: .* \| CSV: no C"):
        fetch_prices("auto", ["AAPL"], start="2024-01-01", csv_dir=SNAPSHOT)


# --- incremental yfinance ---------------------------------------------------------------------


def stored_bars(history: pd.DataFrame, ticker: str = "MSFT") -> pd.DataFrame:
    """What raw_prices holds after storing `history` (its canonical bars)."""
    return yf_source.from_download(yahoo_download(ticker, history), ticker)


def test_a_stored_ticker_is_asked_only_for_the_overlap_and_after(monkeypatch):
    history = yahoo_history(days=30)
    fake = RangedYahoo(history)
    monkeypatch.setattr(yf_source.yf, "download", fake)
    stored = stored_bars(history.iloc[:25])
    frame = fetch_prices(
        "yfinance", "MSFT", start="2024-01-01", csv_dir=SNAPSHOT, overlap_days=3, stored=stored
    )
    assert fake.starts == [f"{history.index[22]:%Y-%m-%d}"]  # the last 3 stored days on
    assert frame["date"].tolist() == list(history.index[22:])
    assert frame.attrs["fetched"] == {
        "MSFT": f"from {history.index[22]:%Y-%m-%d} (overlap of 3 stored day(s) agreed)"
    }


def test_a_restated_overlap_refetches_the_whole_history(monkeypatch):
    history = yahoo_history(days=30)
    split = history.copy()
    split[["Open", "High", "Low", "Close", "Adj Close"]] /= 2  # a 2:1 split, back-adjusted
    fake = RangedYahoo(split)
    monkeypatch.setattr(yf_source.yf, "download", fake)
    stored = stored_bars(history.iloc[:25])
    frame = fetch_prices(
        "yfinance", "MSFT", start="2024-01-01", csv_dir=SNAPSHOT, overlap_days=3, stored=stored
    )
    assert fake.starts == [f"{history.index[22]:%Y-%m-%d}", "2024-01-01"]
    assert len(frame) == 30 and frame["close"].iloc[0] == history["Close"].iloc[0] / 2
    assert frame.attrs["fetched"]["MSFT"].startswith("whole history (the overlap from")


def test_without_stored_bars_the_whole_history_is_asked(monkeypatch):
    fake = RangedYahoo(yahoo_history(days=5))
    monkeypatch.setattr(yf_source.yf, "download", fake)
    empty = stored_bars(yahoo_history(days=5)).iloc[0:0]
    frame = fetch_prices("yfinance", "MSFT", start="2024-01-01", csv_dir=SNAPSHOT, stored=empty)
    assert fake.starts == ["2024-01-01"] and len(frame) == 5
    assert frame.attrs["fetched"] == {"MSFT": "whole history"}
