"""Running the emulator on uvicorn: in the foreground (``stagecfg emulator``) or in a thread.

``run_in_thread`` is the Python API tests and the benchmark use: it binds 127.0.0.1 on a free
port, starts uvicorn in a daemon thread, waits until it accepts connections and returns a handle
with ``.url``, ``.stats()`` and ``.stop()``.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stagecfg.emulator.app import (
    DEFAULT_MAX_BODY_BYTES,
    HEADER_TIMEOUT_SECONDS,
    MAX_HEADER_BYTES,
    Emulator,
    EmulatorSettings,
    Faults,
    build_app,
)
from stagecfg.emulator.history import MAX_REQUESTS
from stagecfg.emulator.webhooks import WebhookSettings
from stagecfg.errors import ConfigError, UsageError
from stagecfg.redact import register_secret

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
)


class _HeadersTooLarge(Exception):
    """Raised from a parser callback; uvicorn turns it into an answer through send_400."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on header bytes and a header-read deadline.

    httptools (llhttp) has no header-size limit of its own and uvicorn only times out idle
    kept-alive connections, so without these a client could send headers without end or hold
    a connection open by never finishing them.
    """

    max_header_bytes = MAX_HEADER_BYTES
    header_timeout = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: Any) -> None:
        self._header_bytes = 0
        self._too_large = False
        self._header_timer: Any = None
        super().connection_made(transport)
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._arm_header_timer()  # the first bytes of a new request start its deadline
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        body = (
            b'{"code":4,"message":"request headers over %d bytes","StatusCode":431}'
            % self.max_header_bytes
        )
        self.transport.write(_TOO_LARGE % (len(body), body))
        self.transport.close()


def _protocol(max_header_bytes: int, header_timeout: float) -> type[BoundedHttpProtocol]:
    """The protocol class with this emulator's limits (uvicorn takes a class, not an object)."""
    return type(
        "EmulatorHttpProtocol",
        (BoundedHttpProtocol,),
        {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout},
    )


def check_host(host: str, *, allow_remote: bool = False) -> None:
    """Refuse to listen beyond loopback unless explicitly asked: the emulator has no real auth."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"refusing to listen on {host}: the emulator is for local use; "
            "use --host 127.0.0.1, or pass --allow-remote if you really mean it"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then, and without
    # it Nagle's algorithm plus delayed ACKs add ~40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def open_engine(
    sandbox_path: str | os.PathLike[str], clock: Callable[[], datetime] | None = None
) -> Any:
    """The sandbox Engine on ``sandbox_path`` (created with built-in call types if new)."""
    from stagecfg.sandbox.engine import Engine

    return Engine(sandbox_path, clock=clock)


def make_server(
    sandbox_path: str | os.PathLike[str],
    settings: EmulatorSettings,
    *,
    log_level: str = "warning",
    clock: Callable[[], datetime] | None = None,
) -> tuple[uvicorn.Server, Emulator]:
    register_secret(settings.api_secret)
    engine = open_engine(sandbox_path, clock)
    app = build_app(engine, settings)
    emulator: Emulator = app.state.emulator
    emulator.start_webhooks()
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=30,
        http=_protocol(settings.max_header_bytes, settings.header_timeout_seconds),
    )
    return uvicorn.Server(config), emulator


def _close(engine: Any) -> None:
    close = getattr(engine, "close", None)
    if callable(close):
        close()


def _shut(emulator: Emulator) -> None:
    """Stop webhook delivery (it reads the engine's log), then close the engine."""
    emulator.stop_webhooks()
    _close(emulator.engine)


def serve(sock: socket.socket, sandbox_path: str, settings: EmulatorSettings) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM, then shut down cleanly and return."""
    server, emulator = make_server(sandbox_path, settings)
    stopped: list[int] = []

    def remember(sig: int, frame: FrameType | None) -> None:
        stopped.append(sig)

    # uvicorn replaces these while serving and re-raises the signal afterwards; with these
    # handlers in place that re-raise is a no-op, so the command returns normally.
    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _shut(emulator)


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, credentials and a way to stop it."""

    url: str
    sandbox_path: str
    api_key: str
    api_secret: str
    server: uvicorn.Server
    thread: threading.Thread
    emulator: Emulator
    settings: EmulatorSettings = field(repr=False)

    def __repr__(self) -> str:
        return f"EmulatorHandle(url={self.url!r}, api_key={self.api_key!r})"

    def stats(self) -> dict[str, Any]:
        """Request counts by operation id and method, as ``GET /_emulator/stats`` reports."""
        return self.emulator.stats_body()

    def reset_stats(self) -> None:
        self.emulator.reset_stats()

    def recorded(self) -> list[dict[str, Any]]:
        """Request bodies received so far (only with ``record_bodies=True``)."""
        return self.emulator.recorded_bodies()

    def events(self, **filters: Any) -> dict[str, Any]:
        """The event log, as ``GET /_emulator/events`` answers (``types``, ``call_cid``,
        ``since``, ``limit``), without the webhook counts."""
        found: dict[str, Any] = self.emulator.engine.query_events(**filters)
        return found

    def webhook_stats(self) -> dict[str, Any] | None:
        """Webhook delivery counts (None without a webhook URL)."""
        return self.emulator.webhook_stats()

    def requests(self) -> dict[str, Any]:
        """The request log, as ``GET /_emulator/requests`` answers it (unfiltered)."""
        return self.emulator.history.body()

    def reset_requests(self) -> None:
        self.emulator.history.reset()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        _shut(self.emulator)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(
    sandbox_path: str | os.PathLike[str],
    *,
    api_key: str = DEFAULT_API_KEY,
    api_secret: str = DEFAULT_API_SECRET,
    port: int = 0,
    host: str = "127.0.0.1",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_header_bytes: int = MAX_HEADER_BYTES,
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS,
    record_bodies: bool = False,
    request_history: int = MAX_REQUESTS,
    clock: Callable[[], datetime] | None = None,
    webhook: WebhookSettings | None = None,
    **faults: Any,
) -> EmulatorHandle:
    """Start an emulator in a daemon thread and return once it accepts connections.

    ``faults`` are :class:`~stagecfg.emulator.app.Faults` fields: ``latency_ms``,
    ``latency_jitter_ms``, ``error_rate``, ``throttle_rate``, ``retry_after``, ``rate_limit``,
    ``seed``. ``clock`` replaces the engine's wall clock, so tests can join calls at chosen
    instants (backstage windows depend on the time). ``webhook`` delivers the event log to a
    receiver (see :mod:`stagecfg.emulator.webhooks`).
    """
    check_host(host)
    settings = EmulatorSettings(
        api_key=api_key,
        api_secret=api_secret,
        max_body_bytes=max_body_bytes,
        max_header_bytes=max_header_bytes,
        header_timeout_seconds=header_timeout_seconds,
        record_bodies=record_bodies,
        request_history=request_history,
        faults=Faults(**faults),
        webhook=webhook,
    )
    sock = bind(host, port)
    server, emulator = make_server(sandbox_path, settings, clock=clock)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="stagecfg-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            _shut(emulator)
            raise ConfigError("the emulator did not start")
        time.sleep(0.005)
    return EmulatorHandle(
        url=url_of(sock),
        sandbox_path=os.fspath(sandbox_path),
        api_key=api_key,
        api_secret=api_secret,
        server=server,
        thread=thread,
        emulator=emulator,
        settings=settings,
    )
