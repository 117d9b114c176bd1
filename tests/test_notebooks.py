"""The notebooks run headless (nbclient, the venv's `python3` kernel, one for both) on a copy of
the trained tiny project, in env "test", so they never rot; and they are committed without outputs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import PROJECT_ROOT, TrainedProject, copy_trained_project, kedro_env

if TYPE_CHECKING:
    import nbformat

NOTEBOOKS = PROJECT_ROOT / "notebooks"
# notebook -> (figures it draws, a line it prints once it has loaded the catalog)
EXPECTED = {
    "01_data_exploration.ipynb": (2, "clean_prices: data version"),
    "02_model_review.ipynb": (3, "evaluation.json: model"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_is_committed_without_outputs(name: str) -> None:
    import nbformat  # 4 s of imports (jsonschema): not at every worker's collection

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
def executed(
    trained_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, nbformat.NotebookNode | Exception]:
    """Each notebook run, cell by cell, on a copy of the trained project: both in one kernel
    (one start, one import of Kedro, pandas and matplotlib), its namespace reset between them
    (`%reset -f`), so the second sees none of the first's names. A notebook's error (a
    CellExecutionError, with its cell and traceback) is kept for its test to raise."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    project = copy_trained_project(trained_project, tmp_path_factory.mktemp("nb") / "project")
    shutil.copytree(NOTEBOOKS, project.root / "notebooks")
    # The kernel gets this environment: the project copy's database, env "test", and the venv's
    # kernelspec first (a user-level `python3` kernelspec could point elsewhere).
    env = {
        **kedro_env(project.root, project.database_url),
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    folder = project.root / "notebooks"  # the kernel's cwd: in the project
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])  # where the kernelspec is looked up
        kernel = KernelManager(kernel_name="python3")
        kernel.start_kernel(env=env, cwd=str(folder))
    results: dict[str, nbformat.NotebookNode | Exception] = {}
    try:
        for name in sorted(EXPECTED):
            notebook = nbformat.read(folder / name, as_version=4)
            reset = nbformat.v4.new_code_cell("%reset -f")
            notebook.cells.insert(0, reset)
            client = NotebookClient(notebook, km=kernel, timeout=300)
            try:
                client.execute()
            except Exception as error:  # noqa: BLE001 - raised by the notebook's own test
                results[name] = error
            else:
                client.kc.stop_channels()
                notebook.cells.remove(reset)
                results[name] = notebook
    finally:
        kernel.shutdown_kernel(now=True)
    return results


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebook_runs_on_the_trained_project(
    name: str, executed: dict[str, nbformat.NotebookNode | Exception]
) -> None:
    notebook = executed[name]
    if isinstance(notebook, Exception):  # CellExecutionError: the cell and its traceback
        raise notebook

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    figures = sum("image/png" in out.get("data", {}) for out in outputs)
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    expected_figures, expected_line = EXPECTED[name]
    assert figures == expected_figures, f"{name} drew {figures} figures"
    assert expected_line in text, text
    assert "older model" not in text, text
