"""The notebooks run headless (nbclient, the venv's `python3` kernel) on a copy of the trained
tiny project, in env "test", so they never rot; and they are committed without outputs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, TrainedProject, copy_trained_project, kedro_env

NOTEBOOKS = PROJECT_ROOT / "notebooks"
# notebook -> (figures it draws, a line it prints once it has loaded the catalog)
EXPECTED = {
    "01_data_exploration.ipynb": (2, "clean_prices: data version"),
    "02_model_review.ipynb": (3, "evaluation.json: model"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} have outputs (clear them before committing)"
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def project(trained_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory):
    copy = copy_trained_project(trained_project, tmp_path_factory.mktemp("nb") / "project")
    shutil.copytree(NOTEBOOKS, copy.root / "notebooks")
    return copy


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_runs_on_the_trained_project(
    name: str, project: TrainedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the project copy's database, env "test", and the
    # venv's kernelspec first (a user-level `python3` kernelspec could point elsewhere).
    for key, value in kedro_env(project.root, project.database_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    path = project.root / "notebooks" / name
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's cwd: in the project
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    figures = sum("image/png" in out.get("data", {}) for out in outputs)
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    expected_figures, expected_line = EXPECTED[name]
    assert figures == expected_figures, f"{name} drew {figures} figures"
    assert expected_line in text, text
    assert "older model" not in text, text
