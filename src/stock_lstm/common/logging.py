"""Runtime logs: JSON lines in rotating files under logs/, beside the console.

conf/json_logging.yml is the one logging configuration of the pipelines and the API. Kedro
applies it to a pipeline run (`KEDRO_LOGGING_CONFIG`, set by the Makefile's pipeline targets);
the API gives its own logger the handlers the file lists for it (`configure_logger`). The
classes it names live here, so Kedro's allowlist of logging modules needs this one module
(`KEDRO_LOGGING_MODULE_ALLOWLIST=stock_lstm.common.logging`).

Settings (common/settings.py; a bad value stops start-up with a message naming it):
- LOG_DIR: the folder of the log files (default <project>/logs).
- LOG_FILE_MAX_BYTES: a file is rotated before it would grow past this size (default 10 MiB).
- LOG_FILE_BACKUPS: rotated files kept, e.g. api.log.1 .. api.log.5 (default 5).
"""

from __future__ import annotations

import copy
import logging
import logging.config
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from concurrent_log_handler import ConcurrentRotatingFileHandler
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from stock_lstm.common.settings import get_settings, project_root

LOGGING_CONFIG = Path("conf") / "json_logging.yml"  # relative to the project root


# The console's line when it is not a terminal, as conf/logging.yml's `plain` formatter.
PIPED_CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONSOLE_HANDLER = "console"  # the root handler of conf/logging.yml and conf/json_logging.yml
RICH_HANDLER = "kedro.logging.RichHandler"
# TensorFlow's C++ log level unless the environment sets one: 3 keeps its start-up lines and the
# "E0000 ... NodeDef mentions attribute use_unbounded_threadpool" lines each training prints
# (a mismatch inside TensorFlow's own build, harmless) off the console. A real failure still
# raises a Python exception.
TF_CPP_MIN_LOG_LEVEL = "3"
# oneDNN's custom kernels off unless the environment says otherwise: on CPUs that have them
# (AVX-512) TensorFlow prints a line at import that no log level silences, and their other
# summation order makes a model trained on one machine differ slightly from the same run on
# another. Off, the same seed gives the same model on every CPU.
TF_ENABLE_ONEDNN_OPTS = "0"


def quiet_console() -> None:
    """What every `kedro` command runs first (the `kedro.init` entry point, pyproject.toml):
    TensorFlow's C++ log level (TF_CPP_MIN_LOG_LEVEL), oneDNN off (TF_ENABLE_ONEDNN_OPTS) and
    a console fit for its stream."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_CPP_MIN_LOG_LEVEL)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", TF_ENABLE_ONEDNN_OPTS)
    console_for_stream()


def _is_rich(class_path: str) -> bool:
    return class_path.rsplit(".", 1)[-1] == "RichHandler"


def _console_config(terminal: bool) -> dict[str, Any]:
    if terminal:
        return {"class": RICH_HANDLER, "rich_tracebacks": True}
    return {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}


def _console_handler(handler: logging.Handler, terminal: bool) -> logging.Handler | None:
    """The handler that replaces root's `handler` on this stream, or None to keep it."""
    console = getattr(handler, "console", None)  # a rich handler's console
    if console is not None and not terminal:
        plain = logging.StreamHandler(console.file)
        plain.setFormatter(logging.Formatter(PIPED_CONSOLE_FORMAT))
    elif console is None and terminal and handler.name == CONSOLE_HANDLER:
        from kedro.logging import RichHandler

        plain = RichHandler(rich_tracebacks=True)
    else:
        return None
    plain.name = handler.name
    plain.setLevel(handler.level)
    return plain


def console_for_stream() -> None:
    """Kedro's console fit for where it prints: rich's table in a terminal, one plain line per
    record when piped (a file, `| tee`, CI), where rich wraps every message at 80 columns.

    Root's rich handlers become plain when piped, its `console` handler (conf/logging.yml's,
    plain) becomes rich's in a terminal; and so in Kedro's stored logging configuration
    (`kedro.framework.project.LOGGING`), which Kedro applies again when it configures the
    project, so the next `dictConfig` keeps the choice. Run by every `kedro` command (the
    `kedro.init` entry point) and once a session's context exists (hooks/console.py)."""
    import rich
    from kedro.framework.project import LOGGING

    terminal = rich.get_console().is_terminal
    root = logging.getLogger()
    for handler in list(root.handlers):
        replacement = _console_handler(handler, terminal)
        if replacement is not None:
            root.removeHandler(handler)
            root.addHandler(replacement)
    config = LOGGING.data
    handlers = config.get("handlers") or {}
    for name in (config.get("root") or {}).get("handlers", []):
        handler = handlers.get(name) or {}
        rich_handler = _is_rich(str(handler.get("class", "")))
        if (rich_handler and not terminal) or (
            name == CONSOLE_HANDLER and not rich_handler and terminal
        ):
            handlers[name] = _console_config(terminal)
            config.setdefault("formatters", {}).setdefault(
                "plain", {"format": PIPED_CONSOLE_FORMAT}
            )


