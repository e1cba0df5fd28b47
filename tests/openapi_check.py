"""Check wire bodies against Stream's OpenAPI spec (component schemas as JSON Schema).

Shared by the sandbox engine and emulator tests::

    from openapi_check import assert_matches             # tests/ is on sys.path under pytest
    assert_matches("CallResponse", body)                 # required fields, types, enums
    assert_matches("GetCallTypeResponse", body)          # ``duration`` is never required here
    assert_matches("CallResponse", body, strict=False)   # allow fields the spec does not name
    check(response, "/api/v2/video/calltypes", "GET")    # status, schema, duration, headers
    assert_api_error(response, 404, 16)                  # Stream's APIError with this status, code

OpenAPI 3.0 differs from JSON Schema in ``nullable``; it is translated. Timestamps are
``type: number, format: date-time`` in the spec and integers in real responses; JSON Schema's
``number`` accepts integers and ``format`` applies only to strings, so integers pass as they do
with Stream's SDKs. ``strict`` (the default) also rejects properties a schema does not list, so
a misspelt field is caught instead of silently ignored.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import httpx
import jsonschema

# The shared spec next to the project, never copied into it (see conftest.OPENAPI_DIR).
from conftest import OPENAPI_DIR

SPEC_FILE = OPENAPI_DIR / "video-serverside-api.json"
# The HTTP layer adds ``duration``; bodies produced below it never carry one.
_NOT_REQUIRED = {"duration"}


@functools.lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    with SPEC_FILE.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


def _convert(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value, strict) for key, value in node.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "required" in out:
        out["required"] = [r for r in out["required"] if r not in _NOT_REQUIRED]
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    for key in ("example", "x-stream-index", "x-stream-docs-page-id", "title", "description"):
        if isinstance(out.get(key), (str, int)):
            out.pop(key)
    return out


@functools.lru_cache(maxsize=4)
def _components(strict: bool) -> dict[str, Any]:
    schemas = copy.deepcopy(_spec()["components"]["schemas"])
    return {"schemas": _convert(schemas, strict)}


def validator(name: str, *, strict: bool = True) -> jsonschema.Draft202012Validator:
    """A validator for ``#/components/schemas/<name>``."""
    root = {"$ref": f"#/components/schemas/{name}", "components": _components(strict)}
    return jsonschema.Draft202012Validator(root)


def problems(name: str, instance: Any, *, strict: bool = True) -> list[str]:
    """Every way ``instance`` fails the schema, as ``$.json.path: message`` lines, sorted."""
    errors = validator(name, strict=strict).iter_errors(instance)
    return sorted(f"{e.json_path}: {e.message}" for e in errors)


def assert_matches(name: str, instance: Any, *, strict: bool = True) -> None:
    found = problems(name, instance, strict=strict)
    assert not found, f"{name} does not match the OpenAPI spec:\n" + "\n".join(found[:20])


def _accept_rfc3339(node: Any) -> Any:
    if isinstance(node, list):
        return [_accept_rfc3339(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _accept_rfc3339(value) for key, value in node.items()}
    if out.get("format") == "date-time":
        kinds = out.get("type")
        kinds = list(kinds) if isinstance(kinds, list) else [kinds]
        if "number" in kinds and "string" not in kinds:
            out["type"] = [*kinds, "string"]
    return out


@functools.lru_cache(maxsize=1)
def _request_components() -> dict[str, Any]:
    result: dict[str, Any] = _accept_rfc3339(_components(True))
    return result


def assert_request_matches(name: str, instance: Any) -> None:
    """Like :func:`assert_matches` for request bodies, where instants travel as RFC 3339 text
    (the spec types them ``number, format: date-time``; Stream's SDKs send strings)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": _request_components()}
    errors = jsonschema.Draft202012Validator(root).iter_errors(instance)
    found = sorted(f"{e.json_path}: {e.message}" for e in errors)
    assert not found, f"{name} does not match the OpenAPI spec:\n" + "\n".join(found[:20])


def spec_response(path: str, method: str) -> tuple[int, str]:
    """The success status and response schema name the spec gives ``method path``."""
    responses = _spec()["paths"][path][method.lower()]["responses"]
    status = next(code for code in responses if code.startswith("2"))
    ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
    return int(status), ref.rsplit("/", 1)[1]


def check(response: httpx.Response, path: str, method: str) -> dict[str, Any]:
    """The response has the spec's status, schema, a duration and rate-limit headers."""
    status, schema = spec_response(path, method)
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert_matches(schema, body)
    assert body["duration"].endswith("ms")
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[header].isdigit()
    return body


def assert_api_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """The response is Stream's APIError with ``status`` and Stream ``code``."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert body["StatusCode"] == status
    assert_matches("APIError", body)
    assert body["duration"].endswith("ms")
    return body
