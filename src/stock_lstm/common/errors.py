"""The error type for problems the user can fix (bad input data, bad parameters)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input or configuration. Its message names the file, ticker, row or parameter, and the
    command line shows only that message, not a traceback (see stock_lstm.hooks.input_errors)."""


class SettingsError(InputError):
    """An environment variable with a value the project cannot use. Its one-line message names
    the variable, what it expects and what it got; start-up stops there."""


class ForecastInputError(InputError):
    """A history or horizon the model cannot forecast from. `argument` ("closes" or "horizon")
    and `kind` let a caller (the API) point at its own field without checking the input again;
    defined here so the API can catch it without importing TensorFlow."""

    def __init__(self, message: str, *, argument: str, kind: str) -> None:
        super().__init__(message)
        self.argument = argument
        self.kind = kind
