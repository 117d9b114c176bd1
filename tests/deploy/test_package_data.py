"""An installed (non-editable) package serves the dashboard: pyproject ships its static files."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "stock_lstm"
STATIC = PACKAGE / "api" / "web" / "static"


def test_every_dashboard_file_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["stock_lstm"]
    files = [path for path in STATIC.rglob("*") if path.is_file()]
    assert {"index.html", "dashboard.js", "state.js", "api.js"} <= {path.name for path in files}
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), (
            f"{relative} is not in [tool.setuptools.package-data]: a wheel would not ship it"
        )
