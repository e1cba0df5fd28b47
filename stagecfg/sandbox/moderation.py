"""Moderation: BlockUser, UnblockUser, KickUser, MuteUsers, VideoPin and VideoUnpin.

A blocked user is listed in the call's ``blocked_user_ids`` (in the order they were blocked)
and may neither join nor run a control nor read the call until unblocked
(:func:`stagecfg.rules.roles.barred`, asked through :func:`.grants.admit`); a kicked user leaves
the current session's ``participants`` and may join again unless ``block`` was set. Pins are
kept with the session they pin in (the wire has no field for them, so only VideoUnpin reads
them); muting acts on published tracks, and nobody publishes media in the sandbox, so MuteUsers
checks its request and the caller and changes nothing.

Choices where Stream's behaviour is not documented:

* Blocking a user who is in the call removes them from it, as kicking does; the user must exist.
  Unblocking a user who is not blocked, and kicking one who is not in the call, are no-ops.
* MuteUsers needs ``user_ids`` or ``mute_all_users``, and ``user_ids`` must be existing users.
* Pinning needs an active session (tracks exist only there); unpinning what is not pinned is a
  no-op. ``kicked_by`` is checked for shape and otherwise ignored; ``muted_by`` (or
  ``muted_by_id``, or the token's user) is the ``from_user_id`` of ``call.user_muted``, which
  MuteUsers sends although nothing changes (``reason`` empty: the request has none).
* ``call.kicked_user`` is sent only for a user who was in the call, with ``kicked_by_user`` for
  a user token's kick.
"""

from __future__ import annotations

from typing import Any

from stagecfg.model import Json
from stagecfg.rules.limits import MEMBERS_PER_REQUEST
from stagecfg.sandbox import users
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.egress import has_active_session
from stagecfg.sandbox.grants import Control, blocked_user_ids, control
from stagecfg.sandbox.requests import check_keys, check_request, check_typed_request
from stagecfg.sandbox.responses import users_by_id
from stagecfg.sandbox.users import require_users

#: The request fields of each control and their types (held to the spec by
#: tests/test_request_rules.py). ``kicked_by`` / ``muted_by`` are UserRequests.
BLOCK_KEYS = {"user_id"}
KICK_TYPES = {"user_id": "string", "block": "boolean", "kicked_by_id": "string"}
KICK_KEYS = {*KICK_TYPES, "kicked_by"}
PIN_TYPES = {"user_id": "string", "session_id": "string"}
MUTE_TYPES = {
    "audio": "boolean",
    "mute_all_users": "boolean",
    "muted_by_id": "string",
    "screenshare": "boolean",
    "screenshare_audio": "boolean",
    "user_ids": "strings",
    "video": "boolean",
}
MUTE_KEYS = {*MUTE_TYPES, "muted_by"}


def _user_id(op: str, body: Json) -> str:
    user_id = body.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise input_error(op, "user_id is required")
    return user_id


def _acting_user(op: str, body: Json, name: str) -> None:
    """``<name>`` (a UserRequest) and ``<name>_id`` name the same user, if both are given."""
    user = body.get(name)
    if user is None:
        return
    # UserRequest's fields, as users.py (which stores users) accepts them.
    user = check_keys(op, name, user, users._USER_REQUEST_KEYS)
    if not isinstance(user.get("id"), str) or not user["id"]:
        raise input_error(op, f"{name}.id is required")
    if body.get(f"{name}_id") not in (None, user["id"]):
        raise input_error(op, f"{name}.id and {name}_id differ")


def _leave(c: Control, user_id: str) -> bool:
    """The user is no longer in the call's current session; whether they were in it."""
    session = c.stored.get("session")
    if not isinstance(session, dict):
        return False
    participants = session.get("participants") or []
    kept = [p for p in participants if p.get("user_id") != user_id]
    if len(kept) != len(participants):
        session["participants"] = kept
        session["pins"] = [p for p in session.get("pins") or [] if p.get("user_id") != user_id]
        c.columns["ongoing"] = int(bool(kept))
        c.changed = True
        return True
    return False


