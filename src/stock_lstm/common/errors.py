"""The error type for problems the user can fix (bad input data, bad parameters)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input or configuration. Its message names the file, ticker, row or parameter, and the
    command line shows only that message, not a traceback (see stock_lstm.hooks)."""
