"""A small client for GitHub's REST API: bounded requests, checked answers, a masked token.

Nothing from the server is trusted: only 2xx is success, a redirect is an error naming where it
points (never followed: it would carry the token there), an answer is strict JSON of at most
:data:`MAX_ANSWER_BYTES`, and one attempt (connect, send, the whole answer) ends within
``timeout`` seconds (:class:`stagecfg.transport.DeadlineTransport`). The caller checks the shape.

Retries, all within ``GithubRetry.max_total`` seconds:

* a rate-limited answer (403 or 429 with ``Retry-After``, or with ``X-RateLimit-Remaining: 0``
  and ``X-RateLimit-Reset``) is retried after the wait it asks for, when that is at most
  ``GithubRetry.max_wait``; a longer one fails at once, saying when to try again;
* 5xx and transport errors are retried with backoff, except a request that must not run twice
  (a comment create) whose fate is unknown: :class:`GithubError` says ``ambiguous`` and the
  caller looks before sending again.

The token is registered as a secret (every output masks it) and is never put in a message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from stagecfg import __version__
from stagecfg.errors import StagecfgError, one_line
from stagecfg.pacing import reset_in, retry_after_seconds
from stagecfg.redact import MIN_SECRET_LENGTH, redact, register_secret
from stagecfg.transport import BodyTooLarge, DeadlineTransport, parse_json, read_capped

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"

#: 100 comments at GitHub's 65,536-character limit, JSON-escaped at worst, stay below this.
MAX_ANSWER_BYTES = 64 * 1024 * 1024

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class GithubError(StagecfgError):
    """A GitHub request failed; the message names the operation and what to do.

    ``status`` is the HTTP status (None: no answer); ``ambiguous`` says the request may have
    been carried out although it failed (a timeout after sending, a 5xx).
    """

    def __init__(self, message: str, *, status: int | None = None, ambiguous: bool = False):
        super().__init__(one_line(redact(message)))
        self.status = status
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class GithubRetry:
    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0
    #: seconds all attempts of one request may take, waits included (a secondary rate limit
    #: asks for a minute)
    max_total: float = 120.0
    #: the longest rate-limit wait stagecfg sits out; a later reset fails the request
    max_wait: float = 60.0


def check_token(token: str | None, what: str = "GITHUB_TOKEN") -> str:
    """The token, or a one-line error: missing, or too short to be masked in output safely."""
    if not token:
        raise GithubError(
            f"{what} is not set; give the job a token (`env: GITHUB_TOKEN: "
            "${{ github.token }}` and `permissions: pull-requests: write`)"
        )
    if len(token) < MIN_SECRET_LENGTH or not token.isprintable() or " " in token:
        raise GithubError(
            f"{what} does not look like a GitHub token ({len(token)} characters); GitHub's "
            f"tokens are printable, have no spaces and are far longer than {MIN_SECRET_LENGTH}"
        )
    return token


def check_api_url(url: str) -> str:
    """``url`` without a trailing slash, or an error: the token is only sent over HTTPS (plain
    HTTP to a loopback address, for tests), never with a user:password part."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("https", "http") or not parsed.host:
        raise GithubError(
            f"GITHUB_API_URL {one_line(url)[:200]!r} is not an http(s) URL; leave it unset "
            f"for {DEFAULT_API_URL}"
        )
    if parsed.userinfo:
        raise GithubError("GITHUB_API_URL holds a user:password part; the token is sent apart")
    if parsed.scheme == "http" and parsed.host not in _LOOPBACK:
        raise GithubError(
            f"GITHUB_API_URL uses plain http to {parsed.host}; the token is sent only over https"
        )
    return url.rstrip("/")


