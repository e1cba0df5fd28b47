"""Users: UpdateUsers (upsert), UpdateUsersPartial (set / unset), QueryUsers, and the user rows
other resources write or require.

UpdateUsers replaces the whole user: a field the request leaves out is gone. UpdateUsersPartial
changes only the fields it names, which is what lets stagecfg leave undeclared fields alone.
QueryUsers' filter and sort are compiled by :mod:`.user_filters`; deactivation and deletion
live in :mod:`.user_status`.

A call's creator given as ``data.created_by`` is written here too (:func:`write_user`), and
client-side join creates its user on first sight (:func:`ensure_user`), as Stream does on
connect.

Choices where Stream's behaviour is not documented:

* A deleted user (DeleteUsers, not hard) cannot be upserted, updated or added as a member until
  RestoreUsers brings it back; a hard-deleted user's id is free again.
* Upserting or updating a deactivated user changes its fields and leaves it deactivated.
* QueryUsers leaves deleted users out, and deactivated ones unless
  ``include_deactivated_users``; it answers 30 users unless ``limit`` says otherwise.
* UpdateUsers and UpdateUsersPartial send ``user.updated`` for each user they write, new ones
  too; users created on the way (a call's ``created_by``, a token's user) send none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.roles import Standing, standing_refusal
from stagecfg.sandbox import query, user_filters
from stagecfg.sandbox.apierror import input_error, not_allowed
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.events import emit_users
from stagecfg.sandbox.requests import check_keys, check_request, check_types
from stagecfg.sandbox.responses import USER_COLUMNS, user_response, users_by_id
from stagecfg.sandbox.store import Transaction

_USER_REQUEST_KEYS = {
    "id",
    "role",
    "name",
    "image",
    "custom",
    "teams",
    "teams_role",
    "language",
    "invisible",
    "privacy_settings",
}
#: UserRequest's field types (``id`` and ``role`` are checked on their own).
_USER_REQUEST_TYPES = {
    "name": "string",
    "image": "string",
    "custom": "object",
    "teams": "strings",
    "language": "string",
    "invisible": "boolean",
    "privacy_settings": "object",
}
#: PrivacySettingsResponse: each setting is ``{"enabled": bool}``.
_PRIVACY_SETTINGS = ("delivery_receipts", "read_receipts", "typing_indicators")
#: UpdateUsersPartial: at most this many users per request (Stream's spec: maxItems 100).
MAX_PARTIAL_USERS = 100
#: UpdateUsers and UpdateUsersPartial answer with FullUserResponse: the chat counters and lists,
#: all empty in a video sandbox.
_FULL_USER: Json = {
    "devices": [],
    "mutes": [],
    "channel_mutes": [],
    "unread_count": 0,
    "total_unread_count": 0,
    "unread_channels": 0,
    "unread_threads": 0,
}
#: QueryUsers ``offset``: Stream's spec allows 0 to 1000.
MAX_USERS_OFFSET = 1000
#: QueryUsers without ``limit`` (or with 0): Stream's documented default.
DEFAULT_USERS_LIMIT = 30
_QUERY_USERS_KEYS = {
    "filter_conditions",
    "include_deactivated_users",
    "limit",
    "offset",
    "presence",
    "sort",
    "user",
    "user_id",
}


def _check_fields(op: str, uid: str, user: Json) -> None:
    """The UserRequest fields of ``user`` (any subset) have Stream's types."""
    role = user.get("role")
    if role is not None and not isinstance(role, str):
        raise input_error(op, f"user {uid[:80]}: role must be a string")
    check_types(op, f"user {uid[:80]}", user, _USER_REQUEST_TYPES)
    teams_role = user.get("teams_role")
    if teams_role is not None and not (
        isinstance(teams_role, dict) and all(isinstance(v, str) for v in teams_role.values())
    ):
        raise input_error(op, f"user {uid[:80]}: teams_role must map team to a role string")
    privacy = user.get("privacy_settings")
    if privacy is not None:
        check_keys(op, f"user {uid[:80]}.privacy_settings", privacy, _PRIVACY_SETTINGS)
        for key, setting in privacy.items():
            setting = check_keys(
                op, f"user {uid[:80]}.privacy_settings.{key}", setting, {"enabled"}
            )
            if not isinstance(setting.get("enabled"), bool):
                raise input_error(
                    op, f"user {uid[:80]}: privacy_settings.{key}.enabled must be true or false"
                )


