"""Wire response bodies: call types, users, members, calls and their sessions.

Every response the sandbox answers with is rendered here from stored rows, so a change to a
response's shape is made in one place. Calls render in batches (:func:`render_calls`): a page of
calls costs one members query and one users query per 500 ids, never one per call, because the
bench and QueryCalls render thousands of calls at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.roles import own_capabilities
from stagecfg.rules.settings import backstage_of
from stagecfg.sandbox.nulls import fill_call, fill_session, fill_settings
from stagecfg.sandbox.store import Transaction

#: Ids per ``IN (...)`` list: well under SQLite's limit on bound variables.
_BATCH = 500

#: The columns every users SELECT reads, in the order :func:`user_response` unpacks; the last
#: is the JSON list of the users this one blocks (:mod:`.user_blocks`).
USER_COLUMNS = (
    "id, role, data, created_at, updated_at, deactivated_at, deleted_at,"
    " (SELECT json_group_array(blocked_user_id) FROM user_blocks"
    " WHERE user_blocks.user_id = users.id)"
)

#: The columns every members SELECT reads, in the order :func:`member_response` unpacks.
MEMBER_COLUMNS = "call_seq, user_id, role, custom, created_at, updated_at"


def call_type_response(row: Sequence[Any]) -> Json:
    """CallTypeResponse from a ``call_types`` row (name, data, created_at, updated_at)."""
    name, data, created_at, updated_at = row
    stored = json.loads(data)
    body: Json = {
        "name": name,
        "settings": fill_settings(stored["settings"]),
        "grants": stored["grants"],
        "notification_settings": stored["notification_settings"],
        "created_at": created_at,
        "updated_at": updated_at,
    }
    if stored.get("external_storage"):
        body["external_storage"] = stored["external_storage"]
    return body


def user_response(row: Sequence[Any] | None, user_id: str) -> Json:
    """UserResponse from a ``users`` row (the :data:`USER_COLUMNS`, in that order)."""
    if row is None:
        # Only reachable for a user row removed by hand; keep the response well-formed.
        return {
            "id": user_id,
            "role": "user",
            "custom": {},
            "language": "",
            "teams": [],
            "created_at": 0,
            "updated_at": 0,
            "banned": False,
            "online": False,
            "blocked_user_ids": [],
            "shadow_banned": False,
            "invisible": False,
        }
    uid, role, data, created_at, updated_at, deactivated_at, deleted_at, blocks = row
    stored = json.loads(data)
    user: Json = {
        "id": uid,
        "role": role,
        "custom": stored.get("custom") or {},
        "language": stored.get("language") or "",
        "teams": list(stored.get("teams") or []),
        "created_at": created_at,
        "updated_at": updated_at,
        "banned": False,
        "online": False,
        "blocked_user_ids": sorted(json.loads(blocks or "[]")),
        "shadow_banned": False,
        "invisible": bool(stored.get("invisible", False)),
    }
    for key in ("name", "image"):
        if stored.get(key):
            user[key] = stored[key]
    for key in ("teams_role", "privacy_settings"):
        if stored.get(key):
            user[key] = stored[key]
    if deactivated_at is not None:
        user["deactivated_at"] = deactivated_at
    if deleted_at is not None:
        user["deleted_at"] = deleted_at
    return user


def users_by_id(tx: Transaction, ids: Iterable[str]) -> dict[str, Json]:
    """UserResponse per id, read in batches; ids without a row are left out."""
    wanted = sorted(set(ids))
    out: dict[str, Json] = {}
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        rows = tx.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE id IN ({', '.join('?' * len(chunk))})",
            list(chunk),
        ).fetchall()
        for row in rows:
            out[row[0]] = user_response(row, row[0])
    return out


def member_response(m: Sequence[Any], users: Mapping[str, Json]) -> Json:
    """MemberResponse from a ``members`` row, its user taken from ``users``."""
    _seq, user_id, role, custom, created_at, updated_at = m
    return {
        "user_id": user_id,
        "user": users.get(user_id) or user_response(None, user_id),
        "custom": json.loads(custom),
        "role": role,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def session_response(session: Json, users: Mapping[str, Json]) -> Json:
    """CallSessionResponse from a call's stored session."""
    participants = []
    by_role: dict[str, int] = {}
    for p in session.get("participants", []):
        participants.append(
            {
                "user": users.get(p["user_id"]) or user_response(None, p["user_id"]),
                "user_session_id": p["user_session_id"],
                "role": p["role"],
                "joined_at": p["joined_at"],
            }
        )
        by_role[p["role"]] = by_role.get(p["role"], 0) + 1
    out: Json = {
        "id": session["id"],
        "participants": participants,
        "participants_count_by_role": dict(sorted(by_role.items())),
        "anonymous_participant_count": 0,
        "accepted_by": {},
        "rejected_by": {},
        "missed_by": {},
    }
    for key in ("started_at", "ended_at", "live_started_at", "live_ended_at", "timer_ends_at"):
        if session.get(key) is not None:
            out[key] = session[key]
    return fill_session(out)


