"""Test-only controls: request counts, recorded bodies and the ``/_emulator/...`` routes.

Real Stream has none of this. Tests and the benchmark use it to assert how many requests a
command made (``GET /_emulator/stats``), to start counting afresh (``POST
/_emulator/stats/reset``), to see what was sent (``GET /_emulator/requests``, only with
``record_bodies``) and to wait for startup (``GET /_emulator/health``). They are not counted,
so looking at the stats never changes them. All but ``health`` need the API key and a
server-side token like Stream's endpoints (what they show or reset is the app's traffic);
``health`` answers anyone, as a startup probe that reveals nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stagecfg.emulator.wire import json_response
from stagecfg.model import Json
from stagecfg.sandbox.apierror import StreamAPIError

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

    async def recorded(request: Request) -> Response:
        return json_response({"requests": log.recorded_bodies()})

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    return [
        Route("/_emulator/stats", _guarded(guard, "EmulatorStats", stats), methods=["GET"]),
        Route(
            "/_emulator/stats/reset",
            _guarded(guard, "EmulatorStatsReset", reset),
            methods=["POST"],
        ),
        Route(
            "/_emulator/requests", _guarded(guard, "EmulatorRequests", recorded), methods=["GET"]
        ),
        Route("/_emulator/health", health, methods=["GET"]),
    ]
