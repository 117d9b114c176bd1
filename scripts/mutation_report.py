"""docs/mutation.md from mutmut's results (`make mutation`): the score of each mutated module and
every mutant no test killed, with its diff and, where it is equivalent or out of the tests'
reach, why (EXPLAINED below). Run from the project root after `mutmut run`."""

from __future__ import annotations

import argparse
import collections
import os
import platform
from pathlib import Path

from mutmut.__main__ import SourceFileMutationData, walk_mutatable_files
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

REPORT = Path("docs/mutation.md")
DETECTED = {"killed", "timeout", "segfault"}
# Survivors that no test can or should kill, by mutant name (a pattern ending in "*" covers a
# function's mutants). Equivalent: the mutant computes the same thing. Reviewed by hand.
_NUMERIC = (
    'Equivalent: `dtype="float64"` dropped from np.asarray/np.sort; every caller passes float '
    "arrays (or lists of floats read from JSON), whose dtype is float64 already."
)
_FIRST_PART = (
    'Equivalent: `split(" (", 1)[0]` changed to no or a larger maxsplit; the first part is '
    "the same."
)
_BOOLEAN = (
    "Equivalent: `dtype=bool` dropped; every caller passes boolean arrays (`> 0` comparisons)."
)
_PT_EDGE = (
    "Equivalent: with px or py at 0 or 1 the Pesaran-Timmermann variance is exactly 0 (its two "
    "terms are the same IEEE products), so `variance <= 0` returns None before the share check; "
    "no input with both shares inside (0, 1) and a variance <= 0 was found."
)
_DM_GUARD = (
    "Not killed: the `variance <= 0` guard after `np.ptp(d) == 0`; a Bartlett long-run variance "
    "of a non-constant differential is positive, so no input reaches it (defensive)."
)
_MCS_KNOBS = (
    "Not killed: arch's block size default, an unseeded bootstrap or its default 1000 "
    "replications give the same set on the constructed losses; pinning them would test arch."
)
_STALE = (
    "Not killed: `populate_existing` refreshes a champion row the session loaded before taking "
    "the registry lock; only two concurrent promotions in one session's lifetime show it (the "
    "PostgreSQL two-worker test, not in the fast tier)."
)
_STATUS_DEFAULT = (
    "Equivalent: the model_versions.status column defaults to 'candidate' (orm_models.py), so a "
    "new row without the explicit status is a candidate all the same."
)
_NOTIFY = (
    "Not killed here: PostgreSQL's NOTIFY of a promotion; the mutation run uses SQLite only. "
    "`make test` covers it (tests/api/test_workers.py[postgresql], whose poll is too slow to "
    "pass without the notification)."
)
_ZIP = "Equivalent: `strict` dropped from a zip of the tested keys and their adjusted p-values, "
_ZIP += "which statsmodels returns one for one."
_FIRST_ROW = "Equivalent: `.limit(1)` dropped before `.first()`, which takes the first row anyway."
_REASON_LENGTH = (
    "Not killed here: the audit reason is cut to the column's 500 characters; SQLite does not "
    "enforce VARCHAR lengths, PostgreSQL would refuse 501 (the mutation run uses SQLite)."
)
_LOCK_NAME = (
    "Equivalent: the registry's lock under another name serialises the registry's writers the "
    "same way (no stage is called that)."
)
_ASTYPE = (
    "Equivalent: `astype(None)` makes the window column float64, whose values compare equal to "
    "the integer window."
)
EXPLAINED: dict[str, str] = {
    "stock_lstm.ml_models.common.intervals.x_conformal_quantile__mutmut_10": _NUMERIC,
    "stock_lstm.ml_models.common.intervals.x_conformal_quantile__mutmut_12": _NUMERIC,
    "stock_lstm.ml_models.common.intervals.x_volatility_bands__mutmut_5": _NUMERIC,
    "stock_lstm.ml_models.common.intervals.x_volatility_bands__mutmut_7": _NUMERIC,
    "stock_lstm.ml_models.common.intervals.xǁIntervalQuantilesǁof__mutmut_3": (
        "Equivalent: `by_ticker.get(None)` is None as the `else None` branch (tickers are str)."
    ),
    "stock_lstm.ml_models.common.significance.x_long_run_variance__mutmut_7": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_long_run_variance__mutmut_9": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_hac_lags__mutmut_6": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_hac_lags__mutmut_8": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_7": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_9": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_geometric_mean_ratio__mutmut_20": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_geometric_mean_ratio__mutmut_22": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_3": _BOOLEAN,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_5": _BOOLEAN,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_8": _BOOLEAN,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_10": _BOOLEAN,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_79": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_80": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_81": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_84": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_85": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_87": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_pesaran_timmermann__mutmut_88": _PT_EDGE,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_67": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_68": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_69": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_70": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_71": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_72": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_73": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_diebold_mariano__mutmut_74": _DM_GUARD,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_24": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_26": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_29": _MCS_KNOBS,
    "stock_lstm.data_pipeline.crud.model_versions.x_previous_champion__mutmut_3": (
        "Not killed: without `ORDER BY id` SQLite and PostgreSQL return a small table's events in "
        "insertion order; only a reordering scan (PostgreSQL after updates and vacuum) shows it."
    ),
    "stock_lstm.data_pipeline.crud.model_versions.x__model_row__mutmut_2": _STALE,
    "stock_lstm.data_pipeline.crud.model_versions.x__model_row__mutmut_6": _STALE,
    "stock_lstm.data_pipeline.crud.model_versions.x_record_model_version__mutmut_17": _STATUS_DEFAULT,
    "stock_lstm.data_pipeline.crud.model_versions.x_record_model_version__mutmut_19": _STATUS_DEFAULT,
    "stock_lstm.data_pipeline.crud.model_versions.x_registry_events__mutmut_1": (
        "Equivalent on every test: the default limit 200 changed to 201; no test stores 200 events."
    ),
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_60": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_61": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_62": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_63": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_64": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_65": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_66": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_67": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_68": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_69": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_70": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_71": _NOTIFY,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_3": _STALE,
    "stock_lstm.data_pipeline.crud.model_versions.x__promote__mutmut_9": _STALE,
    "stock_lstm.ml_models.common.significance.x_superior_predictive_ability__mutmut_3": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_superior_predictive_ability__mutmut_5": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_superior_predictive_ability__mutmut_27": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_superior_predictive_ability__mutmut_29": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_30": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_31": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_32": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_33": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_34": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_model_confidence_set__mutmut_35": _MCS_KNOBS,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_12": (
        "Equivalent: statsmodels' multipletests reads the method name case-insensitively."
    ),
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_18": _ZIP,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_21": _ZIP,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_22": _ZIP,
    "stock_lstm.data_pipeline.crud.model_versions.x_model_version_trained_from__mutmut_3": _FIRST_ROW,
    "stock_lstm.data_pipeline.crud.model_versions.x_model_version_trained_from__mutmut_8": _FIRST_ROW,
    "stock_lstm.data_pipeline.crud.model_versions.x_get_model_version__mutmut_5": _FIRST_ROW,
    "stock_lstm.data_pipeline.crud.model_versions.x_get_model_version__mutmut_7": _FIRST_ROW,
    "stock_lstm.data_pipeline.crud.model_versions.x__audit__mutmut_12": _REASON_LENGTH,
    "stock_lstm.data_pipeline.crud.model_versions.x__audit__mutmut_13": _REASON_LENGTH,
    "stock_lstm.data_pipeline.crud.model_versions.x_lock_registry__mutmut_2": _LOCK_NAME,
    "stock_lstm.data_pipeline.crud.model_versions.x_lock_registry__mutmut_5": _LOCK_NAME,
    "stock_lstm.data_pipeline.crud.model_versions.x_lock_registry__mutmut_6": _LOCK_NAME,
    "stock_lstm.monitoring.policy.x_retrain_decision__mutmut_22": _ASTYPE,
    "stock_lstm.monitoring.policy.x_retrain_decision__mutmut_44": _ASTYPE,
    "stock_lstm.pipelines.monitoring.nodes.x_monitor_champion__mutmut_56": (
        "Equivalent: pandas reads `to_dict`'s orient case-insensitively ('RECORDS')."
    ),
    "stock_lstm.pipelines.monitoring.nodes.x_monitor_champion__mutmut_98": (
        "Equivalent: ScoredForecasts.status_counts reads only the forecasts, not the steps."
    ),
    "stock_lstm.monitoring.policy.x_trigger_of__mutmut_4": _FIRST_PART,
    "stock_lstm.monitoring.policy.x_trigger_of__mutmut_9": _FIRST_PART,
    "stock_lstm.monitoring.policy.x__ratio_reasons__mutmut_5": (
        "Equivalent: `sort=True` dropped from `groupby`, whose default is `sort=True`."
    ),
    "stock_lstm.ml_models.common.intervals.x_volatility_bands__mutmut_10": (
        "Equivalent: `close.shape[+1]` is `close.shape[-1]` for the (origins, steps) closes every "
        "model returns (always 2-D)."
    ),
}


