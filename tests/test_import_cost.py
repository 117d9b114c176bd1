"""A `kedro` command that loads every pipeline (kedro viz, kedro airflow create, a notebook's
context, a run without --pipelines; `kedro run --pipelines X` loads X's package only) bootstraps
the project and registers every pipeline, and Kedro reads every node's type hints to validate
parameters. None of that may import TensorFlow (~9 s of CPU a process): it is
imported when a node that builds, trains or runs a Keras model runs. Nor the statistics stack
(arch, statsmodels, SciPy: ~1.4 s), imported when a significance test or a GARCH baseline runs.

One fresh interpreter (this one has TensorFlow loaded by other tests) does what a `kedro`
command does and reports, for the first TensorFlow module imported, the project's frames that
imported it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT, TENSORFLOW_MODULES

STATISTICS_MODULES = ("arch", "statsmodels", "scipy")

CODE = f"""
import importlib.abc
import json
import sys
import traceback
from pathlib import Path

TENSORFLOW_MODULES = {TENSORFLOW_MODULES!r}
first = []


class Witness(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if not first and name.partition(".")[0] in TENSORFLOW_MODULES:
            stack = traceback.extract_stack()
            first.append([name] + [f"{{f.filename}}:{{f.lineno}}" for f in stack if "stock_lstm" in f.filename])
        return None


sys.meta_path.insert(0, Witness())

from kedro.framework.startup import bootstrap_project
from kedro.validation.type_extractor import TypeExtractor

bootstrap_project(Path({str(PROJECT_ROOT)!r}))
from stock_lstm.pipeline_registry import register_pipelines

pipelines = register_pipelines()
TypeExtractor(pipelines).extract_types_from_pipelines()  # what parameter validation resolves
print(json.dumps({{
    "pipelines": sorted(pipelines),
    "loaded": [m for m in TENSORFLOW_MODULES if m in sys.modules],
    "statistics": [m for m in {STATISTICS_MODULES!r} if m in sys.modules],
    "first_import": first[0] if first else None,
}}))
"""


def test_registering_every_pipeline_imports_no_tensorflow() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Every pipeline was registered, the ones that train and evaluate networks too.
    assert {"training", "evaluation", "tuning", "interval_scope", "backtest"} <= set(
        report["pipelines"]
    )
    assert report["loaded"] == [], f"imported {report['loaded']}, first: {report['first_import']}"
    assert report["statistics"] == [], f"imported {report['statistics']}"
