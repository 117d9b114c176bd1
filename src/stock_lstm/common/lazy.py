"""A module imported when first used: ``pd = lazy_module("pandas")`` keeps ``pd.DataFrame`` in a
module's code and annotations (Kedro resolves a node's type hints at run time) without importing
pandas until something uses it, so a process that never does (an API worker) never loads it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class LazyModule:
    """Stands in for module `name`; every attribute is the real module's, imported on first use."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> Any:
    return LazyModule(name)


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """A package's `__getattr__`, `__dir__` and `__all__` re-exporting `exports` (a module's
    name, relative to `package` or absolute, and the names it holds) without importing any
    module until one of its names is used (PEP 562). Each submodule stays reachable as an
    attribute (``package.module``)."""
    owner = {name: module for module, names in exports.items() for name in names}
    submodules = {module for module in exports if "." not in module}
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name in owner:
            module = owner[name]
            path = module if "." in module else f"{package}.{module}"
            value = getattr(importlib.import_module(path), name)
            namespace[name] = value  # looked up once
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *owner, *submodules})

    return __getattr__, __dir__, sorted(name for name in owner if not name.startswith("_"))
