"""A user's permissions in one call, the check every call control makes, UpdateUserPermissions.

Who may do what is Stream's rule and lives in :mod:`stagecfg.rules` (the grants of the user's
app role and call role, ``-owner`` for the creator, what UpdateUserPermissions granted or
revoked for the user in this call, whether they are blocked from it and their account's
standing: :class:`~stagecfg.rules.roles.CallAccess`); this module gathers those facts from the
store (:func:`access_of`) and asks the rules. A server-side caller (``caller`` None) may do
everything, as on Stream; a user token is refused first when
:func:`~stagecfg.rules.roles.barred` says so (:func:`admit`: JoinCall asks the same), then
needs the permission :data:`~stagecfg.rules.permissions.OPERATION_PERMISSIONS` names for the
operation. Every call response to a user token carries
:func:`~stagecfg.rules.roles.own_capabilities` of the same facts.

Per-call grants are kept in the call's JSON state under ``user_permissions`` (user id ->
sorted ``granted`` and ``revoked`` lists), so a call stored before them has none.

Choices where Stream's behaviour is not documented:

* A user token for a user the app does not have yet acts as a plain ``user``, and a control it
  may run creates that user, as joining does (Stream creates users on connect); a refused one
  stores nothing. GetCall (a read) creates nobody.
* A blocked, deactivated or deleted user is refused every call control, JoinCall and GetCall
  on the call (403 code 17), after the call is found (an unknown call is 404 first).
* UpdateUserPermissions takes any known permission id, or the capability it unlocks, and the
  user must exist; naming one permission both to grant and to revoke is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.permissions import OPERATION_PERMISSIONS, permission_for, suggest_permission
from stagecfg.rules.roles import NO_OVERRIDES, CallAccess, UserOverrides, barred, own_capabilities
from stagecfg.sandbox.apierror import input_error, not_allowed
from stagecfg.sandbox.call_rows import live_call, stored_state
from stagecfg.sandbox.call_types import call_type_capabilities, call_type_grants
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.events import emit_call_events, save_call
from stagecfg.sandbox.members import roles
from stagecfg.sandbox.requests import check_typed_request
from stagecfg.sandbox.responses import users_by_id
from stagecfg.sandbox.store import Transaction
from stagecfg.sandbox.users import ensure_user, require_users, standing_of

_OVERRIDES_KEY = "user_permissions"
UPDATE_KEYS = {"user_id", "grant_permissions", "revoke_permissions"}
UPDATE_TYPES = {
    "user_id": "string",
    "grant_permissions": "strings",
    "revoke_permissions": "strings",
}
#: Permissions one UpdateUserPermissions may name (each list): more than Stream has.
MAX_NAMED = 100


def overrides_of(stored: Json, user_id: str) -> UserOverrides:
    """What UpdateUserPermissions granted and revoked for ``user_id`` in this call."""
    entry = (stored.get(_OVERRIDES_KEY) or {}).get(user_id)
    if not isinstance(entry, dict):
        return NO_OVERRIDES
    return UserOverrides(
        granted=frozenset(entry.get("granted") or ()),
        revoked=frozenset(entry.get("revoked") or ()),
    )


def _keep_overrides(stored: Json, user_id: str, overrides: UserOverrides) -> None:
    table = stored.setdefault(_OVERRIDES_KEY, {})
    if overrides.granted or overrides.revoked:
        table[user_id] = {
            "granted": sorted(overrides.granted),
            "revoked": sorted(overrides.revoked),
        }
    else:
        table.pop(user_id, None)


def blocked_user_ids(stored: Json) -> list[str]:
    """Who is blocked from the call, in the order they were blocked."""
    return list(stored.get("blocked_user_ids") or [])


def access_of(tx: Transaction, row: Any, stored: Json, user_id: str) -> CallAccess:
    """The facts Stream's rules read for ``user_id`` in the call of ``row``."""
    return CallAccess(
        grants=call_type_grants(tx, row[2]),
        # A user the app has not seen yet (GetCall creates nobody) is a plain "user".
        roles=roles(tx, row[0], user_id) or ("user",),
        is_creator=row[4] == user_id,
        overrides=overrides_of(stored, user_id),
        blocked=user_id in blocked_user_ids(stored),
        standing=standing_of(tx, user_id),
    )


