"""Environments state only what they change: conf/test and conf/tuned are merged into conf/base
key by key (settings.py, `merge_strategy`), and a session sees the same parameters as when
every environment restated its whole blocks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, environment_parameters

BASE = environment_parameters("base")


def _leaves(tree: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _at(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _stated(env: str) -> dict[tuple, Any]:
    """The leaves an environment's own files set."""
    stated: dict[tuple, Any] = {}
    for path in sorted((PROJECT_ROOT / "conf" / env).glob("parameters*.yml")):
        stated.update(_leaves(yaml.safe_load(path.read_text())))
    return stated


@pytest.mark.parametrize("env", ["test", "tuned"])
def test_an_environment_changes_only_the_keys_it_states(env: str) -> None:
    merged, stated = environment_parameters(env), _stated(env)
    assert set(merged) == set(BASE)  # every top-level block, e.g. monitoring, comes through
    for path, value in stated.items():
        assert _at(merged, path) == value, path
    untouched = [(path, value) for path, value in _leaves(BASE) if path not in stated]
    assert untouched
    for path, value in untouched:
        assert _at(merged, path) == value, path


def test_the_test_environment_is_tiny_and_offline() -> None:
    test = environment_parameters("test")
    assert test["ingestion"] == {
        "source": "csv",
        "tickers": ["^GSPC", "GOOG", "MSFT"],
        "start": "2012-01-01",
        "end": "2013-03-01",
        "csv_dir": "data/01_raw/snapshot",  # from base
        "yfinance_timeout": 5,
        "overlap_days": 10,  # from base
        "universe": "snapshot",  # from base
        "universes": {  # from base
            "snapshot": ["data/01_raw/snapshot"],
            "sp500_20": ["data/01_raw/sp500_20"],
        },
    }
    assert test["cleaning"] == {
        "max_gap_days": 5,
        "min_rows_per_ticker": 50,
        "price_tolerance": 1e-6,
    }
    assert test["training"]["model"] == {
        "window": 10,
        "max_horizon": 5,
        "units": 4,
        "layers": 1,
        "dropout": 0.0,
        "loss": "mae",
        "huber_delta": 1.0,
        "learning_rate": 0.001,
        "clipnorm": 1.0,
    }
    assert test["training"]["fit"] == {
        "seed": 7,
        "epochs": 2,
        "batch_size": 512,
        "patience": 1,
        "min_delta": 0.0,
        "shrink_to_naive": True,
        "skill_gate_level": None,  # from base: off, as when the key was absent
        "verbose": 0,
    }
    assert test["training"]["split"] == BASE["training"]["split"]
    assert test["training"]["intervals"] == {"level": 0.90, "vol_window": 5, "scope": "ticker"}
    assert test["evaluation"] == {**BASE["evaluation"], "report_steps": [1, 5]}
    assert test["backtest"] == {
        "models": ["lstm", "gru", "naive", "drift", "median_drift", "garch", "ets", "lightgbm"],
        "seeds": [7, 8],
        "scheme": "share",
        "first_test_year": 2008,
        "folds": 2,
        "test_share": 0.30,
        "validation_days": 40,
        "refit_every": {"default": 1, "lstm": 4, "gru": 4},
        "min_history": 0,
        "report_steps": [1, 5],
        "knobs": {
            "lightgbm": {
                "lags": 5,
                "n_estimators": 10,
                "learning_rate": 0.05,
                "num_leaves": 15,
                "min_child_samples": 20,
                "seed": 42,
            }
        },
        "significance": {"level": 0.05, "mcs_size": 0.10, "bootstrap_reps": 200, "seed": 42},
        "workers": 1,  # in-process: the test environment starts no Dask cluster
        "retries": 1,
    }
    assert test["monitoring"] == BASE["monitoring"]
    tuning = test["tuning"]
    assert (tuning["n_trials"], tuning["seed"], tuning["folds"]) == (3, 7, 2)
    assert tuning["study_name"] == "fold_test" and tuning["test_share"] == 0.30
    assert tuning["pruner"] == {"n_startup_trials": 1, "n_warmup_steps": 0}
    # `layers: null` takes base's knob out of the tiny search (run_tuning skips null knobs).
    assert tuning["search_space"] == {
        "units": [2, 4],
        "layers": None,
        "dropout": {"low": 0.0, "high": 0.2},
        "learning_rate": {"low": 1.0e-3, "high": 1.0e-2, "log": True},
        "window": [5, 10],
        "loss": ["mae", "huber"],
    }


def test_the_tuned_environment_changes_only_the_training_block(tmp_path) -> None:
    # `make tune` writes the suggestion (git-ignored, so not in a fresh clone): one like it
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", conf / "base")
    (conf / "tuned").mkdir()
    assert environment_parameters("tuned", conf) == BASE  # no suggestion yet: conf/base
    suggestion = {"training": {"model": {"units": 64, "dropout": 0.14670135498074188}}}
    (conf / "tuned" / "parameters_training.yml").write_text(yaml.safe_dump(suggestion))
    tuned = environment_parameters("tuned", conf)
    assert {name: tuned[name] for name in BASE if name != "training"} == {
        name: BASE[name] for name in BASE if name != "training"
    }
    assert tuned["training"]["model"]["units"] == 64
    assert tuned["training"]["model"]["dropout"] == pytest.approx(0.14670135498074188)
    assert tuned["training"]["fit"] == BASE["training"]["fit"]
