"""Glue: the development period and its folds (as the tuner cuts them), then the comparison of
ml_models/recurrent/tuning.interval_scope_report. It reports; conf/base keeps whichever scope
it names until a person copies the choice there (like the tuner's suggestion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from stock_lstm.ml_models.recurrent.tuning import (
    development_folds,
    interval_scope_report,
)


def compare_interval_scopes(
    features: pd.DataFrame,
    tuning: Mapping[str, Any],
    backtest: Mapping[str, Any],
    training: Mapping[str, Any],
    interval_scope: Mapping[str, Any],
) -> dict[str, Any]:
    """Coverage of every interval scope on the development folds' test slices, and the pick
    (by Winkler score among the scopes covering within `interval_scope.coverage_band`)."""
    development, folds = development_folds(features, tuning, backtest)
    report = interval_scope_report(
        development,
        folds,
        training,
        [int(k) for k in tuning["score_steps"]],
        interval_scope["coverage_band"],
    )
    return {
        "data_version": features.attrs.get("version_id"),
        "development_end": f"{development['date'].max():%Y-%m-%d}",
        **report,
    }
