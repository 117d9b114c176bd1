"""What a Kedro run prints: one plain line per record on a piped console (rich's table in a
terminal), and none of the warnings about this project's parameters that tell a user nothing."""

from __future__ import annotations

import logging

from kedro.framework.hooks import hook_impl

from stock_lstm.common.logging import console_for_stream

# Kedro's parameter validation checks `params:` inputs typed as a dataclass or a pydantic model;
# this project passes every parameter block as the plain mapping its nodes read, so a union hint
# (`SplitSpec`: a mapping or split dates) is, as Kedro says, passed as a raw dictionary.
_RAW_DICTIONARY_NOTE = "Parameters with this type will be passed as raw dictionaries"


class _DropRawDictionaryNote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _RAW_DICTIONARY_NOTE not in record.getMessage()


class ConsoleHooks:
    """Set up once a session's context exists, after Kedro has configured its logging."""

    @hook_impl
    def after_context_created(self, context) -> None:
        console_for_stream()
        validation = logging.getLogger("kedro.validation.type_extractor")
        if not any(isinstance(f, _DropRawDictionaryNote) for f in validation.filters):
            validation.addFilter(_DropRawDictionaryNote())
