"""The emulator's Starlette app: Stream's server-side video endpoints over the sandbox Engine.

The request path is kept lean on purpose (the emulator should serve well over a thousand
requests a second on two cores): no middleware stack, one async handler per operation that
checks auth with a cache of verified tokens, counts the request against a per-endpoint
one-minute window, applies the configured faults, then calls the Engine directly (SQLite calls
take well under a millisecond, so a thread hop would cost more than it saves).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stagecfg.sandbox.apierror import (
    CODE_API_KEY,
    CODE_AUTH,
    CODE_INPUT,
    CODE_INTERNAL,
    CODE_NOT_ALLOWED,
    CODE_NOT_FOUND,
    CODE_RATE_LIMIT,
    CODE_TOKEN_EXPIRED,
    CODE_TOKEN_IAT_FUTURE,
    CODE_TOKEN_NOT_VALID_YET,
    CODE_TOKEN_SIGNATURE,
    CODE_TOO_LARGE,
    StreamAPIError,
    failed_message,
)

Json = dict[str, Any]

# Stream issues app secrets of its own choosing; their length is not ours to judge per request.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

#: The per-endpoint quota reported in ``X-RateLimit-Limit`` when no ``--rate-limit`` is set.
UNLIMITED_QUOTA = 1_000_000
WINDOW_SECONDS = 60
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_TOKEN_CACHE_SIZE = 4096
_RECORD_LIMIT = 10_000


#: Stream's code and message per JWT failure, most specific first (later ones are base classes).
_TOKEN_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], int, str], ...] = (
    (jwt.ExpiredSignatureError, CODE_TOKEN_EXPIRED, "token is expired"),
    (jwt.ImmatureSignatureError, CODE_TOKEN_NOT_VALID_YET, "token is not valid yet"),
    (jwt.InvalidSignatureError, CODE_TOKEN_SIGNATURE, "token signature is invalid"),
    (jwt.InvalidIssuedAtError, CODE_TOKEN_IAT_FUTURE, "token used before issue at (iat)"),
    (jwt.InvalidTokenError, CODE_AUTH, "token is not a valid JWT"),
)


@dataclass(frozen=True)
class Faults:
    """Injected misbehaviour; all randomness comes from one generator seeded with ``seed``."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0  # fraction answered 500 code -1 before the engine is touched
    throttle_rate: float = 0.0  # fraction answered 429 code 9 with Retry-After
    retry_after: float = 1.0  # seconds sent in Retry-After by throttle faults
    rate_limit: int | None = None  # requests per endpoint per minute; None = unlimited
    seed: int | None = None


@dataclass(frozen=True)
class EmulatorSettings:
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    record_bodies: bool = False  # keep request bodies for GET /_emulator/requests (tests)
    faults: Faults = field(default_factory=Faults)


@dataclass
class _Window:
    start: float
    count: int = 0


class Emulator:
    """Shared state of one emulator: engine, settings, stats, rate windows, token cache."""

    def __init__(self, engine: Any, settings: EmulatorSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.rng = random.Random(settings.faults.seed)
        self._lock = threading.Lock()
        self.stats: dict[str, dict[str, int]] = {}
        self.total = 0
        self.windows: dict[str, _Window] = {}
        self.tokens: dict[str, Json] = {}
        self.recorded: list[Json] = []

    # --- stats ----------------------------------------------------------------------------------

    def count(self, operation: str, method: str) -> None:
        with self._lock:
            per_method = self.stats.setdefault(operation, {})
            per_method[method] = per_method.get(method, 0) + 1
            self.total += 1

    def stats_body(self) -> Json:
        with self._lock:
            requests = {op: dict(sorted(m.items())) for op, m in sorted(self.stats.items())}
            return {"requests": requests, "total": self.total}

    def recorded_bodies(self) -> list[Json]:
        with self._lock:
            return list(self.recorded)

    def reset_stats(self) -> None:
        with self._lock:
            self.stats.clear()
            self.total = 0
            self.recorded.clear()

    # --- auth -----------------------------------------------------------------------------------

    def authenticate(self, request: Request, operation: str) -> Json:
        """The verified JWT claims of a request, or a StreamAPIError with Stream's code."""
        if request.query_params.get("api_key") != self.settings.api_key:
            raise StreamAPIError(401, CODE_API_KEY, failed_message(operation, "api_key not valid"))
        token = request.headers.get("authorization", "")
        if token[:7].lower() == "bearer ":
            token = token[7:]
        if not token:
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "Authorization header missing")
            )
        if request.headers.get("stream-auth-type", "").lower() != "jwt":
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "Stream-Auth-Type header must be jwt")
            )
        claims = self.tokens.get(token)
        if claims is None:
            claims = self._verify(token, operation)
            if len(self.tokens) >= _TOKEN_CACHE_SIZE:
                self.tokens.clear()
            self.tokens[token] = claims
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= time.time():
            raise StreamAPIError(
                401, CODE_TOKEN_EXPIRED, failed_message(operation, "token is expired")
            )
        return claims

    def _verify(self, token: str, operation: str) -> Json:
        try:
            claims = jwt.decode(
                token,
                self.settings.api_secret,
                algorithms=["HS256"],
                options={"verify_aud": False, "verify_sub": False, "verify_jti": False},
            )
        except jwt.InvalidTokenError as exc:
            code, text = next((c, t) for kind, c, t in _TOKEN_ERRORS if isinstance(exc, kind))
            raise StreamAPIError(401, code, failed_message(operation, text)) from None
        if not isinstance(claims, dict):
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "token is not a valid JWT")
            )
        return claims

    # --- rate limits and faults -----------------------------------------------------------------

    def rate_headers(self, operation: str, now: float) -> tuple[dict[str, str], bool]:
        """``X-RateLimit-*`` headers after counting this request, and whether it is over quota."""
        limit = self.settings.faults.rate_limit or UNLIMITED_QUOTA
        start = now - (now % WINDOW_SECONDS)
        with self._lock:
            window = self.windows.get(operation)
            if window is None or window.start != start:
                window = self.windows[operation] = _Window(start)
            window.count += 1
            count = window.count
        reset = int(start + WINDOW_SECONDS)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(reset),
        }
        if count > limit:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            return headers, True
        return headers, False

    def draw(self) -> float:
        with self._lock:
            return self.rng.random()

    def record(self, operation: str, method: str, body: Json | None) -> None:
        with self._lock:
            if len(self.recorded) < _RECORD_LIMIT:
                self.recorded.append({"operation": operation, "method": method, "body": body})


def _dump(body: Json) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _duration(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.2f}ms"


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


Call = Callable[[Any, dict[str, str], Json, Json], Json]


@dataclass(frozen=True)
class Operation:
    """One endpoint: Stream's operation id, method, path, success status and engine call."""

    operation_id: str
    method: str
    path: str
    status: int
    call: Call
    has_body: bool = True
    client_side: bool = False


