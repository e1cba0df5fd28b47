"""A webhook receiver on 127.0.0.1 for tests: a real HTTP server on a free port.

    from webhook_receiver import receivers  # noqa: F401   (the fixture)

    hook = receivers(secret, fail_first=2)     # answers 503 to the first two attempts
    hook.url                                   # where to point --webhook-url
    hook.wait_for(lambda r: len(r.delivered) == 3)
    hook.attempts                              # every request, in arrival order

Each request's ``X-Signature`` is checked with Stream's own SDK
(``getstream.webhook.verify_webhook_signature``) against the secret the receiver was given; a
request with a wrong signature is answered 401 and recorded as such. ``hang_first=N`` holds the
first N requests unanswered until :meth:`Receiver.release` (or the receiver stops), as a receiver
that never answers would; ``status`` answers every other request with it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from getstream.webhook import verify_webhook_signature

#: The longest a test waits for deliveries, and a hung request for its release.
WAIT_SECONDS = 30.0


@dataclass
class Attempt:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    signed: bool  # the signature verified with the receiver's secret
    status: int  # what the receiver answered (0: it never answered, it was hung)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0
    fail_status: int = 503
    hang_first: int = 0
    status: int = 200
    attempts: list[Attempt] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Event bodies answered 2xx, in the order they arrived."""
        with self._lock:
            return [a.event for a in self.attempts if 200 <= a.status < 300]

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def release(self) -> None:
        self._released.set()

    def wait_for(self, predicate: Callable[[Receiver], bool], what: str = "deliveries") -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not predicate(self):
            assert time.monotonic() < deadline, f"gave up waiting for {what}: {self.snapshot()}"
            time.sleep(0.01)

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        signed = verify_webhook_signature(body, headers.get("x-signature", ""), self.secret)
        attempt = Attempt(headers, body, signed, 0)
        with self._lock:
            self.attempts.append(attempt)
            number = len(self.attempts)
        if number <= self.hang_first:
            self._released.wait(WAIT_SECONDS)
            return 0
        status = self.status
        if not signed:
            status = 401
        elif number <= self.hang_first + self.fail_first:
            status = self.fail_status
        with self._lock:
            attempt.status = status
        return status

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(headers, body)
                if status == 0:
                    return  # hung: the client timed out long ago; drop the connection
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/stream-webhook"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


MakeReceiver = Callable[..., Receiver]


@pytest.fixture
def receivers() -> Iterator[MakeReceiver]:
    started: list[Receiver] = []

    def make(secret: str, **options: Any) -> Receiver:
        receiver = Receiver(secret, **options).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()
