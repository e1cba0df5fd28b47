"""The app itself: GetApp, whose ``call_types`` are every call type the sandbox holds.

GetApp answers Stream's AppResponseFields. The call types are the sandbox's own, in the
``CallType`` shape GetApp uses (not the CallTypeResponse of GetCallType): a numeric id, the app's
id, ``recording_external_storage``, and settings whose RTMP quality is named ``quality_name``.
Everything else describes an app with nothing configured beyond video: no chat channel types,
no push providers, no webhooks, no moderation and no upload limits.

Choices where Stream's behaviour is not documented:

* The app's id is 1 and its name ``sandbox``; a call type's id is its row number in the file.
* An APNs template without ``title`` or ``body`` answers them as ``""`` (GetApp's schema requires
  both, while a call type may be created without them).
* No secret is ever answered: the SQS and SNS keys and secrets are empty, as they are unset.
"""

from __future__ import annotations

import copy
from typing import Any

from stagecfg.model import Json
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.responses import call_type_response

APP_ID = 1
APP_NAME = "sandbox"
#: The events whose push templates a call type's notification settings hold.
_NOTIFICATION_EVENTS = (
    "call_live_started",
    "call_missed",
    "call_notification",
    "call_ring",
    "session_started",
)
#: Every AppResponseFields field but ``call_types``: an app with only video configured.
_APP_FIELDS: Json = {
    "id": APP_ID,
    "name": APP_NAME,
    "organization": "",
    "placement": "",
    "push_notifications": {
        "version": "v2",
        "offline_only": False,
        "apn": {"enabled": False, "development": False},
        "firebase": {"enabled": False},
        "huawei": {"enabled": False},
        "xiaomi": {"enabled": False},
        "providers": [],
    },
    "webhook_url": "",
    "webhook_events": [],
    "event_hooks": [],
    "use_hook_v2": False,
    "moderation_webhook_url": "",
    "custom_action_handler_url": "",
    "channel_configs": {},
    "policies": {},
    "grants": {},
    "suspended": False,
    "suspended_explanation": "",
    "disable_auth_checks": False,
    "disable_permissions_checks": False,
    "permission_version": "v2",
    "user_search_disallowed_roles": [],
    "multi_tenant_enabled": False,
    "allow_multi_user_devices": False,
    "image_moderation_enabled": False,
    "async_url_enrich_enabled": False,
    "auto_translation_enabled": False,
    "enforce_unique_usernames": "no",
    "sqs_url": "",
    "sqs_key": "",
    "sqs_secret": "",
    "sns_topic_arn": "",
    "sns_key": "",
    "sns_secret": "",
    "file_upload_config": {"size_limit": 0},
    "image_upload_config": {"size_limit": 0},
    "campaign_enabled": False,
    "reminders_interval": 0,
    "cdn_expiration_seconds": 0,
    "moderation_enabled": False,
    "moderation_multitenant_blocklist_enabled": False,
    "moderation_llm_configurability_enabled": False,
    "moderation_video_call_moderation_enabled": False,
    "moderation_audio_call_moderation_enabled": False,
    "guest_user_creation_disabled": False,
    "user_response_time_enabled": False,
    "max_aggregated_activities_length": 0,
    "feed_audit_logs_enabled": False,
    "member_custom_on_messages_enabled": False,
}


def _settings(settings: Json) -> Json:
    """CallSettings from CallSettingsResponse: no ``encryption``; RTMP's ``quality`` is
    ``quality_name``."""
    out = {key: value for key, value in settings.items() if key != "encryption"}
    broadcasting = out.get("broadcasting")
    if isinstance(broadcasting, dict) and isinstance(broadcasting.get("rtmp"), dict):
        rtmp = dict(broadcasting["rtmp"])
        if "quality" in rtmp:
            rtmp["quality_name"] = rtmp.pop("quality")
        out["broadcasting"] = {**broadcasting, "rtmp": rtmp}
    return out


def _notifications(settings: Json) -> Json:
    out = dict(settings)
    for event in _NOTIFICATION_EVENTS:
        entry = out.get(event)
        if isinstance(entry, dict) and isinstance(entry.get("apns"), dict):
            apns = {"title": "", "body": "", **entry["apns"]}
            out[event] = {**entry, "apns": apns}
    return out


def _call_type(row: Any) -> Json:
    """CallType from a ``call_types`` row (rowid, name, data, created_at, updated_at)."""
    rowid, *rest = row
    body = call_type_response(rest)
    return {
        "id": rowid,
        "app": APP_ID,
        "name": body["name"],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "recording_external_storage": body.get("external_storage") or "",
        "settings": _settings(body["settings"]),
        "notification_settings": _notifications(body["notification_settings"]),
    }


def get_app(ctx: Context) -> Json:
    """GetApp: the app's settings and every call type, keyed by name."""
    with ctx.store.read() as tx:
        rows = tx.execute(
            "SELECT rowid, name, data, created_at, updated_at FROM call_types ORDER BY name"
        ).fetchall()
    call_types = {row[1]: _call_type(row) for row in rows}
    return {"app": {**copy.deepcopy(_APP_FIELDS), "call_types": call_types}}
