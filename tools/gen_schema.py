"""Generate schemas/stagecfg.schema.json from Stream's OpenAPI spec (run once; then hand-edit).

Usage: python tools/gen_schema.py [OPENAPI_JSON]   (default: ../shared/openapi/...json)

The committed schema is the source of truth; this script records how its settings, notification,
go-live and user sub-schemas were derived from the spec's ``components.schemas`` so a new spec
version can be diffed against it.
"""

# ruff: noqa: E501  (description strings read better unwrapped)
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT.parent / "shared" / "openapi" / "video-serverside-api.json"
OUTPUTS = (ROOT / "schemas" / "stagecfg.schema.json", ROOT / "stagecfg" / "stagecfg.schema.json")

NAME_PATTERN = "^[a-zA-Z0-9_-]+$"
CID_PATTERN = "^[a-zA-Z0-9_-]{1,64}:[a-zA-Z0-9_-]{1,64}$"
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
KEEP = ("enum", "minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength")

# Hand-written help for the fields people touch most; the rest get a generated sentence.
DESCRIPTIONS: dict[str, str] = {
    "CallSettingsRequest.audio": "Audio defaults: default device, mic/speaker on join, DTX, noise cancellation.",
    "CallSettingsRequest.backstage": "Backstage: calls start in backstage and only join-backstage holders may join until go-live.",
    "CallSettingsRequest.broadcasting": "HLS and RTMP broadcasting of the call.",
    "CallSettingsRequest.encryption": "End-to-end encryption mode.",
    "CallSettingsRequest.frame_recording": "Periodic frame capture (snapshots) of the call.",
    "CallSettingsRequest.geofencing": "Restrict media servers to the named geofences.",
    "CallSettingsRequest.individual_recording": "Per-participant recording.",
    "CallSettingsRequest.ingress": "RTMP/SRT/WHIP ingress and its encoding options.",
    "CallSettingsRequest.limits": "Participant and duration limits.",
    "CallSettingsRequest.raw_recording": "Raw (unmixed) track recording.",
    "CallSettingsRequest.recording": "Composite call recording.",
    "CallSettingsRequest.ring": "Ringing timeouts in milliseconds (5000-180000).",
    "CallSettingsRequest.screensharing": "Screen sharing permissions and resolution.",
    "CallSettingsRequest.session": "Session behaviour such as the inactivity timeout.",
    "CallSettingsRequest.thumbnails": "Call thumbnails.",
    "CallSettingsRequest.transcription": "Transcription, closed captions and translation.",
    "CallSettingsRequest.video": "Video defaults: camera on join, facing, target resolution.",
    "BackstageSettingsRequest.enabled": "New calls start in backstage; only users with join-backstage may join before go-live.",
    "BackstageSettingsRequest.join_ahead_time_seconds": "Seconds before starts_at from which ordinary users may join without join-backstage; 0 (Stream's default) means only once live.",
    "NotificationSettingsRequest.enabled": "Master switch for this call type's push notifications.",
    "NotificationSettingsRequest.call_live_started": "Notification sent when a call goes live (leaves backstage).",
    "NotificationSettingsRequest.call_missed": "Notification sent for a missed ring call.",
    "NotificationSettingsRequest.call_notification": "Notification sent when a call is created with notify.",
    "NotificationSettingsRequest.call_ring": "Notification sent when a call rings.",
    "NotificationSettingsRequest.session_started": "Notification sent when a call session starts.",
    "EventNotificationSettingsRequest.enabled": "Send this notification.",
    "EventNotificationSettingsRequest.apns": "Apple push payload template.",
    "EventNotificationSettingsRequest.fcm": "Firebase push payload template.",
    "APNSPayload.data": "Free-form custom data added to the APNS payload (any keys).",
    "FCMPayload.data": "Free-form custom data added to the FCM payload (any keys).",
    "LayoutSettingsRequest.options": "Free-form layout options (any keys, as Stream allows).",
    "LayoutSettingsRequest.name": "Layout name.",
    "GoLiveRequest.start_hls": "Start HLS broadcasting when the call goes live.",
    "GoLiveRequest.start_recording": "Start composite recording when the call goes live.",
    "GoLiveRequest.start_transcription": "Start transcription when the call goes live.",
    "GoLiveRequest.start_closed_caption": "Start closed captions when the call goes live.",
    "GoLiveRequest.recording_storage_name": "External storage to record into.",
    "GoLiveRequest.transcription_storage_name": "External storage to store transcriptions in.",
}


def humanize(component: str, prop: str, spec: dict[str, Any]) -> str:
    text = spec.get("description") or prop.replace("_", " ").replace("-", " ").capitalize()
    text = text.rstrip(".") + "."
    return f"{text} (Stream {component}.{prop})"


def convert(spec: dict[str, Any], component: str, prop: str) -> dict[str, Any]:
    """One OpenAPI property -> JSON Schema, with its description."""
    out: dict[str, Any] = {"description": DESCRIPTIONS.get(f"{component}.{prop}")}
    if not out["description"]:
        out["description"] = humanize(component, prop, spec)
    if "$ref" in spec:
        out["$ref"] = "#/$defs/" + spec["$ref"].rsplit("/", 1)[-1]
        return out
    kind = spec.get("type")
    if kind:
        out["type"] = kind
    for key in KEEP:
        if key in spec:
            out[key] = spec[key]
    if kind == "integer" and "enum" in out:
        # The spec writes integer enums as strings ("1", "2"); the API takes numbers.
        out["enum"] = [int(v) for v in out["enum"]]
    if kind == "array":
        items = dict(spec.get("items", {}))
        item_schema: dict[str, Any] = {}
        if "$ref" in items:
            item_schema["$ref"] = "#/$defs/" + items["$ref"].rsplit("/", 1)[-1]
        else:
            item_schema = {k: v for k, v in items.items() if k in ("type", "enum")}
        out["items"] = item_schema
    if kind == "object":
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict) and "$ref" in extra:
            out["additionalProperties"] = {"$ref": "#/$defs/" + extra["$ref"].rsplit("/", 1)[-1]}
        else:
            # Free-form objects (custom data, layout options, push data): Stream allows any keys.
            out["additionalProperties"] = True
    return out


