"""Calls: GetCall, GetOrCreateCall, UpdateCall, DeleteCall, EndCall (mark_ended), QueryCalls.

A call's effective settings are its call type's settings with ``settings_override`` merged in
(:func:`stagecfg.rules.settings.merge_settings`), fixed at creation and changed only by
UpdateCall. Going live and stopping live are in :mod:`.live`; members in :mod:`.members`.

Choices where Stream's behaviour is not documented:

* A soft-deleted call is invisible; get_or_create on its cid makes a fresh call (the unique
  index on ``cid`` covers live rows only).
* PATCH of ``settings_override.backstage.enabled`` changes the call's settings only; the current
  ``backstage`` flag moves only with go_live / stop_live.
* Ending a call (EndCall) stops every egress, transcription and captions with its session.
* QueryCalls ``limit`` 0 means the default (25), so a client following ``next`` always advances.
  The default order (created_at, cid) pages by keyset; an explicit sort pages by offset.
* GetOrCreateCall with ``ring`` / ``notify`` sends ``call.ring`` / ``call.notification`` from the
  creator to the other members whether or not it created the call; a second EndCall sends no
  second ``call.ended``.
"""

from __future__ import annotations

import json
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.roles import own_capabilities
from stagecfg.rules.settings import backstage_of, merge_settings
from stagecfg.sandbox import query
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.call_rows import CALL_COLUMNS, find_call, live_call, reload, stored_state
from stagecfg.sandbox.call_types import call_type_row
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.egress import stop_everything_state
from stagecfg.sandbox.events import emit_call_events, save_call
from stagecfg.sandbox.grants import require, updated_event
from stagecfg.sandbox.members import check_member_requests, upsert_members
from stagecfg.sandbox.requests import (
    check_call_id,
    check_keys,
    check_request,
    check_settings,
    check_typed_request,
    check_types,
    instant,
    is_int32,
)
from stagecfg.sandbox.responses import call_state, render_calls
from stagecfg.sandbox.store import Transaction
from stagecfg.sandbox.tasks import record_task
from stagecfg.sandbox.users import require_active, require_users, write_user

#: CallRequest: the ``data`` of GetOrCreateCall (and of a client-side join with ``create``).
CALL_REQUEST_KEYS = {
    "channel_cid",
    "created_by",
    "created_by_id",
    "custom",
    "members",
    "settings_override",
    "starts_at",
    "team",
    "video",
}
_GET_OR_CREATE_KEYS = {"data", "members_limit", "notify", "ring", "video"}
_UPDATE_CALL_KEYS = {"starts_at", "custom", "settings_override"}
_QUERY_CALLS_KEYS = {"filter_conditions", "sort", "limit", "next", "prev", "watch"}
#: Field types of CallRequest (``created_by``, ``members``, ``settings_override`` and
#: ``starts_at`` have checks of their own).
CALL_REQUEST_TYPES = {
    "channel_cid": "string",
    "created_by_id": "string",
    "custom": "object",
    "team": "string",
    "video": "boolean",
}
_GET_OR_CREATE_TYPES = {"notify": "boolean", "ring": "boolean", "video": "boolean"}


def check_call_request(op: str, data: Any) -> Json:
    """A CallRequest (the ``data`` of GetOrCreateCall and JoinCall): keys and field types."""
    checked = check_keys(op, "data", data, CALL_REQUEST_KEYS)
    check_types(op, "data", checked, CALL_REQUEST_TYPES)
    return checked


def check_members_limit(op: str, body: Json) -> None:
    limit = body.get("members_limit")
    if limit is not None and not (is_int32(limit) and limit <= 100):
        raise input_error(op, "members_limit must be an integer of at most 100")


def get_call(ctx: Context, call_type: str, call_id: str, caller: str | None = None) -> Json:
    """GetCall. ``caller`` is the user of a user token (None: server-side, which may read any
    call and holds every capability): they are checked as a call control's caller is (barred,
    then ``read-call``), and ``own_capabilities`` are theirs, per-call overrides included."""
    op = "GetCall"
    with ctx.store.read() as tx:
        row = live_call(tx, op, call_type, call_id)
        access = require(tx, op, row, stored_state(row), caller)
        state = call_state(tx, row)
    state["own_capabilities"] = own_capabilities(access)
    return state


