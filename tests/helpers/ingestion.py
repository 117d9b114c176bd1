"""The bundled snapshot, user CSV files and ingestion runs through a KedroSession."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "snapshot"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
INGESTION_REPORT = Path("data/08_reporting/ingestion_report.json")


def snapshot_rows(start: str, end: str | None = None) -> dict[str, int]:
    """Independent count of the snapshot's rows per ticker in [start, end], read with pandas."""
    files = {"^GSPC": "GSPC.csv", "GOOG": "GOOG.csv", "MSFT": "MSFT.csv"}
    counts = {}
    for ticker, name in files.items():
        dates = pd.to_datetime(pd.read_csv(SNAPSHOT / name)["Date"])
        keep = dates >= pd.Timestamp(start)
        if end is not None:
            keep &= dates <= pd.Timestamp(end)
        counts[ticker] = int(keep.sum())
    return counts


def run(project: Path, pipelines: str = "ingestion", **params) -> None:
    bootstrap_project(project)
    runtime = {"ingestion": params} if params else None
    with KedroSession.create(project_path=project, env="test", runtime_params=runtime) as session:
        session.run(pipeline_names=[pipelines])


def user_csv(folder: Path, name: str, days: int = 5, start: str = "2020-03-02") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{day:%Y-%m-%d},{10 + i},{11 + i},{9 + i},{10.5 + i},,{1000 + i}"
        for i, day in enumerate(pd.bdate_range(start, periods=days))
    ]
    path = folder / name
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path
