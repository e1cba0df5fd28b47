"""The fields Stream sends as ``null`` when they hold no value, rather than leaving them out.

Stream's API server writes its optional object and timestamp fields as ``null`` (its recorded
GetCall response has ``"ended_at": null``, ``"egress": {"hls": null, ...}``, ``"limits":
{"max_participants": null, ...}``), while optional strings such as ``team`` are left out. The
OpenAPI spec marks none of them nullable, so the list is kept here, once: the renderers in
:mod:`.responses` fill a response in with :func:`fill_call` and :func:`fill_settings` just
before it goes out. Nothing stored ever holds these nulls; a stored value wins over the null.
"""

from __future__ import annotations

from collections.abc import Mapping

from stagecfg.model import Json

#: CallResponse: optional fields that are null until they hold a value.
CALL_NULLS: tuple[str, ...] = ("starts_at", "ended_at", "session", "thumbnails")
#: CallSessionResponse: the session's instants, null until they happen.
SESSION_NULLS: tuple[str, ...] = (
    "started_at",
    "ended_at",
    "live_started_at",
    "live_ended_at",
    "timer_ends_at",
)
#: EgressResponse: ``hls`` is null while no HLS broadcast runs.
EGRESS_NULLS: tuple[str, ...] = ("hls",)
#: CallSettingsResponse: per sub-object, the optional fields null means "none" for
#: (``limits``: unlimited; ``screensharing.target_resolution``: the client's own).
SETTINGS_NULLS: Mapping[str, tuple[str, ...]] = {
    "limits": ("max_duration_seconds", "max_participants"),
    "screensharing": ("target_resolution",),
}


def _fill(body: Json, names: tuple[str, ...]) -> None:
    for name in names:
        if name not in body:
            body[name] = None


def fill_settings(settings: Json) -> Json:
    """``settings`` (changed in place, and returned) with Stream's nulls in its sub-objects.

    Idempotent, so settings shared between the calls of one response may be filled twice.
    """
    for key, names in SETTINGS_NULLS.items():
        sub = settings.get(key)
        if isinstance(sub, dict):
            _fill(sub, names)
    return settings


def fill_session(session: Json) -> Json:
    """A CallSessionResponse (changed in place, and returned) with its unset instants null."""
    _fill(session, SESSION_NULLS)
    return session


def fill_call(call: Json) -> Json:
    """A CallResponse (changed in place, and returned) with Stream's nulls filled in.

    ``call["egress"]`` must be the response's own copy, not a stored object.
    """
    _fill(call, CALL_NULLS)
    egress = call.get("egress")
    if isinstance(egress, dict):
        _fill(egress, EGRESS_NULLS)
    return call