def get_or_create_call(ctx: Context, call_type: str, call_id: str, body: Json) -> Json:
    op = "GetOrCreateCall"
    body = check_typed_request(op, body, _GET_OR_CREATE_TYPES, keys=_GET_OR_CREATE_KEYS)
    check_members_limit(op, body)
    data = check_call_request(op, body.get("data"))
    check_call_id(op, call_id)
    with ctx.store.write() as tx:
        row = find_call(tx, call_type, call_id)
        created = row is None
        if created:
            type_row = call_type_row(tx, call_type, op)
            row = insert_call(ctx, tx, op, call_type, call_id, json.loads(type_row[1]), data)
        state = call_state(tx, row)
        partials = [created_event(state)] if created else []
        partials += _ringing(state, body, data)
        emit_call_events(tx, ctx.now(), row, partials, state["call"])
        return {**state, "created": created}


def _ringing(state: Json, body: Json, data: Json) -> list[Json]:
    """``call.ring`` and ``call.notification`` for GetOrCreateCall's ``ring`` and ``notify``:
    sent by the call's creator to its other members, created or not."""
    kinds = [
        k for k, flag in (("call.ring", "ring"), ("call.notification", "notify")) if body.get(flag)
    ]
    if not kinds:
        return []
    call = state["call"]
    creator = call["created_by"]
    rung = [m for m in state["members"] if m["user_id"] != creator["id"]]
    video = bool(body.get("video", data.get("video", False)))
    out: list[Json] = []
    for kind in kinds:
        event: Json = {"type": kind, "session_id": call["current_session_id"], "members": rung}
        event["user"] = creator
        if kind == "call.ring":
            event["video"] = video
        out.append(event)
    return out


def created_event(state: Json) -> Json:
    """``call.created`` of a call just created, as :func:`emit_call_events` completes it."""
    return {"type": "call.created", "members": state["members"]}


def insert_call(
    ctx: Context,
    tx: Transaction,
    op: str,
    call_type: str,
    call_id: str,
    type_data: Json,
    data: Json,
) -> Any:
    """Check a CallRequest and store the new call with its members; the new row."""
    now = ctx.now()
    creator = data.get("created_by")
    creator_id = data.get("created_by_id")
    if creator is not None:
        if not isinstance(creator, dict):
            raise input_error(op, "data.created_by must be a user object")
        if creator_id is not None and creator.get("id") != creator_id:
            raise input_error(op, "data.created_by.id and data.created_by_id differ")
        creator_id = creator.get("id")
    if not isinstance(creator_id, str) or not creator_id:
        raise input_error(
            op,
            "either data.created_by or data.created_by_id must be provided when using"
            " server side auth",
        )
    members = check_member_requests(op, data.get("members"))
    override = check_settings(op, "data.settings_override", data.get("settings_override"))
    custom = data.get("custom") or {}
    if not isinstance(custom, dict):
        raise input_error(op, "data.custom must be an object")
    team = data.get("team")
    if team is not None and not isinstance(team, str):
        raise input_error(op, "data.team must be a string")
    starts_at = data.get("starts_at")
    starts_ns = None if starts_at is None else instant(op, "data.starts_at", starts_at)
    if creator is not None:
        # An existing creator is left as it is: creating a call does not rewrite its user.
        exists = tx.execute("SELECT 1 FROM users WHERE id = ?", (creator_id,)).fetchone()
        if not exists:
            write_user(tx, op, creator, now)
    require_active(tx, op, creator_id, now)
    require_users(tx, op, [m["user_id"] for m in members])
    settings = merge_settings(type_data["settings"], override)
    stored: Json = {"custom": custom, "egress": {"broadcasting": False, "rtmps": []}}
    cursor = tx.execute(
        "INSERT INTO calls (cid, type, id, created_by_id, backstage, team, starts_at,"
        " created_at, updated_at, data, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            f"{call_type}:{call_id}",
            call_type,
            call_id,
            creator_id,
            int(backstage_of(settings).enabled),
            team or None,
            starts_ns,
            now,
            now,
            json.dumps(stored),
            json.dumps(settings),
        ),
    )
    seq = cursor.lastrowid
    assert seq is not None
    upsert_members(tx, seq, members, now)
    return reload(tx, seq)


