"""Users' account state: DeactivateUser(s), ReactivateUser(s), DeleteUsers and RestoreUsers.

A deactivated user keeps everything but is left out of QueryUsers (unless
``include_deactivated_users``) and cannot join or create calls until reactivated. A deleted user
(``user: soft``) is left out of QueryUsers and cannot be updated, joined with or added as a
member until RestoreUsers brings it back; ``pruning`` also clears its data (name, image, custom
and the other UserRequest fields); ``hard`` removes the user and its call memberships for good,
and Stream requires ``messages`` and ``conversations`` to be ``hard`` with it. The batch
operations are tasks in Stream; the sandbox does the work at once and answers with the id of a
task already ``completed`` (:mod:`.tasks`), which GetTask then reports.

Choices where Stream's behaviour is not documented:

* Every named user must exist (and, except for DeleteUsers' ``hard``, not be deleted), or the
  request is refused (400 code 4, naming them) and nothing changes; DeactivateUser and
  ReactivateUser answer 404 code 16 for an unknown user.
* Deactivating a deactivated user keeps its first ``deactivated_at``; ReactivateUser refuses a
  user that is not deactivated, ReactivateUsers leaves such users as they are.
* A batch task's result names each user it handled, ``{"<user id>": {"status": "ok"}}``, as a
  hard DeleteCall's names the call.
* DeleteUsers without ``user`` deletes softly; ``calls`` deletes the user's calls with exactly
  two members (one of them the user); ``new_call_owner_id`` (an existing user) becomes the
  creator of the calls the deleted users created. Messages, conversations and files do not
  exist in a video sandbox, so their modes are only checked.
* ``user.deactivated`` / ``user.reactivated`` / ``user.deleted`` are sent for each user whose
  state changed (not for one already in that state; a soft-deleted user deleted ``hard`` sends
  ``user.deleted`` again); RestoreUsers sends nothing (the spec has no event for it), nor do the
  calls DeleteUsers' ``calls`` deletes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from stagecfg.model import Json
from stagecfg.sandbox.apierror import input_error, not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.events import emit, emit_users, user_event
from stagecfg.sandbox.requests import check_typed_request
from stagecfg.sandbox.responses import USER_COLUMNS, user_response, users_by_id
from stagecfg.sandbox.store import Transaction
from stagecfg.sandbox.tasks import record_task

#: user_ids of the batch operations: Stream's spec allows 1 to 100.
MAX_USER_IDS = 100
_DEACTIVATE_ONE = {"created_by_id": "string", "mark_messages_deleted": "boolean"}
_DEACTIVATE_MANY = {**_DEACTIVATE_ONE, "user_ids": "strings", "mark_channels_deleted": "boolean"}
_REACTIVATE_ONE = {"created_by_id": "string", "name": "string", "restore_messages": "boolean"}
_REACTIVATE_MANY = {
    "created_by_id": "string",
    "restore_messages": "boolean",
    "restore_channels": "boolean",
    "user_ids": "strings",
}
_DELETE = {
    "user_ids": "strings",
    "user": "string",
    "messages": "string",
    "conversations": "string",
    "calls": "string",
    "files": "boolean",
    "new_call_owner_id": "string",
    "new_channel_owner_id": "string",
}
#: DeleteUsersRequest's delete modes per field ("" means "do not delete").
_MODES = {
    "user": ("soft", "pruning", "hard"),
    "messages": ("soft", "pruning", "hard"),
    "conversations": ("soft", "hard"),
    "calls": ("soft", "hard"),
}


def _in(values: Sequence[object]) -> str:
    """The ``(?, ?, ...)`` of an ``IN`` over ``values``."""
    return f"({', '.join('?' * len(values))})"


def _checked(op: str, body: Json | None, types: dict[str, str]) -> Json:
    body = check_typed_request(op, body, types)
    return body


def _user_ids(op: str, body: Json) -> list[str]:
    ids = body.get("user_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_USER_IDS or not all(ids):
        raise input_error(op, f"user_ids must list 1 to {MAX_USER_IDS} user ids")
    return list(dict.fromkeys(ids))


def _states(tx: Transaction, ids: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """(deactivated_at, deleted_at) of each of ``ids`` that has a row."""
    rows = tx.execute(
        f"SELECT id, deactivated_at, deleted_at FROM users WHERE id IN {_in(ids)}", ids
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _require(op: str, states: dict[str, tuple[int | None, int | None]], ids: list[str]) -> None:
    missing = [uid for uid in ids if uid not in states or states[uid][1] is not None]
    if missing:
        raise input_error(op, f"the following users don't exist: {', '.join(missing)}")


def _one(tx: Transaction, op: str, user_id: str) -> tuple[int | None, int | None]:
    found = _states(tx, [user_id]).get(user_id)
    if found is None or found[1] is not None:
        raise not_found(op, f"user {user_id[:80]} does not exist")
    return found


def _user(tx: Transaction, user_id: str) -> Json:
    row = tx.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return user_response(row, user_id)


def _task(tx: Transaction, now: int, ids: list[str]) -> Json:
    """The answer of a batch operation: a completed task that handled ``ids``, recorded in the
    same transaction as the work, so GetTask answers for it (and a refusal records none)."""
    return {"task_id": record_task(tx, now, {uid: {"status": "ok"} for uid in sorted(ids)})}


def deactivate_user(ctx: Context, user_id: str, body: Json | None) -> Json:
    op = "DeactivateUser"
    _checked(op, body, _DEACTIVATE_ONE)
    with ctx.store.write() as tx:
        deactivated_at, _deleted = _one(tx, op, user_id)
        now = ctx.now()
        tx.execute(
            "UPDATE users SET deactivated_at = COALESCE(deactivated_at, ?), updated_at = ?"
            " WHERE id = ?",
            (now, now, user_id),
        )
        if deactivated_at is None:
            emit_users(ctx, tx, "user.deactivated", [user_id])
        return {"user": _user(tx, user_id)}


def deactivate_users(ctx: Context, body: Json | None) -> Json:
    return _set_active_many(ctx, "DeactivateUsers", body, _DEACTIVATE_MANY, active=False)


def reactivate_user(ctx: Context, user_id: str, body: Json | None) -> Json:
    op = "ReactivateUser"
    body = _checked(op, body, _REACTIVATE_ONE)
    with ctx.store.write() as tx:
        deactivated_at, _deleted = _one(tx, op, user_id)
        if deactivated_at is None:
            raise input_error(op, f"user {user_id[:80]} is not deactivated")
        now = ctx.now()
        if body.get("name") is not None:
            data = tx.execute("SELECT data FROM users WHERE id = ?", (user_id,)).fetchone()[0]
            tx.execute(
                "UPDATE users SET data = ? WHERE id = ?",
                (json.dumps({**json.loads(data), "name": body["name"]}), user_id),
            )
        tx.execute(
            "UPDATE users SET deactivated_at = NULL, updated_at = ? WHERE id = ?", (now, user_id)
        )
        emit_users(ctx, tx, "user.reactivated", [user_id])
        return {"user": _user(tx, user_id)}


def reactivate_users(ctx: Context, body: Json | None) -> Json:
    return _set_active_many(ctx, "ReactivateUsers", body, _REACTIVATE_MANY, active=True)


def _set_active_many(
    ctx: Context, op: str, body: Json | None, shape: dict[str, str], *, active: bool
) -> Json:
    """DeactivateUsers and ReactivateUsers: one write, an event per user whose state changed,
    and the task Stream answers with. They differ only in the direction."""
    body = _checked(op, body, shape)
    ids = _user_ids(op, body)
    with ctx.store.write() as tx:
        states = _states(tx, ids)
        _require(op, states, ids)
        now = ctx.now()
        if active:
            tx.executemany(
                "UPDATE users SET deactivated_at = NULL, updated_at = ?"
                " WHERE id = ? AND deactivated_at IS NOT NULL",
                [(now, uid) for uid in ids],
            )
        else:
            tx.executemany(
                "UPDATE users SET deactivated_at = ?, updated_at = ?"
                " WHERE id = ? AND deactivated_at IS NULL",
                [(now, now, uid) for uid in ids],
            )
        # states[u][0] is deactivated_at before this write.
        changed = [u for u in ids if (states[u][0] is not None) == active]
        emit_users(ctx, tx, "user.reactivated" if active else "user.deactivated", changed)
        return _task(tx, now, ids)


def _modes(op: str, body: Json) -> dict[str, str]:
    modes = {}
    for name, allowed in _MODES.items():
        mode = body.get(name) or ""
        if mode and mode not in allowed:
            raise input_error(op, f"{name} must be one of {', '.join(allowed)}")
        modes[name] = mode
    modes["user"] = modes["user"] or "soft"
    if modes["user"] == "hard" and not (modes["messages"] == modes["conversations"] == "hard"):
        raise input_error(op, "user: hard needs messages: hard and conversations: hard as well")
    return modes


def _one_to_one_calls(tx: Transaction, ids: list[str]) -> list[int]:
    """Calls (not deleted) with exactly two members, one of them among ``ids``."""
    rows = tx.execute(
        "SELECT calls.seq FROM calls JOIN members ON members.call_seq = calls.seq"
        " WHERE calls.deleted_at IS NULL GROUP BY calls.seq HAVING COUNT(*) = 2"
        f" AND SUM(members.user_id IN {_in(ids)}) > 0",
        ids,
    ).fetchall()
    return [row[0] for row in rows]


def delete_users(ctx: Context, body: Json | None) -> Json:
    op = "DeleteUsers"
    body = _checked(op, body, _DELETE)
    ids = _user_ids(op, body)
    modes = _modes(op, body)
    owner = body.get("new_call_owner_id")
    with ctx.store.write() as tx:
        states = _states(tx, ids)
        missing = [u for u in ids if u not in states]
        if modes["user"] != "hard":
            missing += [u for u in ids if u in states and states[u][1] is not None]
        if missing:
            raise input_error(op, f"the following users don't exist: {', '.join(missing)}")
        if owner is not None:
            owner_state = _states(tx, [owner]).get(owner)
            if owner in ids or owner_state is None or owner_state[1] is not None:
                raise input_error(
                    op, f"new_call_owner_id {owner[:80]} must be a user that is not deleted"
                )
            tx.execute(
                f"UPDATE calls SET created_by_id = ? WHERE created_by_id IN {_in(ids)}",
                [owner, *ids],
            )
        now = ctx.now()
        # Read before a hard delete removes them: its event shows each user as they were.
        gone = users_by_id(tx, ids) if modes["user"] == "hard" else {}
        if modes["calls"]:
            seqs = _one_to_one_calls(tx, ids)
            if seqs and modes["calls"] == "hard":
                tx.execute(f"DELETE FROM calls WHERE seq IN {_in(seqs)}", seqs)
            elif seqs:
                tx.execute(
                    f"UPDATE calls SET deleted_at = ?, ongoing = 0 WHERE seq IN {_in(seqs)}",
                    [now, *seqs],
                )
        if modes["user"] == "hard":
            tx.execute(f"DELETE FROM members WHERE user_id IN {_in(ids)}", ids)
            tx.execute(f"DELETE FROM users WHERE id IN {_in(ids)}", ids)
        else:
            data = ", data = '{}'" if modes["user"] == "pruning" else ""
            tx.execute(
                f"UPDATE users SET deleted_at = COALESCE(deleted_at, ?), updated_at = ?{data}"
                f" WHERE id IN {_in(ids)}",
                [now, now, *ids],
            )
        shown = gone or users_by_id(tx, ids)
        for uid in ids:
            # A user deleted softly before sends user.deleted again only when now hard-deleted.
            if states[uid][1] is None or modes["user"] == "hard":
                emit(tx, _deleted_event(now, shown[uid], modes))
        return _task(tx, now, ids)


def _deleted_event(now: int, user: Json, modes: dict[str, str]) -> Json:
    """``user.deleted`` with the modes DeleteUsers ran (no messages or channels in a video app)."""
    return user_event(
        "user.deleted",
        now,
        user,
        delete_user=modes["user"],
        delete_messages=modes["messages"],
        delete_conversation=modes["conversations"],
        hard_delete=modes["user"] == "hard",
        mark_messages_deleted=False,
        delete_conversation_channels=False,
    )


def restore_users(ctx: Context, body: Json | None) -> Json:
    """RestoreUsers: soft-deleted (or pruned) users come back; any other id is refused."""
    op = "RestoreUsers"
    body = _checked(op, body, {"user_ids": "strings"})
    ids = _user_ids(op, body)
    with ctx.store.write() as tx:
        states = _states(tx, ids)
        refused = [u for u in ids if states.get(u, (None, None))[1] is None]
        if refused:
            raise input_error(op, f"the following users are not deleted: {', '.join(refused)}")
        now = ctx.now()
        tx.execute(
            f"UPDATE users SET deleted_at = NULL, updated_at = ? WHERE id IN {_in(ids)}",
            [now, *ids],
        )
    return {}
