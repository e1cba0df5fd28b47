"""The four call types every Stream app has, and the templates new call types start from.

Values follow the reference (``stream-video-api.md`` section 3.3), which copies Stream's older
documentation. Where the documented value is no longer valid under the current OpenAPI spec the
nearest valid value is used and the deviation is noted next to it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.permissions import PERMISSION_IDS
from stagecfg.rules.settings import NOTIFICATION_EVENTS, merge_settings

#: The call types every Stream app has; they cannot be deleted.
BUILTIN_CALL_TYPES: tuple[str, ...] = ("audio_room", "default", "development", "livestream")


def _layout() -> Json:
    return {"name": "spotlight", "external_app_url": "", "external_css_url": ""}


def _resolution(width: int, height: int, bitrate: int) -> Json:
    return {"width": width, "height": height, "bitrate": bitrate}


def _settings(
    *,
    backstage: bool,
    default_device: str,
    mic_default_on: bool,
    audio_access_request: bool,
    video_enabled: bool,
    resolution: Json,
    screenshare: bool,
    screenshare_access_request: bool,
    ring_ms: int,
) -> Json:
    return {
        "audio": {
            "access_request_enabled": audio_access_request,
            "opus_dtx_enabled": True,
            "redundant_coding_enabled": True,
            "mic_default_on": mic_default_on,
            "speaker_default_on": True,
            "default_device": default_device,
            "hifi_audio_enabled": False,
            "noise_cancellation": {"mode": "available"},
        },
        "backstage": {"enabled": backstage, "join_ahead_time_seconds": 0},
        "broadcasting": {
            "enabled": True,
            "hls": {
                "auto_on": False,
                "enabled": True,
                "quality_tracks": ["720p"],
                "layout": _layout(),
            },
            "rtmp": {"enabled": False, "quality": "720p", "layout": _layout()},
        },
        "encryption": {"mode": "disabled"},
        "frame_recording": {"mode": "available", "capture_interval_in_seconds": 3},
        "geofencing": {"names": []},
        "individual_recording": {"mode": "available"},
        "ingress": {"enabled": False},
        "limits": {"max_participants_exclude_roles": []},
        "raw_recording": {"mode": "available", "audio_only": False},
        "recording": {
            "audio_only": False,
            "mode": "available",
            "quality": "720p",
            "layout": _layout(),
        },
        "ring": {
            "incoming_call_timeout_ms": ring_ms,
            "auto_cancel_timeout_ms": ring_ms,
            "missed_call_timeout_ms": ring_ms,
        },
        "screensharing": {
            "enabled": screenshare,
            "access_request_enabled": screenshare_access_request,
        },
        "session": {"inactivity_timeout_seconds": 30},
        "thumbnails": {"enabled": True},
        "transcription": {
            "mode": "available",
            "closed_caption_mode": "available",
            "language": "auto",
        },
        "video": {
            "enabled": video_enabled,
            "access_request_enabled": True,
            "target_resolution": resolution,
            "camera_default_on": video_enabled,
            "camera_facing": "front",
        },
    }


# The documentation gives ring timeouts of 0 for audio_room and livestream, but the spec's
# RingSettingsRequest allows only 5000..180000, so those two use the minimum, 5000.
_RING_CLAMPED = 5000

_SETTINGS: dict[str, Json] = {
    "default": _settings(
        backstage=False,
        default_device="earpiece",
        mic_default_on=True,
        audio_access_request=True,
        video_enabled=True,
        resolution=_resolution(2560, 1440, 5_000_000),
        screenshare=True,
        screenshare_access_request=True,
        ring_ms=15000,
    ),
    "audio_room": _settings(
        backstage=True,
        default_device="speaker",
        mic_default_on=False,
        audio_access_request=True,
        video_enabled=False,
        # "n/a" in the docs; a valid resolution is required by the response schema.
        resolution=_resolution(1920, 1080, 3_000_000),
        screenshare=False,
        screenshare_access_request=False,
        ring_ms=_RING_CLAMPED,
    ),
    "livestream": _settings(
        backstage=True,
        default_device="speaker",
        mic_default_on=False,
        audio_access_request=False,
        video_enabled=True,
        resolution=_resolution(1920, 1080, 3_000_000),
        screenshare=True,
        screenshare_access_request=False,
        ring_ms=_RING_CLAMPED,
    ),
    "development": _settings(
        backstage=False,
        default_device="earpiece",
        mic_default_on=True,
        audio_access_request=True,
        video_enabled=True,
        resolution=_resolution(1920, 1080, 3_000_000),
        screenshare=True,
        screenshare_access_request=True,
        ring_ms=15000,
    ),
}


def _notification_settings() -> Json:
    # Stream does not document defaults; everything is switched on with empty payloads, which
    # is what a freshly created app shows in the dashboard.
    def event() -> Json:
        return {"enabled": True, "apns": {"title": "", "body": ""}, "fcm": {}}

    body: Json = {"enabled": True}
    for name in NOTIFICATION_EVENTS:
        body[name] = event()
    return body


def _owner(*ids: str) -> list[str]:
    return [f"{i}-owner" for i in ids]


_DEFAULT_USER = [
    "create-call",
    "create-call-reaction",
    "end-call",
    "join-call",
    "join-ended-call",
    "list-recordings",
    "read-call",
    "remove-call-member",
    "screenshare",
    "send-audio",
    "send-event",
    "send-video",
    "start-broadcasting",
    "start-recording",
    "start-transcription",
    "stop-broadcasting",
    "stop-recording",
    "stop-transcription",
    "update-call-member",
    *_owner(
        "block-user",
        "mute-users",
        "pin-call-track",
        "update-call",
        "update-call-permissions",
        "update-call-settings",
    ),
]
_GUEST = ["join-call", "read-call", "send-audio", "send-event", "send-video"]
_ANONYMOUS = ["join-call", "read-call"]
_LIVESTREAM_OWNER_IDS = (
    "end-call",
    "join-backstage",
    "mute-users",
    "pin-call-track",
    "screenshare",
    "send-audio",
    "send-video",
    "start-broadcasting",
    "start-recording",
    "stop-broadcasting",
    "stop-recording",
    "update-call",
    "update-call-member",
    "update-call-permissions",
)
# Hosts run the show on livestream and audio_room: they may join backstage and publish
# (Stream's agent guides: "by default only host (or the owner) may join backstage").
_HOST = [
    "end-call",
    "join-backstage",
    "join-call",
    "join-ended-call",
    "mute-users",
    "read-call",
    "screenshare",
    "send-audio",
    "send-event",
    "send-video",
    "start-broadcasting",
    "start-recording",
    "stop-broadcasting",
    "stop-recording",
    "update-call",
    "update-call-member",
]
_NO_VIDEO = {"send-video", "pin-call-track", "send-video-owner", "pin-call-track-owner"}

CALL_MEMBER = "call_member"  # the role of a member whose request names none
# The reference names call_member a built-in call role (3.3) and its docs' "restrict call access"
# recipe gives it join-call (2.7), but not its default grants. INFERRED: it takes part in a call
# as the type's user role does (user's join, read, react and publish grants, in the same scope:
# on livestream and audio_room it publishes only through -owner grants, as 3.3 says); it gets
# no join-backstage and no call management.
_TAKE_PART = {"create-call-reaction", "join-call", "read-call", "screenshare", "send-audio"}
_TAKE_PART |= {"send-event", "send-video"}


def _call_member(user: Sequence[str]) -> list[str]:
    return [p for p in user if p in _TAKE_PART or p.removesuffix("-owner") in _TAKE_PART]


def _grants() -> dict[str, dict[str, list[str]]]:
    admin = list(PERMISSION_IDS)
    livestream_user = [
        "create-call",
        "create-call-reaction",
        "join-call",
        "read-call",
        "send-event",
        *_owner(*_LIVESTREAM_OWNER_IDS),
    ]
    audio_room_user = [p for p in livestream_user if p not in _NO_VIDEO] + _owner(
        "start-transcription", "stop-transcription", "update-call-settings"
    )
    return {
        "default": {
            "admin": admin,
            "user": _DEFAULT_USER,
            CALL_MEMBER: _call_member(_DEFAULT_USER),
            "guest": _GUEST,
        },
        "livestream": {
            "admin": admin,
            "host": _HOST,
            "user": livestream_user,
            CALL_MEMBER: _call_member(livestream_user),
            "anonymous": _ANONYMOUS,
        },
        "audio_room": {
            "admin": [p for p in admin if p not in _NO_VIDEO],
            "host": [p for p in _HOST if p not in _NO_VIDEO],
            "user": audio_room_user,
            CALL_MEMBER: _call_member(audio_room_user),
            "anonymous": _ANONYMOUS,
        },
        "development": {
            "admin": admin,
            "user": admin,
            CALL_MEMBER: _call_member(admin),
            "guest": _GUEST,
            "anonymous": _ANONYMOUS,
        },
    }


def _call_type(name: str) -> Json:
    grants = _grants()[name]
    return {
        "settings": copy.deepcopy(_SETTINGS[name]),
        "grants": {role: sorted(set(ids)) for role, ids in grants.items()},
        "notification_settings": _notification_settings(),
    }


def builtin_call_types() -> dict[str, Json]:
    """name -> {settings, grants, notification_settings}, fresh copies for seeding."""
    return {name: _call_type(name) for name in BUILTIN_CALL_TYPES}


#: Bumped whenever a built-in type gains a role, so a sandbox seeded before gets it once
#: (revision 2: ``call_member``).
BUILTIN_ROLES_REVISION = "2"


def missing_builtin_roles(name: str, grants: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The roles built-in type ``name`` starts with that ``grants`` lacks, with their defaults.
    No request removes a role (grants replace per role): a missing one was never there."""
    if name not in BUILTIN_CALL_TYPES:
        return {}
    starting: dict[str, list[str]] = _call_type(name)["grants"]
    return {role: ids for role, ids in starting.items() if role not in grants}


