"""uvicorn's httptools protocol with limits on slow and oversized request headers.

uvicorn times out only an idle keep-alive connection: a client that sends its headers one
byte a second holds a connection (and a file descriptor) for as long as it likes, and
httptools accepts headers of any size. `make serve` and the container run uvicorn with
`--http stock_lstm.api.server:GuardedHttpToolsProtocol`, which answers 408 and closes when a
request's headers are not complete within HEADER_TIMEOUT_SECONDS, and 431 and closes when they
exceed MAX_HEADER_BYTES before they are complete; KEEP_ALIVE_SECONDS replaces uvicorn's
keep-alive timeout. A slow body is the ASGI middleware's (observability.BodySizeLimitMiddleware,
BODY_TIMEOUT_SECONDS). Cost per request: one timer armed and cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stock_lstm.common.settings import get_settings


def _raw_response(status: bytes, message: str) -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout_s = settings.header_timeout_s
        self.max_header_bytes = settings.max_header_bytes
        self.timeout_keep_alive = settings.keep_alive_s
        self._header_timer: asyncio.TimerHandle | None = None
        self._awaiting_headers = False
        self._header_bytes = self._header_size = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        # Still inside the headers after everything received so far was fed to the parser.
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes:
            self._refuse(b"431 Request Header Fields Too Large", "request headers too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:  # the next request on a keep-alive connection
            self._await_headers()

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel_header_timer()
        if self._header_size > self.max_header_bytes:  # arrived whole, in one read
            self._refuse(b"431 Request Header Fields Too Large", "request headers too large")
            return
        super().on_headers_complete()

    def _await_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = self._header_size = 0
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            # An idle keep-alive connection is closed silently by uvicorn's own timer first.
            self._refuse(b"408 Request Timeout", "request headers not received in time")

    def _refuse(self, status: bytes, message: str) -> None:
        self._awaiting_headers = False
        self._cancel_header_timer()
        if not self.transport.is_closing():
            self.transport.write(_raw_response(status, message))
            self.transport.close()
