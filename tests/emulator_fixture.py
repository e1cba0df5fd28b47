"""A real emulator on 127.0.0.1 for tests: import the fixtures into a test module to use them.

    from emulator_fixture import emulator, make_emulator, stream_backend_for  # noqa: F401

* ``emulator``: an emulator on a free port over a fresh sandbox file in ``tmp_path``; stopped
  after the test. ``emulator.url``, ``emulator.api_key``, ``emulator.api_secret``,
  ``emulator.sandbox_path``, ``emulator.stats()``, ``emulator.reset_stats()``.
* ``make_emulator(**options)``: start more, or with faults (``error_rate=0.1``,
  ``throttle_rate=0.1``, ``retry_after=0.01``, ``latency_ms=5``, ``rate_limit=100``, ``seed=1``,
  ``max_body_bytes=...``, ``record_bodies=True``, ``sandbox_path=...``); all are stopped after
  the test.
* ``stream_backend_for(handle, **settings)``: the ``stream`` backend pointed at an emulator.
* ``client(handle, token=None, **headers)``: an httpx client with the emulator's key and a
  server-side token (or ``token``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stagecfg.backends.stream import StreamBackend, open_backend
from stagecfg.emulator.server import EmulatorHandle, run_in_thread
from stagecfg.httpclient import server_token

MakeEmulator = Callable[..., EmulatorHandle]


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[MakeEmulator]:
    started: list[EmulatorHandle] = []
    numbers = itertools.count(1)

    def make(*, sandbox_path: str | Path | None = None, **options: Any) -> EmulatorHandle:
        path = sandbox_path or tmp_path / f"emulator-{next(numbers)}.db"
        handle = run_in_thread(path, **options)
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture
def emulator(make_emulator: MakeEmulator) -> EmulatorHandle:
    return make_emulator()


def stream_backend_for(handle: EmulatorHandle, **settings: Any) -> StreamBackend:
    options: dict[str, Any] = {"parallelism": 4, "timeout": 10.0, **settings}
    return open_backend(
        api_key=handle.api_key, api_secret=handle.api_secret, base_url=handle.url, **options
    )


def client(handle: EmulatorHandle, token: str | None = None, **headers: str) -> httpx.Client:
    auth = {
        "Authorization": token if token is not None else server_token(handle.api_secret),
        "stream-auth-type": "jwt",
        **headers,
    }
    return httpx.Client(
        base_url=handle.url, headers=auth, params={"api_key": handle.api_key}, timeout=10
    )