def _join(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    user_id = claims.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise StreamAPIError(
            400, CODE_INPUT, failed_message("JoinCall", "joining a call needs a user token")
        )
    join = getattr(engine, "join_call", None)
    if join is None:
        raise StreamAPIError(
            501, CODE_INTERNAL, failed_message("JoinCall", "not supported by this engine")
        )
    result: Json = join(p["type"], p["id"], user_id=user_id, body=body)
    return result


#: QueryUsers answers with FullUserResponse: the video sandbox has no chat state, so these are
#: the values of a user who has none.
_CHAT_FIELDS: Json = {
    "channel_mutes": [],
    "devices": [],
    "mutes": [],
    "total_unread_count": 0,
    "unread_channels": 0,
    "unread_count": 0,
    "unread_threads": 0,
}


def _query_users(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    result: Json = engine.query_users(body)
    result["users"] = [{**_CHAT_FIELDS, **user} for user in result.get("users") or ()]
    return result


CALL = "/api/v2/video/call/{type}/{id}"
OPERATIONS: tuple[Operation, ...] = (
    Operation("ListCallTypes", "GET", "/api/v2/video/calltypes", 200,
              lambda e, p, b, c: e.list_call_types(), has_body=False),
    Operation("CreateCallType", "POST", "/api/v2/video/calltypes", 201,
              lambda e, p, b, c: e.create_call_type(b)),
    Operation("GetCallType", "GET", "/api/v2/video/calltypes/{name}", 200,
              lambda e, p, b, c: e.get_call_type(p["name"]), has_body=False),
    Operation("UpdateCallType", "PUT", "/api/v2/video/calltypes/{name}", 201,
              lambda e, p, b, c: e.update_call_type(p["name"], b)),
    Operation("DeleteCallType", "DELETE", "/api/v2/video/calltypes/{name}", 200,
              lambda e, p, b, c: e.delete_call_type(p["name"]), has_body=False),
    Operation("GetCall", "GET", CALL, 200,
              lambda e, p, b, c: e.get_call(p["type"], p["id"]), has_body=False),
    Operation("GetOrCreateCall", "POST", CALL, 201,
              lambda e, p, b, c: e.get_or_create_call(p["type"], p["id"], b)),
    Operation("UpdateCall", "PATCH", CALL, 200,
              lambda e, p, b, c: e.update_call(p["type"], p["id"], b)),
    Operation("DeleteCall", "POST", CALL + "/delete", 201,
              lambda e, p, b, c: e.delete_call(p["type"], p["id"], b)),
    Operation("EndCall", "POST", CALL + "/mark_ended", 201,
              lambda e, p, b, c: e.mark_ended(p["type"], p["id"])),
    Operation("GoLive", "POST", CALL + "/go_live", 201,
              lambda e, p, b, c: e.go_live(p["type"], p["id"], b)),
    Operation("StopLive", "POST", CALL + "/stop_live", 201,
              lambda e, p, b, c: e.stop_live(p["type"], p["id"], b)),
    Operation("UpdateCallMembers", "POST", CALL + "/members", 201,
              lambda e, p, b, c: e.update_call_members(p["type"], p["id"], b)),
    Operation("JoinCall", "POST", CALL + "/join", 201, _join, client_side=True),
    Operation("QueryCalls", "POST", "/api/v2/video/calls", 201,
              lambda e, p, b, c: e.query_calls(b)),
    Operation("QueryCallMembers", "POST", "/api/v2/video/call/members", 201,
              lambda e, p, b, c: e.query_call_members(b)),
    Operation("UpdateUsers", "POST", "/api/v2/users", 201,
              lambda e, p, b, c: e.upsert_users(b)),
    Operation("QueryUsers", "GET", "/api/v2/users", 200, _query_users, has_body=False),
)  # fmt: skip


def _endpoint(emulator: Emulator, op: Operation) -> Callable[[Request], Awaitable[Response]]:
    settings = emulator.settings
    faults = settings.faults
    max_body = settings.max_body_bytes
    name = op.operation_id

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        emulator.count(name, op.method)
        headers: dict[str, str] = {}
        try:
            if faults.latency_ms or faults.latency_jitter_ms:
                jitter = faults.latency_jitter_ms * emulator.draw()
                await asyncio.sleep((faults.latency_ms + jitter) / 1000)
            claims = emulator.authenticate(request, name)
            if "user_id" in claims and not op.client_side:
                raise StreamAPIError(
                    403,
                    CODE_NOT_ALLOWED,
                    failed_message(
                        name, "this endpoint needs a server-side token, not a user token"
                    ),
                )
            headers, over = emulator.rate_headers(name, time.time())
            if over:
                raise StreamAPIError(
                    429, CODE_RATE_LIMIT, failed_message(name, "Too many requests")
                )
            if faults.error_rate and emulator.draw() < faults.error_rate:
                raise StreamAPIError(
                    500, CODE_INTERNAL, failed_message(name, "emulated server error")
                )
            if faults.throttle_rate and emulator.draw() < faults.throttle_rate:
                headers["Retry-After"] = _retry_after_text(faults.retry_after)
                raise StreamAPIError(
                    429, CODE_RATE_LIMIT, failed_message(name, "Too many requests")
                )
            body = await _read_body(request, name, max_body) if op.has_body else {}
            if op.operation_id == "QueryUsers":
                body = _payload_param(request, name)
            if settings.record_bodies:
                emulator.record(name, op.method, body if op.has_body else None)
            result = op.call(emulator.engine, request.path_params, body, claims)
            status = op.status
        except StreamAPIError as exc:
            result = exc.to_body()
            status = exc.status
            headers.update(exc.headers)
        except Exception as exc:  # an emulator bug: answer like Stream's internal error
            result = StreamAPIError(500, CODE_INTERNAL, failed_message(name, repr(exc))).to_body()
            status = 500
        result = dict(result)
        result["duration"] = _duration(started)
        return Response(_dump(result), status, headers, media_type="application/json")

    return endpoint


async def _read_body(request: Request, operation: str, max_body: int) -> Json:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise StreamAPIError(
            413, CODE_TOO_LARGE, failed_message(operation, f"body over {max_body} bytes")
        )
    # Read in chunks so a chunked (length-less) body is cut off at the cap, not buffered whole.
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise StreamAPIError(
                413, CODE_TOO_LARGE, failed_message(operation, f"body over {max_body} bytes")
            )
        parts.append(chunk)
    raw = b"".join(parts)
    return _json_object(raw, operation, "body") if raw.strip() else {}


def _payload_param(request: Request, operation: str) -> Json:
    raw = request.query_params.get("payload")
    return _json_object(raw, operation, "payload") if raw else {}


def _json_object(raw: str | bytes, operation: str, what: str) -> Json:
    """A JSON object from a request body or query payload, or Stream's 400 code 4 saying why."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise StreamAPIError(
            400, CODE_INPUT, failed_message(operation, f"invalid JSON {what}: {detail}")
        ) from None
    except RecursionError:
        raise StreamAPIError(
            400, CODE_INPUT, failed_message(operation, f"invalid JSON {what}: nested too deeply")
        ) from None
    if not isinstance(body, dict):
        raise StreamAPIError(
            400, CODE_INPUT, failed_message(operation, f"the {what} must be a JSON object")
        )
    return body


def _json(body: Json, status: int = 200) -> Response:
    return Response(_dump(body), status, media_type="application/json")


def build_app(engine: Any, settings: EmulatorSettings | None = None) -> Starlette:
    """The ASGI app serving ``engine``; ``app.state.emulator`` exposes stats for tests."""
    emulator = Emulator(engine, settings or EmulatorSettings())

    async def stats(request: Request) -> Response:
        return _json(emulator.stats_body())

    async def reset(request: Request) -> Response:
        emulator.reset_stats()
        return _json({"requests": {}, "total": 0})

    async def recorded(request: Request) -> Response:
        return _json({"requests": emulator.recorded_bodies()})

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        code = CODE_NOT_FOUND if status == 404 else CODE_INPUT
        detail = f"no endpoint {request.method} {request.url.path}"
        error = StreamAPIError(status, code, failed_message("Unknown", detail)).to_body()
        error["duration"] = "0.00ms"
        return _json(error, status)

    routes = [Route(op.path, _endpoint(emulator, op), methods=[op.method]) for op in OPERATIONS]
    routes += [
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/stats/reset", reset, methods=["POST"]),
        Route("/_emulator/requests", recorded, methods=["GET"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.emulator = emulator
    return app
