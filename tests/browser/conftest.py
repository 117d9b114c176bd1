"""Browser fixtures: the app served by a real uvicorn on a free loopback port, and Debian's
Chromium driven by Playwright (its own browser download cannot work offline).

Without Chromium the browser tests skip locally with a message; in CI (CI=true) they fail.
Each test's page records console errors and failed requests, and leaves a screenshot in
test-artifacts/browser/ (CI keeps that folder).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from stock_lstm.api.app import create_app
from tests.api.conftest import settings_for
from tests.conftest import PROJECT_ROOT, TrainedProject, copy_trained_project, make_project_copy

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", PROJECT_ROOT / "test-artifacts" / "browser"))
WIDE, NARROW = {"width": 1280, "height": 1000}, {"width": 390, "height": 844}


def chromium_executable() -> str:
    """CHROMIUM_PATH, else Debian's Chromium; skip (locally) or fail (CI) when there is none."""
    configured = os.environ.get("CHROMIUM_PATH")
    found = [configured] if configured else [p for p in CHROMIUM_CANDIDATES if Path(p).exists()]
    if found and Path(found[0]).exists():
        return found[0]
    message = "no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: the browser tests never skip in CI; .ci/run installs it")
    pytest.skip(f"{message}: browser tests skipped")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@contextmanager
def serving(app) -> Iterator[str]:
    """`app` under uvicorn on a free 127.0.0.1 port, stopped (lifespan closed) on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass(frozen=True)
class Served:
    url: str
    project: TrainedProject
    backtest_path: Path  # where the app reads the report: its catalog entry's file

    def write_backtest(self, report: dict) -> None:
        self.backtest_path.parent.mkdir(parents=True, exist_ok=True)
        self.backtest_path.write_text(json.dumps(report))

    def remove_backtest(self) -> None:
        self.backtest_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def served_app(
    fixed_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The app over a private copy of the session's fixed project (tests/helpers/
    fixed_project.py: the snapshot's prices, a fixed ONNX model registered as champion)."""
    project = copy_trained_project(fixed_project, tmp_path_factory.mktemp("browser") / "p")
    app = create_app(settings_for(project.root, project.database_url))
    with serving(app) as url:
        yield Served(url=url, project=project, backtest_path=app.state.backtest_report.path)


@pytest.fixture
def untrained_url(tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    """A fresh clone's state: no pipeline ever ran (no model, no stored prices)."""
    root = make_project_copy(tmp_path / "untrained")
    with serving(create_app(settings_for(root, sqlite_url))) as url:
        yield url


@dataclass
class PageLog:
    """What the browser reported: console errors, responses >= 400, requests that failed."""

    console_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.console_errors + self.bad_responses + self.failed_requests + self.page_errors


@dataclass
class Browsing:
    page: object
    log: PageLog


def _artifact_name(request: pytest.FixtureRequest) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)


def open_page(browser, viewport: dict) -> Browsing:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    log = PageLog()
    page.on(
        "console",
        lambda message: message.type == "error" and log.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and log.bad_responses.append(
                f"{response.status} {response.request.method} {response.url}"
            )
        ),
    )
    page.on(
        "requestfailed",
        lambda req: log.failed_requests.append(f"{req.method} {req.url}: {req.failure}"),
    )
    return Browsing(page=page, log=log)


@pytest.fixture
def browsing(browser, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """A fresh page at 1280 px; its screenshot is saved as a test artifact afterwards."""
    opened = open_page(browser, WIDE)
    yield opened
    save_screenshot(opened.page, _artifact_name(request))
    opened.page.context.close()


def save_screenshot(page, name: str, also: Path | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if also is not None:
        also.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, also)
    return path
