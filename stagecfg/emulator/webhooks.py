"""Webhook delivery (``stagecfg emulator --webhook-url URL``): each logged event, POSTed as
Stream posts it.

Stream's webhook requests (getstream.io/video/docs/api/webhooks/overview) carry the event's JSON
as the body and these headers: ``X-Webhook-Id`` (one id per event, the same on every retry, to
deduplicate), ``X-Webhook-Attempt`` (1, 2, ...), ``X-Api-Key`` (the app's key) and
``X-Signature``, the hex HMAC-SHA256 of the raw body keyed with the API secret (what
``getstream.webhook.verify_webhook_signature`` checks). Stream retries, by what went wrong: an
answer 408, 429 or 5xx up to 3 attempts, a timeout up to 3, a network error up to 2; an attempt
may take 6 s and an event with its retries 15 s. Any other answer outside 2xx is the receiver's
refusal and is not retried. The emulator does the same, and waits 0.5 s before the second
attempt and 1 s before the third (Stream does not document its backoff).

One background thread, the :class:`WebhookSender`, delivers the events in the order of the log,
one at a time (an event and its retries finish before the next starts), so a receiver sees them
in order. Request handling never waits for it: a served request only wakes it. Its queue is the
event log itself (:mod:`stagecfg.sandbox.events`), read one event at a time after the last one
delivered, from the newest event when the emulator starts; the log keeps the newest 10,000, so a
receiver that falls that far behind misses the oldest: they are skipped, counted as ``dropped``
and reported. Every wait is bounded (the attempt's timeout, the backoff, a poll of the log each
second for events other processes wrote to the same file), and on shutdown the sender has 5 s to
deliver what is waiting, without starting retries past that, then stops.

Failures are reported on stderr (the ``stagecfg.emulator.webhooks`` logger), never with the
secret or the signature. The URL must be http(s) on a loopback address unless ``--allow-remote``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from stagecfg import __version__
from stagecfg.emulator.wire import dump
from stagecfg.errors import UsageError
from stagecfg.model import Json
from stagecfg.redact import redact
from stagecfg.transport import BodyTooLarge, DeadlineTransport, read_capped

logger = logging.getLogger("stagecfg.emulator.webhooks")

#: Attempts Stream makes per event, by what went wrong.
ATTEMPTS_ON_STATUS = 3  # 408, 429, 5xx
ATTEMPTS_ON_TIMEOUT = 3
ATTEMPTS_ON_NETWORK = 2
RETRIED_STATUSES = frozenset({408, 429})
#: Answers read at most (the status decides; the body is only drained).
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebhookSettings:
    """Where and how events are delivered. The defaults are Stream's (see the module)."""

    url: str
    timeout_seconds: float = 6.0  # one attempt: connect, send, answer
    budget_seconds: float = 15.0  # one event with all its attempts
    backoff_seconds: float = 0.5  # before the second attempt; doubled before each next one
    poll_seconds: float = 1.0  # how often the log is read without being woken
    drain_seconds: float = 5.0  # on shutdown, for the events still waiting


def check_url(url: str, *, allow_remote: bool = False) -> str:
    """``url`` if it may receive webhooks: http(s), a host, no credentials in it, and a
    loopback host unless ``allow_remote``; else a UsageError saying what to change."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--webhook-url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--webhook-url {url!r} must be an http:// or https:// URL with a host, "
            "e.g. http://127.0.0.1:9000/stream-webhook"
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError("--webhook-url must not carry a user or password; remove the user@ part")
    if port == 0:
        raise UsageError(f"--webhook-url {url!r} names port 0; give the receiver's port")
    if not allow_remote and not _is_loopback(parts.hostname):
        raise UsageError(
            f"refusing to send webhooks to {parts.hostname}: the emulator is for local use; "
            "use a receiver on 127.0.0.1 or localhost, or pass --allow-remote if you really "
            "mean it"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def signature(body: bytes, secret: str) -> str:
    """Stream's ``X-Signature``: hex HMAC-SHA256 of the raw body, keyed with the API secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Outcome:
    """One attempt: delivered, or what went wrong and how many attempts that allows."""

    ok: bool
    problem: str = ""
    attempts: int = 1


