"""The backtest's fits as Dask tasks (backtest.workers, DASK_SCHEDULER_ADDRESS): the same report
from two worker processes as from one (the baselines bit for bit, the networks within a stated
tolerance), a fit whose worker dies is run again, a fit that keeps
failing stops the run naming it and writes no report, and a scheduler that does not answer
stops the run at once, naming its address."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.common.errors import InputError, SettingsError
from stock_lstm.ml_models.common import distributed
from stock_lstm.ml_models.common.baselines import fit_naive
from stock_lstm.ml_models.common.distributed import TaskFailed
from stock_lstm.ml_models.common.series import add_log_returns
from stock_lstm.ml_models.common.walk_forward import make_folds, results_only, run_walk_forward
from stock_lstm.ml_models.model_types import baseline_params
from stock_lstm.pipelines.backtest.nodes import run_backtest
from tests.conftest import PROJECT_ROOT, environment_parameters
from tests.pipelines.backtest import _tasks

SNAPSHOT = PROJECT_ROOT / "data" / "01_raw" / "snapshot"


@pytest.fixture(autouse=True)
def _own_dashboard_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any free port for a test cluster's dashboard (8787 may be another run's)."""
    monkeypatch.setattr(distributed, "DASHBOARD_ADDRESS", ":0")
    monkeypatch.delenv(distributed.SCHEDULER_ENV, raising=False)


