"""Docker cannot build here, so check what a build would need: copied files, entry command."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_every_copied_path_exists_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    copies = instructions("COPY")
    assert copies
    for args in copies:
        sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
        for source in sources:
            assert any(t == source or t.startswith(source.rstrip("/") + "/") for t in tracked), (
                f"Dockerfile copies {source!r}, which is not in the repository"
            )


def test_base_image_user_volume_and_healthcheck():
    assert instructions("FROM") == ["python:3.11-slim"]
    assert instructions("USER") == ["app"]
    assert "/app/data" in instructions("VOLUME")[0]
    healthcheck = instructions("HEALTHCHECK")[0]
    assert "http://127.0.0.1:8000/health" in healthcheck


def test_the_default_command_is_the_makefiles_serve_target_and_resolves():
    command = json.loads(instructions("CMD")[0])
    assert command[:2] == ["make", "serve"] and "HOST=0.0.0.0" in command
    dry_run = subprocess.run(
        ["make", "-n", "--always-make", *command[1:]], cwd=ROOT, capture_output=True, text=True
    )
    uvicorn_line = next(line for line in dry_run.stdout.splitlines() if "uvicorn" in line)
    assert "--host 0.0.0.0" in uvicorn_line and "--port 8000" in uvicorn_line
    module, _, attribute = next(w for w in uvicorn_line.split() if ":app" in w).partition(":")
    assert hasattr(importlib.import_module(module), attribute)


def test_the_build_installs_the_serving_set_with_the_makefiles_setup_target():
    runs = " ".join(instructions("RUN"))
    assert "make setup EXTRAS=$EXTRAS" in runs
    assert instructions("ARG") == ["EXTRAS=serve"]  # the default image serves, without TF
    dry_run = subprocess.run(
        ["make", "-n", "--always-make", "setup", "EXTRAS=serve"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'pip install --quiet -c constraints.txt -e ".[serve]"' in dry_run.stdout


def test_the_serving_set_installs_no_tensorflow():
    """pyproject's base dependencies plus `serve` name neither TensorFlow nor Keras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = project["dependencies"] + project["optional-dependencies"]["serve"]
    names = {re.split(r"[\[~=<>]", requirement)[0].lower() for requirement in serving}
    assert "onnxruntime" in names and "fastapi" in names
    assert not names & {"tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "scikit-learn"}
