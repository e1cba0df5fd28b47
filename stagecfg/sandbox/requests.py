"""Checks on request bodies that every resource shares.

Each operation names its own allowed keys (next to the operation, in its resource module) and
calls :func:`check_keys`; the settings, grants and notification checks, timestamps and the id
rule are the same for call types and calls, so they live here once. A failed check raises
Stream's 400 code 4 with the operation's name.

Choice where Stream's behaviour is not documented: ``null`` inside a settings request leaves the
field as it is (the SDK never sends null); :func:`check_settings` lets it through and
:func:`stagecfg.rules.settings.merge_settings` skips it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from stagecfg import timestamps
from stagecfg.rules.settings import NOTIFICATION_EVENTS, SETTINGS_KEYS
from stagecfg.sandbox.apierror import input_error

Json = dict[str, Any]

#: Call type names and call ids: what Stream accepts in a URL path segment.
ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

_NOTIFICATION_KEYS = {"enabled", *NOTIFICATION_EVENTS}


def check_keys(op: str, what: str, body: Any, allowed: Iterable[str]) -> Json:
    """``body`` as an object with only ``allowed`` keys; an absent body is an empty one."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise input_error(op, f"{what} must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise input_error(op, f"{what} has unknown field(s): {', '.join(unknown)}")
    return body


def check_settings(op: str, what: str, settings: Any) -> Json:
    """A CallSettingsRequest: known top-level keys, each an object (or null, left as it is)."""
    body = check_keys(op, what, settings, SETTINGS_KEYS)
    for key, value in body.items():
        if value is not None and not isinstance(value, dict):
            raise input_error(op, f"{what}.{key} must be an object")
    return body


def check_grants(op: str, grants: Any) -> dict[str, list[str]]:
    """Grants: role -> list of permission ids."""
    if grants is None:
        return {}
    if not isinstance(grants, dict):
        raise input_error(op, "grants must be an object mapping role to a list of permissions")
    for role, ids in grants.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise input_error(op, f"grants.{role} must be a list of permission strings")
    return grants


def check_notifications(op: str, body: Any) -> Json:
    """NotificationSettings: ``enabled`` plus one object per notification event."""
    checked = check_keys(op, "notification_settings", body, _NOTIFICATION_KEYS)
    for key, value in checked.items():
        if key != "enabled" and value is not None and not isinstance(value, dict):
            raise input_error(op, f"notification_settings.{key} must be an object")
    return checked


def check_call_id(op: str, call_id: str) -> None:
    """The id rule for a call about to be created."""
    if not ID_RE.match(call_id or ""):
        raise input_error(op, "call id must be 1-64 letters, digits, underscores or dashes")


def instant(op: str, name: str, value: Any) -> int:
    """An RFC 3339 timestamp (or nanoseconds) from a request, as integer nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise input_error(op, f"{name} must be an RFC 3339 timestamp")
    try:
        return timestamps.to_nanos(value)
    except ValueError:
        raise input_error(op, f"{name} must be an RFC 3339 timestamp, got {value!r}") from None
