"""The shape of Stream's call settings, and the one settings merge.

Stream applies a settings request field by field: a call type update, a new call type over its
template, and a call's ``settings_override`` over its call type's settings at creation all merge
the same way (reference section 5). :func:`merge_settings` is that merge, and every part of
stagecfg that needs effective settings (the sandbox, the planner, the checks, the access report
and the plan's access review) calls it.

The merge, per value in the request:

* an object merges into the object it meets, key by key, recursively;
* a list or a scalar replaces what was there (``geofencing.names`` is replaced, not appended);
* ``null`` leaves the field as it is (Stream reads an absent and a null field alike).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple

from stagecfg.model import Json

#: Top-level keys of CallSettingsRequest.
SETTINGS_KEYS: frozenset[str] = frozenset(
    {
        "audio",
        "backstage",
        "broadcasting",
        "encryption",
        "frame_recording",
        "geofencing",
        "individual_recording",
        "ingress",
        "limits",
        "raw_recording",
        "recording",
        "ring",
        "screensharing",
        "session",
        "thumbnails",
        "transcription",
        "video",
    }
)

#: The events of NotificationSettings, each with its own push settings.
NOTIFICATION_EVENTS: tuple[str, ...] = (
    "call_live_started",
    "call_missed",
    "call_notification",
    "call_ring",
    "session_started",
)


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data, without :func:`copy.deepcopy`'s memo bookkeeping.

    The memo made deepcopy most of a 100,000-call plan review; plain JSON trees need none of it.
    Anything that is not a dict, list or scalar still goes to deepcopy.
    """
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _merge_into(merged: Json, request: Mapping[str, Any]) -> None:
    for key, value in request.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            _merge_into(merged[key], value)  # merged[key] is already this merge's own copy
        else:
            merged[key] = copy_json(value)


def merge_settings(base: Mapping[str, Any], request: Mapping[str, Any] | None) -> Json:
    """``base`` with a settings request merged in, as Stream applies it; neither is changed."""
    merged: Json = copy_json(dict(base))
    if request:
        _merge_into(merged, request)
    return merged


class Backstage(NamedTuple):
    """The backstage part of effective settings: all that decides who may join when."""

    enabled: bool = False
    join_ahead_time_seconds: int = 0


_NO_BACKSTAGE = Backstage()


def backstage_of(settings: Mapping[str, Any]) -> Backstage:
    """The backstage settings of effective settings; a negative join-ahead counts as 0.

    Called once per call when a plan is reviewed, so the common case (a dict holding an int)
    takes no detour; a NamedTuple is several times cheaper to build than a frozen dataclass.
    """
    backstage = settings.get("backstage")
    if type(backstage) is not dict and not isinstance(backstage, Mapping):
        return _NO_BACKSTAGE
    ahead = backstage.get("join_ahead_time_seconds") or 0
    if type(ahead) is not int:
        try:
            ahead = int(ahead)
        except (TypeError, ValueError, OverflowError):
            ahead = 0  # not a number: the schema or the server reports it; nobody joins early
    return Backstage(bool(backstage.get("enabled")), ahead if ahead > 0 else 0)


def effective_backstage(
    settings: Mapping[str, Any], override: Mapping[str, Any] | None
) -> Backstage:
    """``backstage_of(merge_settings(settings, override))``, merging only the backstage part.

    Nothing but ``backstage`` decides access, and merging whole settings objects once per call
    was most of the review of a 100,000-call plan; the part merges by the same rule.
    """
    if not override or override.get("backstage") is None:
        return backstage_of(settings)
    part = {"backstage": settings["backstage"]} if "backstage" in settings else {}
    return backstage_of(merge_settings(part, {"backstage": override["backstage"]}))


def followed_settings(
    type_declared: Mapping[str, Any] | None, override: Mapping[str, Any] | None
) -> Json:
    """The fields a call follows from its call type: what the type declares, less the override.

    Stream copies a type's settings into a call when the call is created, so a later type change
    reaches no existing call; stagecfg carries it to the calls the manifests declare. A call
    follows each declared leaf of its type that its own ``settings_override`` does not set (a
    null in the override sets nothing, as in :func:`merge_settings`); a list is one leaf.

    The result shares values with ``type_declared`` (the planner asks once per declared call,
    and copying was most of a no-op plan): callers read it and never change it.
    """
    out: Json = {}
    for key, value in (type_declared or {}).items():
        if value is None:
            continue
        mine = override.get(key) if override else None
        if mine is None:
            out[key] = value
        elif isinstance(value, Mapping) and isinstance(mine, Mapping):
            part = followed_settings(value, mine)
            if part:
                out[key] = part
    return out


def call_settings_request(
    type_declared: Mapping[str, Any] | None,
    override: Mapping[str, Any] | None,
    *,
    follows: bool,
) -> Json:
    """The settings the manifests hold a declared existing call to, as one settings request.

    The followed part of the type's declared settings (when ``follows``) with the call's own
    ``settings_override`` merged over it; merged into the call's current settings it gives the
    call's effective settings once the plan has run. Read-only, like :func:`followed_settings`.
    """
    if not follows or not type_declared:
        return dict(override or {})
    followed = followed_settings(type_declared, override)
    return _overlay(followed, override) if override else followed


def _overlay(base: Json, request: Mapping[str, Any]) -> Json:
    """:func:`merge_settings` without its copies, for read-only results (see above)."""
    out = dict(base)
    for key, value in request.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _overlay(out[key], value)
        else:
            out[key] = value
    return out