def update_call(ctx: Context, call_type: str, call_id: str, body: Json) -> Json:
    op = "UpdateCall"
    body = check_request(op, body, _UPDATE_CALL_KEYS)
    override = check_settings(op, "settings_override", body.get("settings_override"))
    if "custom" in body and body["custom"] is not None and not isinstance(body["custom"], dict):
        raise input_error(op, "custom must be an object")
    columns: dict[str, object] = {}
    if "starts_at" in body:
        value = body["starts_at"]
        columns["starts_at"] = None if value is None else instant(op, "starts_at", value)
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        stored = stored_state(row)
        if body.get("custom") is not None:
            stored["custom"] = body["custom"]
        stored["settings"] = merge_settings(stored["settings"], override)
        updated = updated_event(tx, call_type)
        return call_state(tx, save_call(ctx, tx, row, stored, [updated], **columns))


def delete_call(ctx: Context, call_type: str, call_id: str, body: Json | None = None) -> Json:
    op = "DeleteCall"
    body = check_typed_request(op, body, {"hard": "boolean"}, keys={"hard"})
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        state = call_state(tx, row)
        emit_call_events(tx, ctx.now(), row, [{"type": "call.deleted"}], state["call"])
        if body.get("hard"):
            tx.execute("DELETE FROM calls WHERE seq = ?", (row[0],))
            result = {row[1]: {"status": "ok"}}
            return {"call": state["call"], "task_id": record_task(tx, ctx.now(), result)}
        tx.execute(
            "UPDATE calls SET deleted_at = ?, ongoing = 0 WHERE seq = ?", (ctx.now(), row[0])
        )
        return {"call": state["call"]}


def mark_ended(ctx: Context, call_type: str, call_id: str) -> Json:
    op = "EndCall"
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        now = ctx.now()
        stored = stored_state(row)
        session = stored.get("session")
        if session and session.get("ended_at") is None:
            session["ended_at"] = now
            session["participants"] = []
        stop_everything_state(stored)
        # Ending twice keeps the first ended_at.
        ended_at = row[9] if row[9] is not None else now
        own = [{"type": "call.ended"}] if row[9] is None else []
        save_call(ctx, tx, row, stored, own, ended_at=ended_at, ongoing=0)
    return {}


def query_calls(ctx: Context, body: Json) -> Json:
    op = "QueryCalls"
    body = check_typed_request(op, body, {"watch": "boolean"}, keys=_QUERY_CALLS_KEYS)
    params: list[object] = []
    try:
        where = query.compile_filter(
            body.get("filter_conditions"), query.CALL_FIELDS, params, calls=True
        )
        order = query.compile_sort(body.get("sort"), query.CALL_SORT_FIELDS, 2)
        limit = query.parse_limit(body.get("limit"))
        cursor = query.request_cursor(body)
    except query.QueryError as exc:
        raise input_error(op, str(exc)) from None
    # The default order is keyset-paged on (created_at, cid), so deep pages stay cheap.
    keyset = not order
    order = [*(order or [("calls.created_at", 1)]), ("calls.cid", 1)]
    sql = f"SELECT {CALL_COLUMNS} FROM calls WHERE deleted_at IS NULL AND ({where})"
    offset = cursor.offset
    if keyset and cursor.key is not None:
        if len(cursor.key) != 2:
            raise input_error(op, "next/prev is not a valid cursor")
        sql += " AND (calls.created_at, calls.cid) > (?, ?)"
        params.extend(cursor.key)
        offset = 0
    sql += f" ORDER BY {query.order_clause(order)} LIMIT ? OFFSET ?"
    params.extend([limit + 1, offset])
    with ctx.store.read() as tx:
        rows = tx.execute(sql, params).fetchall()
        page = rows[:limit]
        calls = render_calls(tx, page)
    out: Json = {"calls": calls}
    last_key = (page[-1][10], page[-1][1]) if keyset and page else None
    query.add_page_links(out, cursor, limit, len(rows) > limit, last_key)
    return out
