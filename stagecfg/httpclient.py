"""The HTTP session to Stream's REST API: auth, retries, rate-limit pacing and timeouts.

Backends describe *what* to send; this module decides *how often* and *when*. The retry policy
lives here so that every backend call gets the same treatment:

* 429, 5xx and transport errors are retried with exponential backoff and full jitter, capped in
  attempts and in total time; ``Retry-After`` (seconds or an HTTP date) and ``X-RateLimit-Reset``
  win over the computed backoff.
* An APIError with ``"unrecoverable": true`` is never retried.
* A request that is not idempotent (a create) and failed in a way that leaves it unknown whether
  the server ran it (timeout while reading, connection dropped, 5xx) is *re-read* through a
  caller-supplied ``recover`` function before it is sent again, so it never runs twice.
* When ``X-RateLimit-Remaining`` runs low, requests to that endpoint are spread out until the
  window resets instead of running into 429s.

Time and sleep are injected so tests never wait for real.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from stagecfg import __version__
from stagecfg.errors import BackendError, BackendFailure
from stagecfg.redact import redact, register_secret

Json = dict[str, Any]

# Stream issues app secrets of its own choosing; their length is not ours to judge per request.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

DEFAULT_BASE_URL = "https://chat.stream-io-api.com"
CLIENT_HEADER = f"stagecfg-{__version__}"

#: Transport errors raised before a single byte of the request can have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts in total (first try included) and seconds overall."""

    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 10.0
    max_total: float = 60.0
    #: Below this fraction of the window's quota, requests to that endpoint are spread out.
    low_water: float = 0.05


@dataclass
class _Window:
    limit: int
    remaining: int
    reset: float  # Unix seconds


@dataclass
class Pacer:
    """Remembers each endpoint's rate-limit window and says how long to wait before sending."""

    low_water: float = 0.05
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Record a response's ``X-RateLimit-*`` headers (all three or none, like the SDKs)."""
        try:
            limit = int(headers["x-ratelimit-limit"].split(",")[0])
            remaining = int(headers["x-ratelimit-remaining"].split(",")[0])
            reset = float(headers["x-ratelimit-reset"].split(",")[0])
        except (KeyError, ValueError):
            return
        with self._lock:
            self._windows[endpoint] = _Window(limit, remaining, reset)

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
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - now)
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds


def server_token(api_secret: str) -> str:
    """A server-side JWT: HS256 over ``{"server": true}``, no expiry, as Stream's SDKs sign it."""
    return jwt.encode({"server": True}, api_secret, algorithm="HS256")


@dataclass(frozen=True)
class Target:
    """What a request is about, for error messages: ``create call_type livestream``."""

    operation: str
    kind: str = ""
    name: str = ""


class ApiSession:
    """One pooled, thread-safe HTTP session to a Stream app, authenticated as the server."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        register_secret(api_secret)
        token = server_token(api_secret)
        register_secret(token)
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.pacer = Pacer(low_water=self.retry.low_water)
        self.client = httpx.Client(
            base_url=self.base_url,
            params={"api_key": api_key},
            headers={
                "Authorization": token,
                "stream-auth-type": "jwt",
                "X-Stream-Client": CLIENT_HEADER,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ApiSession(api_key={self.api_key!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self.client.close()

    # --- the one request loop -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        target: Target,
        *,
        json_body: Json | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
        recover: Callable[[], Json | None] | None = None,
        gone_ok: bool = False,
    ) -> Json:
        """Send one API request with retries and return the decoded JSON body.

        ``idempotent=False`` marks a request that must not run twice: after an ambiguous failure
        ``recover`` is called first, and if it returns a body (the object exists now) that body
        is the result. ``gone_ok`` treats 404 on a repeated attempt as success (a delete whose
        first attempt did land).
        """
        endpoint = f"{method} {_route_of(path)}"
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            wait = self.pacer.delay(endpoint, self._wall())
            if wait > 0:
                self._sleep(wait)
            content = None if json_body is None else json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json"} if content is not None else None
            ambiguous = False
            try:
                response = self.client.request(
                    method, path, content=content, headers=headers, params=params
                )
            except httpx.TransportError as exc:
                ambiguous = not isinstance(exc, _NOT_SENT)
                failure = BackendFailure(
                    status=None, message=f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
                )
            else:
                self.pacer.observe(endpoint, response.headers)
                if response.status_code < 400:
                    return _decode(response)
                if response.status_code == 404 and gone_ok and attempt > 1:
                    return {}
                failure = _failure_of(response, self._wall())
                ambiguous = response.status_code >= 500
            if not failure.retryable:
                raise _error(target, failure, attempt, self.base_url)
            if ambiguous and not idempotent and recover is not None:
                # The first attempt may have landed: look before sending it again (or giving up).
                found = recover()
                if found is not None:
                    return found
            if attempt >= self.retry.max_attempts:
                raise _error(target, failure, attempt, self.base_url)
            delay = self._backoff(attempt, failure)
            if self._monotonic() - started + delay > self.retry.max_total:
                raise _error(target, failure, attempt, self.base_url)
            self._sleep(delay)

    def _backoff(self, attempt: int, failure: BackendFailure) -> float:
        if failure.retry_after is not None:
            return failure.retry_after
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        with self._rng_lock:
            return self._rng.uniform(0.0, ceiling)  # full jitter


def _route_of(path: str) -> str:
    """Rate-limit windows are per endpoint: collapse call ids so all calls share one window."""
    parts = path.split("/")
    if len(parts) >= 7 and parts[:4] == ["", "api", "v2", "video"] and parts[4] == "call":
        parts[5:7] = ["{type}", "{id}"]
    elif len(parts) == 6 and parts[4] == "calltypes":
        parts[5] = "{name}"
    return "/".join(parts)


def _decode(response: httpx.Response) -> Json:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"value": body}


def _failure_of(response: httpx.Response, now: float) -> BackendFailure:
    body = _decode(response)
    code = body.get("code")
    message = body.get("message")
    retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    if retry_after is None and response.status_code == 429:
        reset = response.headers.get("x-ratelimit-reset")
        try:
            retry_after = max(0.0, float(reset.split(",")[0]) - now) if reset else None
        except ValueError:
            retry_after = None
    details = body.get("exception_fields")
    return BackendFailure(
        status=response.status_code,
        code=code if isinstance(code, int) else None,
        message=redact(str(message)) if message else f"HTTP {response.status_code}",
        unrecoverable=bool(body.get("unrecoverable")),
        retry_after=retry_after,
        details={str(k): str(v) for k, v in details.items()} if isinstance(details, dict) else {},
    )


def _hint(failure: BackendFailure, base_url: str) -> str:
    """What the user can do about a failure that is theirs to fix, or nothing."""
    if failure.status == 401:
        return (
            "check that STREAM_API_KEY and STREAM_API_SECRET (or --api-key, --api-secret) "
            f"belong to the app at {base_url}"
        )
    if failure.status is None:
        return f"check that {base_url} is the right base URL (STREAM_BASE_URL) and reachable"
    if failure.status == 429:
        return "the app's rate limit is exhausted; try again later or lower --parallelism"
    return ""


def _error(target: Target, failure: BackendFailure, attempts: int, base_url: str) -> BackendError:
    message = failure.message
    if attempts > 1:
        message += f" (after {attempts} attempts)"
    return BackendError(
        message,
        operation=target.operation,
        kind=target.kind,
        name=target.name,
        failure=failure,
        hint=_hint(failure, base_url),
    )
