"""Bad input ends a command-line run with its message, not a traceback."""

from __future__ import annotations

import sys
from types import TracebackType

from kedro.framework.hooks import hook_impl
from kedro.validation.exceptions import ParameterValidationError

from stock_lstm.common.errors import InputError
from stock_lstm.common.settings import get_settings


def _input_error_excepthook(previous):
    def excepthook(
        kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        if isinstance(error, InputError | ParameterValidationError):
            print(f"\nError: {error}", file=sys.stderr)  # Kedro has logged the failed node
            return
        previous(kind, error, traceback)

    excepthook.handles_input_errors = True
    return excepthook


class InputErrorHooks:
    """On the command line, an `InputError` (bad data) or a parameter Kedro cannot validate ends
    the run with its message and exit code 1, not a traceback: the message says what to fix.
    A bad setting (a `SettingsError`) ends it before anything runs."""

    @hook_impl
    def after_context_created(self, context) -> None:
        if not getattr(sys.excepthook, "handles_input_errors", False):
            sys.excepthook = _input_error_excepthook(sys.excepthook)
        get_settings()
