"""On the command line, bad input ends a run with its message, other errors keep their traceback."""

from __future__ import annotations

import sys

from stock_lstm.common.errors import InputError
from stock_lstm.hooks.input_errors import InputErrorHooks


def test_input_errors_print_their_message_and_others_go_to_the_previous_hook(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: seen.append(args[1]))
    InputErrorHooks().after_context_created(context=None)
    InputErrorHooks().after_context_created(context=None)  # installed once only
    error = InputError("GOOG.csv lacks column(s) Close")
    sys.excepthook(InputError, error, None)
    assert capsys.readouterr().err == "\nError: GOOG.csv lacks column(s) Close\n"
    assert seen == []
    other = RuntimeError("a bug")
    sys.excepthook(RuntimeError, other, None)
    assert seen == [other]
