"""Client-side join (JoinCall), and creating the call on join when ``create`` is set.

Whether a user may join is Stream's rule and lives in :mod:`stagecfg.rules.join` (the stage
the call is in, and the grant that admits the user there); this module gathers the call's state
and the user's access (:func:`.grants.access_of`), asks that rule, and records the participant.

Choices where Stream's behaviour is not documented:

* Grants are the union over the user's app role and call member role from the call type's
  *current* grants.
* An unknown user joins as role ``user`` (Stream creates users on connect).
* ``create: true`` creates the call when the user's app role holds ``create-call``.
* A blocked, deactivated or deleted user is refused (403 code 17) before their grants are read,
  by the same check every call control makes (:func:`.grants.admit`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from stagecfg import timestamps
from stagecfg.model import Json
from stagecfg.rules.join import (
    JOIN_BACKSTAGE,
    JOIN_CALL,
    JOIN_ENDED_CALL,
    admitting_grant,
    join_window,
    stage_of,
)
from stagecfg.rules.roles import holds, own_capabilities
from stagecfg.rules.settings import backstage_of
from stagecfg.sandbox.apierror import input_error, not_allowed, not_found
from stagecfg.sandbox.call_rows import find_call, stored_state
from stagecfg.sandbox.call_types import call_type_row
from stagecfg.sandbox.calls import (
    check_call_request,
    check_members_limit,
    created_event,
    insert_call,
)
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.events import emit_call_events, save_call
from stagecfg.sandbox.grants import admit
from stagecfg.sandbox.live import session
from stagecfg.sandbox.requests import (
    INT32_MAX,
    check_call_id,
    check_typed_request,
)
from stagecfg.sandbox.responses import call_state
from stagecfg.sandbox.store import Transaction
from stagecfg.sandbox.users import ensure_user

_JOIN_KEYS = {
    "create",
    "data",
    "location",
    "members_limit",
    "notify",
    "ring",
    "video",
    "migrating_from",
    "migrating_from_list",
}

_JOIN_TYPES = {
    "create": "boolean",
    "location": "string",
    "notify": "boolean",
    "ring": "boolean",
    "video": "boolean",
    "migrating_from": "string",
    "migrating_from_list": "strings",
}

#: JoinCallResponse.stats_options (client-side spec: both fields required): how often a client
#: reports WebRTC stats. The sandbox has no media, so it asks for no RTC stats.
STATS_OPTIONS: Mapping[str, Any] = {"reporting_interval_ms": 10000, "enable_rtc_stats": False}

#: JoinCall's refusal per stage, as the sandbox words it ({who}: the user and their roles).
_REFUSALS: Mapping[str, str] = {
    "ended": f"call has ended: {{who}} lacks {JOIN_ENDED_CALL}",
    "backstage": f"call is not live: {{who}} lacks {JOIN_BACKSTAGE}",
    "join-ahead": f"{{who}} lacks {JOIN_CALL} and {JOIN_BACKSTAGE}",
    "live": f"{{who}} lacks {JOIN_CALL}",
}


def join_call(ctx: Context, call_type: str, call_id: str, *, user_id: str, body: Json) -> Json:
    """A user joins (client-side): the call type's current grants decide whether they may."""
    op = "JoinCall"
    body = check_typed_request(op, body, _JOIN_TYPES, keys=_JOIN_KEYS)
    check_members_limit(op, body)
    if not isinstance(user_id, str) or not user_id:
        raise input_error(op, "user_id is required")
    data = check_call_request(op, body.get("data"))
    with ctx.store.write() as tx:
        # One reading of the clock decides both the join window and the timestamps.
        instant = ctx.clock()
        now = timestamps.to_nanos(instant)
        # Stream creates a user on first connect, so an unknown token user is a plain "user".
        ensure_user(tx, user_id, now)
        row = find_call(tx, call_type, call_id)
        created = False
        if row is None and body.get("create"):
            row = _create_on_join(ctx, tx, op, call_type, call_id, user_id, data)
            created = True
        if row is None:
            raise not_found(op, f"Can't find call with id {call_type}:{call_id}")
        if created:
            # Sent now, and rolled back with the call if the creator may not join it after all.
            fresh = call_state(tx, row)
            emit_call_events(tx, now, row, [created_event(fresh)], fresh["call"])
        stored = stored_state(row)
        # Blocked, deactivated or deleted: refused before the grants, as every control is.
        access = admit(tx, op, row, stored, user_id)
        # The call's backstage flag (not its settings) says whether it is in backstage now.
        ahead = backstage_of(stored["settings"]).join_ahead_time_seconds
        # Requests hold it to int32 now; a row stored before may hold any integer.
        ahead = min(ahead, INT32_MAX)
        stage = stage_of(
            ended=row[9] is not None,
            in_backstage=bool(row[5]),
            window_open=join_window(True, ahead, row[8]).is_open(instant),
        )
        admitted = admitting_grant(
            access.grants,
            access.roles,
            is_creator=access.is_creator,
            stage=stage,
            overrides=access.overrides,
        )
        if admitted is None:
            who = f"user {user_id} with roles [{', '.join(access.roles)}]"
            raise not_allowed(op, _REFUSALS[stage].format(who=who))
        current = session(stored, now)
        participants = [p for p in current["participants"] if p["user_id"] != user_id]
        participants.append(
            {
                "user_id": user_id,
                "role": access.roles[-1],
                "joined_at": now,
                "user_session_id": str(uuid.uuid4()),
            }
        )
        current["participants"] = participants
        row = save_call(ctx, tx, row, stored, ongoing=1)
        state = call_state(tx, row)
    state["own_capabilities"] = own_capabilities(access)
    membership = next((m for m in state["members"] if m["user_id"] == user_id), None)
    if membership is not None:
        state["membership"] = membership
    return {
        **state,
        "stats_options": dict(STATS_OPTIONS),
        "credentials": {
            "server": {
                "url": "https://sfu.sandbox.invalid",
                "ws_endpoint": "wss://sfu.sandbox.invalid/ws",
                "edge_name": "sandbox",
            },
            "ice_servers": [],
            "token": "",
        },
        "created": created,
    }


def _create_on_join(
    ctx: Context,
    tx: Transaction,
    op: str,
    call_type: str,
    call_id: str,
    user_id: str,
    data: Json,
) -> Any:
    """Client-side get-or-create: the joining user creates the call if create-call allows."""
    type_row = call_type_row(tx, call_type, op)
    type_data = json.loads(type_row[1])
    role = tx.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()[0]
    if not holds(type_data["grants"], [role], "create-call", is_creator=False):
        raise not_allowed(op, f"user {user_id} with role {role} lacks create-call")
    check_call_id(op, call_id)
    # The creator is the joining user, whatever the request's data says.
    request = {k: v for k, v in data.items() if k not in ("created_by", "created_by_id")}
    return insert_call(
        ctx, tx, op, call_type, call_id, type_data, {**request, "created_by_id": user_id}
    )
