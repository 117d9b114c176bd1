"""The API keys that guard every endpoint that changes state.

Keys come from the environment: `API_KEY` (one key, named `API_KEY_NAME`), `API_KEYS`
(`name:key,...`) and `API_KEYS_FILE` (`name:key` lines, re-read on SIGHUP and when the file
changes, so a key is rotated without a restart: add the new key, move clients, remove the old).
Every key is at least 16 characters (a weaker one stops start-up). A sent key is compared with
every key in constant time; the matching key's name is the actor in the registry's audit
trail. Without any key such endpoints refuse every call: a forgotten setting closes them,
never opens them. A client (by address) that fails `API_KEY_MAX_FAILURES` times within
`API_KEY_FAILURE_WINDOW_SECONDS` is answered 429 with `Retry-After` until the window passes.
"""

from __future__ import annotations

import collections
import hmac
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from stock_lstm.api.v1.errors import ApiError, Unauthorized
from stock_lstm.common.errors import SettingsError
from stock_lstm.common.settings import Settings, parse_api_keys

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
FILE_CHECK_INTERVAL_S = 1.0  # how often a request may stat API_KEYS_FILE for a change
MAX_TRACKED_CLIENTS = 10_000

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="One of the server's API keys; required by endpoints that change state.",
)


class TooManyAttempts(ApiError):
    status_code = 429


class KeyRing:
    """The server's named keys (environment + keys file), and failed attempts per client."""

    def __init__(self, settings: Settings) -> None:
        self._fixed: tuple[tuple[str, bytes], ...] = tuple(
            (name, key.encode()) for name, key in settings.api_keys
        )
        if settings.api_key:
            self._fixed = ((settings.api_key_name, settings.api_key.encode()), *self._fixed)
        self._file: Path | None = settings.api_keys_file
        self._file_stamp: tuple[float, int] | None = None
        self._file_keys: tuple[tuple[str, bytes], ...] = ()
        self._next_check = 0.0
        self._max_failures = settings.api_key_max_failures
        self._window_s = settings.api_key_failure_window_s
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        if self._file is not None:
            try:
                self._load_file()
            except (OSError, ValueError) as error:
                raise SettingsError(f"API_KEYS_FILE: {error}") from None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._keys()]

    def _keys(self) -> tuple[tuple[str, bytes], ...]:
        return self._fixed + self._file_keys

    def _load_file(self) -> None:
        assert self._file is not None
        stat = os.stat(self._file)
        keys = parse_api_keys(self._file.read_text(encoding="utf-8"))
        self._file_keys = tuple((name, key.encode()) for name, key in keys)
        self._file_stamp = (stat.st_mtime, stat.st_size)

    def reload(self) -> None:
        """Re-read API_KEYS_FILE (SIGHUP); a file that does not parse keeps the old keys."""
        if self._file is None:
            return
        try:
            self._load_file()
        except (OSError, ValueError) as error:
            logger.error("API_KEYS_FILE not reloaded, the old keys stay: %s", error)
            return
        logger.info("API keys reloaded: %s", ", ".join(self.names) or "none")

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if self._file is None or now < self._next_check:
            return
        self._next_check = now + FILE_CHECK_INTERVAL_S
        try:
            stat = os.stat(self._file)
        except OSError:
            return
        if (stat.st_mtime, stat.st_size) != self._file_stamp:
            self.reload()

    def check(self, client: str, sent: str | None) -> str:
        """The name of the key `sent` matches; 401 or 429 otherwise."""
        self._reload_if_changed()
        with self._lock:
            retry_after = self._blocked_for(client)
        if retry_after:
            raise TooManyAttempts(
                f"too many failed {API_KEY_HEADER} attempts from this client: retry in "
                f"{retry_after} s",
                type="too_many_attempts",
                headers={"Retry-After": str(retry_after)},
            )
        keys = self._keys()
        if not keys:
            raise Unauthorized(
                "this endpoint is disabled: the server has no API_KEY set", type="no_api_key"
            )
        if not sent:
            self._failed(client)
            raise Unauthorized(f"missing {API_KEY_HEADER} header", type="missing_api_key")
        # bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1 text.
        # Every key is compared, so the time does not say which one nearly matched.
        sent_bytes = sent.encode("utf-8")
        matched = None
        for name, key in keys:
            if hmac.compare_digest(sent_bytes, key) and matched is None:
                matched = name
        if matched is None:
            self._failed(client)
            raise Unauthorized(f"wrong {API_KEY_HEADER}", type="wrong_api_key")
        return matched

    def _blocked_for(self, client: str) -> int:
        failures = self._failures.get(client)
        if not failures:
            return 0
        now = time.monotonic()
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        if len(failures) < self._max_failures:
            return 0
        return max(1, math.ceil(failures[0] + self._window_s - now))

    def _failed(self, client: str) -> None:
        with self._lock:
            failures = self._failures.pop(client, None) or collections.deque()
            failures.append(time.monotonic())
            while len(failures) > self._max_failures:
                failures.popleft()
            self._failures[client] = failures  # most recent last
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(_api_key_header)]
) -> str:
    """The name of the key the request carries (the audit trail's actor)."""
    client = request.client.host if request.client else "unknown"
    return request.app.state.key_ring.check(client, key)


RequireApiKey = Depends(require_api_key)  # for a route's `dependencies=[...]`
