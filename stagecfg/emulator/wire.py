"""Stream's wire format at the HTTP edge: reading JSON requests, writing JSON responses.

Everything here is about bytes and status codes, not about what an endpoint means: bodies are
read with a size cap, ``payload`` query parameters are parsed the same way, responses are
compact JSON, and every response carries Stream's ``duration`` field. A change to how requests
are parsed or responses are encoded belongs here, and applies to every endpoint at once.
"""

from __future__ import annotations

import json
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from stagecfg import strictjson
from stagecfg.model import Json
from stagecfg.sandbox.apierror import (
    CODE_INPUT,
    CODE_NOT_FOUND,
    CODE_TOO_LARGE,
    StreamAPIError,
    failed_message,
)

#: Request bodies over this many bytes are refused with 413 code 22 unless configured otherwise.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


def dump(body: Json) -> bytes:
    """``body`` as compact JSON, the way Stream writes it (no spaces after separators)."""
    return json.dumps(body, separators=(",", ":")).encode()


def duration(started: float) -> str:
    """Stream's ``duration`` field: milliseconds since ``started`` (a ``perf_counter`` value)."""
    return f"{(time.perf_counter() - started) * 1000:.2f}ms"


def json_response(body: Json, status: int = 200) -> Response:
    return Response(dump(body), status, media_type="application/json")


async def read_body(request: Request, operation: str, max_body: int) -> Json:
    """The request's JSON object body (``{}`` when empty), or Stream's 413/400 saying why not."""
    return parse_body(await read_raw_body(request, operation, max_body), operation)


def parse_body(raw: bytes, operation: str) -> Json:
    """A request body's bytes as its JSON object (``{}`` when empty), or Stream's 400."""
    return json_object(raw, operation, "body") if raw.strip() else {}


async def read_raw_body(request: Request, operation: str, max_body: int) -> bytes:
    """The request body's bytes, or Stream's 413 once it is over ``max_body``."""
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
    return b"".join(parts)


def payload_param(request: Request, operation: str) -> Json:
    """The JSON object in the ``payload`` query parameter, which Stream's GET queries carry."""
    raw = request.query_params.get("payload")
    return json_object(raw, operation, "payload") if raw else {}


def json_object(raw: str | bytes, operation: str, what: str) -> Json:
    """A JSON object from a request body or query payload, or Stream's 400 code 4 saying why."""
    try:
        body = strictjson.loads(raw)
    except ValueError as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:120]
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


async def unknown_endpoint(request: Request, exc: Exception) -> Response:
    """Starlette's 404/405 answered as a Stream APIError, so clients parse it like any other."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    code = CODE_NOT_FOUND if status == 404 else CODE_INPUT
    detail = f"no endpoint {request.method} {request.url.path}"
    error = StreamAPIError(status, code, failed_message("Unknown", detail)).to_body()
    # No handler ran, so there is no time worth reporting; the field is still always present.
    error["duration"] = "0.00ms"
    return json_response(error, status)
