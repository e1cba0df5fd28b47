"""The sandbox's request rules against Stream's OpenAPI spec: the same fields, types, bounds.

The sandbox cannot read the spec at run time (it is not shipped), so its request checks are
written out in stagecfg/sandbox/ (settings come from the packaged schema, which
tests/test_schema.py compares with the spec). This test reads the spec and fails when a rule
drifts from it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import OPENAPI_DIR

from stagecfg.rules.limits import MEMBERS_PER_REQUEST, PAGE_LIMIT
from stagecfg.sandbox import (
    call_types,
    calls,
    egress,
    grants,
    live,
    members,
    moderation,
    participants,
    query,
    signals,
    storage,
    user_blocks,
    users,
)
from stagecfg.sandbox.apierror import StreamAPIError
from stagecfg.sandbox.requests import INT32_MAX, MAX_DEPTH, check_settings

Json = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Json:
    data: Json = json.loads((OPENAPI_DIR / "video-serverside-api.json").read_text("utf-8"))
    schemas: Json = data["components"]["schemas"]
    return schemas


def props(spec: Json, name: str) -> Json:
    found: Json = spec[name]["properties"]
    return found


@pytest.mark.parametrize(
    ("schema", "keys"),
    [
        ("CreateCallTypeRequest", call_types._CREATE_KEYS),
        ("UpdateCallTypeRequest", call_types._UPDATE_KEYS),
        ("GetOrCreateCallRequest", calls._GET_OR_CREATE_KEYS),
        ("CallRequest", calls.CALL_REQUEST_KEYS),
        ("UpdateCallRequest", calls._UPDATE_CALL_KEYS),
        ("DeleteCallRequest", {"hard"}),
        ("GoLiveRequest", set(live._GO_LIVE_KEYS)),
        ("StopLiveRequest", set(live._STOP_LIVE_KEYS)),
        ("MemberRequest", members._MEMBER_KEYS),
        ("UpdateCallMembersRequest", members._UPDATE_KEYS),
        ("QueryCallMembersRequest", members._QUERY_KEYS),
        ("UserRequest", users._USER_REQUEST_KEYS),
        ("QueryUsersPayload", users._QUERY_USERS_KEYS),
        ("CreateExternalStorageRequest", storage._CREATE_KEYS),
        ("UpdateExternalStorageRequest", storage._UPDATE_KEYS),
        ("S3Request", storage._S3_KEYS),
        ("AzureRequest", storage._AZURE_KEYS),
        ("BlockUsersRequest", user_blocks._KEYS),
        ("UnblockUsersRequest", user_blocks._KEYS),
    ],
)
def test_request_fields_are_the_specs(spec: Json, schema: str, keys: set[str]) -> None:
    assert set(keys) == set(props(spec, schema))


def test_query_calls_fields_are_the_specs_plus_watch(spec: Json) -> None:
    # ``watch`` is what the SDKs send for a websocket subscription; the sandbox ignores it.
    assert calls._QUERY_CALLS_KEYS - {"watch"} == set(props(spec, "QueryCallsRequest")) - {"watch"}


@pytest.mark.parametrize(
    ("schema", "types"),
    [
        ("GoLiveRequest", live._GO_LIVE_KEYS),
        ("StopLiveRequest", live._STOP_LIVE_KEYS),
        ("CallRequest", calls.CALL_REQUEST_TYPES),
        ("GetOrCreateCallRequest", calls._GET_OR_CREATE_TYPES),
        ("UserRequest", users._USER_REQUEST_TYPES),
        ("MemberRequest", {"role": "string", "custom": "object", "user_id": "string"}),
    ],
)
def test_request_field_types_are_the_specs(spec: Json, schema: str, types: dict[str, str]) -> None:
    fields = props(spec, schema)
    for name, kind in types.items():
        declared = fields[name]
        if kind == "strings":
            assert declared["type"] == "array" and declared["items"]["type"] == "string", name
        elif kind == "object" and "$ref" in declared:
            continue  # a referenced object (privacy_settings): checked as an object
        else:
            assert declared["type"] == kind, name


def test_bounds_are_the_specs(spec: Json) -> None:
    assert props(spec, "CallRequest")["members"]["maxItems"] == MEMBERS_PER_REQUEST
    assert props(spec, "UpdateCallMembersRequest")["update_members"]["maxItems"] == (
        MEMBERS_PER_REQUEST
    )
    assert props(spec, "UpdateCallMembersRequest")["remove_members"]["maxItems"] == (
        MEMBERS_PER_REQUEST
    )
    assert props(spec, "GetOrCreateCallRequest")["members_limit"]["maximum"] == 100
    for schema in ("QueryCallsRequest", "QueryCallMembersRequest", "QueryUsersPayload"):
        assert props(spec, schema)["limit"]["maximum"] == PAGE_LIMIT
    assert props(spec, "QueryUsersPayload")["offset"]["maximum"] == users.MAX_USERS_OFFSET
    assert props(spec, "QueryCallMembersRequest")["id"]["maxLength"] == 64
    assert props(spec, "QueryCallsRequest")["sort"]["maxItems"] == 2
    assert props(spec, "QueryCallMembersRequest")["sort"]["maxItems"] == 1
    direction = props(spec, "SortParamRequest")["direction"]
    assert direction["format"] == "int32" and "-1, 1" in direction["description"]


def test_timestamps_are_int64_nanoseconds(spec: Json) -> None:
    # Stream's wire timestamps are int64 nanoseconds; the sandbox bounds them so.
    assert props(spec, "CallRequest")["starts_at"]["format"] == "date-time"
    assert (query.INT64_MIN, query.INT64_MAX) == (-(2**63), 2**63 - 1)


def _settings_integers(spec: Json) -> dict[str, Json]:
    found: dict[str, Json] = {}
    seen: set[str] = set()

    def walk(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for key, node in spec[name].get("properties", {}).items():
            item = node.get("items", {})
            extra = node.get("additionalProperties")
            ref = node.get("$ref") or item.get("$ref")
            if ref is None and isinstance(extra, dict):
                ref = extra.get("$ref")
            if ref:
                walk(ref.rsplit("/", 1)[1])
            elif node.get("type") == "integer":
                found[f"{name}.{key}"] = node

    walk("CallSettingsRequest")
    walk("NotificationSettingsRequest")
    return found


def test_every_settings_integer_fits_the_int32_rule(spec: Json) -> None:
    integers = _settings_integers(spec)
    unformatted = {name for name, node in integers.items() if "format" not in node}
    # The int32 rule (stagecfg/sandbox/requests.py) is exact for the int32 fields and, for
    # these seven, stricter only far beyond any bitrate, dimension or frame rate.
    assert unformatted == {
        "IngressAudioEncodingOptionsRequest.bitrate",
        "IngressVideoLayerRequest.frame_rate_limit",
        "IngressVideoLayerRequest.max_dimension",
        "IngressVideoLayerRequest.min_dimension",
        "IngressSourceRequest.fps",
        "IngressSourceRequest.height",
        "IngressSourceRequest.width",
    }
    assert all(node.get("format") in (None, "int32") for node in integers.values())
    for node in integers.values():
        assert node.get("maximum", 0) <= INT32_MAX


@pytest.mark.parametrize("value", [INT32_MAX + 1, 1.0, "5", True])
def test_an_int32_setting_is_refused_outside_int32(value: Any) -> None:
    with pytest.raises(StreamAPIError):
        check_settings("Op", "settings", {"limits": {"max_participants": value}})
    check_settings("Op", "settings", {"limits": {"max_participants": INT32_MAX}})


def test_every_settings_enum_is_enforced(spec: Json) -> None:
    # The settings check uses the packaged schema's $defs; each enum of the spec is refused
    # outside its values there (tests/test_schema.py compares the $defs themselves).
    from stagecfg.schema_document import load_schema

    defs = load_schema()["$defs"]
    checked = 0
    for name, schema in spec.items():
        if name not in defs:
            continue
        for key, node in schema.get("properties", {}).items():
            if "enum" in node:
                # The spec writes integer enums as text (channels: "1", "2").
                ours = [str(v) for v in defs[name]["properties"][key]["enum"]]
                assert ours == [str(v) for v in node["enum"]], (name, key)
                checked += 1
    assert checked >= 5


def test_the_depth_bound_leaves_room_for_the_deepest_request(spec: Json) -> None:
    # CallSettingsRequest -> ingress -> video_encoding_options -> {name} -> layers -> [] -> {}
    # inside data.settings_override of GetOrCreateCall: ten levels.
    assert MAX_DEPTH >= 10


# --- livestream controls ------------------------------------------------------------------------

_CONTROL_REQUESTS: list[tuple[str, set[str], dict[str, str]]] = [
    ("StartRecordingRequest", set(egress.START_RECORDING_TYPES), egress.START_RECORDING_TYPES),
    ("StopRecordingRequest", set(), {}),
    (
        "StartTranscriptionRequest",
        set(egress.START_TRANSCRIPTION_TYPES),
        egress.START_TRANSCRIPTION_TYPES,
    ),
    (
        "StopTranscriptionRequest",
        set(egress.STOP_TRANSCRIPTION_TYPES),
        egress.STOP_TRANSCRIPTION_TYPES,
    ),
    ("StartClosedCaptionsRequest", egress.START_CAPTIONS_KEYS, egress.START_CAPTIONS_TYPES),
    ("StopClosedCaptionsRequest", set(egress.STOP_CAPTIONS_TYPES), egress.STOP_CAPTIONS_TYPES),
    ("RTMPBroadcastRequest", egress.RTMP_BROADCAST_KEYS, egress.RTMP_BROADCAST_TYPES),
    ("StartRTMPBroadcastsRequest", {"broadcasts"}, {}),
    ("StopRTMPBroadcastsRequest", set(), {}),
    ("BlockUserRequest", moderation.BLOCK_KEYS, {"user_id": "string"}),
    ("UnblockUserRequest", moderation.BLOCK_KEYS, {"user_id": "string"}),
    ("KickUserRequest", moderation.KICK_KEYS, moderation.KICK_TYPES),
    ("MuteUsersRequest", moderation.MUTE_KEYS, moderation.MUTE_TYPES),
    ("PinRequest", set(moderation.PIN_TYPES), moderation.PIN_TYPES),
    ("UnpinRequest", set(moderation.PIN_TYPES), moderation.PIN_TYPES),
    ("UpdateUserPermissionsRequest", grants.UPDATE_KEYS, grants.UPDATE_TYPES),
    ("SendCallEventRequest", signals.EVENT_KEYS, signals.EVENT_TYPES),
    ("RingCallRequest", set(signals.RING_TYPES), signals.RING_TYPES),
    ("QueryCallParticipantsRequest", participants.QUERY_KEYS, {}),
]


@pytest.mark.parametrize(
    ("schema", "keys", "types"), _CONTROL_REQUESTS, ids=[c[0] for c in _CONTROL_REQUESTS]
)
def test_control_requests_have_the_specs_fields_and_types(
    spec: Json, schema: str, keys: set[str], types: dict[str, str]
) -> None:
    fields = props(spec, schema) if spec[schema].get("properties") else {}
    assert set(keys) == set(fields)
    for name, kind in types.items():
        declared = fields[name]
        if kind == "strings":
            assert declared["type"] == "array" and declared["items"]["type"] == "string", name
        elif kind == "object":
            assert declared["type"] == "object", name
        else:
            assert declared["type"] == kind, name


def test_control_bounds_are_the_specs(spec: Json) -> None:
    broadcasts = props(spec, "StartRTMPBroadcastsRequest")["broadcasts"]
    assert (broadcasts["minItems"], broadcasts["maxItems"]) == (1, 1)
    for name in ("name", "stream_url"):
        assert props(spec, "RTMPBroadcastRequest")[name]["maxLength"] == egress.MAX_RTMP_TEXT
    assert props(spec, "RingCallRequest")["members_ids"]["maxItems"] == signals.MAX_RING
    for key in ("quality", "layout"):  # checked through RTMPSettingsRequest's own fields
        assert key in props(spec, "RTMPSettingsRequest")
    recording_type = _parameter("/recordings/{recording_type}/start", "recording_type")
    assert set(recording_type["schema"]["enum"]) == set(egress.RECORDINGS)
    limit = _parameter("/participants", "limit")
    assert limit["in"] == "query" and limit["schema"]["maximum"] == PAGE_LIMIT


def _parameter(call_path: str, name: str) -> Json:
    data: Json = json.loads((OPENAPI_DIR / "video-serverside-api.json").read_text("utf-8"))
    operation = data["paths"]["/api/v2/video/call/{type}/{id}" + call_path]["post"]
    found: Json = next(p for p in operation["parameters"] if p["name"] == name)
    return found
