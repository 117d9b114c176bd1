"""The figures the README and docs/results.md quote, with their provenance: small extracts of
the git-ignored reports in data/08_reporting (committed as docs/reports/<name>.json) and the
Markdown tables rendered from them.

A table in a document sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``;
`python -m stock_lstm.cli.headline --write-docs` (`make docs-reports`) writes the extracts from
the reports present and renders every block again from the committed extracts, so a figure in a
results table is always the committed artifact's value (tests/test_report_docs.py checks it).
Pure functions: the command does the reading and writing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stock_lstm.ml_models.common.headline import NETWORKS, band_ratio, up_share

# report name -> the file `make backtest` / `make pipeline` / `make tune` / `make interval-scope`
# writes in <data_dir>/08_reporting, and the command that writes it
REPORTS = {
    "backtest": ("backtest.json", "make backtest"),
    "evaluation": ("evaluation.json", "make pipeline"),
    "interval_scope": ("interval_scope.json", "make interval-scope"),
    "tuning": ("tuning.json", "make tune"),
}
DOC_STEPS = (1, 5, 30)  # the steps the documents' tables show
RATIO_MODELS = ("lstm", "gru", "drift", "median_drift", "garch", "ets", "lightgbm")
BAND_MODELS = ("lstm", "gru", "naive", "drift", "garch")


def report_command(name: str, report: Mapping[str, Any]) -> str:
    """The command that writes report `name` as it is: a backtest of another universe than the
    default snapshot names it (`make backtest UNIVERSE=all`)."""
    command = REPORTS[name][1]
    universe = report.get("universe_name", "snapshot") if name == "backtest" else "snapshot"
    return command if universe == "snapshot" else f"{command} UNIVERSE={universe}"


_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z_]+)[^>]*-->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)",
    re.DOTALL,
)


# --- extracts: what the documents quote, small enough to commit -------------------------------


def _keep(mapping: Mapping[str, Any] | None, keys: Sequence[str]) -> dict[str, Any]:
    return {k: mapping[k] for k in keys if mapping is not None and k in mapping}


def _spread(cell: Mapping[str, Any] | None) -> dict[str, Any]:
    return _keep(cell, ("mean", "std"))


def _backtest_cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    interval = cell.get("interval") or {}
    return {
        "mae_ratio": _spread(cell.get("mae_ratio")),
        "mae_ratio_best_baseline": _spread(cell.get("mae_ratio_best_baseline")),
        **_keep(cell, ("mae_ratio_pooled", "n_test", "positive_share", "base_rate")),
        "dm": _keep(cell.get("dm"), ("statistic", "p_value", "p_holm", "lags")),
        "direction": _keep(cell.get("direction"), ("hit_rate", "pt_statistic", "pt_p_value")),
        "interval": {m: _spread(interval.get(m)) for m in ("coverage", "winkler", "mean_width")},
    }


def backtest_extract(report: Mapping[str, Any]) -> dict[str, Any]:
    """backtest.json without its per-fold values, dated errors and plots' data: its `run` block
    (workers, fit-phase seconds, peak memory); per model,
    ticker and report step the fold-mean ratios, DM test, direction and band scores; per model
    the summary (AvgRelMAE, significant wins and losses), seeds and seed spread; the SPA and
    model-confidence-set results; the folds' dates. `headline_markdown` renders it as it
    renders the report."""
    steps = [int(k) for k in report["report_steps"]]
    models = {}
    for name, entry in report["models"].items():
        models[name] = {
            **_keep(entry, ("seeds", "fit_seconds", "fits", "seconds_per_fit")),
            "summary": {
                f"h{k}": _keep(
                    (entry.get("summary") or {}).get(f"h{k}"),
                    ("avg_rel_mae", "significant_wins", "significant_losses", "tickers_tested"),
                )
                for k in steps
            },
            "tickers": {
                ticker: {f"h{k}": _backtest_cell(cells[f"h{k}"]) for k in steps if f"h{k}" in cells}
                for ticker, cells in entry["tickers"].items()
            },
        }
        if "seed_spread" in entry:
            models[name]["seed_spread"] = {
                ticker: {h: _keep(c, ("range", "std")) for h, c in by_step.items()}
                for ticker, by_step in entry["seed_spread"].items()
            }
    significance = report.get("significance") or {}
    return {
        **_keep(
            report,
            (
                "data_version",
                "universe",
                "universe_name",
                "report_steps",
                "interval_level",
                "refit_every",
                "run",  # where and how long the fits ran: the figure the README quotes
            ),
        ),
        "folds": [_keep(f, ("fold", "test_start", "test_end", "refit")) for f in report["folds"]],
        "significance": {
            **_keep(significance, ("level", "mcs_size", "bootstrap_reps")),
            **{f"h{k}": _keep(significance.get(f"h{k}"), ("spa_p_value", "mcs")) for k in steps},
        },
        "models": models,
    }


def tuning_extract(report: Mapping[str, Any]) -> dict[str, Any]:
    """tuning.json's verdict: the defaults' and the best trial's score and knobs, the folds,
    how many trials ran and in what state (not every trial's record, nor the machine's storage
    path)."""
    trials = report.get("trials") or []
    states: dict[str, int] = {}
    for trial in trials:
        states[str(trial.get("state"))] = states.get(str(trial.get("state")), 0) + 1
    return {
        **{k: v for k, v in report.items() if k not in ("trials", "storage")},
        "trial_states": states,
    }


EXTRACTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "backtest": backtest_extract,
    "evaluation": dict,  # small: kept whole
    "interval_scope": dict,
    "tuning": tuning_extract,
}


# --- tables ------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _sig(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _pm(cell: Mapping[str, Any] | None, digits: int = 4) -> str:
    if not cell or cell.get("mean") is None:
        return "n/a"
    std = cell.get("std")
    return _num(cell["mean"], digits) + ("" if std is None else f" ± {std:.{digits}f}")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"


def _steps(extract: Mapping[str, Any]) -> list[int]:
    steps = [int(k) for k in extract["report_steps"]]
    return [k for k in DOC_STEPS if k in steps] or steps


def backtest_summary(extract: Mapping[str, Any]) -> str:
    """The README's headline: per step, each model's AvgRelMAE and where the Holm-corrected DM
    test finds it better or worse than naive ("no significant difference" everywhere else);
    what the networks forecast against the base rate; the LSTM's bands against GARCH's."""
    level = float(extract["significance"].get("level", 0.05))
    folds = extract["folds"]
    universe = extract.get("universe") or []
    models = [m for m in extract["models"] if m != "naive"]
    steps = _steps(extract)
    by = (extract.get("provenance") or {}).get("by", REPORTS["backtest"][1])
    lines = [
        f"`{by}`, then `make docs-reports`: {len(universe)} tickers ({_listed(universe)}), "
        f"{len(folds)} walk-forward folds tested {folds[0]['test_start']} to "
        f"{folds[-1]['test_end']}. A model *beats naive* on a ticker only where a "
        f"Diebold–Mariano test (HAC, HLN), Holm-corrected across tickers, rejects equal "
        f"accuracy at {level:.0%}.",
        "",
        "AvgRelMAE (the geometric mean over tickers of the MAE ratio to naive; below 1: smaller "
        "errors on average, significant or not), with the tickers on which the corrected test "
        "finds the model better or worse than naive:",
        "",
        "| model | " + " | ".join(f"step {k}" for k in steps) + " |",
        "|---|" + "---|" * len(steps),
    ]
    for model in models:
        cells = []
        for k in steps:
            summary = extract["models"][model]["summary"].get(f"h{k}", {})
            cell = _num(summary.get("avg_rel_mae"))
            if summary.get("significant_wins"):
                cell += f", **better: {_listed(summary['significant_wins'])}**"
            if summary.get("significant_losses"):
                cell += f", worse: {_listed(summary['significant_losses'])}"
            cells.append(cell)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    spa = [
        f"step {k}: {_num(extract['significance'].get(f'h{k}', {}).get('spa_p_value'), 3)}"
        for k in steps
    ]
    wins = [
        f"{m} at step {k} on {_listed(found)}"
        for m in NETWORKS
        if m in extract["models"]
        for k in steps
        if (found := extract["models"][m]["summary"].get(f"h{k}", {}).get("significant_wins"))
    ]
    lines += [
        "",
        "Every ticker a cell does not name: no significant difference from naive. Networks "
        "significantly better than naive: "
        + ("; ".join(wins) if wins else "none, at any step shown")
        + f'. SPA p-value, "does any model beat naive" ({"; ".join(spa)}).',
    ]
    learned = []
    for model in (m for m in NETWORKS if m in extract["models"]):
        entry = extract["models"][model]
        shares = [up_share(entry, universe, k) for k in steps]
        if any(up is None or base is None for up, base in shares):
            continue
        skilled = {
            t
            for t, cells in entry["tickers"].items()
            for k in steps
            if ((cells.get(f"h{k}") or {}).get("direction") or {}).get("pt_p_value") is not None
            and cells[f"h{k}"]["direction"]["pt_p_value"] < level
        }
        learned.append(
            f"{model} forecasts a rise from "
            + " / ".join(f"{up:.0%}" for up, _ in shares)
            + " of origins while the closes rose from "
            + " / ".join(f"{base:.0%}" for _, base in shares)
            + f" (directional skill beyond that, Pesaran–Timmermann at {level:.0%}, on "
            + f"{len(skilled)} of {len(entry['tickers'])} tickers)"
        )
    if learned:
        lines += [
            "",
            "What the networks learned, at steps "
            + " / ".join(str(k) for k in steps)
            + " (mean over tickers): "
            + "; ".join(learned)
            + ".",
        ]
    if "lstm" in extract["models"] and "garch" in extract["models"]:
        bands = []
        for k in steps:
            ratio, better, compared = band_ratio(extract["models"], universe, k)
            bands.append(f"step {k}: {_num(ratio, 3)} (lower on {len(better)} of {compared})")
        lines += [
            "",
            "Bands: the LSTM's conformal bands against GARCH's, Winkler score LSTM / GARCH "
            "(geometric mean over tickers; below 1: the LSTM's bands are better; mean scores, "
            "not tested): " + "; ".join(bands) + ".",
        ]
    return "\n".join(lines)


def backtest_ratios(extract: Mapping[str, Any]) -> str:
    """Per ticker and step, each model's MAE ratio to naive (mean ± std over folds) and the
    LSTM's Holm-corrected DM p-value."""
    present = [m for m in RATIO_MODELS if m in extract["models"]]
    lines = [
        "| ticker | step | " + " | ".join(present) + " | LSTM DM p (Holm) |",
        "|---|---|" + "---|" * len(present) + "---|",
    ]
    for ticker in extract.get("universe") or []:
        for k in _steps(extract):
            cells = [extract["models"][m]["tickers"].get(ticker, {}).get(f"h{k}") for m in present]
            lstm = extract["models"].get("lstm", {}).get("tickers", {}).get(ticker, {})
            p = (lstm.get(f"h{k}") or {}).get("dm", {}).get("p_holm")
            lines.append(
                f"| {ticker} | {k} | "
                + " | ".join(_pm(c["mae_ratio"]) if c else "n/a" for c in cells)
                + f" | {_num(p, 3)} |"
            )
    return "\n".join(lines)