def log_file_settings() -> LogFiles:
    """LOG_DIR, LOG_FILE_MAX_BYTES and LOG_FILE_BACKUPS, checked by the project's Settings (a bad
    value is a SettingsError naming the variable)."""
    settings = get_settings()
    return LogFiles(settings.log_dir, settings.log_file_max_bytes, settings.log_file_backups)


@dataclass(frozen=True)
class LogFiles:
    directory: Path
    max_bytes: int
    backups: int


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, and the record's `extra` fields
    (the API's access line: request_id, route, status, latency_ms)."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **_):
        super().__init__(
            fmt or "%(asctime)s %(levelname)s %(name)s %(message)s",
            datefmt,
            style,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )


class RotatingJsonFileHandler(ConcurrentRotatingFileHandler):
    """`filename` under LOG_DIR (created if missing), rotated at LOG_FILE_MAX_BYTES, keeping
    LOG_FILE_BACKUPS old files. concurrent-log-handler's file lock lets every process that
    writes the file (the workers of `uvicorn --workers N`, a pipeline beside `make daily`)
    append and rotate without losing or misplacing lines; the standard RotatingFileHandler
    assumes one process."""

    def __init__(self, filename: str, encoding: str = "utf-8") -> None:
        settings = log_file_settings()
        settings.directory.mkdir(parents=True, exist_ok=True)
        super().__init__(
            str(settings.directory / filename),
            maxBytes=settings.max_bytes,
            backupCount=settings.backups,
            encoding=encoding,
        )
        self.setFormatter(JsonFormatter())


def logging_config() -> dict[str, Any]:
    """conf/json_logging.yml of the project (STOCK_LSTM_PROJECT_ROOT, else this checkout)."""
    path = project_root() / LOGGING_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"no logging configuration at {path}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def build_handlers(config: Mapping[str, Any], names: Sequence[str]) -> list[logging.Handler]:
    """The handlers `names` of a dictConfig-shaped `config`, built the way dictConfig builds
    them but attached to nothing (dictConfig itself would also reset every other logger)."""
    configurator = logging.config.DictConfigurator(copy.deepcopy(dict(config)))
    formatters = configurator.config.get("formatters", {})
    for key in list(formatters):
        formatters[key] = configurator.configure_formatter(formatters[key])
    handlers = []
    for key in names:
        handler = configurator.configure_handler(configurator.config["handlers"][key])
        handler.name = key
        handlers.append(handler)
    return handlers


# Without the project's conf/ (an installed package run elsewhere) the API still logs its JSON
# lines, on stderr only, and says so.
_STDERR_ONLY = {
    "formatters": {"json": {"class": f"{__name__}.JsonFormatter"}},
    "handlers": {
        "json_console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
        }
    },
}

_BUILT: dict[str, tuple[list[logging.Handler], bool]] = {}
_LOCK = threading.Lock()


def configure_logger(name: str, level: str | None = None) -> logging.Logger:
    """Give logger `name` the handlers and `propagate` conf/json_logging.yml sets for it.

    The handlers are built once per process. A later call only adds back one that is missing
    (Kedro's bootstrap re-applies its own logging configuration, which drops them); a handler
    of that name already there (Kedro applied this same file) is kept. Nothing is ever removed,
    so handlers other code attached stay."""
    logger = logging.getLogger(name)
    with _LOCK:
        missing = None
        if name not in _BUILT:
            try:
                config = logging_config()
                entry = config.get("loggers", {}).get(name, {})
            except FileNotFoundError as error:
                config, missing = _STDERR_ONLY, error
                entry = {"handlers": ["json_console"], "propagate": False}
            handlers = build_handlers(config, entry.get("handlers", []))
            _BUILT[name] = handlers, bool(entry.get("propagate", True))
        handlers, propagate = _BUILT[name]
        present = {handler.name for handler in logger.handlers}
        for handler in handlers:
            if handler.name not in present:
                logger.addHandler(handler)
        logger.propagate = propagate
    if level:
        logger.setLevel(level.upper())
    if missing is not None:
        logger.warning("%s: log lines go to stderr only", missing)
    return logger
