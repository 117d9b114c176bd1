"""A project copy that looks trained to the API, without TensorFlow: the test environment's
clean prices of the bundled snapshot, and one model version (the fixed ONNX graph of
tests/helpers/fixed_onnx.py, its scaler and interval calibration JSON) saved where the catalog
says, recorded through crud and promoted by the registry with the API's own load check."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from stock_lstm.data_pipeline import model_registry
from stock_lstm.data_pipeline.cleaning import clean_prices
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.sources.csv import fetch_ticker
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files
from tests.conftest import TrainedProject, environment_parameters, make_project_copy
from tests.helpers.database import crud_on
from tests.helpers.fixed_onnx import fixed_onnx
from tests.helpers.ingestion import SNAPSHOT

VERSION = "2026-01-02T00.00.00.000Z"  # a Kedro save version
TICKERS = ("^GSPC", "GOOG", "MSFT")
MLFLOW_RUN_ID = "0123456789abcdef" * 2  # 32 hex digits, as an MLflow run id


def serving_files(window: int, horizon: int, split: dict | None = None) -> dict[str, bytes]:
    """The files the API serves, by catalog name: a non-naive linear network, the scaler's
    JSON parameters and a calibration whose quantiles differ per ticker (scope "ticker");
    with `split` (the split's dates), the calibration records it as training does (what the
    monitoring pipeline reads the champion's training period from)."""
    weights = np.random.default_rng(1).normal(0, 0.05, (window, horizon))
    bias = np.linspace(0.2, -0.2, horizon)
    pooled = [1.6 + 0.3 * k for k in range(horizon)]
    calibration = {
        "level": 0.9,
        "scope": "ticker",
        "vol_window": 5,
        "window": window,
        "max_horizon": horizon,
        "quantiles": pooled,
        "ticker_quantiles": {
            ticker: [q * factor for q in pooled]
            for ticker, factor in zip(TICKERS, (1.1, 1.3, 0.8), strict=True)
        },
    }
    if split is not None:
        calibration["split"] = split
    scaler = {"kind": "standard", "mean": [0.0003], "scale": [0.0124]}
    return {
        "onnx_model": fixed_onnx(weights, bias),
        "scaler_params": json.dumps(scaler).encode(),
        "interval_calibration": json.dumps(calibration).encode(),
    }


def _metrics(clean: pd.DataFrame, onnx_sha256: str, steps: list[int]) -> dict:
    """An evaluation's record, hand-made but of its shape: the split, each ticker's figures at
    each report step next to naive's (mae_ratio = lstm mae / naive mae, the interval's
    coverage) and a passed ONNX parity check."""
    tickers = {}
    for i, ticker in enumerate(sorted(TICKERS)):
        closes = clean.loc[clean["ticker"] == ticker, "close"]
        tickers[ticker] = {"n_test": 44}
        for k in steps:
            naive = float(closes.diff(k).abs().mean())
            lstm = naive * (0.95 + 0.02 * i + 0.01 * k)
            tickers[ticker][f"h{k}"] = {
                "n": 44 - k,
                "lstm": {"mae": lstm},
                "naive": {"mae": naive},
                "mae_ratio": lstm / naive,
                "interval": {"level": 0.9, "coverage": 0.9 - 0.01 * k},
            }
    return {
        "split": _split(clean),
        "tickers": tickers,
        "onnx_parity": {
            "max_abs_diff": 0.0,
            "tolerance": 1e-5,
            "passed": True,
            "onnx_sha256": onnx_sha256,
        },
    }


def _split(clean: pd.DataFrame) -> dict[str, str]:
    """The split's dates, as training records them (SplitDates.as_dict)."""
    dates = sorted(clean["date"].unique())
    return {
        "validation_start": f"{dates[int(0.7 * len(dates))]:%Y-%m-%d}",
        "test_start": f"{dates[int(0.85 * len(dates))]:%Y-%m-%d}",
        "common_start": f"{dates[0]:%Y-%m-%d}",
        "common_end": f"{dates[-1]:%Y-%m-%d}",
    }


def build_fixed_project(
    root: Path, template_db: Path, *, calibration_split: bool = False
) -> TrainedProject:
    """The project copy at `root` on a copy of the migrated SQLite file `template_db`; with
    `calibration_split`, its calibration records the split as training's does (for the
    monitoring pipeline)."""
    make_project_copy(root)
    shutil.copy(template_db, root / "data" / "fixed.db")
    url = f"sqlite:///{root / 'data' / 'fixed.db'}"
    parameters = environment_parameters("test")
    ingestion, training = parameters["ingestion"], parameters["training"]
    raw = pd.concat(
        fetch_ticker(
            ticker,
            csv_dir=SNAPSHOT,
            start=pd.Timestamp(ingestion["start"]),
            end=pd.Timestamp(ingestion["end"]),
        )
        for ticker in TICKERS
    )
    clean, _ = clean_prices(raw)
    crud = crud_on(url)
    raw_version = crud.save_stage_frame(raw, "raw", source="csv(data/01_raw/snapshot)")
    clean_version = crud.save_stage_frame(
        clean, "clean", source="cleaning", parent_id=raw_version.version.id
    )
    files = serving_files(
        training["model"]["window"],
        training["model"]["max_horizon"],
        _split(clean) if calibration_split else None,
    )
    filepaths = model_registry.serving_filepaths(root, "test")
    for name, content in files.items():
        path = Path(filepaths[name]) / VERSION / Path(filepaths[name]).name
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    sha256 = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    crud.record_model_version(
        model_version=VERSION,
        trained_at=datetime(2026, 1, 2, tzinfo=UTC),
        data_version_id=clean_version.version.id,
        parameters=training,
        metrics=_metrics(clean, sha256["onnx_model"], parameters["evaluation"]["report_steps"]),
        model_sha256=sha256["onnx_model"],
        scaler_sha256=sha256["scaler_params"],
        serving_sha256=sha256,
        mlflow_run_id=MLFLOW_RUN_ID,
    )
    with get_database(url).session() as session:
        model_registry.promote(
            session,
            VERSION,
            filepaths,
            actor="evaluation",  # as the evaluation pipeline records its first version
            reason="first version of an empty registry",
            load_check=forecaster_from_files,
        )
    return TrainedProject(root=root, database_url=url)
