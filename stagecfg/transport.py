"""Sockets with a deadline per request, and answers read with a size cap.

httpx's timeouts bound each socket operation, not a request: a server that drips one byte per
second never trips a 30 s read timeout and holds the run for as long as it likes. Here every
connect, write and read of a request gets what is left of that request's deadline as its
timeout, so connect + send + headers + body together never take longer than the deadline. The
deadline is per thread, because a sync httpx request runs entirely in its caller's thread.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterator

import httpcore
import httpx

from stagecfg import strictjson

#: The largest answer read into memory; a bigger one is refused while it is being read.
MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLarge(Exception):
    """An answer exceeded :data:`MAX_BODY_BYTES`; reading stopped there."""

    status: int = 0


class _Deadline(threading.local):
    at: float | None = None


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float | None:
        at = self._deadline.at
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:
            raise error("the request took longer than its timeout")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None) -> float | None:
        at = self._deadline.at
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the request took longer than its timeout")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, self._left(timeout), local_address, socket_options
        )
        return _BoundedStream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._left(timeout), socket_options)
        return _BoundedStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport whose sockets honour :meth:`bounded`'s deadline."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._deadline = _Deadline()
        pool = self._pool
        # httpx builds the pool without a way to pass a network backend; wrap the one it made.
        if isinstance(pool, httpcore.ConnectionPool):
            pool._network_backend = _BoundedBackend(pool._network_backend, self._deadline)

    def bounded(self, seconds: float) -> _Bound:
        """``with transport.bounded(s):`` every socket operation inside ends within ``s``."""
        return _Bound(self._deadline, seconds)


class _Bound:
    def __init__(self, deadline: _Deadline, seconds: float) -> None:
        self._deadline = deadline
        self._seconds = seconds

    def __enter__(self) -> None:
        self._deadline.at = time.monotonic() + self._seconds

    def __exit__(self, *exc: object) -> None:
        self._deadline.at = None


def read_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body of a streamed ``response``, refusing more than ``limit`` bytes."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the answer is {int(declared)} bytes, more than the {limit} allowed")
    parts: list[bytes] = []
    size = 0
    chunks: Iterator[bytes] = response.iter_bytes()
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the answer is more than the {limit} bytes allowed")
        parts.append(chunk)
    return b"".join(parts)


def parse_json(raw: bytes) -> typing.Any:
    """Strict JSON: NaN, Infinity and numbers beyond a float's range are refused."""
    return strictjson.loads(raw)
