"""Finds every adapter in this package by its slug."""

from __future__ import annotations

import importlib
import pkgutil

from cxpulse_collector import sources
from cxpulse_collector.sources.base import SourceAdapter


def load_adapters() -> dict[str, SourceAdapter]:
    adapters: dict[str, SourceAdapter] = {}
    for module_info in pkgutil.iter_modules(sources.__path__):
        if module_info.name in {"base", "registry"}:
            continue
        module = importlib.import_module(f"{sources.__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, SourceAdapter)
                and value is not SourceAdapter
                and value.__module__ == module.__name__
            ):
                adapters[value.slug] = value()
    return adapters
