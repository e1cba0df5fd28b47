"""When to send: each endpoint's rate-limit window and how long ``Retry-After`` asks to wait.

Stream states its window's reset as a Unix time read off the *server's* clock. Comparing it with
ours would turn a server clock an hour ahead into an hour of sleep, so every reset is moved onto
our clock through the answer's ``Date`` header (the server's "now") before it is kept.
"""

from __future__ import annotations

import email.utils
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from stagecfg.strictjson import finite_float


@dataclass
class _Window:
    limit: int
    remaining: int
    reset: float  # Unix seconds on our clock


def server_offset(headers: Mapping[str, str], now: float) -> float:
    """How far the server's clock is ahead of ours (seconds), from its ``Date``; 0 if unknown."""
    value = headers.get("date")
    if not value:
        return 0.0
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when is None or when.tzinfo is None:
        return 0.0
    return when.timestamp() - now


def reset_in(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the window in ``X-RateLimit-Reset`` resets, on our clock; None if absent."""
    raw = headers.get("x-ratelimit-reset")
    if not raw:
        return None
    try:
        reset = finite_float(raw.split(",")[0])
    except ValueError:
        return None
    return max(0.0, reset - server_offset(headers, now) - now)


@dataclass
class Pacer:
    """Remembers each endpoint's rate-limit window and says how long to wait before sending."""

    low_water: float = 0.05
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, endpoint: str, headers: Mapping[str, str], now: float = 0.0) -> None:
        """Record a response's ``X-RateLimit-*`` headers (all three or none, like the SDKs).

        ``now`` is our wall clock when the answer arrived; the reset is kept relative to it.
        """
        try:
            limit = int(headers["x-ratelimit-limit"].split(",")[0])
            remaining = int(headers["x-ratelimit-remaining"].split(",")[0])
        except (KeyError, ValueError):
            return
        left = reset_in(headers, now)
        if left is None:
            return
        with self._lock:
            self._windows[endpoint] = _Window(limit, remaining, now + left)

    def delay(self, endpoint: str, now: float) -> float:
        """Seconds to wait before the next request to ``endpoint`` (and reserve one slot)."""
        with self._lock:
            window = self._windows.get(endpoint)
            if window is None or window.reset <= now:
                return 0.0
            left = window.reset - now
            threshold = max(1, int(window.limit * self.low_water))
            if window.remaining <= 0:
                # Exhausted: every sender waits for the new window (not just the first one, or
                # the others would only collect 429s); past the reset, headers take over again.
                return left
            if window.remaining > threshold:
                window.remaining -= 1
                return 0.0
            # Running low: spread what is left evenly over the rest of the window.
            wait = left / (window.remaining + 1)
            window.remaining -= 1
            return wait


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now; it may be a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - now)
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds
