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
  window resets instead of running into 429s (:mod:`stagecfg.pacing`, clock-skew safe); a
  window that would keep us waiting longer than ``RetryPolicy.max_wait`` fails the request.
* Nothing from the server is trusted: only 2xx is success, a 3xx is an error naming where it
  points (never followed: it would carry the credentials there), a body must be a JSON object
  (no NaN or Infinity) of at most ``MAX_BODY_BYTES``, and one attempt (connect, send, full
  body) takes at most ``timeout`` seconds (:mod:`stagecfg.transport`).
* ``deadline`` bounds the whole run: once it has passed no request starts and no sleep begins.

Time and sleep are injected so tests never wait for real.
"""

from __future__ import annotations

import json
import random
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from stagecfg import __version__
from stagecfg.errors import BackendError, BackendFailure, one_line
from stagecfg.model import Json
from stagecfg.pacing import Pacer, reset_in, retry_after_seconds
from stagecfg.redact import redact, register_secret
from stagecfg.transport import BodyTooLarge, DeadlineTransport, parse_json, read_capped

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
    #: The longest the pacer waits for a rate-limit window; a later reset fails the request.
    max_wait: float = 60.0


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
        deadline: float | None = None,
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
        self.timeout = timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.pacer = Pacer(low_water=self.retry.low_water)
        #: ``--deadline``: seconds the whole run may take, and the instant they are over.
        self.deadline = deadline
        self._run_ends = None if deadline is None else monotonic() + deadline
        limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
        self._bounded = DeadlineTransport(limits=limits) if transport is None else None
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
            limits=limits,
            transport=transport or self._bounded,
            # A redirect would carry the Authorization header to wherever it points.
            follow_redirects=False,
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
        ``recover`` is called first, and if it returns a body (the request did land) that body
        is the result. ``gone_ok`` treats 404 on a repeated attempt as success (a delete whose
        first attempt did land). Only a 2xx answer holding a JSON object is a success.
        """
        endpoint = f"{method} {_route_of(path)}"
        content = None if json_body is None else _encode(json_body, target)
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            wait = self.pacer.delay(endpoint, self._wall())
            if wait > self.retry.max_wait:
                raise _error(target, _too_long(wait, self.retry.max_wait), attempt, self.base_url)
            if wait > 0:
                self._pause(wait, target)
            self._check_deadline(target)
            ambiguous = False
            try:
                status, answer_headers, raw = self._send(method, path, content, headers, params)
            except httpx.TransportError as exc:
                ambiguous = not isinstance(exc, _NOT_SENT)
                failure = BackendFailure(
                    status=None, message=f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
                )
            except BodyTooLarge as exc:
                failure = BackendFailure(status=exc.status, message=str(exc))
                raise _error(target, failure, attempt, self.base_url) from None
            else:
                self.pacer.observe(endpoint, answer_headers, self._wall())
                if 200 <= status < 300:
                    return _answer(raw, answer_headers, target, self.base_url)
                if 300 <= status < 400:
                    failure = _redirect(status, answer_headers)
                    raise _error(target, failure, attempt, self.base_url)
                if status == 404 and gone_ok and attempt > 1:
                    return {}
                failure = _failure_of(status, answer_headers, raw, self._wall())
                ambiguous = status >= 500
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
            self._pause(delay, target)

    def _send(
        self,
        method: str,
        path: str,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: status, headers and the capped body, all within ``timeout``."""
        budget = self.timeout
        if self._run_ends is not None:
            budget = min(budget, max(0.0, self._run_ends - self._monotonic()))
        request = self.client.build_request(
            method, path, content=content, headers=headers, params=params
        )
        if self._bounded is None:
            return _exchange(self.client, request)
        with self._bounded.bounded(budget):
            return _exchange(self.client, request)

    def _check_deadline(self, target: Target) -> None:
        if self._run_ends is not None and self._monotonic() >= self._run_ends:
            raise _deadline_error(target, self.deadline)

    def _pause(self, seconds: float, target: Target) -> None:
        """Sleep ``seconds``, unless that would cross the run's deadline (then fail now)."""
        if self._run_ends is not None and self._monotonic() + seconds >= self._run_ends:
            raise _deadline_error(target, self.deadline)
        self._sleep(seconds)

    def _backoff(self, attempt: int, failure: BackendFailure) -> float:
        if failure.retry_after is not None:
            return failure.retry_after
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        with self._rng_lock:
            return self._rng.uniform(0.0, ceiling)  # full jitter


def _exchange(client: httpx.Client, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
    response = client.send(request, stream=True)
    try:
        return response.status_code, response.headers, read_capped(response)
    except BodyTooLarge as exc:
        exc.status = response.status_code
        raise
    finally:
        response.close()


def _encode(body: Json, target: Target) -> bytes:
    try:
        return json.dumps(body, allow_nan=False).encode()
    except ValueError:
        raise BackendError(
            "the request holds NaN or Infinity, which JSON cannot carry; use a finite number "
            "or a string",
            operation=target.operation,
            kind=target.kind,
            name=target.name,
        ) from None


def _route_of(path: str) -> str:
    """Rate-limit windows are per endpoint: collapse call ids so all calls share one window."""
    parts = path.split("/")
    if len(parts) >= 7 and parts[:4] == ["", "api", "v2", "video"] and parts[4] == "call":
        parts[5:7] = ["{type}", "{id}"]
    elif len(parts) == 6 and parts[4] == "calltypes":
        parts[5] = "{name}"
    return "/".join(parts)


def _answer(raw: bytes, headers: Mapping[str, str], target: Target, base_url: str) -> Json:
    """A 2xx body as a JSON object, or a BackendError saying what came instead."""
    kind = headers.get("content-type", "").split(";")[0].strip() or "no content type"
    try:
        body = parse_json(raw)
    except (ValueError, RecursionError) as exc:
        detail = "an empty body" if not raw else f"{len(raw)} bytes of {kind} ({exc})"
        message = redact(f"the answer is not valid JSON: {detail}")
        raise _error(target, BackendFailure(status=200, message=message), 1, base_url) from None
    if not isinstance(body, dict):
        message = f"the answer is JSON {_kind_of(body)}, not an object"
        failure = BackendFailure(status=200, message=message)
        raise _error(target, failure, 1, base_url)
    return body


def _kind_of(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _lenient(raw: bytes) -> Json:
    """An error answer's body for its code and message; anything unreadable counts as empty."""
    try:
        body = parse_json(raw) if raw else {}
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _redirect(status: int, headers: Mapping[str, str]) -> BackendFailure:
    # The Location is the server's text: mask secrets, escape control characters, cut it short.
    location = one_line(redact(headers.get("location", ""))) or "nowhere"
    if len(location) > 200:
        location = location[:200] + "..."
    return BackendFailure(
        status=status,
        message=(
            f"the server answered HTTP {status}, a redirect to {location}; stagecfg does not "
            "follow redirects (they would carry the credentials elsewhere)"
        ),
    )


def _too_long(wait: float, cap: float) -> BackendFailure:
    return BackendFailure(
        status=429,
        message=(
            f"the server's rate limit asks to wait {min(wait, 1e9):.0f} s before the next "
            f"request, more than the {cap:.0f} s a run waits; try again later"
        ),
    )


def _deadline_error(target: Target, deadline: float | None) -> BackendError:
    return BackendError(
        f"the run's deadline of {deadline:g} s passed; no further request was started",
        operation=target.operation,
        kind=target.kind,
        name=target.name,
        hint="raise --deadline (STAGECFG_DEADLINE) or run again to finish",
    )


def _failure_of(status: int, headers: Mapping[str, str], raw: bytes, now: float) -> BackendFailure:
    body = _lenient(raw)
    code = body.get("code")
    message = body.get("message")
    retry_after = retry_after_seconds(headers.get("retry-after"), now)
    if retry_after is None and status == 429:
        retry_after = reset_in(headers, now)
    details = body.get("exception_fields")
    return BackendFailure(
        status=status,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=redact(str(message)) if message else f"HTTP {status}",
        unrecoverable=body.get("unrecoverable") is True,
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
    if failure.status is not None and 300 <= failure.status < 400:
        return "point STREAM_BASE_URL (--base-url) at the address that answers directly"
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
