"""How roles become permissions: the grants of a user's roles, with ``-owner`` for the creator.

A user holds the union of the grants of their app role and of their call member role in the
call's call type (reference section 5). A permission with the ``-owner`` suffix counts only on
a call the user created.

On top of the roles, UpdateUserPermissions grants or revokes permissions for one user in one
call (:class:`UserOverrides`): a revoked permission is gone in every scope (``-owner`` too), a
granted one is held whoever created the call, and the latest call decides for each permission.

:class:`CallAccess` gathers those facts for one user in one call, with the two that bar a user
whatever their grants (:func:`barred`): an account deactivated or deleted, and a block from the
call. JoinCall, every call control and GetCall with a user token ask :func:`barred` first, and
every call response to a user token carries :func:`own_capabilities`, so they all agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from stagecfg.rules.permissions import (
    OWN_CAPABILITIES,
    OWNER_SUFFIX,
    base_permission,
    capability_of,
)

Grants = Mapping[str, Collection[str]]

#: Stream's built-in roles (reference sections 3.2 and 3.3): app roles a user holds app-wide,
#: call roles a member holds in one call. Custom roles are allowed as well; these are the ones
#: editors suggest (the schema's role lists are generated from them, see tools/gen_vocabulary.py).
APP_ROLES: Mapping[str, str] = {
    "user": "App role of an ordinary signed-in user (Stream's default).",
    "admin": "App role of an administrator: every non-owner permission in the built-in types.",
    "guest": "App role of a guest user (a temporary account).",
    "anonymous": "App role of a viewer without an account (anonymous token).",
}
CALL_ROLES: Mapping[str, str] = {
    "host": "Call role of a member who runs the call (on livestream: may join backstage).",
    "moderator": "Call role of a member who moderates the call.",
    "call_member": "Call role a member gets by default (written with an underscore).",
    "admin": "Call role of a member with admin rights in this call.",
    "user": "Call role of an ordinary member.",
}

#: Every built-in role: ListRoles answers with these and the app's custom roles, and
#: DeleteRole refuses to delete them.
BUILTIN_ROLES: tuple[str, ...] = tuple(sorted(set(APP_ROLES) | set(CALL_ROLES)))


def roles_of(app_role: str | None, member_role: str | None) -> tuple[str, ...]:
    """The roles whose grants a user holds in a call: the app role, then the member role."""
    roles: list[str] = []
    if app_role:
        roles.append(app_role)
    if member_role and member_role not in roles:
        roles.append(member_role)
    return tuple(roles)


@dataclass(frozen=True)
class UserOverrides:
    """Base permission ids granted to and revoked from one user in one call."""

    granted: frozenset[str] = frozenset()
    revoked: frozenset[str] = frozenset()

    def updated(self, grant: Iterable[str], revoke: Iterable[str]) -> UserOverrides:
        """After one more UpdateUserPermissions: each permission named is now granted or
        revoked (revoked, should one call name it both ways)."""
        granting, revoking = frozenset(grant), frozenset(revoke)
        return UserOverrides(
            granted=(self.granted | granting) - revoking,
            revoked=(self.revoked - granting) | revoking,
        )


NO_OVERRIDES = UserOverrides()


def held_permissions(
    grants: Grants, roles: Iterable[str], overrides: UserOverrides = NO_OVERRIDES
) -> frozenset[str]:
    """The union of the grants of every role held (owner-scoped ids included as written),
    less what was revoked for this user in this call, plus what was granted."""
    held = frozenset(p for role in roles for p in grants.get(role, ()))
    if overrides is NO_OVERRIDES:
        return held
    kept = frozenset(p for p in held if base_permission(p) not in overrides.revoked)
    return kept | overrides.granted


def first_held(
    grants: Grants,
    roles: Iterable[str],
    wanted: Iterable[str],
    *,
    is_creator: bool,
    overrides: UserOverrides = NO_OVERRIDES,
) -> str | None:
    """The first of ``wanted`` the roles hold (or its ``-owner`` variant, for the creator)."""
    held = held_permissions(grants, roles, overrides)
    for permission in wanted:
        if permission in held:
            return permission
        owner = permission + OWNER_SUFFIX
        if is_creator and owner in held:
            return owner
    return None


def holds(
    grants: Grants,
    roles: Iterable[str],
    permission: str,
    *,
    is_creator: bool,
    overrides: UserOverrides = NO_OVERRIDES,
) -> bool:
    """Whether the roles hold ``permission`` in a call (``-owner`` counts for the creator)."""
    found = first_held(grants, roles, (permission,), is_creator=is_creator, overrides=overrides)
    return found is not None


def capabilities(
    grants: Grants,
    roles: Iterable[str],
    *,
    is_creator: bool,
    overrides: UserOverrides = NO_OVERRIDES,
) -> list[str]:
    """``own_capabilities`` for these roles, in the spec's order."""
    unlocked: set[str] = set()
    for permission in held_permissions(grants, roles, overrides):
        if permission.endswith(OWNER_SUFFIX):
            if not is_creator:
                continue
            permission = permission[: -len(OWNER_SUFFIX)]
        unlocked.add(capability_of(permission))
    return [c for c in OWN_CAPABILITIES if c in unlocked]


def capabilities_by_role(grants: Grants) -> dict[str, list[str]]:
    """The capabilities each role of a call type's grants unlocks by itself, as Stream's
    ``call.updated`` and ``call.member_updated_permission`` events carry them (``-owner``
    grants unlock nothing here: whether they count depends on who created the call)."""
    return {role: capabilities(grants, [role], is_creator=False) for role in sorted(grants)}


#: A user's account: ``deactivated`` (DeactivateUser(s)) and ``deleted`` (DeleteUsers, not hard)
#: users keep their data but may act in no call until reactivated or restored.
Standing = Literal["active", "deactivated", "deleted"]


@dataclass(frozen=True)
class CallAccess:
    """The facts Stream's rules read for one user in one call."""

    grants: Grants  # the call type's grants
    roles: tuple[str, ...]  # the user's app role, then their member role in the call
    is_creator: bool
    overrides: UserOverrides = NO_OVERRIDES  # UpdateUserPermissions for this user here
    blocked: bool = False  # BlockUser (or KickUser with block) on this call
    standing: Standing = "active"

    def holds(self, permission: str) -> bool:
        return holds(
            self.grants,
            self.roles,
            permission,
            is_creator=self.is_creator,
            overrides=self.overrides,
        )

    def capabilities(self) -> list[str]:
        return capabilities(
            self.grants, self.roles, is_creator=self.is_creator, overrides=self.overrides
        )


def standing_refusal(standing: Standing) -> str | None:
    """Why an account may do nothing (join, create or control a call, read one as itself), as
    words after the user's id, or None for an active one."""
    if standing == "deleted":
        return "was deleted"
    if standing == "deactivated":
        return "is deactivated"
    return None


def barred(access: CallAccess) -> str | None:
    """Why the user may do nothing in this call whatever their grants (their account, or a
    block from this call), as words after the user's id; None when their grants decide."""
    reason = standing_refusal(access.standing)
    if reason is None and access.blocked:
        reason = "is blocked from this call"
    return reason


def own_capabilities(access: CallAccess | None) -> list[str]:
    """``own_capabilities`` of a call response: a server-side reader (None) holds every
    capability; a user, what their roles and this call's overrides unlock (spec order)."""
    if access is None:
        return list(OWN_CAPABILITIES)
    return access.capabilities()
