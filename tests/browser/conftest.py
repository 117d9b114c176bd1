"""Browser fixtures: the app served by a real uvicorn on a free loopback port, and Debian's
Chromium driven by Playwright (its own browser download cannot work offline).

Without Chromium the browser tests skip locally with a message; in CI (CI=true) they fail.
Each test's page records console errors and failed requests, and leaves a screenshot in
test-artifacts/browser/ (CI keeps that folder).

One Chromium per session, its one context on a profile folder of its own (a persistent
context), and a fresh page per test: an incognito context (`browser.new_context()`) per test
starts with an empty cache and no compiled code, so every page load parsed and compiled the
4.8 MB Plotly bundle again (about two thirds of a dashboard load's CPU). In one profile the
static files come from the HTTP cache and V8 reuses their compiled code from the third load on.
The API's JSON answers carry no validators or cache headers, so they are never cached.
"""

from __future__ import annotations

import asyncio
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
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The session's Chromium as its one browser context (on a profile folder of its own):
    `open_page(browser, viewport)` gives each test a page of its own in it. (This fixture's
    name marks a test "browser", tests/conftest.py FIXTURE_MARKERS.)"""
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            viewport=WIDE,
        )
        yield context
        context.close()


class Switchboard:
    """One uvicorn server for the session whose requests go to the app on top of a stack:
    `with board.serving(app) as url` runs `app`'s lifespan in the server's event loop, as
    uvicorn does, routes every request to it, then closes it and gives the address back to the
    app below. Every app a test serves so has the same origin, so the browser's cache of the
    static files (Plotly's bundle, the dashboard's modules) and their compiled code stay valid
    from one test to the next (a server on a new port starts with a cold cache)."""

    def __init__(self) -> None:
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: list[tuple[object, dict]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":  # the board's own: it only notes its event loop
            while (await receive())["type"] != "lifespan.shutdown":
                self._loop = asyncio.get_running_loop()
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if not self._stack:
            raise RuntimeError("no app on the switchboard")
        app, state = self._stack[-1]
        await app({**scope, "state": dict(state)}, receive, send)

    @contextmanager
    def serving(self, app) -> Iterator[str]:
        """`app` answers the board's address (its lifespan started) until the block ends."""
        assert self._loop is not None, "the board's server is not running"
        lifespan = asyncio.run_coroutine_threadsafe(_Lifespan.start(app), self._loop).result()
        self._stack.append((app, lifespan.state))
        try:
            yield self.url
        finally:
            self._stack.remove((app, lifespan.state))
            asyncio.run_coroutine_threadsafe(lifespan.stop(), self._loop).result()


@dataclass
class _Lifespan:
    """An app's ASGI lifespan driven as uvicorn drives it (startup, then shutdown)."""

    inbox: asyncio.Queue
    outbox: asyncio.Queue
    task: asyncio.Task
    state: dict

    @classmethod
    async def start(cls, app) -> _Lifespan:
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        state: dict = {}
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        task = asyncio.create_task(app({**scope, "state": state}, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {started.get('message', started)}")
        return cls(inbox, outbox, task, state)

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        stopped = await self.outbox.get()
        await self.task
        if stopped["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"the app did not stop: {stopped.get('message', stopped)}")


@pytest.fixture(scope="session")
def switchboard() -> Iterator[Switchboard]:
    """The session's one server (see Switchboard): apps served on it share its origin."""
    board = Switchboard()
    with serving(board) as url:
        board.url = url
        yield board


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
    fixed_project: TrainedProject,
    tmp_path_factory: pytest.TempPathFactory,
    switchboard: Switchboard,
) -> Iterator[Served]:
    """The app over a private copy of the session's fixed project (tests/helpers/
    fixed_project.py: the snapshot's prices, a fixed ONNX model registered as champion), on
    the session's switchboard (a test may serve another app there for a while)."""
    project = copy_trained_project(fixed_project, tmp_path_factory.mktemp("browser") / "p")
    app = create_app(settings_for(project.root, project.database_url))
    with switchboard.serving(app) as url:
        yield Served(url=url, project=project, backtest_path=app.state.backtest_report.path)


@pytest.fixture
def untrained_url(tmp_path: Path, sqlite_url: str, switchboard: Switchboard) -> Iterator[str]:
    """A fresh clone's state: no pipeline ever ran (no model, no stored prices)."""
    root = make_project_copy(tmp_path / "untrained")
    with switchboard.serving(create_app(settings_for(root, sqlite_url))) as url:
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
    """A new page of the session's browser context at `viewport`; close it with
    `page.close()`. Its log records what the browser reported for it."""
    page = browser.new_page()
    page.set_viewport_size(viewport)
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


def answer_fetch(page, path: str, body: object) -> None:
    """From the page's next load on, its `fetch` of `path` answers `body` as JSON (200) without
    asking the server. (A Playwright route would do it in the network, but routing turns the
    page's HTTP cache off, and the page would parse and compile Plotly's bundle afresh.)"""
    stub = """([path, body]) => {
            const fetched = window.fetch.bind(window);
            window.fetch = (resource, options) => {
                const url = new URL(resource instanceof Request ? resource.url : resource,
                                    location.href);
                return url.pathname === path
                    ? Promise.resolve(new Response(JSON.stringify(body),
                        {status: 200, headers: {"Content-Type": "application/json"}}))
                    : fetched(resource, options);
            };
        }"""
    page.add_init_script(f"({stub})({json.dumps([path, body])});")


@pytest.fixture
def browsing(browser, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """A fresh page at 1280 px; its screenshot is saved as a test artifact afterwards."""
    opened = open_page(browser, WIDE)
    yield opened
    save_screenshot(opened.page, _artifact_name(request))
    opened.page.close()


def save_screenshot(page, name: str, also: Path | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if also is not None:
        also.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, also)
    return path