def _block(c: Control, user_id: str) -> bool:
    """Block the user (who leaves the call); whether they were in it."""
    blocked = blocked_user_ids(c.stored)
    if user_id not in blocked:
        c.stored["blocked_user_ids"] = [*blocked, user_id]
        c.changed = True
    return _leave(c, user_id)


def block_user(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "BlockUser"
    user_id = _user_id(op, check_request(op, body, BLOCK_KEYS))
    with control(ctx, op, call_type, call_id, caller) as c:
        require_users(c.tx, op, [user_id])
        _block(c, user_id)
    return {}


def unblock_user(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "UnblockUser"
    user_id = _user_id(op, check_request(op, body, BLOCK_KEYS))
    with control(ctx, op, call_type, call_id, caller) as c:
        blocked = blocked_user_ids(c.stored)
        if user_id in blocked:
            c.stored["blocked_user_ids"] = [u for u in blocked if u != user_id]
            c.changed = True
    return {}


def kick_user(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "KickUser"
    body = check_typed_request(op, body, KICK_TYPES, keys=KICK_KEYS)
    user_id = _user_id(op, body)
    _acting_user(op, body, "kicked_by")
    with control(ctx, op, call_type, call_id, caller) as c:
        if body.get("block"):
            require_users(c.tx, op, [user_id])
            was_in = _block(c, user_id)
        else:
            was_in = _leave(c, user_id)
        if was_in:
            users = users_by_id(c.tx, [user_id])
            kicked: Json = {"type": "call.kicked_user", "user": users.get(user_id, {"id": user_id})}
            if caller is not None:
                kicked["kicked_by_user"] = users_by_id(c.tx, [caller])[caller]
            c.events.append(kicked)
    return {}


def mute_users(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "MuteUsers"
    body = check_typed_request(op, body, MUTE_TYPES, keys=MUTE_KEYS)
    _acting_user(op, body, "muted_by")
    user_ids: list[str] = body.get("user_ids") or []
    if len(user_ids) > MEMBERS_PER_REQUEST:
        raise input_error(op, f"user_ids may name at most {MEMBERS_PER_REQUEST} users")
    if not user_ids and not body.get("mute_all_users"):
        raise input_error(op, "either user_ids or mute_all_users is required")
    with control(ctx, op, call_type, call_id, caller) as c:
        require_users(c.tx, op, user_ids)
        if body.get("mute_all_users"):
            session = c.stored.get("session") or {}
            user_ids = [p["user_id"] for p in session.get("participants") or []]
        muted_by = body.get("muted_by") or {}
        sender = caller or body.get("muted_by_id") or muted_by.get("id") or ""
        c.events.append(
            {
                "type": "call.user_muted",
                "from_user_id": sender,
                "muted_user_ids": list(dict.fromkeys(user_ids)),
                "reason": "",
            }
        )
    return {}


def _pin_request(op: str, body: Json) -> tuple[str, str]:
    body = check_typed_request(op, body, PIN_TYPES)
    session_id = body.get("session_id")
    if not session_id:
        raise input_error(op, "session_id is required")
    return _user_id(op, body), session_id


def _pins(stored: Json) -> list[Any]:
    session = stored.get("session")
    return list(session.get("pins") or []) if isinstance(session, dict) else []


def pin(ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None) -> Json:
    op = "VideoPin"
    user_id, session_id = _pin_request(op, body)
    with control(ctx, op, call_type, call_id, caller) as c:
        if not has_active_session(c.stored):
            raise input_error(op, "there is no active session")
        wanted = {"user_id": user_id, "session_id": session_id}
        pins = _pins(c.stored)
        if wanted not in pins:
            c.stored["session"]["pins"] = [*pins, wanted]
            c.changed = True
    return {}


def unpin(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "VideoUnpin"
    user_id, session_id = _pin_request(op, body)
    with control(ctx, op, call_type, call_id, caller) as c:
        pins = _pins(c.stored)
        kept = [p for p in pins if p != {"user_id": user_id, "session_id": session_id}]
        if len(kept) != len(pins):
            c.stored["session"]["pins"] = kept
            c.changed = True
    return {}