def _store(tx: Transaction, uid: str, role: str, stored: Json, now: int) -> None:
    tx.execute(
        "INSERT INTO users (id, role, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET role = excluded.role, data = excluded.data,"
        " updated_at = excluded.updated_at",
        (uid, role, json.dumps(stored), now, now),
    )


def _deleted(tx: Transaction, uid: str) -> bool:
    row = tx.execute("SELECT deleted_at FROM users WHERE id = ?", (uid,)).fetchone()
    return row is not None and row[0] is not None


def write_user(tx: Transaction, op: str, user: Any, now: int) -> str:
    """Insert or replace one user from a UserRequest; its id."""
    user = check_keys(op, "user", user, _USER_REQUEST_KEYS)
    uid = user.get("id")
    if not isinstance(uid, str) or not uid:
        raise input_error(op, "user.id is required")
    _check_fields(op, uid, user)
    if _deleted(tx, uid):
        raise input_error(
            op, f"user {uid[:80]} was deleted; restore it with RestoreUsers to update it"
        )
    stored = {k: v for k, v in user.items() if k not in ("id", "role") and v is not None}
    _store(tx, uid, user.get("role") or "user", stored, now)
    return uid


def standing_of(tx: Transaction, uid: str) -> Standing:
    """Whether ``uid``'s account is active, deactivated or deleted (a user the app has not seen
    yet is active: Stream creates users on connect)."""
    row = tx.execute("SELECT deactivated_at, deleted_at FROM users WHERE id = ?", (uid,)).fetchone()
    if row is not None and row[1] is not None:
        return "deleted"
    if row is not None and row[0] is not None:
        return "deactivated"
    return "active"


def ensure_user(tx: Transaction, uid: str, now: int) -> Standing:
    """A plain ``user`` row for ``uid`` unless one exists; the account's standing, which the
    caller hands to Stream's rule (:func:`stagecfg.rules.roles.barred`)."""
    tx.execute(
        "INSERT OR IGNORE INTO users (id, role, data, created_at, updated_at)"
        " VALUES (?, 'user', '{}', ?, ?)",
        (uid, now, now),
    )
    return standing_of(tx, uid)


def require_active(tx: Transaction, op: str, uid: str, now: int) -> None:
    """:func:`ensure_user`, then 403 code 17 unless the account is active: who may create a
    call (its creator), by :func:`stagecfg.rules.roles.standing_refusal`."""
    reason = standing_refusal(ensure_user(tx, uid, now))
    if reason is not None:
        raise not_allowed(op, f"user {uid[:80]} {reason}")


