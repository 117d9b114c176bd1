"""Kedro hooks of the project (registered in settings.py)."""

from __future__ import annotations

import sys
from types import TracebackType

from kedro.framework.hooks import hook_impl

from stock_lstm.common.errors import InputError


def _input_error_excepthook(previous):
    def excepthook(
        kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        if isinstance(error, InputError):
            print(f"\nError: {error}", file=sys.stderr)  # Kedro has logged the failed node
            return
        previous(kind, error, traceback)

    excepthook.handles_input_errors = True
    return excepthook


class InputErrorHooks:
    """On the command line, an `InputError` (bad data or parameters) ends the run with its
    message and exit code 1, not a traceback: the message already says what to fix."""

    @hook_impl
    def after_context_created(self, context) -> None:
        if not getattr(sys.excepthook, "handles_input_errors", False):
            sys.excepthook = _input_error_excepthook(sys.excepthook)
