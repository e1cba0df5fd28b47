"""Stream's permission ids for call type grants, and the capabilities they unlock.

Grants hold permission ids, which are not always spelled like the capability strings Stream
returns in ``own_capabilities`` (``start-recording`` unlocks ``start-record-call``). One table,
:data:`PERMISSION_TO_CAPABILITY`, holds every spelling that differs; the reverse direction (what
to write when a manifest names a capability) is derived from it. The lists follow the API
reference, section 3.2.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

#: The OwnCapability enum of the spec, in spec order; a server-side caller holds all of them.
OWN_CAPABILITIES: tuple[str, ...] = (
    "block-users",
    "change-max-duration",
    "create-call",
    "create-reaction",
    "enable-noise-cancellation",
    "end-call",
    "join-backstage",
    "join-call",
    "join-ended-call",
    "kick-user",
    "mute-users",
    "pin-for-everyone",
    "read-call",
    "remove-call-member",
    "screenshare",
    "send-audio",
    "send-closed-captions-call",
    "send-video",
    "start-broadcast-call",
    "start-closed-captions-call",
    "start-frame-record-call",
    "start-individual-record-call",
    "start-raw-record-call",
    "start-record-call",
    "start-transcription-call",
    "stop-broadcast-call",
    "stop-closed-captions-call",
    "stop-frame-record-call",
    "stop-individual-record-call",
    "stop-raw-record-call",
    "stop-record-call",
    "stop-transcription-call",
    "update-call",
    "update-call-member",
    "update-call-permissions",
    "update-call-settings",
)

#: Permission ids documented for video call types (without a scope suffix), sorted.
PERMISSION_IDS: tuple[str, ...] = (
    "block-user",
    "create-call",
    "create-call-reaction",
    "delete-recording",
    "enable-noise-cancellation",
    "end-call",
    "join-backstage",
    "join-call",
    "join-ended-call",
    "kick-user",
    "list-recordings",
    "mute-users",
    "pin-call-track",
    "read-call",
    "read-call-stats",
    "remove-call-member",
    "screenshare",
    "send-audio",
    "send-event",
    "send-video",
    "start-broadcasting",
    "start-frame-recording",
    "start-recording",
    "start-transcription",
    "stop-broadcasting",
    "stop-frame-recording",
    "stop-recording",
    "stop-transcription",
    "update-call",
    "update-call-member",
    "update-call-member-role",
    "update-call-permissions",
    "update-call-settings",
)

#: Where a permission id and the capability it unlocks are spelled differently (reference 3.2).
PERMISSION_TO_CAPABILITY: Mapping[str, str] = {
    "block-user": "block-users",
    "create-call-reaction": "create-reaction",
    "pin-call-track": "pin-for-everyone",
    "start-recording": "start-record-call",
    "stop-recording": "stop-record-call",
    "start-broadcasting": "start-broadcast-call",
    "stop-broadcasting": "stop-broadcast-call",
    "start-transcription": "start-transcription-call",
    "stop-transcription": "stop-transcription-call",
    "start-frame-recording": "start-frame-record-call",
    "stop-frame-recording": "stop-frame-record-call",
}

#: The permission id a grant needs for a capability spelled differently (the table reversed).
CAPABILITY_TO_PERMISSION: Mapping[str, str] = {
    capability: permission for permission, capability in PERMISSION_TO_CAPABILITY.items()
}

#: Names that are both a permission id and a capability.
SHARED_NAMES: frozenset[str] = frozenset(PERMISSION_IDS) & frozenset(OWN_CAPABILITIES)

OWNER_SUFFIX = "-owner"

#: Scoped variants: ``-owner`` (only on calls the user created), ``-any-team`` (across teams).
SUFFIXES: tuple[str, ...] = (OWNER_SUFFIX, "-any-team")

_KNOWN: frozenset[str] = frozenset(PERMISSION_IDS)


def base_permission(permission: str) -> str:
    """``join-backstage-owner`` -> ``join-backstage``; other ids unchanged."""
    for suffix in SUFFIXES:
        if permission.endswith(suffix):
            return permission[: -len(suffix)]
    return permission


def is_known(permission: str) -> bool:
    """True for a known permission id, optionally with a scope suffix."""
    return base_permission(permission) in _KNOWN


def suggest_permission(permission: str, known: Collection[str] | None = None) -> str | None:
    """What to write instead of an unknown permission id, or None when nothing is close.

    ``known`` is the app's own list of permission ids (``validate --online``); without it the
    documented ids (and their scoped variants) are the vocabulary.
    """
    base = base_permission(permission)
    suffix = permission[len(base) :]
    if known is not None:
        right = CAPABILITY_TO_PERMISSION.get(base)
        if right is not None and right + suffix in known:
            return f"did you mean '{right}{suffix}'? ('{base}' is the capability name)"
        close = difflib.get_close_matches(permission, sorted(known), n=1, cutoff=0.6)
        return f"did you mean '{close[0]}'?" if close else None
    if base in CAPABILITY_TO_PERMISSION:
        right = CAPABILITY_TO_PERMISSION[base]
        return f"did you mean '{right}{suffix}'? ('{base}' is the capability name)"
    candidates = sorted(_KNOWN | set(CAPABILITY_TO_PERMISSION))
    matches = difflib.get_close_matches(base, candidates, n=1, cutoff=0.6)
    if not matches:
        return None
    best = CAPABILITY_TO_PERMISSION.get(matches[0], matches[0])
    return f"did you mean '{best}{suffix}'?"


def capability_of(permission: str) -> str:
    """The capability a base permission id unlocks (most are spelled the same)."""
    return PERMISSION_TO_CAPABILITY.get(permission, permission)


def grants_join_backstage(permissions: Iterable[str]) -> bool:
    """True when a role's list lets it into backstage (the owner variant counts)."""
    # A manifest list may hold a non-string the schema reports; it grants nothing, not a crash.
    return any(isinstance(p, str) and base_permission(p) == "join-backstage" for p in permissions)


