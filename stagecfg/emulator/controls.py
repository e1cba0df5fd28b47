"""Test-only controls: request counts, recorded bodies and the ``/_emulator/...`` routes.

Real Stream has none of this. Tests and the benchmark use it to assert how many requests a
command made (``GET /_emulator/stats``), to start counting afresh (``POST
/_emulator/stats/reset``), to see what was sent (``GET /_emulator/requests``, the
:mod:`~stagecfg.emulator.history`; ``POST /_emulator/requests/reset`` empties it) and to wait
for startup (``GET /_emulator/health``). They are neither counted nor logged, so looking never
changes what is seen. All but ``health`` need the API key and a
server-side token like Stream's endpoints (what they show or reset is the app's traffic);
``health`` answers anyone, as a startup probe that reveals nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stagecfg.emulator.history import RequestHistory, parse_filters
from stagecfg.emulator.wire import json_response
from stagecfg.model import Json
from stagecfg.sandbox.apierror import CODE_INPUT, StreamAPIError, failed_message

#: ``guard(request, name)`` raises a StreamAPIError unless the request carries server credentials.
Guard = Callable[[Request, str], object]
Handler = Callable[[Request], Awaitable[Response]]

#: Recorded bodies kept at most, so a long run with ``record_bodies`` cannot grow without end.
RECORD_LIMIT = 10_000


class RequestLog:
    """Requests counted by operation id and method, and (when asked) their bodies."""

    def __init__(self) -> None:
        # Written on the event loop, read by tests from their own thread (EmulatorHandle.stats).
        self._lock = threading.Lock()
        self.stats: dict[str, dict[str, int]] = {}
        self.total = 0
        self.recorded: list[Json] = []

    def count(self, operation: str, method: str) -> None:
        with self._lock:
            per_method = self.stats.setdefault(operation, {})
            per_method[method] = per_method.get(method, 0) + 1
            self.total += 1

    def record(self, operation: str, method: str, body: Json | None) -> None:
        with self._lock:
            if len(self.recorded) < RECORD_LIMIT:
                self.recorded.append({"operation": operation, "method": method, "body": body})

    def stats_body(self) -> Json:
        with self._lock:
            requests = {op: dict(sorted(m.items())) for op, m in sorted(self.stats.items())}
            return {"requests": requests, "total": self.total}

    def recorded_bodies(self) -> list[Json]:
        with self._lock:
            return list(self.recorded)

    def reset(self) -> None:
        with self._lock:
            self.stats.clear()
            self.total = 0
            self.recorded.clear()


def _guarded(guard: Guard, name: str, handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            guard(request, name)
        except StreamAPIError as exc:
            return json_response({**exc.to_body(), "duration": "0.00ms"}, exc.status)
        return await handler(request)

    return endpoint


def control_routes(log: RequestLog, guard: Guard) -> list[Route]:
    """The ``/_emulator/...`` routes reading and resetting ``log``, behind ``guard``."""

    async def stats(request: Request) -> Response:
        return json_response(log.stats_body())

    async def reset(request: Request) -> Response:
        log.reset()
        return json_response({"requests": {}, "total": 0})

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    return [
        Route("/_emulator/stats", _guarded(guard, "EmulatorStats", stats), methods=["GET"]),
        Route(
            "/_emulator/stats/reset",
            _guarded(guard, "EmulatorStatsReset", reset),
            methods=["POST"],
        ),
        Route("/_emulator/health", health, methods=["GET"]),
    ]


# --- the event log: GET /_emulator/events, POST /_emulator/events/reset ------------------------
# The events Stream would have sent (the sandbox's log, stagecfg.sandbox.events), for tests to
# assert on; like the stats, they need the API key and a server-side token.

#: ``since`` and ``limit`` have at most this many digits (an event id fits SQLite's int64).
_MAX_DIGITS = 18


def _whole_number(op: str, raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_DIGITS:
        raise StreamAPIError(
            400, CODE_INPUT, failed_message(op, f"{name} must be a whole number, got {raw[:40]!r}")
        )
    return int(raw)


def event_routes(
    engine: Any, webhook_stats: Callable[[], Json | None], guard: Guard
) -> list[Route]:
    """``GET /_emulator/events`` (filters ``type`` (comma-separated), ``call_cid``, ``since``
    (an event id: only later events) and ``limit``; with ``webhook`` counts when delivering)
    and ``POST /_emulator/events/reset``, behind ``guard``."""

    async def events(request: Request) -> Response:
        op = "QueryEvents"
        query = request.query_params
        try:
            # ``type=a,b`` and ``type=a&type=b`` alike.
            kinds = [kind for value in query.getlist("type") for kind in value.split(",")]
            body: Json = engine.query_events(
                types=kinds,
                call_cid=query.get("call_cid"),
                since=_whole_number(op, query.get("since"), "since", 0),
                limit=_whole_number(op, query.get("limit"), "limit", 100),
            )
        except StreamAPIError as exc:
            return json_response({**exc.to_body(), "duration": "0.00ms"}, exc.status)
        stats = webhook_stats()
        if stats is not None:
            body["webhook"] = stats
        return json_response(body)

    async def reset(request: Request) -> Response:
        return json_response(engine.reset_events())

    return [
        Route("/_emulator/events", _guarded(guard, "EmulatorEvents", events), methods=["GET"]),
        Route(
            "/_emulator/events/reset",
            _guarded(guard, "EmulatorEventsReset", reset),
            methods=["POST"],
        ),
    ]


def history_routes(history: RequestHistory, guard: Guard, known: frozenset[str]) -> list[Route]:
    """``GET /_emulator/requests`` (filters: ``operation``, ``since``) and its reset."""

    async def requests(request: Request) -> Response:
        try:
            query = request.query_params
            filters = parse_filters({k: query.getlist(k) for k in query}, known)
        except StreamAPIError as exc:
            return json_response({**exc.to_body(), "duration": "0.00ms"}, exc.status)
        return json_response(history.body(filters))

    async def reset(request: Request) -> Response:
        history.reset()
        return json_response(history.body())

    return [
        Route(
            "/_emulator/requests", _guarded(guard, "EmulatorRequests", requests), methods=["GET"]
        ),
        Route(
            "/_emulator/requests/reset",
            _guarded(guard, "EmulatorRequestsReset", reset),
            methods=["POST"],
        ),
    ]
