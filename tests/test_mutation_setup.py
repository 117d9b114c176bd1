"""`make mutation` runs its tests in mutmut's copy of the project (mutants/): the source paths,
pyproject's `also_copy` and mutmut's own defaults (tests/, pyproject.toml), nothing else. A test
module or conftest that reads another project file at import stops mutmut before its first
mutant ("Failed to run pytest"), so the selection must collect in such a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import PROJECT_ROOT

MUTMUT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
# What mutmut 3 copies besides the source paths and also_copy (mutmut.configuration).
MUTMUT_DEFAULT_COPIES = ["tests/", "pyproject.toml"]


def _copy_as_mutmut_does(destination: Path) -> None:
    for relative in [*MUTMUT["source_paths"], *MUTMUT["also_copy"], *MUTMUT_DEFAULT_COPIES]:
        source, target = PROJECT_ROOT / relative, destination / relative
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_the_mutation_tests_collect_in_mutmuts_copy_of_the_project(tmp_path: Path) -> None:
    _copy_as_mutmut_does(tmp_path)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        *MUTMUT["pytest_add_cli_args_test_selection"],
        *MUTMUT["pytest_add_cli_args"],
    ]
    # As mutmut runs them: the copy's src first on the path, SQLite only.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src"), "TEST_DATABASE_URL": ""}
    completed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    # 0: every module and conftest imported and tests were collected (5 if none were).
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
