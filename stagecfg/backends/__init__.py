"""Backends by name: ``--backend local`` (default) or ``--backend stream``.

A plain dict of factories. Each factory takes keyword settings gathered by the CLI and returns a
:class:`~stagecfg.backends.base.Backend`. Modules are imported lazily so that ``stagecfg --help``
does not pay for httpx or sqlite.
"""

from __future__ import annotations

import importlib
from typing import Any

from stagecfg.backends.base import Backend
from stagecfg.errors import UsageError

#: name -> "module:factory"
REGISTRY: dict[str, str] = {
    "local": "stagecfg.backends.local:open_backend",
    "stream": "stagecfg.backends.stream:open_backend",
}

DEFAULT_BACKEND = "local"


def open_backend(name: str, **settings: Any) -> Backend:
    """Build the backend registered under ``name`` from its settings."""
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UsageError(f"unknown backend {name!r}; choose one of: {known}") from None
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    backend: Backend = factory(**settings)
    return backend