def admit(tx: Transaction, op: str, row: Any, stored: Json, user_id: str) -> CallAccess:
    """The user's access to this call; 403 code 17 when the user may do nothing in it at all
    (blocked from it, deactivated or deleted), whatever their grants."""
    access = access_of(tx, row, stored, user_id)
    reason = barred(access)
    if reason is not None:
        raise not_allowed(op, f"user {user_id[:80]} {reason}")
    return access


def require(
    tx: Transaction, op: str, row: Any, stored: Json, caller: str | None
) -> CallAccess | None:
    """The caller's access (None: server-side, which may do everything); 403 code 17 unless
    they may run ``op`` on this call."""
    if caller is None:
        return None
    access = admit(tx, op, row, stored, caller)
    permission = OPERATION_PERMISSIONS[op]
    if not access.holds(permission):
        held = ", ".join(access.roles)
        raise not_allowed(op, f"user {caller} with roles [{held}] lacks {permission}")
    return access


def updated_event(tx: Transaction, call_type: str) -> Json:
    """``call.updated``, with what each role of the call type may do."""
    return {"type": "call.updated", "capabilities_by_role": call_type_capabilities(tx, call_type)}


@dataclass
class Control:
    """One call control in progress: the call's row and its state, changed in place (and
    ``columns`` of the row to set with it, e.g. ``ongoing``); ``access``: the caller's (None
    for a server-side one); ``events``: the control's own events (type and fields), sent
    before those of what it changed (:func:`stagecfg.sandbox.events.save_call`)."""

    tx: Transaction
    row: Any
    stored: Json
    now: int
    caller: str | None
    access: CallAccess | None = None
    changed: bool = False
    columns: dict[str, object] = field(default_factory=dict)
    events: list[Json] = field(default_factory=list)


@contextmanager
def control(
    ctx: Context, op: str, call_type: str, call_id: str, caller: str | None
) -> Iterator[Control]:
    """Find the call (404), check the caller (403), then hand its state to the body of the
    ``with``; the state is saved when the body set ``changed``, and the events sent, all in one
    transaction."""
    with ctx.store.write() as tx:
        now = ctx.now()
        if caller is not None:
            ensure_user(tx, caller, now)
        row = live_call(tx, op, call_type, call_id)
        stored = stored_state(row)
        access = require(tx, op, row, stored, caller)
        current = Control(tx, row, stored, now, caller, access)
        yield current
        if current.changed:
            current.row = save_call(ctx, tx, row, stored, current.events, **current.columns)
        else:
            emit_call_events(tx, now, row, current.events)


def _permission_ids(op: str, what: str, names: list[str] | None) -> frozenset[str]:
    if not names:
        return frozenset()
    if len(names) > MAX_NAMED:
        raise input_error(op, f"{what} may name at most {MAX_NAMED} permissions")
    ids = set()
    for name in names:
        permission = permission_for(name)
        if permission is None:
            hint = suggest_permission(name)
            tail = f"; {hint}" if hint else ""
            raise input_error(op, f"{what}: {name[:80]!r} is not a permission{tail}")
        ids.add(permission)
    return frozenset(ids)


def update_user_permissions(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    """UpdateUserPermissions: grant and revoke permissions for one user in one call."""
    op = "UpdateUserPermissions"
    body = check_typed_request(op, body, UPDATE_TYPES, keys=UPDATE_KEYS)
    user_id = body.get("user_id")
    if not user_id:
        raise input_error(op, "user_id is required")
    grant = _permission_ids(op, "grant_permissions", body.get("grant_permissions"))
    revoke = _permission_ids(op, "revoke_permissions", body.get("revoke_permissions"))
    both = sorted(grant & revoke)
    if both:
        raise input_error(op, f"{', '.join(both)} cannot be both granted and revoked")
    with control(ctx, op, call_type, call_id, caller) as c:
        require_users(c.tx, op, [user_id])
        updated = overrides_of(c.stored, user_id).updated(grant, revoke)
        _keep_overrides(c.stored, user_id, updated)
        c.changed = True
        capabilities = own_capabilities(access_of(c.tx, c.row, c.stored, user_id))
        user = users_by_id(c.tx, [user_id])[user_id]
        c.events.append(
            {"type": "call.permissions_updated", "user": user, "own_capabilities": capabilities}
        )
    return {}
