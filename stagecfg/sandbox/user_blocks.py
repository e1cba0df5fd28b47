"""Users blocking users across the app: BlockUsers, UnblockUsers and GetBlockedUsers.

These are the app-wide blocks one user keeps of others (a call's own block list is
:mod:`.moderation`'s BlockUser). They are kept in the ``user_blocks`` table, and each user's
``blocked_user_ids`` in every UserResponse lists the users they block.

The blocking user is the user token's user; a server-side request names them with ``user_id``
(or ``user.id``), and a user token may not act for someone else (403 code 17).

Choices where Stream's behaviour is not documented:

* Both users must exist and not be deleted (400 code 4); a user cannot block themselves.
* Blocking again keeps the first block and its time; unblocking a user who is not blocked
  changes nothing and succeeds.
* GetBlockedUsers lists the blocks in the order they were made (then by blocked user id).
* A user deleted for good (DeleteUsers ``hard``) leaves no block behind, either way round.
"""

from __future__ import annotations

from stagecfg.model import Json
from stagecfg.sandbox import users
from stagecfg.sandbox.apierror import input_error, not_allowed
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.requests import check_keys, check_request
from stagecfg.sandbox.responses import user_response, users_by_id

_KEYS = {"blocked_user_id", "user_id", "user"}


def _acting_user(op: str, named: object, caller: str | None) -> str:
    """Who blocks: the user token's user, or the user a server-side request names."""
    if named is not None and not isinstance(named, str):
        raise input_error(op, "user_id must be a string")
    if caller is not None:
        if named is not None and named != caller:
            raise not_allowed(op, "a user token may only act for its own user")
        return caller
    if not named:
        raise input_error(op, "user_id (or user) is required with server-side auth")
    return named


def _parties(op: str, body: Json | None, caller: str | None) -> tuple[str, str]:
    """The blocking user and the blocked one of a BlockUsers or UnblockUsers request."""
    body = check_request(op, body, _KEYS)
    named = body.get("user_id")
    user = body.get("user")
    if user is not None:
        user = check_keys(op, "user", user, users._USER_REQUEST_KEYS)
        if named is not None and user.get("id") != named:
            raise input_error(op, "user.id and user_id name different users")
        named = user.get("id")
    blocker = _acting_user(op, named, caller)
    blocked = body.get("blocked_user_id")
    if not isinstance(blocked, str) or not blocked:
        raise input_error(op, "blocked_user_id is required")
    if blocked == blocker:
        raise input_error(op, "a user cannot block themselves")
    return blocker, blocked


def block_users(ctx: Context, body: Json | None, caller: str | None = None) -> Json:
    op = "BlockUsers"
    blocker, blocked = _parties(op, body, caller)
    with ctx.store.write() as tx:
        users.require_users(tx, op, (blocker, blocked))
        tx.execute(
            "INSERT OR IGNORE INTO user_blocks (user_id, blocked_user_id, created_at)"
            " VALUES (?, ?, ?)",
            (blocker, blocked, ctx.now()),
        )
        (created,) = tx.execute(
            "SELECT created_at FROM user_blocks WHERE user_id = ? AND blocked_user_id = ?",
            (blocker, blocked),
        ).fetchone()
    return {"blocked_by_user_id": blocker, "blocked_user_id": blocked, "created_at": created}


def unblock_users(ctx: Context, body: Json | None, caller: str | None = None) -> Json:
    op = "UnblockUsers"
    blocker, blocked = _parties(op, body, caller)
    with ctx.store.write() as tx:
        users.require_users(tx, op, (blocker, blocked))
        tx.execute(
            "DELETE FROM user_blocks WHERE user_id = ? AND blocked_user_id = ?",
            (blocker, blocked),
        )
    return {}


def get_blocked_users(ctx: Context, user_id: str | None, caller: str | None = None) -> Json:
    """GetBlockedUsers: the users ``user_id`` (a user token: its own user) blocks."""
    op = "GetBlockedUsers"
    uid = _acting_user(op, user_id or None, caller)
    with ctx.store.read() as tx:
        users.require_users(tx, op, (uid,))
        rows = tx.execute(
            "SELECT blocked_user_id, created_at FROM user_blocks WHERE user_id = ?"
            " ORDER BY created_at, blocked_user_id",
            (uid,),
        ).fetchall()
        found = users_by_id(tx, [uid, *(row[0] for row in rows)])
    blocks = [
        {
            "user_id": uid,
            "user": found.get(uid) or user_response(None, uid),
            "blocked_user_id": blocked,
            "blocked_user": found.get(blocked) or user_response(None, blocked),
            "created_at": created,
        }
        for blocked, created in rows
    ]
    return {"blocks": blocks}
