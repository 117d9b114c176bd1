"""docs/mutation.md from mutmut's results (`make mutation`): the score of each mutated module and
every mutant no test killed, with its diff and, where it is equivalent or out of the tests'
reach, why (EXPLAINED below). Run from the project root after `mutmut run`."""

from __future__ import annotations

import argparse
import collections
import os
import platform
import re
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
_STAGE_LOCK = (
    "Not killed here: on SQLite `_lock_stage` takes the database's write lock whatever the stage "
    "is called; the name picks PostgreSQL's per-stage advisory lock (the mutation run uses "
    "SQLite; tests/data_pipeline/test_crud.py's simultaneous saves run on both)."
)
_HASH_DEFAULT = (
    "Equivalent: the data_versions.hash_method column defaults to 'tickers' (orm_models.py), "
    "so a version written without it records 'tickers' all the same."
)
_PLACEHOLDER = (
    "Equivalent: a placeholder the save overwrites (the version's content hash and row count "
    "are set from the stored ticker states before the transaction ends)."
)
_FACTORIZE = (
    "Equivalent: `pd.factorize` sorted or not gives codes that index its names either way; the "
    "per-ticker sums are the same."
)
_COLUMN_DEFAULT = (
    "Equivalent: a misspelt key names no column, so the insert leaves the column to its default, "
    "which is the value written (content_hash NULL, rows_new and rows_restated 0)."
)
_STRICT = (
    "Equivalent: `strict` dropped from a zip of sequences that are built one for one (the same "
    "length by construction)."
)
_NO_WINDOWS = (
    "Equivalent: `_stored_rows` is called by `_diff` only, with at least one ticker to diff, so "
    "there is always a frame to concatenate (the empty-frame branch is defensive)."
)
_MERGED = (
    "Equivalent: the stored rows are only merged (a merge builds its own index), so the index "
    "the concatenation keeps is never read."
)
_OLD_INDEX = (
    "Equivalent: `reset_index(drop=False)` keeps the frame's old index as an 'index' column, "
    "which the diff never reads (it compares the stage's value columns and `_given`)."
)
_KEY_COLUMNS = (
    "Equivalent: the rows to close have only the ticker and date columns, so a merge on the "
    "common columns is the merge on ticker and date."
)
_STATE_TICKER = (
    "Equivalent: a planned state's ticker field is not written; the ticker_versions row takes "
    "the ticker from the plan's key."
)
_INDICES = (
    "Equivalent: `groupby(...).indices` is a dict by ticker; sorted or not, each ticker gets the "
    "same row positions."
)
_IGNORE_INDEX = (
    "Equivalent: the rows to add and to close are read by position and by column (chunks, zips), "
    "never by index, so the index the concatenation keeps is never read."
)
_NOTHING_PLANNED = (
    "Equivalent: with no rows appended and no ticker diffed nothing is planned, and a save with "
    "nothing planned writes no version (the empty frame is never read)."
)
_CANONICAL_ORDER = (
    "Equivalent: the canonical frame is sorted by ticker and date, so its tickers in order of "
    "appearance are the sorted tickers."
)
_ALL_STATES = (
    "Equivalent: every ticker's state is read instead of those of the tickers saved, and only "
    "theirs are looked up (a cost, not a result)."
)
_RETRIES = (
    "Equivalent in process: retries apply to tasks on a Dask cluster; a fit that fails in "
    "process fails at once whatever `retries` says (distributed._run_here)."
)
_JOB_ORDER = (
    "Equivalent: only the order the fit tasks are submitted in (networks first, so a cluster "
    "starts the long fits first); results are matched to their model and fold by key."
)
_BLOCK = (
    "Equivalent: the block size of the streamed read (1 MiB; `read(None)`: the whole file at "
    "once) bounds memory only; the file's sha256 is the same."
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
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_7": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_9": _NUMERIC,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_37": _STRICT,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_40": _STRICT,
    "stock_lstm.ml_models.common.significance.x_holm__mutmut_41": _STRICT,
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
    "stock_lstm.data_pipeline.crud.stage_write.x_remove_ticker__mutmut_8": _STAGE_LOCK,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_7": _HASH_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_29": _NO_WINDOWS,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_35": _NO_WINDOWS,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_36": _NO_WINDOWS,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_37": _NO_WINDOWS,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_38": _NO_WINDOWS,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_62": (
        "Equivalent: after `fillna(True)` no comparison is missing, so it converts to a boolean "
        "array with or without `dtype=bool`."
    ),
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_205": _STATE_TICKER,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_143": (
        "Equivalent: the origin closes of the valid origins are prices (positive), so some are "
        "non-zero exactly when some origin has a target at that step."
    ),
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_4": _RETRIES,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_84": _RETRIES,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_83": (
        "Not killed here: `workers` dropped runs every fit in process; the fits on a Dask "
        "cluster are tested in tests/pipelines/backtest/test_distributed.py (slow tier)."
    ),
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_48": _JOB_ORDER,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_50": _JOB_ORDER,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_52": _JOB_ORDER,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_74": _STRICT,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_77": _STRICT,
    "stock_lstm.ml_models.common.walk_forward.x_run_walk_forward__mutmut_86": _STRICT,
    "stock_lstm.ml_models.common.walk_forward.x_spread__mutmut_3": _NUMERIC,
    "stock_lstm.ml_models.common.walk_forward.x_spread__mutmut_5": _NUMERIC,
    "stock_lstm.ml_models.common.walk_forward.x__seed_spread__mutmut_13": _NUMERIC,
    "stock_lstm.ml_models.common.walk_forward.x__seed_spread__mutmut_15": _NUMERIC,
    "stock_lstm.ml_models.common.walk_forward.x__seed_spread__mutmut_35": (
        "Equivalent: a model and its seeds are scored on the same folds and tickers against the "
        "same naive forecast, so their mean ratios are all None or all numbers (never one)."
    ),
    "stock_lstm.ml_models.common.walk_forward.x__hits_by_step__mutmut_7": (
        "Equivalent: the extra k = 0 writes the last step's row (index -1) first; step k = n "
        "then overwrites it."
    ),
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_9": _CANONICAL_ORDER,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_11": _CANONICAL_ORDER,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_14": _CANONICAL_ORDER,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_42": _STAGE_LOCK,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_60": (
        "Equivalent: with no ticker to save, the states of an empty ticker list are no states, "
        "as the `{}` it replaces."
    ),
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_63": _ALL_STATES,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_66": _ALL_STATES,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_96": _HASH_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_104": _HASH_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_110": _PLACEHOLDER,
    "stock_lstm.data_pipeline.crud.stage_write.x_save_stage_frame__mutmut_111": _PLACEHOLDER,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_146": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_148": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_149": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_155": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_157": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_158": _IGNORE_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_150": _NOTHING_PLANNED,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_151": _NOTHING_PLANNED,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_159": _NOTHING_PLANNED,
    "stock_lstm.data_pipeline.crud.stage_write.x__close_rows__mutmut_8": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__close_rows__mutmut_11": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__close_rows__mutmut_16": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_43": _STATE_TICKER,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_93": _STATE_TICKER,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_5": _INDICES,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_7": _INDICES,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_10": _INDICES,
    "stock_lstm.data_pipeline.crud.stage_write.x__plan_save__mutmut_68": (
        "Equivalent: a date compared without the 'ns' unit (numpy's day unit) orders the same "
        "against the frame's dates."
    ),
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_268": _STATE_TICKER,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_22": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_25": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_26": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_27": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_29": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__records__mutmut_30": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_225": _STATE_TICKER,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_96": _KEY_COLUMNS,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_98": _KEY_COLUMNS,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_27": _OLD_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__diff__mutmut_28": _OLD_INDEX,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_31": _MERGED,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_33": _MERGED,
    "stock_lstm.data_pipeline.crud.stage_write.x__stored_rows__mutmut_34": _MERGED,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_3": _FACTORIZE,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_24": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_27": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_28": _STRICT,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_5": _FACTORIZE,
    "stock_lstm.data_pipeline.crud.stage_write.x__sums_by_ticker__mutmut_6": _FACTORIZE,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_44": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_45": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_51": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_52": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_54": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_55": _COLUMN_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_15": _HASH_DEFAULT,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_21": _PLACEHOLDER,
    "stock_lstm.data_pipeline.crud.stage_write.x__save_removal__mutmut_22": _PLACEHOLDER,
    "stock_lstm.data_pipeline.crud.stage_write.x_remove_ticker__mutmut_15": _ALL_STATES,
    "stock_lstm.data_pipeline.crud.stage_write.x_remove_ticker__mutmut_18": _ALL_STATES,
    "stock_lstm.data_pipeline.model_registry.x__artifact_path__mutmut_3": (
        "Equivalent for every serving file: `rstrip('XX/XX')` strips X as well as /, and no "
        "catalog filepath ends in X (they end in .onnx and .json)."
    ),
    "stock_lstm.data_pipeline.model_registry.x__read_saved__mutmut_13": (
        "Equivalent: fsspec's `open` mode defaults to 'rb'."
    ),
    "stock_lstm.data_pipeline.model_registry.x_promote__mutmut_27": (
        "Equivalent: `load_problem` does not use the version (its reason is 'it does not load: "
        "...'; `promote` names the version in the refusal)."
    ),
    "stock_lstm.data_pipeline.model_registry.x_stream_sha256__mutmut_7": _BLOCK,
    "stock_lstm.data_pipeline.model_registry.x_stream_sha256__mutmut_9": _BLOCK,
    "stock_lstm.data_pipeline.model_registry.x_stream_sha256__mutmut_10": _BLOCK,
    "stock_lstm.data_pipeline.model_registry.xǁRegistryListenerǁ_connect__mutmut_2": (
        "Equivalent: SQLAlchemy's `render_as_string` reads `hide_password` as a truth value; "
        "None is false like False (the password is kept for psycopg)."
    ),
}


