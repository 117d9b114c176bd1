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


PIPED_CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# TensorFlow's C++ log level unless the environment sets one: 3 keeps its start-up lines and the
# "E0000 ... NodeDef mentions attribute use_unbounded_threadpool" lines each training prints
# (a mismatch inside TensorFlow's own build, harmless) off the console. A real failure still
# raises a Python exception.
TF_CPP_MIN_LOG_LEVEL = "3"


def quiet_console() -> None:
    """What every `kedro` command runs first (the `kedro.init` entry point, pyproject.toml):
    TensorFlow's C++ log level (TF_CPP_MIN_LOG_LEVEL) and a plain console when piped."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_CPP_MIN_LOG_LEVEL)
    plain_console_when_piped()


def plain_console_when_piped() -> None:
    """When the console is not a terminal (piped to a file, `| tee`, CI), one plain line per
    record instead of rich's table, which wraps every message at 80 columns there. Run by
    every `kedro` command once Kedro's logging is set up (the `kedro.init` entry point,
    pyproject.toml); a terminal keeps rich's console."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        console = getattr(handler, "console", None)  # a rich handler's console
        if console is None or console.is_terminal:
            continue
        plain = logging.StreamHandler(console.file)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter(PIPED_CONSOLE_FORMAT))
        root.removeHandler(handler)
        root.addHandler(plain)


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