class WebhookSender:
    """The background thread that delivers the event log to one URL (see the module)."""

    def __init__(
        self,
        settings: WebhookSettings,
        read_after: Callable[[int], Json],
        *,
        api_key: str,
        api_secret: str,
    ) -> None:
        """``read_after(id)`` answers as ``Engine.query_events(since=id, limit=1)``."""
        self.settings = settings
        self._read_after = read_after
        self._api_key = api_key
        self._secret = api_secret
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._cursor = 0
        self._newest = 0
        self._counts = {"delivered": 0, "failed": 0, "dropped": 0, "attempts": 0}
        self._thread: threading.Thread | None = None
        self._transport = DeadlineTransport(limits=httpx.Limits(max_connections=1))
        self._client = httpx.Client(
            transport=self._transport,
            follow_redirects=False,
            timeout=settings.timeout_seconds,
            headers={"User-Agent": f"stagecfg-emulator/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.settings.url!r})"

    # --- control, from the emulator's threads ---------------------------------------------------

    def start(self) -> None:
        """Deliver events logged from now on."""
        self._cursor = self._newest = int(self._read_after(0)["last_id"])
        self._thread = threading.Thread(
            target=self._run, name="stagecfg-emulator-webhooks", daemon=True
        )
        self._thread.start()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """A request was served: there may be new events (never blocks)."""
        self._wake.set()

    def stop(self) -> None:
        """Deliver what waits for up to ``drain_seconds``, then stop; bounded."""
        self._deadline = time.monotonic() + self.settings.drain_seconds
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.drain_seconds + self.settings.timeout_seconds + 1)
        self._client.close()
        left = self._newest - self._cursor
        if left > 0:
            logger.warning("webhook: stopped with %d event(s) not delivered", left)

    def stats(self) -> Json:
        """Counts so far: ``delivered``, ``failed`` (gave up or refused), ``dropped`` (left the
        log before their turn), ``attempts`` (requests sent) and ``pending`` (logged events not
        yet handled, as far as the sender has read)."""
        with self._lock:
            return {
                "url": self.settings.url,
                **self._counts,
                "pending": max(0, self._newest - self._cursor),
            }

    # --- the sender's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.clear()
            if self._stopping.is_set() and time.monotonic() >= self._deadline:
                return
            try:
                entry = self._next()
            except Exception as exc:  # the file went away under us: say so, keep polling
                logger.warning("webhook: cannot read the event log: %s", redact(str(exc)))
                entry = None
            if entry is None:
                if self._stopping.is_set():
                    return
                self._wake.wait(self.settings.poll_seconds)
                continue
            self._deliver(entry)
            with self._lock:
                self._cursor = int(entry["id"])

    def _next(self) -> Json | None:
        """The first logged event after the last one handled, counting any it skipped."""
        page = self._read_after(self._cursor)
        events = page["events"]
        with self._lock:
            self._newest = max(self._newest, int(page["last_id"]))
            if not events:
                return None
            entry: Json = events[0]
            skipped = int(entry["id"]) - self._cursor - 1
            if skipped > 0:
                self._counts["dropped"] += skipped
        if skipped > 0:
            logger.warning(
                "webhook: %d event(s) after event %d left the log before they were delivered"
                " (it keeps the newest; a reset empties it)",
                skipped,
                self._cursor,
            )
        return entry

    def _deliver(self, entry: Json) -> None:
        body = dump(entry["event"])
        what = f"event {entry['id']} ({entry['event'].get('type')})"
        webhook_id = str(uuid.uuid4())
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            left = self.settings.budget_seconds - (time.monotonic() - started)
            if self._stopping.is_set():
                left = min(left, self._deadline - time.monotonic())
            outcome = self._attempt(body, webhook_id, attempt, max(0.01, left))
            if outcome.ok:
                self._count("delivered")
                return
            wait = self.settings.backoff_seconds * 2 ** (attempt - 1)
            spent = time.monotonic() - started
            out_of_time = spent + wait >= self.settings.budget_seconds
            if self._stopping.is_set():
                out_of_time = out_of_time or time.monotonic() + wait >= self._deadline
            if attempt >= outcome.attempts or out_of_time:
                self._count("failed")
                tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
                logger.warning(
                    "webhook: %s not delivered to %s after %s: %s",
                    what,
                    redact(self.settings.url),
                    tries,
                    outcome.problem,
                )
                return
            self._stopping.wait(wait)

    def _attempt(self, body: bytes, webhook_id: str, attempt: int, left: float) -> _Outcome:
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Id": webhook_id,
            "X-Webhook-Attempt": str(attempt),
            "X-Api-Key": self._api_key,
            "X-Signature": signature(body, self._secret),
        }
        self._count("attempts")
        seconds = min(self.settings.timeout_seconds, left)
        try:
            with (
                self._transport.bounded(seconds),
                self._client.stream(
                    "POST", self.settings.url, content=body, headers=headers, timeout=seconds
                ) as response,
            ):
                status = response.status_code
                # The status is the answer; the rest of a long body is not read.
                with contextlib.suppress(BodyTooLarge):
                    read_capped(response, MAX_ANSWER_BYTES)
        except httpx.TimeoutException:
            return _Outcome(False, f"no answer within {seconds:g} s", ATTEMPTS_ON_TIMEOUT)
        except (httpx.TransportError, OSError) as exc:
            return _Outcome(False, f"cannot connect ({type(exc).__name__})", ATTEMPTS_ON_NETWORK)
        if 200 <= status < 300:
            return _Outcome(True)
        if status in RETRIED_STATUSES or status >= 500:
            return _Outcome(False, f"HTTP {status}", ATTEMPTS_ON_STATUS)
        return _Outcome(False, f"HTTP {status} (a refusal: not retried)", 1)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