class GithubClient:
    """One pooled session to GitHub's REST API, authenticated with ``token``."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        retry: GithubRetry | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        register_secret(check_token(token))
        self.api_url = check_api_url(api_url)
        self.timeout = timeout
        self.retry = retry or GithubRetry()
        self.max_answer_bytes = max_answer_bytes
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self._rng = rng or random.Random()
        self._transport = DeadlineTransport(limits=httpx.Limits(max_connections=2))
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"stagecfg/{__version__}",
            },
            timeout=httpx.Timeout(timeout),
            transport=self._transport,
            # A redirect would carry the Authorization header to wherever it points.
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"GithubClient(api_url={self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GithubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        resend: bool = True,
        hint: Callable[[int], str] | None = None,
    ) -> tuple[Any, httpx.Headers]:
        """Send one request (with the retries above); the decoded JSON answer and its headers.

        ``operation`` names the request in errors ("create the plan comment on pull request
        #3"); ``resend=False`` marks a request that must not run twice; ``hint(status)`` adds
        what to do about a refusal the caller knows more about (a fork's read-only token).
        """
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                status, headers, raw = self._send(method, path, json_body, params)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, _NOT_SENT)
                reason = f"no answer ({type(exc).__name__}: {exc or 'no detail'})"
                if sent and not resend:
                    raise GithubError(
                        f"GitHub: {operation}: {reason}; it may or may not have been done",
                        ambiguous=True,
                    ) from None
                failure = _Failure(
                    None, reason, self._backoff(attempt), f"; check {self.api_url} is reachable"
                )
            except BodyTooLarge:
                raise GithubError(
                    f"GitHub: {operation}: the answer is larger than "
                    f"{self.max_answer_bytes // (1024 * 1024)} MiB; refused while reading"
                ) from None
            else:
                if 200 <= status < 300:
                    return _decode(raw, headers, operation, status), headers
                failure = self._failure(status, headers, raw, attempt, operation, hint, resend)
            waited = self._monotonic() - started
            if attempt >= self.retry.max_attempts or waited + failure.wait > self.retry.max_total:
                after = f" (after {attempt} attempts)" if attempt > 1 else ""
                raise GithubError(
                    f"GitHub: {operation}: {failure.reason}{after}{failure.advice}",
                    status=failure.status,
                )
            self._sleep(failure.wait)

    def _send(
        self,
        method: str,
        path: str,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str | int] | None,
    ) -> tuple[int, httpx.Headers, bytes]:
        request = self._client.build_request(method, path, json=json_body, params=params)
        with self._transport.bounded(self.timeout):
            response = self._client.send(request, stream=True)
            try:
                return (
                    response.status_code,
                    response.headers,
                    read_capped(response, self.max_answer_bytes),
                )
            finally:
                response.close()

    def _failure(
        self,
        status: int,
        headers: httpx.Headers,
        raw: bytes,
        attempt: int,
        operation: str,
        hint: Callable[[int], str] | None,
        resend: bool,
    ) -> _Failure:
        """A retryable failure (with its wait), or raise the one-line error for a final one."""
        message = _message_of(raw)
        if 300 <= status < 400:
            where = one_line(redact(headers.get("location", "")))[:200] or "nowhere"
            raise GithubError(
                f"GitHub: {operation}: HTTP {status}, a redirect to {where}; stagecfg does not "
                "follow redirects (they would carry the token); check GITHUB_API_URL and "
                "GITHUB_REPOSITORY (a renamed repository answers so)",
                status=status,
            )
        wait = self._rate_limit_wait(status, headers, message)
        if wait is not None:
            if wait > self.retry.max_wait:
                raise GithubError(
                    f"GitHub: {operation}: rate limited (HTTP {status}) for another "
                    f"{min(wait, 1e9):.0f} s, more than the {self.retry.max_wait:.0f} s stagecfg "
                    "waits; run the job again later",
                    status=status,
                )
            return _Failure(status, f"rate limited (HTTP {status})", wait)
        detail = f"HTTP {status}" + (f" ({message})" if message else "")
        if status >= 500:
            if not resend:
                raise GithubError(
                    f"GitHub: {operation}: {detail}; it may or may not have been done",
                    status=status,
                    ambiguous=True,
                )
            advice = "; see https://www.githubstatus.com and run the job again"
            return _Failure(status, detail, self._backoff(attempt), advice)
        extra = hint(status) if hint is not None else ""
        raise GithubError(
            f"GitHub: {operation}: {detail}; {extra or _advice(status, self.api_url)}",
            status=status,
        )

    def _rate_limit_wait(self, status: int, headers: httpx.Headers, message: str) -> float | None:
        """Seconds a rate-limited answer asks to wait, or None when it is not rate limiting."""
        if status not in (403, 429):
            return None
        now = self._wall()
        after = retry_after_seconds(headers.get("retry-after"), now)
        if after is not None:
            return after
        if headers.get("x-ratelimit-remaining") == "0":
            reset = reset_in(headers, now)
            if reset is not None:
                return reset
        if status == 429 or "rate limit" in message.lower():
            # GitHub's advice for a secondary rate limit without headers: wait a minute.
            return 60.0
        return None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)  # full jitter


@dataclass(frozen=True)
class _Failure:
    status: int | None
    reason: str
    wait: float
    advice: str = ""


def _decode(raw: bytes, headers: Mapping[str, str], operation: str, status: int) -> Any:
    if status == 204 or not raw:
        return None
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        kind = headers.get("content-type", "").split(";")[0].strip() or "no content type"
        raise GithubError(
            f"GitHub: {operation}: the answer is not JSON ({len(raw)} bytes of {kind}); check "
            "GITHUB_API_URL"
        ) from None


def _message_of(raw: bytes) -> str:
    """GitHub's ``message`` of an error answer, short and on one line; "" when unreadable."""
    try:
        body = parse_json(raw) if raw else {}
    except (ValueError, RecursionError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        return ""
    text = one_line(redact(message))
    return text if len(text) <= 200 else text[:200] + "..."


def _advice(status: int, api_url: str) -> str:
    if status == 401:
        return f"GITHUB_TOKEN is missing, expired or not valid for {api_url}"
    if status == 403:
        return (
            "the token may not do this: give the job `permissions: pull-requests: write` "
            "(workflows on pull requests from forks get a read-only token)"
        )
    if status == 404:
        return (
            "check GITHUB_REPOSITORY and the pull request number, and that the token can see "
            "the repository"
        )
    if status == 422:
        return "GitHub refused the request as invalid"
    return "see https://docs.github.com/rest for what it means"