def component(schemas: dict[str, Any], name: str, defs: dict[str, Any]) -> None:
    if name in defs:
        return
    spec = schemas[name]
    defs[name] = {}  # reserve against cycles
    props = {
        key: convert(value, name, key) for key, value in sorted(spec.get("properties", {}).items())
    }
    out: dict[str, Any] = {
        "description": spec.get("description") or f"Stream's {name}.",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }
    if spec.get("required"):
        out["required"] = sorted(spec["required"])
    defs[name] = out
    for value in spec.get("properties", {}).values():
        for ref in refs(value):
            component(schemas, ref, defs)


def refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.append(value.rsplit("/", 1)[-1])
            else:
                found.extend(refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(refs(value))
    return found


def user_def(schemas: dict[str, Any]) -> dict[str, Any]:
    spec = schemas["UserRequest"]["properties"]
    props = {
        k: convert(spec[k], "UserRequest", k) for k in ("custom", "image", "name", "role", "teams")
    }
    props["role"]["description"] = (
        "The user's app-wide role, e.g. user, admin, guest. (Stream UserRequest.role)"
    )
    return {
        "description": "An app user stagecfg upserts (UserRequest without id: the key is the user id).",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }


def build(openapi: dict[str, Any]) -> dict[str, Any]:
    schemas = openapi["components"]["schemas"]
    defs: dict[str, Any] = {}
    for name in ("CallSettingsRequest", "NotificationSettingsRequest", "GoLiveRequest"):
        component(schemas, name, defs)
    defs["User"] = user_def(schemas)
    defs["CallType"] = {
        "description": "A call type to create (custom name) or manage (built-in name).",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "settings": {
                "description": "Any subset of Stream's CallSettingsRequest; sub-objects not given are left alone.",
                "$ref": "#/$defs/CallSettingsRequest",
            },
            "grants": {
                "description": "Role -> the complete list of permission ids for that role (roles not listed are left alone).",
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN, "maxLength": 64},
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                },
            },
            "notification_settings": {
                "description": "Push notification settings of the call type (NotificationSettingsRequest).",
                "$ref": "#/$defs/NotificationSettingsRequest",
            },
            "external_storage": {
                "description": "Name of the external storage recordings of this call type go to.",
                "type": "string",
                "minLength": 1,
            },
        },
    }
    defs["Call"] = {
        "description": "A call (usually a scheduled livestream) stagecfg creates and keeps in the declared state.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "created_by_id": {
                "description": "Id of the user who creates the call (Stream needs one for server-side creation).",
                "type": "string",
                "minLength": 1,
            },
            "starts_at": {
                "description": "Scheduled start, RFC 3339 with an offset, e.g. 2026-12-01T18:00:00Z. Compared as an instant.",
                "type": "string",
                "format": "date-time",
                "pattern": RFC3339_PATTERN,
            },
            "team": {"description": "Team of the call (multi-tenant apps).", "type": "string"},
            "settings_override": {
                "description": "Per-call CallSettingsRequest, merged field by field over the call type's settings.",
                "$ref": "#/$defs/CallSettingsRequest",
            },
            "custom": {
                "description": "Free-form custom data of the call (any keys). stagecfg adds its project marker here.",
                "type": "object",
                "additionalProperties": True,
            },
            "members": {
                "description": "user_id -> call role (e.g. host, call_member). Users must exist in the app (at most 100).",
                "type": "object",
                "maxProperties": 100,
                "propertyNames": {"minLength": 1},
                "additionalProperties": {"type": "string", "minLength": 1},
            },
            "live": {
                "description": "Desired live state: true = live (go_live), false = in backstage (stop_live); omit to leave it alone.",
                "type": "boolean",
            },
            "go_live": {
                "description": "GoLiveRequest options used when stagecfg takes the call live (needs live).",
                "$ref": "#/$defs/GoLiveRequest",
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/stagecfg/stagecfg/schemas/stagecfg.schema.json",
        "title": "stagecfg manifest, version 1",
        "description": (
            "Stream Video configuration as code: call types, users and scheduled calls. "
            "Call type names match ^[a-zA-Z0-9_-]+$ (max 64). Stream's spec limits call ids to 64 "
            "characters without a pattern; stagecfg requires ^[a-zA-Z0-9_-]{1,64}$ for ids, so a cid "
            "is <type>:<id> matching " + CID_PATTERN + "."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": {
            "version": {"description": "Manifest format version; must be 1.", "const": 1},
            "project": {
                "description": "Project name: stagecfg marks the calls it creates with it and prunes only those.",
                "type": "string",
                "pattern": NAME_PATTERN,
                "maxLength": 64,
            },
            "users": {
                "description": "App users to upsert, keyed by user id (call members must exist).",
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": 255},
                "additionalProperties": {"$ref": "#/$defs/User"},
            },
            "call_types": {
                "description": "Call types keyed by name; built-in names (default, audio_room, livestream, development) manage the existing type.",
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN, "maxLength": 64},
                "additionalProperties": {"$ref": "#/$defs/CallType"},
            },
            "calls": {
                "description": "Calls keyed by cid, <type>:<id>.",
                "type": "object",
                "propertyNames": {"pattern": CID_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/Call"},
            },
        },
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    schema = build(json.loads(spec_path.read_text("utf-8")))
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    for out in OUTPUTS:
        out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