def explanation(name: str) -> str | None:
    if name in EXPLAINED:
        return EXPLAINED[name]
    for pattern, why in EXPLAINED.items():
        if pattern.endswith("*") and name.startswith(pattern[:-1]):
            return why
    return None


def previous_report() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The committed report's table row and surviving mutants, by module. mutmut's results are
    cached in mutants/ (git-ignored): a module this cache has not checked (a fresh clone, or a
    run of other modules: `mutmut run 'stock_lstm.<module>.*'`) keeps its last figures."""
    if not REPORT.exists():
        return {}, {}
    text = REPORT.read_text()
    rows = {
        line.split("|")[1].strip(): line
        for line in text.splitlines()
        if line.startswith("| stock_lstm.")
    }
    sections: dict[str, list[str]] = collections.defaultdict(list)
    survivors = text.partition("\n## Surviving mutants\n")[2]
    for section in re.split(r"\n(?=### `)", survivors):
        found = re.match(r"### `([^`]+)`", section.strip("\n"))
        if found:
            sections[found.group(1).rsplit(".", 1)[0]].append(section.strip("\n"))
    return rows, sections


def module_of(path: Path) -> str:
    return str(path.relative_to("src")).removesuffix(".py").replace("/", ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, help="how long `mutmut run` took")
    parser.add_argument("--note", default="", help="a line about this run (load, modules left)")
    args = parser.parse_args()

    kept_rows, kept_sections = previous_report()
    table, sections = [], []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses = {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}
        counts = collections.Counter(statuses.values())
        checked = sum(n for status, n in counts.items() if status != "not checked")
        module = module_of(path)
        if not checked and module in kept_rows:  # not run from this cache: the last figures
            table.append((module, kept_rows[module]))
            sections += kept_sections.get(module, [])
            continue
        detected = sum(counts[s] for s in DETECTED)
        left = [n for n, s in statuses.items() if s in ("survived", "no tests")]
        explained = sum(1 for n in left if explanation(n))
        score = f"{100 * detected / checked:.0f} %" if checked else "not run"
        table.append(
            (
                module,
                f"| {module} | {len(statuses)} | {checked} | {detected} | {counts['survived']} "
                f"| {counts['no tests']} | {score} | {explained} |",
            )
        )
        for name in sorted(left):
            why = explanation(name) or "not yet explained: a test to write"
            diff = get_diff_for_mutant(name, path=path).splitlines()[2:]
            sections.append(
                "\n".join(
                    [f"### `{name}` ({statuses[name]})", "", why, "", "```diff", *diff, "```"]
                )
            )

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
    lines += [row for _, row in sorted(table)]
    lines += ["", "## Surviving mutants", ""]
    for section in sections:
        lines += [section, ""]
    REPORT.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"{REPORT}: {len(sections)} mutants not killed")


if __name__ == "__main__":
    main()