def template_settings() -> Json:
    """Settings a new call type starts from before the request is merged in: ``default``'s."""
    return copy.deepcopy(_SETTINGS["default"])


def template_notification_settings() -> Json:
    return _notification_settings()


def template_grants() -> dict[str, list[str]]:
    """Grants of a new call type before the request's roles replace them: ``default``'s."""
    return {role: sorted(set(ids)) for role, ids in _grants()["default"].items()}


def template_call_type() -> Json:
    """What CreateCallType starts a new call type from before the request applies: ``default``'s
    settings, grants and notification settings."""
    return _call_type("default")


def starting_call_type(name: str) -> Json:
    """A call type before any request changes it: the built-in one of that name, or else
    :func:`template_call_type`."""
    return _call_type(name) if name in BUILTIN_CALL_TYPES else template_call_type()


def starting_backstage(name: str) -> Json:
    """Only the ``backstage`` part of :func:`starting_settings`, as a settings object: all that
    the join rules read, without copying the rest."""
    return {
        "backstage": dict(_SETTINGS[name if name in BUILTIN_CALL_TYPES else "default"]["backstage"])
    }


def starting_settings(name: str) -> Json:
    """The settings of :func:`starting_call_type`."""
    return copy.deepcopy(_SETTINGS[name if name in BUILTIN_CALL_TYPES else "default"])


def replace_grants(
    grants: Mapping[str, Sequence[str]], request: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    """Grants after a request: each role it names gets exactly its list; the others keep theirs."""
    replaced = {role: list(ids) for role, ids in grants.items()}
    replaced.update({role: list(ids) for role, ids in (request or {}).items()})
    return replaced


def changed_call_type(
    current: Json,
    *,
    settings: Mapping[str, Any] | None = None,
    grants: Mapping[str, Sequence[str]] | None = None,
    notification_settings: Mapping[str, Any] | None = None,
) -> Json:
    """A call type's settings, grants and notification settings after a CreateCallType (with
    ``current`` the template) or an UpdateCallType request: settings merge, grants replace per
    role."""
    return {
        "settings": merge_settings(current["settings"], settings),
        "grants": replace_grants(current["grants"], grants),
        "notification_settings": merge_settings(
            current["notification_settings"], notification_settings
        ),
    }


def call_type_settings(
    name: str, current: Mapping[str, Any] | None, declared: Mapping[str, Any] | None
) -> Json:
    """A call type's settings once ``declared`` is applied: over ``current`` when the call type
    exists (None: it does not yet, so over :func:`starting_settings`)."""
    return merge_settings(starting_settings(name) if current is None else current, declared)