@pytest.fixture
def two_workers(dask_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_tasks(workers=2) runs on the session's local cluster of two worker processes
    (dask_cluster, started the way run_tasks(workers=2) starts its own; both its workers up: a
    test may have killed one, which its nanny restarts) instead of starting one of its own; a
    test whose workers leave for good starts its own."""
    dask_cluster.wait_for_workers(2, timeout=120)

    @contextmanager
    def shared(workers: int) -> Iterator[Any]:
        assert workers == 2 and distributed.scheduler_address() is None
        yield dask_cluster

    monkeypatch.setattr(distributed, "dask_client", shared)


@pytest.fixture
def features() -> pd.DataFrame:
    """Two snapshot tickers over two years: enough for the test environment's two folds."""
    frames = []
    for ticker in ("GOOG", "MSFT"):
        raw = pd.read_csv(SNAPSHOT / f"{ticker}.csv")
        raw = raw[raw["Date"].between("2011-03-01", "2013-03-01")]
        frames.append(pd.DataFrame({"ticker": ticker, "date": raw["Date"], "close": raw["Close"]}))
    return add_log_returns(pd.concat(frames, ignore_index=True))


def _test_parameters(**backtest: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    params = environment_parameters("test")
    return {**params["backtest"], **backtest}, params["training"]


def _results(report: dict[str, Any]) -> str:
    return json.dumps(results_only(report), sort_keys=True)  # floats by repr: bit for bit


# A network fitted in a Dask worker process ends a little apart from the same fit in the
# driver (TensorFlow adds in another order there; seen up to 5e-4 relative in a fold's MAE,
# so a few of ~500 test origins cross a band edge): per-fold errors are held to this relative
# tolerance, shares of origins (coverage, direction) to a few points. The baselines must agree
# bit for bit.
RELATIVE = 2e-3
SHARE_POINTS = 0.03


class _NetworksOnOneWorker:
    """The session cluster's client, but the networks' fits are restricted to one of its two workers
    (Dask's `workers=`): TensorFlow's import and first graph tracing are paid in one worker
    process, not in both; the baselines' fits still go to either worker."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._worker = sorted(client.scheduler_info()["workers"])[0]

    def submit(self, function: Any, *args: Any, key: str, **kwargs: Any) -> Any:
        if re.search(r"_(lstm|gru)(@\d+)?-", key):
            kwargs = {**kwargs, "workers": [self._worker], "allow_other_workers": False}
        return self._client.submit(function, *args, key=key, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def networks_on_one_worker(
    two_workers: None, dask_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """two_workers, with the networks' fits on one of them (_NetworksOnOneWorker)."""

    @contextmanager
    def shared(workers: int) -> Iterator[Any]:
        assert workers == 2 and distributed.scheduler_address() is None
        yield _NetworksOnOneWorker(dask_cluster)

    monkeypatch.setattr(distributed, "dask_client", shared)


@pytest.mark.slow
@pytest.mark.usefixtures("networks_on_one_worker")
def test_two_workers_give_the_sequential_report(features: pd.DataFrame) -> None:
    # every model; each network fitted once, on fold 1, and forecasting both folds (refit
    # every 2 folds: a fit's cost, not the comparison's, grows with its refits; the extra
    # seeds' fits are the same tasks)
    backtest, training = _test_parameters(seeds=[7])
    backtest["refit_every"] = {**backtest["refit_every"], "lstm": 2, "gru": 2}
    sequential = run_backtest(features, {**backtest, "workers": 1}, training)
    on_two = run_backtest(features, {**backtest, "workers": 2}, training)

    assert sequential["run"]["cluster"] == "in-process" and sequential["run"]["workers"] == 1
    assert on_two["run"]["cluster"] == "local" and on_two["run"]["workers"] == 2
    assert len(on_two["run"]["peak_rss_mib_per_worker"]) == 2
    one, two = results_only(sequential), results_only(on_two)
    assert two["folds"] == one["folds"] and two["universe"] == one["universe"]
    for name in on_two["baselines"]:  # bit for bit: floats compared as JSON text
        assert json.dumps(two["models"][name], sort_keys=True) == json.dumps(
            one["models"][name], sort_keys=True
        ), name
    for network in ("lstm", "gru"):
        assert two["models"][network]["fits"] == one["models"][network]["fits"] >= 1
        for ticker, by_step in one["models"][network]["tickers"].items():
            for step in (f"h{k}" for k in backtest["report_steps"]):
                mine, theirs = by_step[step], two["models"][network]["tickers"][ticker][step]
                assert theirs["n"] == mine["n"]
                for metric in ("mae", "rmse", "mape", "mae_ratio"):
                    assert theirs[metric]["folds"] == pytest.approx(
                        mine[metric]["folds"], rel=RELATIVE
                    ), (network, ticker, step, metric)
                for metric in ("mean_width", "winkler"):
                    assert theirs["interval"][metric]["folds"] == pytest.approx(
                        mine["interval"][metric]["folds"], rel=RELATIVE
                    ), (network, ticker, step, metric)
                assert theirs["interval"]["coverage"]["folds"] == pytest.approx(
                    mine["interval"]["coverage"]["folds"], abs=SHARE_POINTS
                )
                assert theirs["directional_accuracy"]["folds"] == pytest.approx(
                    mine["directional_accuracy"]["folds"], abs=SHARE_POINTS
                )


def _walk_forward(features: pd.DataFrame, flaky: Any, **run: Any) -> dict[str, Any]:
    backtest, training = _test_parameters()
    params = baseline_params(training)
    return run_walk_forward(
        features,
        make_folds(features, 2, float(backtest["test_share"]), 40),
        {"naive": partial(fit_naive, params=params), "flaky": partial(flaky, params=params)},
        baselines=["naive"],
        window=params["window"],
        steps=[1],
        level=params["level"],
        **run,
    )


@pytest.mark.slow
@pytest.mark.usefixtures("two_workers")
def test_a_fit_whose_worker_dies_is_run_again(features: pd.DataFrame, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    report = _walk_forward(features, partial(_tasks.dies_once, str(marker)), workers=2, retries=0)

    assert marker.exists()  # the first attempt did kill its worker
    flaky = report["models"]["flaky"]["tickers"]["GOOG"]["h1"]["mae_ratio"]["folds"]
    assert flaky == [1.0, 1.0]  # ... and the rescheduled one completed: naive's forecasts


@pytest.mark.slow
@pytest.mark.usefixtures("two_workers")
def test_a_failing_fit_is_retried_then_stops_the_run_naming_it(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    marker = tmp_path / "once"
    retried = _walk_forward(
        features, partial(_tasks.raises_once, str(marker)), workers=2, retries=1
    )
    assert marker.exists()  # a first attempt raised, and its retry completed:
    assert retried["models"]["flaky"]["tickers"]["GOOG"]["h1"]["mae_ratio"]["folds"] == [1.0, 1.0]

    with pytest.raises(TaskFailed, match=r"fit 'fold \d flaky' failed: RuntimeError: a passing"):
        _walk_forward(features, partial(_tasks.raises_once, str(tmp_path / "again")), workers=2)


def test_an_unreachable_scheduler_stops_the_run_naming_it(
    features: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1)
    backtest, training = _test_parameters(models=["naive", "drift"])

    with pytest.raises(SettingsError, match=f"DASK_SCHEDULER_ADDRESS={address}: no Dask sched"):
        run_backtest(features, backtest, training)


@pytest.mark.parametrize("workers", [0, -2, "two", 1.5, True])
def test_a_worker_count_that_is_no_count_is_named(features: pd.DataFrame, workers: Any) -> None:
    backtest, training = _test_parameters(models=["naive"], workers=workers)
    with pytest.raises(InputError, match="backtest.workers must be a whole number >= 1"):
        run_backtest(features, backtest, training)


def test_one_worker_runs_in_this_process_without_dask(
    features: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    backtest, training = _test_parameters(models=["naive", "drift"])
    report = run_backtest(features, {**backtest, "workers": 1}, training)
    assert report["run"]["cluster"] == "in-process"
    assert len(report["run"]["peak_rss_mib_per_worker"]) == 1


@pytest.mark.usefixtures("two_workers")
def test_a_failed_fit_writes_no_report(project_copy: Path) -> None:
    """A Kedro run on two workers whose LightGBM fit cannot fit: the run stops naming that fit
    and data/08_reporting gets no backtest file."""
    bootstrap_project(project_copy)
    params = {
        "backtest": {
            "workers": 2,
            "models": ["naive", "lightgbm"],
            "knobs": {"lightgbm": {"min_child_samples": 10**6}},
        }
    }
    with (
        KedroSession.create(
            project_path=project_copy, env="test", runtime_params=params
        ) as session,
        pytest.raises(InputError, match=r"fit 'fold \d lightgbm' failed .*min_child_samples"),
    ):
        session.run(pipeline_names=["ingestion", "cleaning", "feature_engineering", "backtest"])
    reporting = project_copy / "data" / "08_reporting"
    assert not list(reporting.glob("backtest*")) and not (reporting / "headline.md").exists()


@pytest.mark.slow
def test_an_existing_cluster_named_by_its_address_runs_the_fits(
    features: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`dask scheduler` and `dask worker` started as a user starts them on other machines."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    started = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        started.append(
            subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-dashboard"],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 60)  # the scheduler's start-up
        backtest, training = _test_parameters(models=["naive", "drift", "median_drift"])
        on_cluster = run_backtest(features, {**backtest, "workers": 1}, training)
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    here = run_backtest(features, {**backtest, "workers": 1}, training)
    assert on_cluster["run"]["cluster"] == address and on_cluster["run"]["workers"] >= 1
    assert _results(on_cluster) == _results(here)


@pytest.mark.slow
def test_a_cluster_that_loses_every_worker_stops_the_run_naming_it(
    features: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a hang: once no worker is left for NO_WORKERS_TIMEOUT_S, the run stops with a
    message saying so, whichever tasks the workers were running or held finished: a result
    its worker took with it before the run read it is no failure of its own (Dask computes it
    again if a worker is left; here none is)."""
    monkeypatch.setattr(distributed, "NO_WORKERS_TIMEOUT_S", 1)  # counted once none is left
    left = r"no Dask worker left for 1 s \(\d+/\d+ fits done\)"
    with pytest.raises(TaskFailed, match=left):  # each fit's worker leaves while running it
        _walk_forward(features, _tasks.closes_its_worker, workers=2)

    # two tasks finish, then both workers leave while the run is still busy with the first
    # result (a loaded machine): the second result goes with its worker before it was read
    reading = distributed._Progress.done

    def slowly(progress: Any, name: str) -> None:
        reading(progress, name)
        time.sleep(2)

    monkeypatch.setattr(distributed._Progress, "done", slowly)
    tasks = [distributed.Task(f"done {n}", _tasks.finished, (n,)) for n in (1, 2)]
    tasks += [distributed.Task(f"leaves {n}", _tasks.leave_the_cluster) for n in (1, 2)]
    with pytest.raises(TaskFailed, match=left):
        distributed.run_tasks(tasks, workers=2)


@pytest.mark.usefixtures("two_workers")
def test_a_local_cluster_tolerates_slow_connections_on_a_loaded_machine() -> None:
    """A worker whose connection stalls (a loaded machine) is not dropped at Dask's 30 s
    default: the local cluster's workers run with distributed.LOCAL_CLUSTER_CONFIG."""
    tasks = [distributed.Task("config", _tasks.comm_timeouts)]
    assert distributed.run_tasks(tasks, workers=2) == [distributed.LOCAL_CLUSTER_CONFIG]