def backtest_bands(extract: Mapping[str, Any]) -> str:
    """Per ticker and step, the bands' fold-mean coverage / Winkler score."""
    present = [m for m in BAND_MODELS if m in extract["models"]]
    lines = [
        "| ticker | step | " + " | ".join(present) + " |",
        "|---|---|" + "---|" * len(present),
    ]
    for ticker in extract.get("universe") or []:
        for k in _steps(extract):
            row = []
            for m in present:
                cell = extract["models"][m]["tickers"].get(ticker, {}).get(f"h{k}")
                interval = (cell or {}).get("interval", {})
                row.append(
                    f"{_num(interval.get('coverage', {}).get('mean'), 3)} / "
                    f"{_sig(interval.get('winkler', {}).get('mean'))}"
                )
            lines.append(f"| {ticker} | {k} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def interval_scope_table(extract: Mapping[str, Any]) -> str:
    """Per scope: its fold-mean coverage per ticker and step, the mean |coverage - level|, the
    Winkler criterion; the chosen scope and why."""
    scopes = extract["scopes"]
    tickers = sorted({t for s in scopes.values() for t in s["coverage"]})
    steps = sorted({int(h[1:]) for s in scopes.values() for c in s["coverage"].values() for h in c})
    header = " | ".join(f"{t} {' / '.join(str(k) for k in steps)}" for t in tickers)
    lines = [
        f"| scope | {header} | mean coverage | mean abs. error | Winkler (geometric mean) |",
        "|---|" + "---|" * (len(tickers) + 3),
    ]
    for scope, found in scopes.items():
        cells = [
            " / ".join(
                _num(found["coverage"].get(t, {}).get(f"h{k}", {}).get("mean"), 3) for k in steps
            )
            for t in tickers
        ]
        name = f"**{scope}** (chosen)" if scope == extract.get("chosen") else scope
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {_num(found.get('mean_coverage'), 4)} | "
            f"{_num(found.get('mean_abs_coverage_error'), 4)} | "
            f"{_num(found.get('winkler_geometric_mean'), 4)} |"
        )
    band = extract.get("coverage_band")
    lines += [
        "",
        f"Band {band}, development period to {extract.get('development_end')}: "
        f"{extract.get('chosen')} ({extract.get('reason')}).",
    ]
    return "\n".join(lines)


