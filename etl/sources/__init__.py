"""Registry of sources: one module per source, registered with ``@register``.

Modules in this package are imported on first use, so adding a file here is all it takes to add a
source.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from etl.sources.base import Source

log = logging.getLogger(__name__)
_REGISTRY: dict[str, Source] = {}
BROKEN: dict[str, str] = {}  # module name -> import error, reported by `etl run` and `etl sources`
_DISCOVERED = False


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make a source available to ``etl run`` and ``etl sources``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"source '{cls.name}' is registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for mod in pkgutil.iter_modules(__path__):
        if mod.name == "base":
            continue
        try:
            importlib.import_module(f"{__name__}.{mod.name}")
        except Exception as exc:  # noqa: BLE001 - one broken reader must not hide the others
            log.error("source module %s failed to import: %s", mod.name, exc)
            BROKEN[mod.name] = f"{type(exc).__name__}: {exc}"
    _DISCOVERED = True


def all_sources() -> list[Source]:
    """Every registered source in load order (regions first)."""
    _discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def get_source(name: str) -> Source:
    _discover()
    if name not in _REGISTRY:
        raise KeyError(f"unknown source '{name}'; known sources: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
