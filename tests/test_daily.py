"""`python -m stock_lstm.cli.daily`'s arguments: `kedro run --params` syntax and the replayed days."""

from __future__ import annotations

import datetime as dt

import pytest

from stock_lstm.cli.daily import main, parse_params, replay_days


def test_params_are_nested_as_kedro_runtime_parameters() -> None:
    assert parse_params("ingestion.source=csv,ingestion.end=2008-10-01,training.fit.seed=3") == {
        "ingestion": {"source": "csv", "end": "2008-10-01"},  # a date stays the string given
        "training": {"fit": {"seed": 3}},
    }
    assert parse_params(None) == {} and parse_params("") == {}


def test_a_params_item_without_a_value_is_refused_by_name(capsys) -> None:
    with pytest.raises(ValueError, match="'ingestion.end' is not key=value"):
        parse_params("ingestion.source=csv,ingestion.end")
    assert main(["--params", "oops"]) == 2
    assert "Error: --params item 'oops' is not key=value" in capsys.readouterr().err


def test_a_replay_steps_through_trading_sessions() -> None:
    # Saturday 2012-10-27 rolls forward to the next session: Wednesday 2012-10-31, the exchange
    # having closed on Monday and Tuesday for Hurricane Sandy (XNYS, exchange-calendars).
    assert replay_days(dt.date(2012, 10, 27), 3) == [
        dt.date(2012, 10, 31),
        dt.date(2012, 11, 1),
        dt.date(2012, 11, 2),
    ]
    assert replay_days(dt.date(2012, 10, 26), 2) == [dt.date(2012, 10, 26), dt.date(2012, 10, 31)]
    # Thanksgiving 2018-11-22 is no replayed day
    assert replay_days(dt.date(2018, 11, 21), 2) == [dt.date(2018, 11, 21), dt.date(2018, 11, 23)]