def evaluation_table(extract: Mapping[str, Any]) -> str:
    """The default run's test split: per ticker and step, the model's and naive's MAE, the
    model's and the drift's MAE ratio to naive, the model's direction accuracy and the bands'
    coverage and width."""
    lines = [
        "| ticker (test days) | step | model MAE | naive MAE | ratio | drift ratio | "
        "direction | 90% coverage | mean width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    model_type = extract.get("model_type", "lstm")
    for ticker, entry in extract["tickers"].items():
        for k in DOC_STEPS:
            cell = entry.get(f"h{k}")
            if not cell:
                continue
            model, interval = cell.get(model_type) or {}, cell.get("interval") or {}
            lines.append(
                f"| {ticker} ({entry.get('n_test', 'n/a')}) | {k} | {_num(model.get('mae'))} | "
                f"{_num((cell.get('naive') or {}).get('mae'))} | {_num(cell.get('mae_ratio'))} | "
                f"{_num((cell.get('drift') or {}).get('mae_ratio'))} | "
                f"{_num(model.get('directional_accuracy'), 3)} | "
                f"{_num(interval.get('coverage'), 3)} | {_num(interval.get('mean_width'), 2)} |"
            )
    return "\n".join(lines)


def tuning_table(extract: Mapping[str, Any]) -> str:
    """The defaults' trial against the best: score and knobs."""
    lines = ["| | score (MAE ratio to naive on the folds' test slices) | knobs |", "|---|---|---|"]
    for label, key in (("defaults", "default"), ("best", "best")):
        entry = extract.get(key) or {}
        knobs = ", ".join(
            f"{k} {_sig(v) if isinstance(v, float) else v}"
            for k, v in sorted((entry.get("params") or {}).items())
        )
        trial = f" (trial {entry['trial']})" if entry.get("trial") is not None else ""
        lines.append(f"| {label}{trial} | {_num(entry.get('value'), 5)} | {knobs or 'n/a'} |")
    states = extract.get("trial_states") or {}
    lines += [
        "",
        "Trials: " + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none") + ".",
    ]
    return "\n".join(lines)


# block name -> (the extract it reads, its renderer)
TABLES: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
    "backtest_summary": ("backtest", backtest_summary),
    "backtest_ratios": ("backtest", backtest_ratios),
    "backtest_bands": ("backtest", backtest_bands),
    "interval_scope": ("interval_scope", interval_scope_table),
    "evaluation": ("evaluation", evaluation_table),
    "tuning": ("tuning", tuning_table),
}


def block_names(text: str) -> list[str]:
    """The generated blocks a document holds, in order."""
    return [m.group("name") for m in _BLOCK.finditer(text)]


def render_blocks(text: str, extracts: Mapping[str, Mapping[str, Any]]) -> str:
    """`text` with every generated block whose extract is present rendered again; a block
    whose extract is missing, or whose name is unknown, raises (a document must not quote a
    figure without its artifact)."""

    def render(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in TABLES:
            raise KeyError(f"unknown generated block {name!r}; known: {', '.join(TABLES)}")
        source, renderer = TABLES[name]
        if source not in extracts:
            raise KeyError(f"block {name!r} needs docs/reports/{source}.json")
        return f"{match.group(1)}{renderer(extracts[source])}\n{match.group(4)}"

    return _BLOCK.sub(render, text)