def explanation(name: str) -> str | None:
    if name in EXPLAINED:
        return EXPLAINED[name]
    for pattern, why in EXPLAINED.items():
        if pattern.endswith("*") and name.startswith(pattern[:-1]):
            return why
    return None


def module_of(path: Path) -> str:
    return str(path.relative_to("src")).removesuffix(".py").replace("/", ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, help="how long `mutmut run` took")
    parser.add_argument("--note", default="", help="a line about this run (load, modules left)")
    args = parser.parse_args()

    rows, survivors = [], []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses = {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}
        counts = collections.Counter(statuses.values())
        checked = sum(n for status, n in counts.items() if status != "not checked")
        detected = sum(counts[s] for s in DETECTED)
        left = [n for n, s in statuses.items() if s in ("survived", "no tests")]
        explained = sum(1 for n in left if explanation(n))
        rows.append((module_of(path), len(statuses), checked, detected, counts, explained))
        survivors += [(n, statuses[n], path) for n in sorted(left)]

    lines = [
        "# Mutation testing",
        "",
        "Generated by `make mutation` (mutmut 3.8, `scripts/mutation_report.py`); not in CI: it",
        "takes too long. Each mutant of the modules below (`[tool.mutmut]` in pyproject.toml) runs",
        "against the fast tests that call the mutated function; a mutant is *killed* when one of",
        "them fails. Score = (killed + timed out) / checked; an *explained* survivor is an",
        "equivalent mutant or one listed with its reason below.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        + (f"; `mutmut run` takes about {args.seconds / 60:.0f} min." if args.seconds else "."),
        *([args.note] if args.note else []),
        "",
        "| module | mutants | checked | killed | survived | no tests | score | explained |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for module, total, checked, detected, counts, explained in sorted(rows):
        score = f"{100 * detected / checked:.0f} %" if checked else "not run"
        lines.append(
            f"| {module} | {total} | {checked} | {detected} | {counts['survived']} "
            f"| {counts['no tests']} | {score} | {explained} |"
        )
    lines += ["", "## Surviving mutants", ""]
    for name, status, path in survivors:
        why = explanation(name) or "not yet explained: a test to write"
        lines += [f"### `{name}` ({status})", "", why, "", "```diff"]
        lines += get_diff_for_mutant(name, path=path).splitlines()[2:] + ["```", ""]
    REPORT.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"{REPORT}: {len(survivors)} mutants not killed")


if __name__ == "__main__":
    main()
