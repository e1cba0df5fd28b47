"""The sandbox: a Stream Video app simulated over SQLite (used by ``local`` and the emulator)."""

from __future__ import annotations

from stagecfg.sandbox.apierror import StreamAPIError
from stagecfg.sandbox.engine import Engine

__all__ = ["Engine", "StreamAPIError"]
