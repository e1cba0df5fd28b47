"""Check wire bodies against Stream's OpenAPI spec (component schemas as JSON Schema).

Shared by the sandbox engine and emulator tests::

    from openapi_check import assert_matches             # tests/ is on sys.path under pytest
    assert_matches("CallResponse", body)                 # required fields, types, enums
    assert_matches("GetCallTypeResponse", body)          # ``duration`` is never required here
    assert_matches("CallResponse", body, strict=False)   # allow fields the spec does not name
    check(response, "/api/v2/video/calltypes", "GET")    # status, schema, duration, headers
    assert_api_error(response, 404, 16)                  # Stream's APIError with this status, code
    assert_event_matches(body)                           # an event, by its type (WHEvent's map)

OpenAPI 3.0 differs from JSON Schema in ``nullable``; it is translated. A property a schema does
not require may also be ``null``: Stream sends optional fields without a value that way (see
``stagecfg/sandbox/nulls.py``), though the spec marks none of them nullable. Timestamps are
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
from getstream.models import CallResponse, MemberResponse

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
    if isinstance(out.get("properties"), dict):
        # Stream sends an optional field it has no value for as null (``"ended_at": null``),
        # though the spec marks none nullable: a field the schema does not require may be null.
        required = set(out.get("required", ()))
        out["properties"] = {
            key: prop if key in required else {"anyOf": [prop, {"type": "null"}]}
            for key, prop in out["properties"].items()
        }
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


#: Operation ids whose answers :func:`check` held against the spec, for the coverage check of
#: tests/test_emulator.py::test_every_endpoint_answers_with_the_spec_status_and_schema.
CHECKED: set[str] = set()


def check(response: httpx.Response, path: str, method: str) -> dict[str, Any]:
    """The response has the spec's status, schema, a duration and rate-limit headers."""
    CHECKED.add(_spec()["paths"][path][method.lower()]["operationId"])
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


def assert_join_answer(body: dict[str, Any]) -> None:
    """A JoinCall answer: JoinCallResponse is in Stream's client-side spec, which is not in
    ../shared, so the parts the server-side spec defines (CallResponse, MemberResponse) are
    checked against it and the rest field by field: the client-side spec's required fields, of
    the types a client's join model reads (stream-py reads call, members, credentials and
    stats_options; Stream's SDK models parse call and members)."""
    assert {"call", "members", "own_capabilities", "created", "credentials", "stats_options"} <= (
        set(body)
    )
    CallResponse.from_dict(body["call"])
    for member in body["members"]:
        MemberResponse.from_dict(member)
        assert_matches("MemberResponse", member)
    assert_matches("CallResponse", body["call"])
    server = body["credentials"]["server"]
    assert all(isinstance(server[k], str) for k in ("edge_name", "url", "ws_endpoint"))
    assert isinstance(body["credentials"]["token"], str)
    assert isinstance(body["credentials"]["ice_servers"], list)
    stats = body["stats_options"]
    assert set(stats) == {"reporting_interval_ms", "enable_rtc_stats"}
    assert type(stats["reporting_interval_ms"]) is int and stats["reporting_interval_ms"] > 0
    assert type(stats["enable_rtc_stats"]) is bool
    assert isinstance(body["duration"], str)


#: Fields the emulator adds to an event beyond Stream's schema (the spec's event schemas allow
#: more fields; README "Events and webhooks"): checked on their own by assert_event_matches.
EMULATOR_EVENT_FIELDS = {"call.live_started": {"notification_settings"}}


def event_schema(event_type: str) -> str:
    """The schema of a webhook event of ``event_type``: WHEvent's discriminator names it."""
    mapping = _spec()["components"]["schemas"]["WHEvent"]["discriminator"]["mapping"]
    assert event_type in mapping, f"the spec has no event {event_type!r}"
    ref: str = mapping[event_type]
    return ref.rsplit("/", 1)[1]


def assert_event_matches(body: dict[str, Any]) -> None:
    """An event body (as the log keeps it and a webhook delivers it) matches the schema of its
    ``type``, strictly; an emulator field it carries is held to the schema it was taken from."""
    extra = EMULATOR_EVENT_FIELDS.get(body.get("type", ""), set())
    assert_matches(event_schema(body["type"]), {k: v for k, v in body.items() if k not in extra})
    pushed = body.get("notification_settings") if "notification_settings" in extra else None
    if pushed is not None:
        assert set(pushed) == {"enabled", "call_live_started"}, pushed
        assert type(pushed["enabled"]) is bool
        assert_matches("EventNotificationSettingsResponse", pushed["call_live_started"])