def call_response(row: Sequence[Any], stored: Json, users: Mapping[str, Json]) -> Json:
    """CallResponse from a ``calls`` row and its decoded state.

    The row's columns are :data:`stagecfg.sandbox.call_rows.CALL_COLUMNS`, in that order.
    """
    (
        _seq,
        cid,
        call_type,
        call_id,
        created_by_id,
        backstage,
        _ongoing,
        team,
        starts_at,
        ended_at,
        created_at,
        updated_at,
        _data,
        _settings,
    ) = row
    settings = stored["settings"]
    if isinstance(settings, dict):
        fill_settings(settings)
    call: Json = {
        "type": call_type,
        "id": call_id,
        "cid": cid,
        "backstage": bool(backstage),
        "blocked_user_ids": list(stored.get("blocked_user_ids") or []),
        "captioning": bool(stored.get("captioning")),
        "created_at": created_at,
        "created_by": users.get(created_by_id) or user_response(None, created_by_id),
        "current_session_id": "",
        "custom": stored.get("custom") or {},
        "egress": dict(stored.get("egress") or {"broadcasting": False, "rtmps": []}),
        "ingress": {
            "rtmp": {"address": f"rtmps://ingress.sandbox.invalid:443/{call_type}/{call_id}"},
            "srt": {"address": f"srt://ingress.sandbox.invalid:7001?streamid={cid}"},
            "whip": {"address": f"https://ingress.sandbox.invalid/whip/{call_type}/{call_id}"},
        },
        "recording": bool(stored.get("recording")),
        "settings": settings,
        "transcribing": bool(stored.get("transcribing")),
        "translating": bool(stored.get("translating")),
        "updated_at": updated_at,
        # backstage_of reads a stored row of any shape (one from before requests were checked).
        "join_ahead_time_seconds": backstage_of(settings).join_ahead_time_seconds,
    }
    if starts_at is not None:
        call["starts_at"] = starts_at
    if ended_at is not None:
        call["ended_at"] = ended_at
    if team:
        call["team"] = team
    session = stored.get("session")
    if session:
        call["current_session_id"] = session["id"]
        call["session"] = session_response(session, users)
    return fill_call(call)


def render_calls(tx: Transaction, rows: Sequence[Any]) -> list[Json]:
    """CallStateResponseFields for each row, with members and users read in batches."""
    seqs = [row[0] for row in rows]
    members: dict[int, list[Sequence[Any]]] = {seq: [] for seq in seqs}
    for start in range(0, len(seqs), _BATCH):
        chunk = seqs[start : start + _BATCH]
        for m in tx.execute(
            f"SELECT {MEMBER_COLUMNS} FROM members"
            f" WHERE call_seq IN ({', '.join('?' * len(chunk))}) ORDER BY call_seq, user_id",
            list(chunk),
        ).fetchall():
            members[m[0]].append(m)
    user_ids: set[str] = {row[4] for row in rows}
    for ms in members.values():
        user_ids.update(m[1] for m in ms)
    decoded: list[Json] = []
    # Calls made from one call type mostly carry identical settings: decode each distinct
    # text once per response (the dicts are shared only within this one response).
    settings_memo: dict[str, Json] = {}
    for row in rows:
        stored = json.loads(row[12])
        text = row[13]
        if text is not None:
            if text not in settings_memo:
                settings_memo[text] = json.loads(text)
            stored["settings"] = settings_memo[text]
        decoded.append(stored)
        session = stored.get("session") or {}
        user_ids.update(p["user_id"] for p in session.get("participants", []))
    users = users_by_id(tx, user_ids)
    out = []
    for row, stored in zip(rows, decoded, strict=True):
        out.append(
            {
                "call": call_response(row, stored, users),
                "members": [member_response(m, users) for m in members[row[0]]],
                # Server-side: every capability; a user's own are set by whoever serves them.
                "own_capabilities": own_capabilities(None),
            }
        )
    return out


def call_state(tx: Transaction, row: Any) -> Json:
    """CallStateResponseFields for one call."""
    return render_calls(tx, [row])[0]
