"""When to retrain: the policy turns accuracy, drift and the champion's age into a decision.

Retrain when any of: (1) a ticker's MAE ratio to the naive forecast exceeded the threshold on
each of the last N trading days (each day's window holding at least `min_scored` scored steps);
(2) a ticker drifted (drift.py); (3) the newest date a retrain's training split could use (the
tickers' common end) is more than `max_age_days` trading days after the champion's: an age a
retrain can change, so it cannot ask for a retrain forever.
The retrained model is only a candidate: the registry promotes it if it beats the champion. A
trigger whose retrain kept its candidate (not better) is not retrained for again within
`cooldown_days` trading days: the same data would give the same candidate.
Every decision carries its reasons, the "no" as much as the "yes".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring._frames import as_dates, parameters_from_mapping, require_columns
from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS
from stock_lstm.monitoring.drift import DRIFT_COLUMNS


@dataclass(frozen=True)
class RetrainPolicy:
    source: str  # whose forecasts judge the champion: "shadow" (one a day, traffic or not)
    window: int  # the accuracy window (trading days) the ratio is read from
    ratio_threshold: float  # MAE / naive MAE above this counts as a bad day
    consecutive_days: int  # N: bad days in a row that trigger a retrain
    min_scored: int  # a day counts only if its window holds at least this many scored steps
    max_age_days: int  # M: retrain a champion older than this (trading days)
    cooldown_days: int  # a trigger retrained for in vain waits this many trading days

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> RetrainPolicy:
        policy = parameters_from_mapping(cls, params, "monitoring policy")
        if min(policy.window, policy.consecutive_days, policy.min_scored, policy.max_age_days) < 1:
            raise InputError(
                "monitoring policy window, consecutive_days, min_scored and max_age_days must "
                "be >= 1"
            )
        if policy.cooldown_days < 0:
            raise InputError(
                f"monitoring policy cooldown_days must be >= 0, got {policy.cooldown_days}"
            )
        if policy.ratio_threshold <= 0:
            raise InputError(
                f"monitoring policy ratio_threshold must be > 0, got {policy.ratio_threshold}"
            )
        return policy


class RetrainDecision(TypedDict):
    kind: Literal["retrain"]
    as_of: str  # ISO date
    model_version: str  # the champion judged
    retrain: bool
    reasons: list[str]  # why, also when not retraining


def trading_days_since(prices: pd.DataFrame, since: dt.date, as_of: dt.date) -> int:
    """Trading days (dates on which any ticker has a close) in (since, as_of]: a champion's age
    when `since` is the last date of the data it was trained on."""
    require_columns(prices, ("date",), "prices")
    dates = as_dates(prices["date"]).drop_duplicates()
    return int(((dates > pd.Timestamp(since)) & (dates <= pd.Timestamp(as_of))).sum())


def retrainable_end(prices: pd.DataFrame) -> dt.date:
    """The newest date a retrain's training split could use: the tickers' common end (the
    earliest of their last dates), as ml_models.common.splits cuts every ticker there."""
    require_columns(prices, ("ticker", "date"), "prices")
    return as_dates(prices["date"]).groupby(prices["ticker"].to_numpy()).max().min().date()


def champion_age(prices: pd.DataFrame, trained_through: dt.date) -> int:
    """Trading days from the champion's training end to the newest date a retrain could use:
    what a retrain can change (0 while a ticker has no newer bar, however old the champion)."""
    return trading_days_since(prices, trained_through, retrainable_end(prices))


def trigger_of(reason: str) -> str:
    """What a reason is about, without its figures (the text before " ("): the key a retrain's
    recorded reasons ("retrained because ...") are matched on by the cooldown."""
    return reason.removeprefix(RETRAINED_BECAUSE).split(" (", 1)[0]


RETRAINED_BECAUSE = "retrained because "


def cooling_triggers(
    decisions: Iterable[Mapping[str, Any]],
    prices: pd.DataFrame,
    as_of: dt.date,
    cooldown_days: int,
) -> dict[str, dt.date]:
    """Trigger -> day of its retrain, for each trigger retrained for within the last
    `cooldown_days` trading days (up to `as_of`) whose candidate was not promoted.
    `decisions`: crud.recent_decisions rows; a promotion's reasons are its verdict, then
    "retrained because <reason>" for each reason of the retrain."""
    cooling: dict[str, dt.date] = {}
    for decision in decisions:
        if decision.get("kind") != "promotion" or decision.get("promoted"):
            continue
        day = pd.Timestamp(decision["as_of"]).date()
        if day > as_of or trading_days_since(prices, day, as_of) >= cooldown_days:
            continue
        for reason in decision.get("reasons") or []:
            if reason.startswith(RETRAINED_BECAUSE):
                trigger = trigger_of(reason)
                cooling[trigger] = max(day, cooling.get(trigger, day))
    return cooling


def _ratio_reasons(accuracy: pd.DataFrame, policy: RetrainPolicy) -> list[str]:
    reasons = []
    for ticker, rows in accuracy.groupby("ticker", sort=True):
        last = rows.sort_values("as_of").tail(policy.consecutive_days)
        bad = (last["n"] >= policy.min_scored) & (last["mae_ratio"] > policy.ratio_threshold)
        if len(last) == policy.consecutive_days and bad.all():
            newest = last.iloc[-1]
            reasons.append(
                f"{ticker}: {policy.window}-day MAE ratio to naive above "
                f"{policy.ratio_threshold:g} on each of the last {policy.consecutive_days} "
                f"trading days (latest {newest['mae_ratio']:.3f} on {newest['as_of']:%Y-%m-%d}, "
                f"{int(newest['n'])} steps scored)"
            )
    return reasons


def _drift_reasons(drift: pd.DataFrame) -> list[str]:
    return [
        f"{row.ticker}: {row.feature} drifted from the training period "
        f"(KS {row.ks:.3f}, PSI {row.psi:.3f}; {row.n_recent} recent vs "
        f"{row.n_reference} reference days)"
        for row in drift[drift["flag"].astype(bool)].sort_values(["ticker", "feature"]).itertuples()
    ]


def retrain_decision(
    accuracy: pd.DataFrame,
    drift: pd.DataFrame,
    model_version: str,
    champion_age_days: int,
    as_of: dt.date,
    params: Mapping[str, Any],
    cooling: Mapping[str, dt.date] | None = None,
) -> RetrainDecision:
    """Whether to retrain the champion `model_version` on `as_of`, with every reason.

    `accuracy`: rolling_accuracy's rows (its history: the streak of N days is read from it, up
    to as_of); `drift`: drift_statistics' rows for the champion; `champion_age_days`:
    champion_age(prices, last date the champion was trained on); `cooling`: the triggers in
    their cooldown (cooling_triggers), which alone do not retrain.
    """
    policy = RetrainPolicy.from_mapping(params)
    require_columns(accuracy, ACCURACY_COLUMNS, "accuracy")
    require_columns(drift, DRIFT_COLUMNS, "drift")
    if len(accuracy) and policy.window not in set(accuracy["window"].astype(int)):
        raise InputError(
            f"monitoring policy window {policy.window} is not one of the accuracy windows "
            f"{sorted(set(accuracy['window'].astype(int)))}"
        )
    day = pd.Timestamp(as_of)
    judged = accuracy[
        (accuracy["source"] == policy.source)
        & (accuracy["model_version"] == model_version)
        & (accuracy["window"].astype(int) == policy.window)
        & (pd.to_datetime(accuracy["as_of"]) <= day)
    ].assign(as_of=lambda f: pd.to_datetime(f["as_of"]))
    reasons = _ratio_reasons(judged, policy) + _drift_reasons(drift)
    if champion_age_days > policy.max_age_days:
        reasons.append(
            f"champion {model_version} is more than {policy.max_age_days} trading days older "
            f"than the data a retrain could use ({champion_age_days} trading days)"
        )
    cooling = cooling or {}
    waiting = [r for r in reasons if trigger_of(r) in cooling]
    reasons = [r for r in reasons if trigger_of(r) not in cooling]
    retrain = bool(reasons)
    if not retrain and waiting:
        reasons = [
            f"{trigger_of(r)}: not retrained again, the retrain of "
            f"{cooling[trigger_of(r)]:%Y-%m-%d} kept its candidate (cooldown "
            f"{policy.cooldown_days} trading days)"
            for r in waiting
        ]
    elif not retrain:
        reasons.append(
            f"no trigger: no ticker's {policy.window}-day MAE ratio to naive above "
            f"{policy.ratio_threshold:g} on {policy.consecutive_days} trading days in a row, "
            f"no drift, champion {champion_age_days} of at most {policy.max_age_days} trading "
            "days older than the data a retrain could use"
        )
    return RetrainDecision(
        kind="retrain",
        as_of=day.date().isoformat(),
        model_version=model_version,
        retrain=retrain,
        reasons=reasons,
    )
