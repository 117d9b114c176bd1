"""The pages a person opens: the dashboard at `/`, and the OpenAPI docs at `/docs` and `/redoc`.

Everything they load comes from this app, never from a CDN, so they work offline: the
dashboard's own files (`static/`), Plotly.js as the `plotly` package ships it, and Swagger UI
and ReDoc as the `fastapi-offline` package ships them (served with FastAPI's own page helpers).
The dashboard reads only the public JSON API and `/metrics`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DASHBOARD_DIR = Path(__file__).with_name("static")
PLOTLY_DIR = Path(str(files("plotly") / "package_data"))
DOCS_ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# ReDoc's sidebar credit always loads this logo from a CDN: point it at a local image instead.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = b"/static/docs/favicon.png"


@cache
def redoc_bundle() -> bytes:
    return (
        (DOCS_ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO, LOCAL_LOGO)
    )


def install_pages(app: FastAPI) -> None:
    """Mount the pages and their assets on `app` (created with docs_url=None, redoc_url=None)."""
    app.mount("/static/dashboard", StaticFiles(directory=DASHBOARD_DIR), name="dashboard")
    app.mount("/static/plotly", StaticFiles(directory=PLOTLY_DIR), name="plotly")
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
            # The default validator badge calls a public service: none offline.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/static/redoc/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url="/static/redoc/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png",
            with_google_fonts=False,
        )
