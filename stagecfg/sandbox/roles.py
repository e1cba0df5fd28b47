"""The app's roles and permissions: ListPermissions, GetPermission, ListRoles, CreateRole and
DeleteRole.

The permission list is Stream's video permission vocabulary (:mod:`stagecfg.rules.permissions`):
each id, and its ``-owner`` and ``-any-team`` variants, as the Permission objects Stream lists.
Roles are the built-in ones (:data:`stagecfg.rules.roles.BUILTIN_ROLES`) and the custom roles
created here, stored in the ``roles`` table.

Choices where Stream's behaviour is not documented:

* A role's ``scopes`` are the call types whose grants name it (``video:<type>``).
* Built-in roles answer with the time the sandbox was created.
* A role name follows the call type name rule (``[A-Za-z0-9_-]``, 1 to 64 characters).
* DeleteRole refuses a built-in role (400 code 4), an unknown one (404 code 16), and a custom
  role still in use: held by a user, by a call member, or named in a call type's grants.
"""

from __future__ import annotations

import json

from stagecfg.model import Json
from stagecfg.rules.permissions import OWNER_SUFFIX, PERMISSION_IDS, SUFFIXES, capability_of
from stagecfg.rules.roles import BUILTIN_ROLES
from stagecfg.sandbox.apierror import input_error, not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.requests import check_request, is_id
from stagecfg.sandbox.store import Transaction

ANY_TEAM_SUFFIX = "-any-team"


def _title(permission: str) -> str:
    return " ".join(word.capitalize() for word in permission.split("-"))


def permission_body(permission: str) -> Json:
    """The Permission object for one permission id (with or without a scope suffix)."""
    base, suffix = permission, ""
    for candidate in SUFFIXES:
        if permission.endswith(candidate) and permission[: -len(candidate)] in PERMISSION_IDS:
            base, suffix = permission[: -len(candidate)], candidate
    scope = {"": "", OWNER_SUFFIX: " (owner)", ANY_TEAM_SUFFIX: " (any team)"}[suffix]
    where = {
        "": "on calls in the user's teams",
        OWNER_SUFFIX: "on calls the user created",
        ANY_TEAM_SUFFIX: "on calls of any team",
    }[suffix]
    return {
        "id": permission,
        "name": _title(base) + scope,
        "description": f"Unlocks {capability_of(base)} {where}",
        "action": _title(base).replace(" ", ""),
        "owner": suffix == OWNER_SUFFIX,
        "same_team": suffix != ANY_TEAM_SUFFIX,
        "level": "channel",
        "owner_resource": "Call",
        "custom": False,
        "tags": ["video"],
    }


def permission_ids() -> list[str]:
    """Every permission id the app knows, sorted: each base id and its scoped variants."""
    return sorted(p + s for p in PERMISSION_IDS for s in ("", *SUFFIXES))


def list_permissions(ctx: Context) -> Json:
    return {"permissions": [permission_body(p) for p in permission_ids()]}


def get_permission(ctx: Context, permission: str) -> Json:
    if permission not in set(permission_ids()):
        raise not_found("GetPermission", f"permission {permission[:80]} does not exist")
    return {"permission": permission_body(permission)}


def _scopes(tx: Transaction) -> dict[str, list[str]]:
    """Role -> the call types whose grants name it, as ``video:<type>`` scopes."""
    scopes: dict[str, list[str]] = {}
    for name, data in tx.execute("SELECT name, data FROM call_types ORDER BY name").fetchall():
        grants = json.loads(data).get("grants") or {}
        for role in grants:
            scopes.setdefault(role, []).append(f"video:{name}")
    return scopes


def _role(name: str, custom: bool, created: int, updated: int, scopes: list[str]) -> Json:
    return {
        "name": name,
        "custom": custom,
        "scopes": scopes,
        "created_at": created,
        "updated_at": updated,
    }


def _sandbox_created(tx: Transaction) -> int:
    row = tx.execute("SELECT MIN(created_at) FROM call_types").fetchone()
    return int(row[0] or 0)


def list_roles(ctx: Context) -> Json:
    with ctx.store.read() as tx:
        scopes = _scopes(tx)
        created = _sandbox_created(tx)
        roles = {name: _role(name, False, created, created, []) for name in BUILTIN_ROLES}
        for name, made, changed in tx.execute(
            "SELECT name, created_at, updated_at FROM roles"
        ).fetchall():
            roles[name] = _role(name, True, made, changed, [])
    for name, role in roles.items():
        role["scopes"] = scopes.get(name, [])
    return {"roles": [roles[name] for name in sorted(roles)]}


def create_role(ctx: Context, body: Json | None) -> Json:
    op = "CreateRole"
    body = check_request(op, body, {"name"})
    name = body.get("name")
    if not is_id(name):
        raise input_error(op, "name must be 1 to 64 letters, digits, '_' or '-'")
    with ctx.store.write() as tx:
        exists = tx.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone()
        if name in BUILTIN_ROLES or exists:
            raise input_error(op, f"role {name} already exists")
        now = ctx.now()
        tx.execute(
            "INSERT INTO roles (name, created_at, updated_at) VALUES (?, ?, ?)", (name, now, now)
        )
        scopes = _scopes(tx).get(name, [])
    return {"role": _role(name, True, now, now, scopes)}


def _uses(tx: Transaction, name: str) -> list[str]:
    """Where role ``name`` is still in use, in words."""
    uses = []
    users = tx.execute("SELECT COUNT(*) FROM users WHERE role = ?", (name,)).fetchone()[0]
    if users:
        uses.append(f"{users} user{'s' if users != 1 else ''}")
    members = tx.execute("SELECT COUNT(*) FROM members WHERE role = ?", (name,)).fetchone()[0]
    if members:
        uses.append(f"{members} call member{'s' if members != 1 else ''}")
    types = [scope.removeprefix("video:") for scope in _scopes(tx).get(name, [])]
    if types:
        uses.append(f"the grants of call type{'s' if len(types) != 1 else ''} {', '.join(types)}")
    return uses


def delete_role(ctx: Context, name: str) -> Json:
    op = "DeleteRole"
    if name in BUILTIN_ROLES:
        raise input_error(op, f"role {name} is a built-in role and cannot be deleted")
    with ctx.store.write() as tx:
        if not tx.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone():
            raise not_found(op, f"role {name[:80]} does not exist")
        uses = _uses(tx, name)
        if uses:
            raise input_error(op, f"role {name} is still used by {' and '.join(uses)}")
        tx.execute("DELETE FROM roles WHERE name = ?", (name,))
    return {}
