"""The context every sandbox operation works in: the shared store and the app's clock.

The :class:`~stagecfg.sandbox.engine.Engine` facade makes one and hands it to the resource
modules' functions, so they share one SQLite file and one notion of "now" (a test's fixed clock,
or UTC wall time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from stagecfg import timestamps
from stagecfg.sandbox.store import Store


class Context:
    """The store and the clock of one sandbox."""

    __slots__ = ("clock", "store")

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def now(self) -> int:
        """The clock's current instant in integer nanoseconds (the wire's timestamp unit)."""
        return timestamps.to_nanos(self.clock())
