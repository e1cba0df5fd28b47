"""The emulator's Starlette app: every operation in the route table served through one pipeline.

The request path is kept lean on purpose (the emulator should serve well over a thousand
requests a second on two cores): no middleware stack, one async handler per operation, built
once by :func:`_endpoint`, that checks auth with a cache of verified tokens, counts the request
against a per-endpoint one-minute window, applies the configured faults, then calls the Engine
directly (SQLite calls take well under a millisecond, so a thread hop would cost more than it
saves). The order of those steps is Stream-visible (an unauthenticated request is not counted
against the quota, a faulted one never reaches the engine), so it lives here, in one place.

The steps themselves live in their own modules: :mod:`~stagecfg.emulator.auth`,
:mod:`~stagecfg.emulator.faults`, :mod:`~stagecfg.emulator.wire` and
:mod:`~stagecfg.emulator.controls`; the endpoints are in :mod:`~stagecfg.emulator.operations`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stagecfg.emulator.auth import Authenticator, user_token_refused
from stagecfg.emulator.controls import RequestLog, control_routes, event_routes, history_routes
from stagecfg.emulator.faults import FaultInjector, Faults
from stagecfg.emulator.history import MAX_REQUESTS, RequestHistory
from stagecfg.emulator.operations import OPERATIONS, Operation
from stagecfg.emulator.webhooks import WebhookSender, WebhookSettings
from stagecfg.emulator.wire import (
    DEFAULT_MAX_BODY_BYTES,
    dump,
    duration,
    parse_body,
    payload_param,
    read_raw_body,
    unknown_endpoint,
)
from stagecfg.model import Json
from stagecfg.sandbox.apierror import CODE_INTERNAL, StreamAPIError, failed_message

# Imported from here by the CLI, the server module and tests; they moved, these names did not.
__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "OPERATIONS",
    "Emulator",
    "EmulatorSettings",
    "Faults",
    "Operation",
    "build_app",
]


#: Bytes of request line plus headers a request may carry (Go's net/http allows 1 MiB; Stream's
#: requests need a few KiB, QueryUsers' ``payload`` the most); more is answered 431.
MAX_HEADER_BYTES = 64 * 1024
#: Seconds a client has, from connecting (or from the first byte of its next request on a
#: kept-alive connection), to finish its request line and headers.
HEADER_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class EmulatorSettings:
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    record_bodies: bool = False  # keep the bodies that reach the engine (EmulatorHandle.recorded)
    request_history: int = MAX_REQUESTS  # requests GET /_emulator/requests keeps (0: none)
    faults: Faults = field(default_factory=Faults)
    webhook: WebhookSettings | None = None  # --webhook-url: deliver the event log there


class Emulator:
    """Shared state of one emulator: engine, settings, auth, faults and the request log."""

    def __init__(self, engine: Any, settings: EmulatorSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.auth = Authenticator(settings.api_key, settings.api_secret)
        self.injector = FaultInjector(settings.faults)
        self.log = RequestLog()
        self.webhooks: WebhookSender | None = None
        if settings.webhook is not None:
            self.webhooks = WebhookSender(
                settings.webhook,
                lambda since: engine.query_events(since=since, limit=1),
                api_key=settings.api_key,
                api_secret=settings.api_secret,
            )
        self.history = RequestHistory(settings.request_history)

    # The handle tests hold (server.EmulatorHandle) reads the log through these.

    def stats_body(self) -> Json:
        return self.log.stats_body()

    def recorded_bodies(self) -> list[Json]:
        return self.log.recorded_bodies()

    def reset_stats(self) -> None:
        self.log.reset()

    # Webhook delivery (stagecfg.emulator.webhooks): the server starts it with the app and
    # stops it before closing the engine.

    def start_webhooks(self) -> None:
        if self.webhooks is not None:
            self.webhooks.start()

    def stop_webhooks(self) -> None:
        if self.webhooks is not None:
            self.webhooks.stop()

    def webhooks_running(self) -> bool:
        return self.webhooks is not None and self.webhooks.running()

    def webhook_stats(self) -> Json | None:
        return None if self.webhooks is None else self.webhooks.stats()


def _endpoint(emulator: Emulator, op: Operation) -> Callable[[Request], Awaitable[Response]]:
    # Everything fixed per operation is looked up once here, not on every request.
    settings = emulator.settings
    max_body = settings.max_body_bytes
    record_bodies = settings.record_bodies
    authenticate = emulator.auth.authenticate
    injector = emulator.injector
    delays = injector.delays
    log = emulator.log
    webhooks = emulator.webhooks
    history = emulator.history.add
    name = op.operation_id

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        log.count(name, op.method)
        headers: dict[str, str] = {}
        raw = b""
        try:
            if delays:
                await asyncio.sleep(injector.delay_seconds())
            claims = authenticate(request, name)
            if "user_id" in claims and not op.client_side:
                raise user_token_refused(name)
            headers, fault = injector.admit(name, time.time())
            if fault is not None:
                raise fault
            if op.has_body:
                raw = await read_raw_body(request, name, max_body)
                body = parse_body(raw, name)
            elif op.query_payload:
                body = payload_param(request, name)
            else:
                body = {}
            if record_bodies:
                log.record(name, op.method, body if op.has_body else None)
            params = request.path_params
            if op.query_params:
                query = request.query_params
                params = {**params, **{k: query[k] for k in op.query_params if k in query}}
            result = op.call(emulator.engine, params, body, claims)
            status = op.status
            if webhooks is not None:
                webhooks.wake()  # there may be new events to deliver; never waits
        except StreamAPIError as exc:
            result = exc.to_body()
            status = exc.status
            headers.update(exc.headers)
        except Exception as exc:  # an emulator bug: answer like Stream's internal error
            result = StreamAPIError(500, CODE_INTERNAL, failed_message(name, repr(exc))).to_body()
            status = 500
        # A copy, so a dict the engine may keep and hand out again never gains a duration.
        result = dict(result)
        result["duration"] = duration(started)
        scope = request.scope
        history(op.method, scope["path"], name, scope["query_string"], raw, status)
        return Response(dump(result), status, headers, media_type="application/json")

    return endpoint


def _server_side(emulator: Emulator) -> Callable[[Request, str], object]:
    """The credentials check of a server-side endpoint, for the test-only routes."""

    def guard(request: Request, name: str) -> object:
        claims = emulator.auth.authenticate(request, name)
        if "user_id" in claims:
            raise user_token_refused(name)
        return claims

    return guard


def build_app(engine: Any, settings: EmulatorSettings | None = None) -> Starlette:
    """The ASGI app serving ``engine``; ``app.state.emulator`` exposes stats for tests."""
    emulator = Emulator(engine, settings or EmulatorSettings())
    known = frozenset(op.operation_id for op in OPERATIONS)

    async def unknown(request: Request, exc: Exception) -> Response:
        # Logged too: a test should see that its app called an endpoint nobody serves.
        response = await unknown_endpoint(request, exc)
        scope = request.scope
        emulator.history.add(
            request.method, scope["path"], None, scope["query_string"], b"", response.status_code
        )
        return response

    routes = [Route(op.path, _endpoint(emulator, op), methods=[op.method]) for op in OPERATIONS]
    routes += control_routes(emulator.log, _server_side(emulator))
    routes += event_routes(engine, emulator.webhook_stats, _server_side(emulator))
    routes += history_routes(emulator.history, _server_side(emulator), known)
    # Starlette's own 404/405 would be plain text; clients expect Stream's APIError JSON.
    handlers = {404: unknown, 405: unknown}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.emulator = emulator
    return app
