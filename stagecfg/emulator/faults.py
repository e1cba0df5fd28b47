"""Test-only misbehaviour: latency, injected 500s and 429s, and Stream's per-endpoint quota.

Tests and the benchmark use these to see how clients cope with a slow or refusing Stream. Every
random choice (latency jitter, which requests fail) comes from one generator seeded with
``Faults.seed`` and is drawn in request order, so a seeded run fails the same requests every
time. The quota is counted per endpoint in one-minute windows aligned to the clock, and its
``X-RateLimit-*`` headers go out on every response that got past authentication.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

from stagecfg.sandbox.apierror import (
    CODE_INTERNAL,
    CODE_RATE_LIMIT,
    StreamAPIError,
    failed_message,
)

#: The per-endpoint quota reported in ``X-RateLimit-Limit`` when no ``--rate-limit`` is set.
UNLIMITED_QUOTA = 1_000_000
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Faults:
    """Injected misbehaviour; all randomness comes from one generator seeded with ``seed``."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0  # fraction answered 500 code -1 before the engine is touched
    throttle_rate: float = 0.0  # fraction answered 429 code 9 with Retry-After
    retry_after: float = 1.0  # seconds sent in Retry-After by throttle faults
    rate_limit: int | None = None  # requests per endpoint per minute; None = unlimited
    seed: int | None = None


@dataclass
class _Window:
    start: float
    count: int = 0


def retry_after_text(seconds: float) -> str:
    """``Retry-After`` text for ``seconds``: ``2`` rather than ``2.0``, a fraction as ``0.5``."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _too_many_requests(operation: str) -> StreamAPIError:
    return StreamAPIError(429, CODE_RATE_LIMIT, failed_message(operation, "Too many requests"))


class FaultInjector:
    """Applies one emulator's :class:`Faults`: its random generator and its quota windows."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        # Checked per request before anything else, so a fault-free emulator pays one test.
        self.delays = bool(faults.latency_ms or faults.latency_jitter_ms)
        self._rng = random.Random(faults.seed)
        # Requests are served on one event loop, but tests read state from other threads.
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def delay_seconds(self) -> float:
        """How long to hold this request: the fixed latency plus a fresh draw of jitter."""
        faults = self.faults
        jitter = faults.latency_jitter_ms * self._draw()
        return (faults.latency_ms + jitter) / 1000

    def admit(self, operation: str, now: float) -> tuple[dict[str, str], StreamAPIError | None]:
        """Count an authenticated request against its quota and roll the error faults.

        Returns the response headers so far (``X-RateLimit-*``, plus ``Retry-After`` on a 429)
        and the error to answer with instead of calling the engine, or None to go ahead. Over
        quota comes first, then ``error_rate``, then ``throttle_rate``; a rate left at 0 draws
        nothing from the generator.
        """
        faults = self.faults
        headers, over = self._rate_headers(operation, now)
        if over:
            return headers, _too_many_requests(operation)
        if faults.error_rate and self._draw() < faults.error_rate:
            error = StreamAPIError(
                500, CODE_INTERNAL, failed_message(operation, "emulated server error")
            )
            return headers, error
        if faults.throttle_rate and self._draw() < faults.throttle_rate:
            headers["Retry-After"] = retry_after_text(faults.retry_after)
            return headers, _too_many_requests(operation)
        return headers, None

    def _rate_headers(self, operation: str, now: float) -> tuple[dict[str, str], bool]:
        """``X-RateLimit-*`` headers after counting this request, and whether it is over quota."""
        limit = self.faults.rate_limit or UNLIMITED_QUOTA
        start = now - (now % WINDOW_SECONDS)
        with self._lock:
            window = self._windows.get(operation)
            if window is None or window.start != start:
                window = self._windows[operation] = _Window(start)
            window.count += 1
            count = window.count
        reset = int(start + WINDOW_SECONDS)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(reset),
        }
        if count > limit:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            return headers, True
        return headers, False