def require_users(tx: Transaction, op: str, ids: Iterable[str]) -> None:
    """400 code 4 naming every id without a user row, or whose user was deleted (members must
    be upserted first)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    found = {
        r[0]
        for r in tx.execute(
            f"SELECT id FROM users WHERE id IN ({', '.join('?' * len(wanted))})"
            " AND deleted_at IS NULL",
            wanted,
        ).fetchall()
    }
    missing = [u for u in wanted if u not in found]
    if missing:
        raise input_error(
            op, f"the following users don't exist: {', '.join(missing)}; upsert them first"
        )


def upsert_users(ctx: Context, body: Json) -> Json:
    op = "UpdateUsers"
    body = check_request(op, body, {"users"})
    users = body.get("users")
    if not isinstance(users, dict) or not all(
        u is None or isinstance(u, dict) for u in users.values()
    ):
        raise input_error(op, "users must be an object mapping user id to user")
    with ctx.store.write() as tx:
        now = ctx.now()
        ids = []
        for key, user in users.items():
            if isinstance(user, dict) and user.get("id", key) != key:
                raise input_error(op, f"users.{key}.id does not match its key")
            ids.append(write_user(tx, op, {"id": key, **(user or {})}, now))
        emit_users(ctx, tx, "user.updated", ids)
        found = users_by_id(tx, ids)
    users_out = {uid: {**found[uid], **_FULL_USER} for uid in sorted(found)}
    return {"users": users_out, "membership_deletion_task_id": ""}


def _check_partial(op: str, entry: Any) -> tuple[str, Json, list[str]]:
    """One UpdateUserPartialRequest: its id, ``set`` and ``unset``, checked."""
    entry = check_keys(op, "users[]", entry, {"id", "set", "unset"})
    uid = entry.get("id")
    if not isinstance(uid, str) or not uid:
        raise input_error(op, "users[].id is required")
    fields = _USER_REQUEST_KEYS - {"id"}
    set_ = check_keys(op, f"user {uid[:80]}.set", entry.get("set") or {}, fields)
    unset = entry.get("unset") or []
    if not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
        raise input_error(op, f"user {uid[:80]}: unset must be a list of field names")
    unknown = sorted(set(unset) - fields)
    if unknown:
        raise input_error(op, f"user {uid[:80]}: unset names unknown field {unknown[0][:80]}")
    both = sorted(set(unset) & set(set_))
    if both:
        raise input_error(op, f"user {uid[:80]}: {both[0]} is both set and unset")
    _check_fields(op, uid, set_)
    return uid, set_, unset


def update_users_partial(ctx: Context, body: Json) -> Json:
    """UpdateUsersPartial: each user's ``set`` fields replaced, ``unset`` ones removed, the rest
    kept. Every user must exist; nothing is written unless the whole request is valid."""
    op = "UpdateUsersPartial"
    body = check_request(op, body, {"users"})
    entries = body.get("users")
    if not isinstance(entries, list) or not entries:
        raise input_error(op, "users must be a non-empty list of partial user updates")
    if len(entries) > MAX_PARTIAL_USERS:
        raise input_error(op, f"users holds {len(entries)} updates; at most {MAX_PARTIAL_USERS}")
    updates = [_check_partial(op, entry) for entry in entries]
    ids = [uid for uid, _set, _unset in updates]
    if len(set(ids)) != len(ids):
        raise input_error(op, "users names one user twice; send one update per user")
    with ctx.store.write() as tx:
        require_users(tx, op, ids)
        now = ctx.now()
        for uid, set_, unset in updates:
            role, data = tx.execute("SELECT role, data FROM users WHERE id = ?", (uid,)).fetchone()
            stored = {k: v for k, v in json.loads(data).items() if k not in unset}
            stored.update({k: v for k, v in set_.items() if k != "role" and v is not None})
            if "role" in unset:
                role = "user"
            _store(tx, uid, set_.get("role") or role, stored, now)
        emit_users(ctx, tx, "user.updated", ids)
        found = users_by_id(tx, ids)
    return {
        "users": {uid: {**found[uid], **_FULL_USER} for uid in sorted(found)},
        "membership_deletion_task_id": "",
    }


def query_users(ctx: Context, body: Json) -> Json:
    """QueryUsers: Stream's filter operators on the built-in and custom fields (see
    :mod:`.user_filters`), ``sort``, and ``limit`` (<=100) / ``offset`` (<=1000) pages."""
    op = "QueryUsers"
    if isinstance(body, dict):
        # Stream's SDKs send every payload field, unset ones as null (getstream 7 adds id_gt,
        # id_gte, id_lt and id_lte); the API reads null as absent.
        body = {key: value for key, value in body.items() if value is not None}
    body = check_request(op, body, _QUERY_USERS_KEYS)
    check_types(
        op,
        "request",
        body,
        {"include_deactivated_users": "boolean", "presence": "boolean", "user_id": "string"},
    )
    if body.get("user") is not None:
        check_keys(op, "user", body["user"], _USER_REQUEST_KEYS)
    params: list[object] = []
    try:
        where = user_filters.compile_filter(body.get("filter_conditions"), params)
        order = user_filters.compile_sort(body.get("sort"), params)
        limit = body.get("limit")
        if limit is None or (type(limit) is int and limit == 0):
            limit = DEFAULT_USERS_LIMIT
        limit = query.parse_limit(limit)
    except query.QueryError as exc:
        raise input_error(op, str(exc)) from None
    offset = body.get("offset") or 0
    if type(offset) is not int or not 0 <= offset <= MAX_USERS_OFFSET:
        raise input_error(op, f"offset must be an integer from 0 to {MAX_USERS_OFFSET}")
    state = "users.deleted_at IS NULL"
    if not body.get("include_deactivated_users"):
        state += " AND users.deactivated_at IS NULL"
    with ctx.store.read() as tx:
        rows = tx.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE {state} AND ({where})"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
    return {"users": [user_response(row, row[0]) for row in rows]}
