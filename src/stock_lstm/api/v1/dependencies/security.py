"""The API key that guards every endpoint that changes state.

The key comes from the environment (`API_KEY`, settings.api_key) and is compared in constant
time. Without API_KEY set on the server such endpoints refuse every call: a forgotten setting
closes them, never opens them.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from stock_lstm.api.v1.dependencies.state import AppSettings
from stock_lstm.api.v1.errors import Unauthorized

API_KEY_HEADER = "X-API-Key"

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The server's API_KEY; required by endpoints that change state.",
)


async def require_api_key(
    settings: AppSettings, key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    expected = settings.api_key
    if not expected:
        raise Unauthorized(
            "this endpoint is disabled: the server has no API_KEY set", type="no_api_key"
        )
    if not key:
        raise Unauthorized(f"missing {API_KEY_HEADER} header", type="missing_api_key")
    # bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1 text
    if not hmac.compare_digest(key.encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized(f"wrong {API_KEY_HEADER}", type="wrong_api_key")


RequireApiKey = Depends(require_api_key)  # for a route's `dependencies=[...]`
