"""The one way a response body shows its examples in the OpenAPI schema (and so in /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict


def with_examples(*examples: dict[str, Any]) -> ConfigDict:
    """A model config whose JSON schema lists `examples`; fields may start with ``model_``
    (``model_version``), which pydantic reserves unless its protected namespaces are cleared."""
    return ConfigDict(protected_namespaces=(), json_schema_extra={"examples": list(examples)})
