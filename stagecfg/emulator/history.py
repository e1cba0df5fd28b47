"""The log of requests the emulator served, behind ``GET /_emulator/requests``.

A test (or the ``stream_emulator`` pytest fixture) reads it to assert what its app sent: method,
path, operation id, query, JSON body, status and time of each request, oldest first. It is
bounded twice, so a long run cannot grow it without end: the last :data:`MAX_REQUESTS` requests,
and at most :data:`MAX_BYTES` of bodies and query strings (older entries go first; ``dropped``
counts them). Headers are never kept, so the ``Authorization`` token never enters it, and every
string is masked with the project's redact rules when the log is read (a token or the API secret
pasted into a body or query comes out as ``***``).

Recording costs one small object per request on the serving path: bytes are kept as received
and parsed only when someone reads the log.
"""

from __future__ import annotations

import difflib
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from stagecfg import redact, strictjson, timestamps
from stagecfg.model import Json
from stagecfg.sandbox.apierror import CODE_INPUT, StreamAPIError, failed_message

#: Requests kept: the most recent ones.
MAX_REQUESTS = 1000
#: Bytes of bodies and query strings kept, across all entries.
MAX_BYTES = 32 * 1024 * 1024

#: The operation id of the route (for errors about its own query).
OPERATION = "EmulatorRequests"


@dataclass(frozen=True, slots=True)
class Served:
    """One request as it arrived (bytes, not yet parsed) and the status it was answered with."""

    seq: int
    time_ns: int
    method: str
    path: str
    operation: str | None  # None: no endpoint of the route table (answered 404 / 405)
    query: bytes
    body: bytes
    status: int

    @property
    def size(self) -> int:
        return len(self.body) + len(self.query)

    def to_json(self) -> Json:
        query = urllib.parse.parse_qsl(
            self.query.decode("utf-8", "replace"), keep_blank_values=True
        )
        return {
            "seq": self.seq,
            "time": timestamps.normalize(self.time_ns),
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "query": dict(query),
            "body": _body(self.body),
            "status": self.status,
        }


def _body(raw: bytes) -> Json | None:
    """The JSON a request carried, or None (no body, or none that parses)."""
    if not raw.strip():
        return None
    try:
        parsed: Json = strictjson.loads(raw)
    except (ValueError, RecursionError):
        return None
    return parsed


@dataclass(frozen=True)
class Filters:
    """What ``GET /_emulator/requests`` was asked for: operation ids and a starting point."""

    operations: frozenset[str] = frozenset()
    since_seq: int | None = None  # only requests after this sequence number
    since_ns: int | None = None  # only requests at or after this instant

    def keeps(self, entry: Served) -> bool:
        if self.operations and entry.operation not in self.operations:
            return False
        if self.since_seq is not None and entry.seq <= self.since_seq:
            return False
        return self.since_ns is None or entry.time_ns >= self.since_ns


def parse_filters(query: Mapping[str, Sequence[str]], known: Collection[str]) -> Filters:
    """The filters of a ``GET /_emulator/requests`` query; Stream's 400 code 4 for a bad one.

    ``operation`` (repeatable) must be an operation id the emulator serves, so a typo is an
    error with a suggestion rather than a silently empty list. ``since`` is a sequence number
    (only later requests) or an RFC 3339 instant (requests at or after it).
    """
    unknown = sorted(set(query) - {"operation", "since", "api_key"})
    if unknown:
        raise _bad(f"unknown parameter {unknown[0]!r}; use operation and since")
    operations = frozenset(query.get("operation", ()))
    for name in sorted(operations - set(known)):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise _bad(f"operation {name!r} is not an operation the emulator serves{hint}")
    since = list(query.get("since", ()))
    if len(since) > 1:
        raise _bad("give since once")
    if not since:
        return Filters(operations)
    text = since[0].strip()
    if text.isdigit() and len(text) <= 18:
        return Filters(operations, since_seq=int(text))
    if timestamps.is_rfc3339(text):
        try:
            return Filters(operations, since_ns=timestamps.to_nanos(text))
        except (ValueError, OverflowError):
            pass
    raise _bad(
        f"since {text[:40]!r} is neither a sequence number nor an RFC 3339 time such as "
        "2030-01-01T12:00:00Z"
    )


def _bad(detail: str) -> StreamAPIError:
    return StreamAPIError(400, CODE_INPUT, failed_message(OPERATION, detail))


class RequestHistory:
    """The last requests served, bounded by count and bytes; safe across threads."""

    def __init__(self, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        # Appended on the event loop, read by tests from their own thread.
        self._lock = threading.Lock()
        self._entries: deque[Served] = deque()
        self._bytes = 0
        self._seq = 0
        self._dropped = 0

    def add(
        self,
        method: str,
        path: str,
        operation: str | None,
        query: bytes,
        body: bytes,
        status: int,
    ) -> None:
        if self.max_requests <= 0:
            return
        if len(body) + len(query) > self.max_bytes:
            body = b""  # one request larger than the whole budget keeps its line, not its body
        with self._lock:
            self._seq += 1
            entry = Served(self._seq, time.time_ns(), method, path, operation, query, body, status)
            self._entries.append(entry)
            self._bytes += entry.size
            while len(self._entries) > self.max_requests or self._bytes > self.max_bytes:
                self._bytes -= self._entries.popleft().size
                self._dropped += 1

    def body(self, filters: Filters | None = None) -> Json:
        """What ``GET /_emulator/requests`` answers: the kept requests (masked), oldest first."""
        with self._lock:
            entries = list(self._entries)
            last, dropped = self._seq, self._dropped
        chosen = [e.to_json() for e in entries if filters is None or filters.keeps(e)]
        return {
            "requests": redact.mask_strings(chosen),
            "last_seq": last,
            "dropped": dropped,
            "max_requests": self.max_requests,
        }

    def reset(self) -> None:
        """Forget every request; sequence numbers go on from where they were."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._dropped = 0
