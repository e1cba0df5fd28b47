"""What a call sends its users without changing its state: SendCallEvent and RingCall.

Stream delivers these as events (``custom``, ``call.ring``) over WebSockets and push; the
sandbox checks the request and the caller exactly as for any control and answers as Stream
does (RingCall with the members it rang). Ringing is also what ``ring: true`` on
GetOrCreateCall asks for; both change no call state.

Choices where Stream's behaviour is not documented:

* A server-side SendCallEvent names its sender (``user_id`` or ``user``), as server-side chat
  events must; a ``user`` that does not exist is created, as a call's ``created_by`` is. A user
  token's event is sent by that user.
* SendCallEvent's ``custom`` event and RingCall's ``call.ring`` go to the event log (and a
  webhook); a ring that reaches nobody sends no event.
* RingCall rings the call's members only (``members_ids`` naming anyone else is refused); with
  no ``members_ids`` it rings every member. Either way it skips those already in the call,
  those blocked from it, and the one ringing (the token's user, or the call's creator for a
  server-side request).
"""

from __future__ import annotations

from stagecfg.model import Json
from stagecfg.sandbox import users
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.grants import Control, blocked_user_ids, control
from stagecfg.sandbox.requests import check_keys, check_typed_request
from stagecfg.sandbox.responses import MEMBER_COLUMNS, member_response, users_by_id
from stagecfg.sandbox.users import require_users, write_user

#: RingCallRequest.members_ids: at most this many (the spec's maxItems).
MAX_RING = 25
#: The request fields and their types (held to the spec by tests/test_request_rules.py).
EVENT_TYPES = {"custom": "object", "user_id": "string"}
EVENT_KEYS = {*EVENT_TYPES, "user"}
RING_TYPES = {"members_ids": "strings", "video": "boolean"}


def send_call_event(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "SendCallEvent"
    body = check_typed_request(op, body, EVENT_TYPES, keys=EVENT_KEYS)
    user = body.get("user")
    sender = body.get("user_id")
    if user is not None:
        user = check_keys(op, "user", user, users._USER_REQUEST_KEYS)
    if user is not None and sender is not None and user.get("id") != sender:
        raise input_error(op, "user.id and user_id differ")
    if caller is None and user is None and not sender:
        raise input_error(op, "either user or user_id must be provided when using server side auth")
    with control(ctx, op, call_type, call_id, caller) as c:
        if caller is None:
            if user is not None:
                sender = user.get("id")
                exists = c.tx.execute("SELECT 1 FROM users WHERE id = ?", (sender,))
                if exists.fetchone() is None:
                    write_user(c.tx, op, user, c.now)
            else:
                require_users(c.tx, op, [str(sender)])
        else:
            sender = caller
        sent_by = users_by_id(c.tx, [str(sender)])[str(sender)]
        c.events.append({"type": "custom", "custom": body.get("custom") or {}, "user": sent_by})
    return {}


def ring_call(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "RingCall"
    body = check_typed_request(op, body, RING_TYPES)
    wanted = body.get("members_ids")
    if wanted is not None and len(wanted) > MAX_RING:
        raise input_error(op, f"members_ids may name at most {MAX_RING} members")
    with control(ctx, op, call_type, call_id, caller) as c:
        members = [
            r[0]
            for r in c.tx.execute(
                "SELECT user_id FROM members WHERE call_seq = ? ORDER BY user_id", (c.row[0],)
            ).fetchall()
        ]
        if wanted:
            strangers = [u for u in dict.fromkeys(wanted) if u not in set(members)]
            if strangers:
                raise input_error(op, f"not members of the call: {', '.join(strangers[:10])}")
            members = list(dict.fromkeys(wanted))
        session = c.stored.get("session") or {}
        present = {p.get("user_id") for p in session.get("participants") or []}
        # Nobody is rung who could not answer: a blocked member may not join.
        skipped = {*present, *blocked_user_ids(c.stored)}
        ringer = caller if caller is not None else c.row[4]
        skipped.add(ringer)
        rung = [u for u in members if u not in skipped]
        if rung:
            c.events.append(_ring_event(c, ringer, rung, bool(body.get("video"))))
    return {"members_ids": rung}


def _ring_event(c: Control, ringer: str, rung: list[str], video: bool) -> Json:
    """``call.ring``: ``ringer`` rings the members ``rung`` (in the answer's order)."""
    rows = c.tx.execute(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE call_seq = ? AND user_id IN"
        f" ({', '.join('?' * len(rung))})",
        [c.row[0], *rung],
    ).fetchall()
    users = users_by_id(c.tx, [*rung, ringer])
    by_user = {m[1]: member_response(m, users) for m in rows}
    session = c.stored.get("session") or {}
    return {
        "type": "call.ring",
        "session_id": session.get("id") or "",
        "members": [by_user[u] for u in rung if u in by_user],
        "user": users.get(ringer) or {"id": ringer},
        "video": video,
    }
