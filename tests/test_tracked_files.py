"""Commands write only files git ignores: `make tune`'s suggestion (read by `--env tuned`), the
models, reports, databases and MLflow runs of every environment, so a run leaves `git status`
clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from tests.conftest import PROJECT_ROOT


def _written_paths(env: str) -> list[str]:
    """Every file path of the catalog and the tuning study's journal, as `env` resolves them."""
    from stock_lstm.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env}
    )
    journal = loader["parameters"]["tuning"]["storage"]["journal"]  # and its lock files
    paths = [journal, f"{journal}.lock", f"{journal}.trial-lock"]
    for entry in loader["catalog"].values():
        paths += [str(v) for k, v in entry.items() if k.endswith("filepath")]
        paths += [str(v) for v in (entry.get("serving_filepaths") or {}).values()]
    return paths


@pytest.mark.parametrize("env", ["base", "test"])
def test_every_file_a_pipeline_writes_is_ignored_by_git(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STOCK_LSTM_DATA_DIR", raising=False)  # each environment's own folder
    paths = _written_paths(env)
    assert "conf/tuned/parameters_training.yml" in paths
    tracked = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert tracked.returncode == 0, tracked.stderr
    assert tracked.stdout == "", f"tracked files a run overwrites: {tracked.stdout}"
    for path in paths:
        # a Kedro-versioned dataset a run has written is a folder of versions (git un-ignores
        # folders under data/ so the bundled snapshot stays tracked): a version's file is asked
        if (PROJECT_ROOT / path).is_dir():
            path = f"{path}/2000-01-01T00.00.00.000Z/{Path(path).name}"
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_ROOT)
        assert ignored.returncode == 0, f"{path} ({env}) is not ignored by git"
