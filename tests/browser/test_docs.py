"""/docs and /redoc render the API's operations with every request answered by the app."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from tests.browser.conftest import Browsing, Served


def block_other_hosts(page, host: str) -> list[str]:
    """Abort every request to another host (as offline) and record it."""
    elsewhere: list[str] = []

    def route(r) -> None:
        if urlparse(r.request.url).netloc == host or r.request.url.startswith("data:"):
            r.continue_()
        else:
            elsewhere.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return elsewhere


def test_swagger_ui_renders_every_operation_offline(served_app: Served, browsing: Browsing) -> None:
    page = browsing.page
    elsewhere = block_other_hosts(page, urlparse(served_app.url).netloc)
    page.goto(served_app.url + "/docs")
    paths = httpx.get(f"{served_app.url}/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length === {operations}", timeout=60_000
    )
    summaries = page.inner_text(".swagger-ui")
    assert "/api/v1/predict" in summaries and "/api/v1/backtest" in summaries
    assert elsewhere == []
    assert browsing.log.problems() == []


def test_redoc_renders_offline(served_app: Served, browsing: Browsing) -> None:
    page = browsing.page
    elsewhere = block_other_hosts(page, urlparse(served_app.url).netloc)
    page.goto(served_app.url + "/redoc")
    page.get_by_role(
        "heading", name="Forecast the next closes from a sent history or a stored ticker"
    ).wait_for(timeout=60_000)
    paths = httpx.get(f"{served_app.url}/openapi.json").json()["paths"]
    for methods in paths.values():
        for operation in methods.values():
            heading = page.get_by_role("heading", name=operation["summary"])
            heading.first.wait_for(state="attached", timeout=30_000)
    assert elsewhere == []
    assert browsing.log.problems() == []
