"""Wrappers around a real backend for tests: count writes (a spy) or fail chosen writes (faults).

Usage: ``from backend_wrappers import Wrapped`` (tests/ is on sys.path under pytest).
"""

from __future__ import annotations

import _thread
import contextlib
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from stagecfg.backends.base import Backend
from stagecfg.errors import BackendError, BackendFailure
from stagecfg.model import ActualState, AppVocabulary, CallState, CallTypeState, Json


class Wrapped(Backend):
    """Delegates to ``inner``; records every write; fails write number ``fail_at`` (1-based)
    with a Stream-like error, or interrupts the main thread (Ctrl-C) at write ``interrupt_at``."""

    name = "wrapped"

    def __init__(
        self,
        inner: Backend,
        *,
        fail_at: Collection[int] = (),
        fail_names: Collection[str] = (),
        interrupt_at: int | None = None,
        pause: float = 0.0,
    ) -> None:
        self.pause = pause
        self.inflight = 0
        self.max_inflight = 0
        self.inner = inner
        self.fail_at = set(fail_at)
        self.fail_names = set(fail_names)
        self.interrupt_at = interrupt_at
        self.writes: list[tuple[str, str]] = []
        self.reads = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _op(self, operation: str, name: str) -> Iterator[None]:
        with self._lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            self._write(operation, name)
            if self.pause:
                # Long enough for the other workers to start theirs, so overlap is observable.
                time.sleep(self.pause)
            yield
        finally:
            with self._lock:
                self.inflight -= 1

    def _write(self, operation: str, name: str) -> None:
        with self._lock:
            self.writes.append((operation, name))
            number = len(self.writes)
        if number in self.fail_at or name in self.fail_names:
            raise BackendError(
                "injected failure",
                operation=operation,
                name=name,
                failure=BackendFailure(status=400, code=4, message="injected failure"),
            )
        if number == self.interrupt_at:
            _thread.interrupt_main()

    def describe(self) -> str:
        return self.inner.describe()

    def identity(self) -> str:
        return self.inner.identity()

    def read(
        self,
        *,
        cids: Collection[str] = (),
        users: Collection[str] = (),
        all_calls: bool = False,
        all_users: bool = False,
    ) -> ActualState:
        self.reads += 1
        return self.inner.read(cids=cids, users=users, all_calls=all_calls, all_users=all_users)

    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        return self.inner.query_calls(filter_conditions)

    def read_vocabulary(self) -> AppVocabulary:
        return self.inner.read_vocabulary()

    def create_call_type(self, name: str, body: Json) -> CallTypeState:
        with self._op("create_call_type", name):
            return self.inner.create_call_type(name, body)

    def update_call_type(self, name: str, body: Json) -> CallTypeState:
        with self._op("update_call_type", name):
            return self.inner.update_call_type(name, body)

    def delete_call_type(self, name: str) -> None:
        with self._op("delete_call_type", name):
            self.inner.delete_call_type(name)

    def create_call(self, cid: str, data: Json) -> CallState:
        with self._op("create_call", cid):
            return self.inner.create_call(cid, data)

    def update_call(self, cid: str, body: Json) -> CallState:
        with self._op("update_call", cid):
            return self.inner.update_call(cid, body)

    def delete_call(self, cid: str) -> None:
        with self._op("delete_call", cid):
            self.inner.delete_call(cid)

    def go_live(self, cid: str, options: Json) -> CallState:
        with self._op("go_live", cid):
            return self.inner.go_live(cid, options)

    def stop_live(self, cid: str, options: Json) -> CallState:
        with self._op("stop_live", cid):
            return self.inner.stop_live(cid, options)

    def upsert_users(self, users: Mapping[str, Json]) -> None:
        with self._op("upsert_users", ",".join(sorted(users))):
            self.inner.upsert_users(users)

    def update_users_partial(self, users: Mapping[str, Json]) -> None:
        with self._op("update_users_partial", ",".join(sorted(users))):
            self.inner.update_users_partial(users)

    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        with self._op("update_members", cid):
            self.inner.update_members(cid, update, remove)

    def close(self) -> None:
        self.inner.close()


def install(monkeypatch: Any, **options: Any) -> list[Wrapped]:
    """Make ``stagecfg.backends.open_backend`` return Wrapped backends; returns the list of them."""
    import stagecfg.backends as backends

    real = backends.open_backend
    made: list[Wrapped] = []

    def fake_open(name: str, **settings: Any) -> Backend:
        wrapped = Wrapped(real(name, **settings), **options)
        made.append(wrapped)
        return wrapped

    monkeypatch.setattr(backends, "open_backend", fake_open)
    return made
