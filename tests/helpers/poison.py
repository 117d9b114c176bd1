"""Poisoned features: a check that code never reads rows from a date on (a NaN it read fails
the forecast, or changes its result)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def poisoned(features: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """Every number on or after `since` replaced by NaN."""
    poisoned = features.copy()
    numbers = poisoned.select_dtypes("number").columns
    poisoned.loc[pd.to_datetime(poisoned["date"]) >= since, numbers] = np.nan
    return poisoned
