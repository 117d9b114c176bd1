"""A trial whose process died stays RUNNING in the study's storage. It must not count toward
`tuning.n_trials` for ever: the next process to count the study's trials fails it first (on
PostgreSQL by Optuna's heartbeat: no heartbeat for the grace period; on a journal file, whose
processes share one machine, by its process no longer running), so a rerun adds the trial it
left missing. A trial of a live process keeps counting."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import optuna
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from stock_lstm.data_pipeline.tuning_study import StudyStorage, add_trials, open_study
from tests.conftest import environment_parameters

STUDY = "stale"
RUNNING, FAIL = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL


def _square(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2


def _exit_in_the_trial(trial: optuna.Trial) -> float:
    os._exit(3)  # the process dies as a killed one does: no tell, no cleanup


def _die_during_a_trial(storage: StudyStorage, tuning: dict) -> None:
    study = open_study(storage, STUDY, tuning)
    add_trials(study, storage.lock(STUDY), _exit_in_the_trial, total=3, seconds=60)


def _states(study: optuna.Study) -> list[optuna.trial.TrialState]:
    return [t.state for t in study.get_trials(deepcopy=False)]


def test_a_journal_trial_whose_process_died_is_failed_and_not_counted(tmp_path: Path) -> None:
    storage = StudyStorage(journal=tmp_path / "optuna.journal")
    process = multiprocessing.get_context("spawn").Process(
        target=_die_during_a_trial, args=(storage, environment_parameters("test")["tuning"])
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 3
    study = open_study(storage, STUDY, environment_parameters("test")["tuning"])
    assert _states(study) == [RUNNING]  # what the dead process left

    ran = add_trials(study, storage.lock(STUDY), _square, total=3, seconds=60)

    assert ran == 3  # the dead process's trial is not one of the 3
    assert _states(study) == [FAIL, *[optuna.trial.TrialState.COMPLETE] * 3]


def test_a_journal_trial_of_a_live_process_keeps_counting(tmp_path: Path) -> None:
    storage = StudyStorage(journal=tmp_path / "optuna.journal")
    tuning = environment_parameters("test")["tuning"]
    started, finish = threading.Event(), threading.Event()

    def slow(trial: optuna.Trial) -> float:
        started.set()
        finish.wait(timeout=120)
        return 1.0

    def other_process() -> None:  # alive throughout: another thread of this process
        study = open_study(storage, STUDY, tuning)
        add_trials(study, storage.lock(STUDY), slow, total=1, seconds=60)

    other = threading.Thread(target=other_process)
    other.start()
    try:
        assert started.wait(timeout=120)
        study = open_study(storage, STUDY, tuning)

        ran = add_trials(study, storage.lock(STUDY), _square, total=3, seconds=60)

        assert ran == 2  # the running trial counts
        assert _states(study)[0] == RUNNING
    finally:
        finish.set()
        other.join(timeout=120)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # this test's ask()
def test_a_postgresql_trial_without_a_heartbeat_for_the_grace_period_is_failed(
    postgres_url: str, study_schema: str
) -> None:
    storage = StudyStorage.of({"schema": study_schema, "journal": "unused"}, postgres_url)
    study = open_study(storage, STUDY, environment_parameters("test")["tuning"])
    rdb = storage.open()
    stale, live = study.ask(), study.ask()  # two processes' trials, by the storage API
    for trial in (stale, live):
        rdb.record_heartbeat(trial._trial_id)
    # the stale trial's process stopped beating an hour ago
    engine = create_engine(storage.url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '1 hour' "
                "WHERE trial_id = :id"
            ),
            {"id": stale._trial_id},
        )
    engine.dispose()

    ran = add_trials(study, storage.lock(STUDY), _square, total=4, seconds=60)

    assert ran == 3  # the live trial counts, the stale one not
    assert _states(study)[:2] == [FAIL, RUNNING]