def permission_for(name: str) -> str | None:
    """The base permission id a per-call grant or revocation names, or None when unknown.

    UpdateUserPermissions takes either spelling (Stream's SDKs pass ``OwnCapability`` values),
    so a capability name is read as the permission that unlocks it. Scoped ids (``-owner``,
    ``-any-team``) are not per-call grants: the grant is already for one user in one call.
    """
    if name in _KNOWN:
        return name
    return CAPABILITY_TO_PERMISSION.get(name)


#: The permission a user token needs for each call-scoped control, and for reading the call
#: with GetCall (server-side tokens may do everything). Reference section 3.2 names the
#: permission ids; the pairing of operation and permission follows the capability each id
#: unlocks. Inferred where Stream has no id of its own: every recording variant checks
#: ``start-recording`` / ``stop-recording``; closed captions check the transcription ids (they
#: are made by the transcription pipeline); listing transcriptions checks ``list-recordings``;
#: ringing checks ``create-call``.
OPERATION_PERMISSIONS: Mapping[str, str] = {
    "BlockUser": "block-user",
    "GetCall": "read-call",
    "KickUser": "kick-user",
    "ListRecordings": "list-recordings",
    "ListTranscriptions": "list-recordings",
    "MuteUsers": "mute-users",
    "QueryCallParticipants": "read-call",
    "RingCall": "create-call",
    "SendCallEvent": "send-event",
    "StartClosedCaptions": "start-transcription",
    "StartHLSBroadcasting": "start-broadcasting",
    "StartRTMPBroadcasts": "start-broadcasting",
    "StartRecording": "start-recording",
    "StartTranscription": "start-transcription",
    "StopAllRTMPBroadcasts": "stop-broadcasting",
    "StopClosedCaptions": "stop-transcription",
    "StopHLSBroadcasting": "stop-broadcasting",
    "StopRTMPBroadcast": "stop-broadcasting",
    "StopRecording": "stop-recording",
    "StopTranscription": "stop-transcription",
    "UnblockUser": "block-user",
    "UpdateUserPermissions": "update-call-permissions",
    "VideoPin": "pin-call-track",
    "VideoUnpin": "pin-call-track",
}
