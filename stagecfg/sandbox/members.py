"""Call members: UpdateCallMembers, QueryCallMembers, and member rows for calls being created.

Choices where Stream's behaviour is not documented:

* A member added without a role gets ``call_member`` (:data:`~stagecfg.rules.builtins.CALL_MEMBER`).
* UpdateCallMembers sends ``call.member_removed`` (the ids of members it removed),
  ``call.member_added`` (new members), ``call.member_updated`` (members it updated that were
  members already) and ``call.member_updated_permission`` (those of them whose role changed),
  in that order, each only when it names someone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.builtins import CALL_MEMBER
from stagecfg.rules.limits import MEMBERS_PER_REQUEST
from stagecfg.rules.roles import roles_of
from stagecfg.sandbox import query
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.call_rows import live_call
from stagecfg.sandbox.call_types import call_type_capabilities
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.events import emit_call_events
from stagecfg.sandbox.requests import check_keys, check_request, check_types
from stagecfg.sandbox.responses import MEMBER_COLUMNS, member_response, users_by_id
from stagecfg.sandbox.store import Transaction
from stagecfg.sandbox.users import require_users

_MEMBER_KEYS = {"user_id", "role", "custom"}
_UPDATE_KEYS = {"update_members", "remove_members"}
_QUERY_KEYS = {"type", "id", "filter_conditions", "sort", "limit", "next", "prev"}


def check_member_requests(op: str, members: Any) -> list[Json]:
    """A list of MemberRequest (at most :data:`MEMBERS_PER_REQUEST`), each with a user id."""
    if members is None:
        return []
    if not isinstance(members, list):
        raise input_error(op, "members must be a list")
    if len(members) > MEMBERS_PER_REQUEST:
        raise input_error(op, f"at most {MEMBERS_PER_REQUEST} members per request")
    out = []
    for m in members:
        m = check_keys(op, "member", m, _MEMBER_KEYS)
        if not isinstance(m.get("user_id"), str) or not m["user_id"]:
            raise input_error(op, "member.user_id is required")
        check_types(op, "member", m, {"role": "string", "custom": "object"})
        out.append(m)
    return out


def upsert_members(tx: Transaction, seq: int, members: Sequence[Json], now: int) -> None:
    """Add or replace the members of call ``seq`` (a member's ``created_at`` stays)."""
    tx.executemany(
        "INSERT INTO members (call_seq, user_id, role, custom, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_seq, user_id) DO UPDATE SET"
        " role = excluded.role, custom = excluded.custom, updated_at = excluded.updated_at",
        [
            (
                seq,
                m["user_id"],
                m.get("role") or CALL_MEMBER,
                json.dumps(m.get("custom") or {}),
                now,
                now,
            )
            for m in members
        ],
    )


def roles(tx: Transaction, seq: int, user_id: str) -> tuple[str, ...]:
    """The user's app role and, if a member of call ``seq``, their call role."""
    user = tx.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
    member = tx.execute(
        "SELECT role FROM members WHERE call_seq = ? AND user_id = ?", (seq, user_id)
    ).fetchone()
    return roles_of(user and user[0], member and member[0])


def update_call_members(ctx: Context, call_type: str, call_id: str, body: Json) -> Json:
    op = "UpdateCallMembers"
    body = check_request(op, body, _UPDATE_KEYS)
    update = check_member_requests(op, body.get("update_members"))
    remove = body.get("remove_members") or []
    if not isinstance(remove, list) or not all(isinstance(u, str) for u in remove):
        raise input_error(op, "remove_members must be a list of user ids")
    if len(remove) > MEMBERS_PER_REQUEST:
        raise input_error(op, f"at most {MEMBERS_PER_REQUEST} remove_members per request")
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        require_users(tx, op, [m["user_id"] for m in update])
        now = ctx.now()
        named = list(dict.fromkeys([*remove, *(m["user_id"] for m in update)]))
        before = (
            dict(
                tx.execute(
                    f"SELECT user_id, role FROM members WHERE call_seq = ? AND user_id IN"
                    f" ({', '.join('?' * len(named))})",
                    [row[0], *named],
                ).fetchall()
            )
            if named
            else {}
        )
        if remove:
            tx.execute(
                f"DELETE FROM members WHERE call_seq = ? AND user_id IN"
                f" ({', '.join('?' * len(remove))})",
                [row[0], *remove],
            )
        upsert_members(tx, row[0], update, now)
        tx.execute("UPDATE calls SET updated_at = ? WHERE seq = ?", (now, row[0]))
        # Stream answers with the members in the order the request names them (a user named
        # twice is answered once, where first named).
        ids = list(dict.fromkeys(m["user_id"] for m in update))
        answer: list[Json] = []
        if ids:
            rows = tx.execute(
                f"SELECT {MEMBER_COLUMNS} FROM members"
                f" WHERE call_seq = ? AND user_id IN ({', '.join('?' * len(ids))})",
                [row[0], *ids],
            ).fetchall()
            by_user = {m[1]: m for m in rows}
            users = users_by_id(tx, ids)
            answer = [member_response(by_user[uid], users) for uid in ids]
        removed = [uid for uid in dict.fromkeys(remove) if uid in before and uid not in ids]
        emit_call_events(tx, now, row, _member_events(tx, call_type, before, removed, answer))
        return {"members": answer}


def _member_events(
    tx: Transaction, call_type: str, before: dict[str, str], removed: list[str], answer: list[Json]
) -> list[Json]:
    """The events of one UpdateCallMembers (see the module's docstring)."""
    added = [m for m in answer if m["user_id"] not in before]
    updated = [m for m in answer if m["user_id"] in before]
    promoted = [m for m in updated if m["role"] != before[m["user_id"]]]
    out: list[Json] = []
    if removed:
        out.append({"type": "call.member_removed", "members": removed})
    if added:
        out.append({"type": "call.member_added", "members": added})
    if updated:
        out.append({"type": "call.member_updated", "members": updated})
    if promoted:
        out.append(
            {
                "type": "call.member_updated_permission",
                "members": promoted,
                "capabilities_by_role": call_type_capabilities(tx, call_type),
            }
        )
    return out


def query_call_members(ctx: Context, body: Json) -> Json:
    """QueryCallMembers: filter and sort one call's members; ``next`` / ``prev`` page by offset."""
    op = "QueryCallMembers"
    body = check_request(op, body, _QUERY_KEYS)
    call_type, call_id = body.get("type"), body.get("id")
    if not isinstance(call_type, str) or not isinstance(call_id, str):
        raise input_error(op, "type and id are required")
    if len(call_type) > 64 or len(call_id) > 64:
        raise input_error(op, "type and id are at most 64 characters")
    params: list[object] = []
    try:
        where = query.compile_filter(body.get("filter_conditions"), query.MEMBER_FIELDS, params)
        order = query.compile_sort(body.get("sort"), query.MEMBER_SORT_FIELDS, 1)
        limit = query.parse_limit(body.get("limit"))
        cursor = query.request_cursor(body)
    except query.QueryError as exc:
        raise input_error(op, str(exc)) from None
    # user_id last makes the order total, so offset pages neither repeat nor skip a member.
    order = [*order, ("members.user_id", 1)]
    with ctx.store.read() as tx:
        row = live_call(tx, op, call_type, call_id)
        rows = tx.execute(
            f"SELECT {MEMBER_COLUMNS} FROM members"
            f" WHERE call_seq = ? AND {where} ORDER BY {query.order_clause(order)}"
            " LIMIT ? OFFSET ?",
            [row[0], *params, limit + 1, cursor.offset],
        ).fetchall()
        page = rows[:limit]
        users = users_by_id(tx, [m[1] for m in page])
    out: Json = {"members": [member_response(m, users) for m in page]}
    query.add_page_links(out, cursor, limit, len(rows) > limit, None)
    return out
