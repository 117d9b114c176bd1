"""`console_for_stream`: Kedro's console is rich's table in a terminal and one plain line per
record when piped, on root's handlers and in Kedro's stored logging configuration (which Kedro
applies again when it configures the project)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rich
import rich.console
import rich.logging
import yaml
from kedro.framework.project import LOGGING

from stock_lstm.common.logging import PIPED_CONSOLE_FORMAT, console_for_stream


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger()
    saved = list(logger.handlers)
    for handler in saved:
        logger.removeHandler(handler)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved:
        logger.addHandler(handler)


def _on(monkeypatch: pytest.MonkeyPatch, terminal: bool, config: dict[str, Any]) -> None:
    console = rich.console.Console(force_terminal=terminal)
    monkeypatch.setattr(rich, "get_console", lambda: console)
    monkeypatch.setattr(LOGGING, "data", config)


def _named(handler: logging.Handler, name: str) -> logging.Handler:
    handler.name = name
    return handler


def test_piped_rich_becomes_plain_lines(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"handlers": {"rich": {"class": "kedro.logging.RichHandler"}}}
    config["root"] = {"handlers": ["rich"]}
    _on(monkeypatch, terminal=False, config=config)
    root.addHandler(_named(rich.logging.RichHandler(), "rich"))
    other = _named(logging.StreamHandler(), "mine")
    root.addHandler(other)

    console_for_stream()

    (plain,) = [h for h in root.handlers if h.name == "rich"]
    assert not isinstance(plain, rich.logging.RichHandler)
    assert plain.formatter is not None and plain.formatter._fmt == PIPED_CONSOLE_FORMAT
    assert other in root.handlers
    assert config["handlers"]["rich"]["class"] == "logging.StreamHandler"
    assert config["formatters"]["plain"] == {"format": PIPED_CONSOLE_FORMAT}


def test_in_a_terminal_the_console_handler_becomes_rich(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = {"class": "logging.StreamHandler", "formatter": "plain"}
    config = {"handlers": {"console": console, "file": {"class": "logging.FileHandler"}}}
    config["root"] = {"handlers": ["console", "file"]}
    _on(monkeypatch, terminal=True, config=config)
    root.addHandler(_named(logging.StreamHandler(), "console"))
    other = _named(logging.StreamHandler(), "file")
    root.addHandler(other)

    console_for_stream()

    (fancy,) = [h for h in root.handlers if h.name == "console"]
    assert isinstance(fancy, rich.logging.RichHandler)
    assert other in root.handlers
    assert config["handlers"]["console"]["class"] == "kedro.logging.RichHandler"
    assert config["handlers"]["file"] == {"class": "logging.FileHandler"}


def test_conf_logging_yml_is_plain_with_the_piped_format() -> None:
    conf = Path(__file__).resolve().parents[1] / "conf"
    for name in ("logging.yml", "json_logging.yml"):
        config = yaml.safe_load((conf / name).read_text())
        assert config["handlers"]["console"]["class"] == "logging.StreamHandler", name
        assert config["formatters"]["plain"]["format"] == PIPED_CONSOLE_FORMAT, name
