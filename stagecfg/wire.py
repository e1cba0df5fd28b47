"""Stream's wire shapes -> stagecfg's state objects.

Both the local backend (which calls the sandbox engine in-process) and the stream backend (which
talks HTTP) receive the same response JSON, so both convert it here, once.
"""

from __future__ import annotations

from typing import Any

from stagecfg import timestamps
from stagecfg.model import CallState, CallTypeState, Json, UserState


def _instant(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return timestamps.normalize(value)


def call_type_from_wire(body: Json) -> CallTypeState:
    """A CallTypeResponse (or Get/Create/UpdateCallTypeResponse) as a CallTypeState."""
    return CallTypeState(
        name=body["name"],
        settings=body.get("settings") or {},
        grants={role: list(perms) for role, perms in (body.get("grants") or {}).items()},
        notification_settings=body.get("notification_settings") or {},
        external_storage=body.get("external_storage") or None,
        created_at=_instant(body.get("created_at")),
        updated_at=_instant(body.get("updated_at")),
    )


def call_from_wire(state: Json) -> CallState:
    """A CallStateResponseFields (``{"call": ..., "members": [...]}``) as a CallState."""
    call = state["call"]
    session = call.get("session") or {}
    members = {
        m["user_id"]: (m.get("role") or "")
        for m in state.get("members") or ()
        if not m.get("deleted_at")
    }
    created_by = call.get("created_by") or {}
    return CallState(
        cid=call["cid"],
        created_by_id=created_by.get("id"),
        starts_at=_instant(call.get("starts_at")),
        settings=call.get("settings") or {},
        custom=call.get("custom") or {},
        backstage=bool(call.get("backstage")),
        team=call.get("team") or None,
        members=members,
        created_at=_instant(call.get("created_at")),
        updated_at=_instant(call.get("updated_at")),
        ended_at=_instant(call.get("ended_at")),
        live_started_at=_instant(session.get("live_started_at")),
        live_ended_at=_instant(session.get("live_ended_at")),
    )


def user_from_wire(body: Json) -> UserState:
    return UserState(
        id=body["id"],
        role=body.get("role") or "user",
        name=body.get("name") or None,
        custom=body.get("custom") or {},
    )
