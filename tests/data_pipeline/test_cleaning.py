"""Cleaning rules on dirty fixtures: what each drops or repairs, the report, the errors."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from pandera.errors import SchemaError

from stock_lstm.data_pipeline.cleaning import (
    ROW_RULES,
    CleaningError,
    CleaningParams,
    clean_prices,
    clean_prices_schema,
    drop_duplicate_dates,
    repair_order,
)
from tests.helpers.dirty_bars import bars, dirty_fixture, with_defect

PARAMS = CleaningParams(max_gap_days=5, min_rows_per_ticker=3, price_tolerance=1e-6)


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"close": np.nan}, "missing_price"),
        ({"open": np.nan}, "missing_price"),
        ({"high": np.inf}, "non_finite_price"),
        ({"adj_close": -np.inf}, "non_finite_price"),
        ({"low": 0.0}, "non_positive_price"),
        ({"adj_close": -1.0}, "non_positive_price"),
        ({"high": 50.5}, "inconsistent_high_low"),  # below close 53 of row 3
        ({"low": 60.0}, "inconsistent_high_low"),  # above open and close
        ({"high": 40.0, "low": 41.0}, "inconsistent_high_low"),
        ({"volume": -5}, "negative_volume"),
    ],
)
def test_each_rule_drops_the_row_that_breaks_it_and_nothing_else(values, rule):
    clean_input = bars()
    dirty = with_defect(clean_input, 3, **values)
    cleaned, report = clean_prices(dirty, PARAMS)
    assert report["dropped"][rule] == {"AAA": 1}
    assert sum(sum(by.values()) for by in report["dropped"].values()) == 1
    expected = clean_input.drop(index=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(cleaned, expected)  # no price changed


def test_missing_adj_close_and_volume_are_kept():
    frame = bars()
    frame["adj_close"] = np.nan  # many Yahoo exports have no Adj Close
    frame.loc[2, "volume"] = pd.NA
    cleaned, report = clean_prices(frame, PARAMS)
    assert report["rows_out"] == len(frame)
    assert cleaned["adj_close"].isna().all()


def test_float_noise_within_tolerance_is_not_an_inconsistency():
    frame = with_defect(bars(), 4, high=54.0 * (1 - 1e-9), close=54.0)
    _, report = clean_prices(frame, PARAMS)
    assert report["dropped"]["inconsistent_high_low"] == {}


def test_repair_order_keeps_the_last_row_of_a_day_and_sorts_counting_both():
    frame = bars(days=6)
    repeated = frame.iloc[[2]].assign(close=52.5, open=52.0)  # a later, different bar of day 3
    shuffled = pd.concat([frame.iloc[[0, 1, 4, 2, 3, 5]], repeated], ignore_index=True)
    repaired, counts = repair_order(shuffled)
    assert counts == {
        "out_of_order_rows_sorted": {"AAA": 1},  # day 3 came after day 5
        "duplicate_dates_dropped": {"AAA": 1},
    }
    assert repaired["date"].tolist() == frame["date"].tolist()
    assert repaired.loc[2, "close"] == 52.5  # the last row given for that day
    _, counts = repair_order(frame)
    assert counts == {"out_of_order_rows_sorted": {}, "duplicate_dates_dropped": {}}


def test_cleaning_refuses_a_repeated_date_and_sorts_without_a_rule():
    """raw_prices holds one row per day (ingestion repairs the source): cleaning reports no
    repair it never makes, and a repeated date is an error naming it, not a silent drop."""
    frame = bars(days=6)
    with pytest.raises(CleaningError, match=r"raw prices repeat a date: AAA 2024-01-03 .*"):
        clean_prices(pd.concat([frame, frame.iloc[[2]]], ignore_index=True), PARAMS)
    cleaned, report = clean_prices(frame.iloc[::-1], PARAMS)
    pd.testing.assert_frame_equal(cleaned, frame)
    assert set(report) == {
        "rows_in",
        "rows_out",
        "dropped",
        "close_only_bars",
        "rules_skipped_for_close_only",
        "gaps",
        "tickers",
        "parameters",
    }
    assert report["close_only_bars"] == {} and report["rules_skipped_for_close_only"] == []
    assert list(report["dropped"]) == list(ROW_RULES)


def test_close_only_bars_are_kept_and_the_range_rules_skip_them():
    """A source with one close per day (data/01_raw/sp500_20): open, high and low all missing
    is a valid bar; some of them missing is not; the report counts the close-only bars and names
    the rules they skipped."""
    frame = pd.concat([bars("AAA", days=6), bars("BBB", days=6)], ignore_index=True)
    only = frame["ticker"] == "BBB"
    frame.loc[only, ["open", "high", "low"]] = np.nan
    frame.loc[only, "volume"] = pd.NA
    partial = with_defect(frame, 2, open=np.nan)  # AAA row 2: open missing, high/low there
    cleaned, report = clean_prices(partial, PARAMS)
    assert report["close_only_bars"] == {"BBB": 6}
    assert report["rules_skipped_for_close_only"] == ["inconsistent_high_low"]
    assert report["dropped"]["missing_price"] == {"AAA": 1}
    assert report["tickers"]["BBB"] == {"rows_in": 6, "rows_out": 6}
    clean_prices_schema().validate(cleaned)
    # a close-only bar without a close is still missing its price
    no_close = with_defect(frame, 8, close=np.nan)
    _, report = clean_prices(no_close, PARAMS)
    assert report["dropped"]["missing_price"] == {"BBB": 1}
    # the schema refuses a partial bar (what cleaning drops) but accepts a close-only one
    with pytest.raises(SchemaError, match="missing_price"):
        clean_prices_schema().validate(with_defect(bars(), 2, high=np.nan))


def test_drop_duplicate_dates_counts_per_ticker():
    frame = pd.concat([bars("AAA", 3), bars("AAA", 2), bars("BBB", 3), bars("BBB", 1)])
    deduped, dropped = drop_duplicate_dates(frame)
    assert dropped == {"AAA": 2, "BBB": 1}
    assert deduped.groupby("ticker").size().to_dict() == {"AAA": 3, "BBB": 3}


def test_long_gaps_are_warned_about_and_reported_not_dropped(caplog):
    frame = pd.concat([bars(days=5, start="2024-01-01"), bars(days=5, start="2024-02-01")])
    with caplog.at_level(logging.WARNING, logger="stock_lstm.data_pipeline.cleaning"):
        cleaned, report = clean_prices(frame, PARAMS)
    assert len(cleaned) == 10
    assert report["gaps"] == {"AAA": [{"after": "2024-01-05", "before": "2024-02-01", "days": 27}]}
    assert any("AAA: 1 gap(s) longer than 5 days" in r.getMessage() for r in caplog.records)
    # a weekend is no gap
    _, report = clean_prices(bars(days=10), PARAMS)
    assert report["gaps"] == {}


def test_report_counts_of_the_dirty_fixture():
    dirty = dirty_fixture()
    cleaned, report = clean_prices(dirty, PARAMS)
    assert report["rows_in"] == 20
    assert report["dropped"] == {
        "missing_price": {"AAA": 1, "BBB": 1},
        "non_finite_price": {"AAA": 1},
        "non_positive_price": {"AAA": 1},
        "inconsistent_high_low": {"AAA": 1},
        "negative_volume": {"AAA": 1},
    }
    assert list(report["dropped"]) == list(ROW_RULES)
    assert report["tickers"] == {
        "AAA": {"rows_in": 12, "rows_out": 7},
        "BBB": {"rows_in": 8, "rows_out": 7},
    }
    dropped = sum(sum(by.values()) for by in report["dropped"].values())
    assert report["rows_out"] == report["rows_in"] - dropped == len(cleaned) == 14
    clean_prices_schema().validate(cleaned)  # the declared schema holds
    # every clean row is an input row, unchanged
    merged = cleaned.merge(
        dirty,
        how="left",
        on=["ticker", "date"],
        suffixes=("", "_in"),
    )
    for column in ("open", "high", "low", "close", "adj_close"):
        assert (merged[column] == merged[f"{column}_in"]).all()


def test_too_few_rows_left_stops_naming_the_ticker():
    frame = pd.concat([bars("AAA", days=10), bars("BBB", days=4)], ignore_index=True)
    frame.loc[frame.index[frame["ticker"] == "BBB"][:2], "close"] = np.nan
    with pytest.raises(CleaningError, match=r"too few clean rows .* BBB \(2 of 4 rows left\)") as e:
        clean_prices(frame, PARAMS)
    assert "AAA" not in str(e.value).split("Dropped")[0]
    assert "missing_price=2" in str(e.value)


def test_types_are_enforced_with_a_message_naming_the_column():
    frame = bars().astype({"close": object})
    frame.loc[2, "close"] = "n/a?"
    with pytest.raises(CleaningError, match=r"do not fit the schema .*close.*'n/a\?'"):
        clean_prices(frame, PARAMS)
    missing = bars().drop(columns=["high"])
    with pytest.raises(CleaningError, match=r"high"):
        clean_prices(missing, PARAMS)


def test_strings_and_extra_columns_are_coerced_and_dropped():
    frame = bars().assign(note="x", date=lambda f: f["date"].dt.strftime("%Y-%m-%d"))
    cleaned, _ = clean_prices(frame, PARAMS)
    assert list(cleaned.columns) == [
        "ticker",
        "date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]
    assert cleaned["date"].dtype == "datetime64[ns]"


def test_no_rows_give_an_empty_result_and_bad_thresholds_are_refused():
    cleaned, report = clean_prices(bars().iloc[0:0], PARAMS)  # nothing changed since last time
    assert cleaned.empty and list(cleaned.columns) == list(bars().columns)
    assert report["rows_in"] == report["rows_out"] == 0 and report["tickers"] == {}
    with pytest.raises(CleaningError, match="cleaning.min_rows_per_ticker must be a whole number"):
        CleaningParams(min_rows_per_ticker=0)
    with pytest.raises(CleaningError, match="cleaning.price_tolerance must be >= 0"):
        CleaningParams(price_tolerance=-1)


def test_clean_schema_refuses_what_cleaning_would_drop():
    with pytest.raises(SchemaError, match="inconsistent_high_low"):
        clean_prices_schema().validate(with_defect(bars(), 2, high=1.0))
    with pytest.raises(SchemaError, match="dates not increasing within a ticker"):
        clean_prices_schema().validate(bars().iloc[::-1])


def test_the_bundled_sp500_universe_cleans_as_close_only_bars():
    """Ingested from data/01_raw/sp500_20 by the same CSV code, every bar is close-only: none is
    dropped, and the report says the range rule was skipped for them."""
    from stock_lstm.data_pipeline.sources import fetch_prices

    raw = fetch_prices(
        "csv", ["AAPL", "KO"], start="2021-01-01", csv_dir="unused", universe="sp500_20"
    )
    cleaned, report = clean_prices(raw, PARAMS)
    assert report["rows_out"] == report["rows_in"] == len(raw) == len(cleaned)
    assert report["close_only_bars"] == {t: c["rows_in"] for t, c in report["tickers"].items()}
    assert report["rules_skipped_for_close_only"] == ["inconsistent_high_low"]
