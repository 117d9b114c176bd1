"""The backtest's headline, written from its report so it can say no more than the tests do: a
model "beats naive" on a ticker only where the Holm-corrected Diebold–Mariano test says so,
otherwise "no significant difference"; what the networks learned is their share of "up"
forecasts next to the base rate; where bands are compared, the Winkler scores say by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

NETWORKS = ("lstm", "gru")
BAND_RIVAL = "garch"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _listed(tickers: Sequence[str]) -> str:
    return ", ".join(tickers) if tickers else "none"


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _geometric(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in kept) / len(kept)) if kept else None


def up_share(
    entry: Mapping[str, Any], universe: Sequence[str], step: int
) -> tuple[float | None, float | None]:
    """A model's share of origins forecast to rise at `step`, and the share whose close rose
    (the base rate), each averaged over the tickers of `universe` it was tested on."""
    cells = [entry["tickers"][t][f"h{step}"] for t in universe if t in entry["tickers"]]
    return (
        _mean([c.get("positive_share") for c in cells]),
        _mean([c.get("base_rate") for c in cells]),
    )


def band_ratio(
    models: Mapping[str, Any], universe: Sequence[str], step: int
) -> tuple[float | None, list[str], int]:
    """The LSTM's fold-mean Winkler score over GARCH's at `step`: the geometric mean of the
    ratios over tickers, the tickers where the LSTM's is lower, and how many were compared."""
    ratios, better = [], []
    for ticker in universe:
        own = models["lstm"]["tickers"].get(ticker, {}).get(f"h{step}")
        rival = models[BAND_RIVAL]["tickers"].get(ticker, {}).get(f"h{step}")
        if not own or not rival:
            continue
        a = own["interval"]["winkler"]["mean"]
        b = rival["interval"]["winkler"]["mean"]
        if a is not None and b:
            ratios.append(a / b)
            if a < b:
                better.append(ticker)
    return _geometric(ratios), better, len(ratios)


def headline_markdown(report: Mapping[str, Any]) -> str:
    """The headline as Markdown: per report step, each model's AvgRelMAE and the tickers on
    which it significantly beats or loses to naive; SPA and the model confidence set; the
    networks' up-share against the base rate, their seed spread, and LSTM bands against
    GARCH's by Winkler score."""
    significance = report.get("significance") or {}
    level = float(significance.get("level", 0.05))
    models: Mapping[str, Any] = report["models"]
    steps = [int(k) for k in report["report_steps"]]
    universe = list(report.get("universe") or [])
    folds = report.get("folds") or []
    lines = ["# Backtest headline", ""]
    span = f"{folds[0]['test_start']} to {folds[-1]['test_end']}" if folds else "no fold"
    lines += [
        f"Generated from `backtest.json` (data version {report.get('data_version')}): "
        f"{len(universe)} tickers ({_listed(universe)}), {len(folds)} walk-forward folds "
        f"tested {span}, each ticker on its own calendar.",
        "",
        f"A model *beats naive* on a ticker only where a two-sided Diebold–Mariano test "
        f"(absolute errors, HAC variance, Harvey–Leybourne–Newbold correction), Holm-corrected "
        f"across tickers, rejects equal accuracy at {level:.0%}; everywhere else the answer is "
        f"*no significant difference*. AvgRelMAE is the geometric mean over tickers of the MAE "
        f"ratio to naive (below 1: smaller errors on average, significant or not).",
        "",
    ]
    rivals = [m for m in models if m != "naive"]
    for k in steps:
        key = f"h{k}"
        step = significance.get(key) or {}
        lines += [f"## Step {k}", ""]
        lines += [
            "| model | AvgRelMAE | beats naive on | worse than naive on | no significant difference |",
            "|---|---|---|---|---|",
        ]
        for model in rivals:
            summary = models[model].get("summary", {}).get(key, {})
            wins = summary.get("significant_wins", [])
            losses = summary.get("significant_losses", [])
            tested = summary.get("tickers_tested", 0)
            rest = tested - len(wins) - len(losses)
            lines.append(
                f"| {model} | {_fmt(summary.get('avg_rel_mae'))} | {_listed(wins)} | "
                f"{_listed(losses)} | {rest} of {tested} tickers |"
            )
        spa = step.get("spa_p_value")
        verdict = (
            "at least one model beats naive"
            if spa is not None and spa < level
            else "no model is shown to beat naive"
        )
        lines += [
            "",
            f"SPA test on the panel (does any model beat naive on average over the tickers, "
            f"each in units of its naive MAE): p = {_fmt(spa)}: {verdict}. Model confidence set ({1 - float(significance.get('mcs_size', 0.1)):.0%}): "
            f"{_listed(step.get('mcs') or [])}.",
            "",
        ]
    lines += _networks(models, universe, steps, level)
    lines += _bands(models, universe, steps)
    return "\n".join(lines).rstrip() + "\n"


def _networks(
    models: Mapping[str, Any], universe: Sequence[str], steps: Sequence[int], level: float
) -> list[str]:
    present = [m for m in NETWORKS if m in models]
    if not present:
        return []
    lines = ["## What the networks learned", ""]
    lines += [
        "| network | step | up forecasts | up moves (base rate) | directional skill (PT) on | "
        "seed range of the MAE ratio (median over tickers) |",
        "|---|---|---|---|---|---|",
    ]
    for model in present:
        entry = models[model]
        for k in steps:
            up, base = up_share(entry, universe, k)
            skilled = [
                t
                for t in universe
                if t in entry["tickers"]
                and (entry["tickers"][t][f"h{k}"].get("direction") or {}).get("pt_p_value")
                is not None
                and entry["tickers"][t][f"h{k}"]["direction"]["pt_p_value"] < level
            ]
            ranges = sorted(
                r
                for t in universe
                if (r := entry.get("seed_spread", {}).get(t, {}).get(f"h{k}", {}).get("range"))
                is not None
            )
            median_range = ranges[len(ranges) // 2] if ranges else None
            lines.append(
                f"| {model} | {k} | {_fmt(up, 2)} | {_fmt(base, 2)} | {_listed(skilled)} | "
                f"{_fmt(median_range, 4)} |"
            )
    seeds = {m: models[m].get("seeds") for m in present if models[m].get("seeds")}
    lines += [
        "",
        "Shares are averaged over tickers. A network whose up share is near 1 forecasts a "
        "constant drift: its hit rate is the base rate, which shows no directional skill. "
        + (
            "Seeds: " + "; ".join(f"{m} {s}" for m, s in seeds.items()) + "."
            if seeds
            else "One seed per network: differences between networks may be seed noise."
        ),
        "",
    ]
    return lines


def _bands(models: Mapping[str, Any], universe: Sequence[str], steps: Sequence[int]) -> list[str]:
    if "lstm" not in models or BAND_RIVAL not in models:
        return []
    lines = ["## Bands: LSTM conformal against GARCH", ""]
    lines += ["| step | Winkler LSTM / GARCH (geometric mean over tickers) | better on |"]
    lines += ["|---|---|---|"]
    for k in steps:
        ratio, better, compared = band_ratio(models, universe, k)
        lines.append(f"| {k} | {_fmt(ratio)} | {len(better)} of {compared} |")
    lines += [
        "",
        "Lower Winkler is better (width plus the penalty for misses); these are mean scores, "
        "not tested for significance.",
        "",
    ]
    return lines
