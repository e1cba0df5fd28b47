"""Stream's permission ids for call-type grants, built-in call roles and "did you mean" help.

Grants hold permission ids, which are not always spelled like the capability strings Stream
returns in ``own_capabilities`` (``start-recording`` vs ``start-record-call``). The lists follow
the API reference, section 3.2.
"""

from __future__ import annotations

import difflib

#: Names that are the same as a permission id and as a capability.
SHARED_NAMES: frozenset[str] = frozenset(
    {
        "create-call",
        "read-call",
        "join-call",
        "join-backstage",
        "join-ended-call",
        "send-audio",
        "send-video",
        "screenshare",
        "mute-users",
        "end-call",
        "update-call",
        "update-call-member",
        "update-call-settings",
        "update-call-permissions",
        "remove-call-member",
        "enable-noise-cancellation",
        "kick-user",
    }
)

#: Permission ids documented for video call types (plus the shared names).
PERMISSION_IDS: frozenset[str] = SHARED_NAMES | frozenset(
    {
        "block-user",
        "create-call-reaction",
        "delete-recording",
        "list-recordings",
        "pin-call-track",
        "send-event",
        "start-broadcasting",
        "stop-broadcasting",
        "start-recording",
        "stop-recording",
        "start-transcription",
        "stop-transcription",
        "update-call-member-role",
        "start-frame-recording",
        "stop-frame-recording",
        "read-call-stats",
    }
)

#: Capability spellings that differ from the permission id a grant needs.
CAPABILITY_TO_PERMISSION: dict[str, str] = {
    "block-users": "block-user",
    "create-reaction": "create-call-reaction",
    "pin-for-everyone": "pin-call-track",
    "start-record-call": "start-recording",
    "stop-record-call": "stop-recording",
    "start-broadcast-call": "start-broadcasting",
    "stop-broadcast-call": "stop-broadcasting",
    "start-transcription-call": "start-transcription",
    "stop-transcription-call": "stop-transcription",
}

#: Scoped variants: ``-owner`` (only on calls the user owns), ``-any-team`` (across teams).
SUFFIXES: tuple[str, ...] = ("-owner", "-any-team")

#: Call roles every app has.
BUILTIN_CALL_ROLES: frozenset[str] = frozenset(
    {"user", "moderator", "host", "admin", "call_member"}
)

#: Built-in call types whose default settings start calls in backstage.
BACKSTAGE_BY_DEFAULT: dict[str, bool] = {
    "audio_room": True,
    "livestream": True,
    "default": False,
    "development": False,
}


def base_permission(permission: str) -> str:
    """``join-backstage-owner`` -> ``join-backstage``; other ids unchanged."""
    for suffix in SUFFIXES:
        if permission.endswith(suffix):
            return permission[: -len(suffix)]
    return permission


def is_known(permission: str) -> bool:
    """True for a known permission id, optionally with a scope suffix."""
    return base_permission(permission) in PERMISSION_IDS


def suggest_permission(permission: str) -> str | None:
    """What to write instead of an unknown permission id, or None when nothing is close."""
    base = base_permission(permission)
    suffix = permission[len(base) :]
    if base in CAPABILITY_TO_PERMISSION:
        right = CAPABILITY_TO_PERMISSION[base]
        return f"did you mean '{right}{suffix}'? ('{base}' is the capability name)"
    candidates = sorted(PERMISSION_IDS | set(CAPABILITY_TO_PERMISSION))
    matches = difflib.get_close_matches(base, candidates, n=1, cutoff=0.6)
    if not matches:
        return None
    best = CAPABILITY_TO_PERMISSION.get(matches[0], matches[0])
    return f"did you mean '{best}{suffix}'?"


def grants_join_backstage(permissions: list[str]) -> bool:
    """True when a role's list lets it into backstage (the owner variant counts)."""
    return any(base_permission(p) == "join-backstage" for p in permissions)
