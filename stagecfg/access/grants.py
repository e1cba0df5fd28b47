"""Grant changes judged for what they do to access: gains, losses, and escalations.

Reviewers skim plans; a role quietly gaining ``join-backstage`` or the whole ``user`` role gaining
anything is exactly what must not slip past. :func:`classify_grants` labels every grant change as
a grant or a revoke and flags escalations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from stagecfg.rules.permissions import base_permission

Direction = Literal["grant", "revoke"]

#: Base permissions whose gain is an escalation for any role; the ``-owner`` and ``-any-team``
#: variants count too, since they grant the same power over a narrower (or wider) set of calls.
PRIVILEGED_PERMISSIONS: Mapping[str, str] = {
    "end-call": "may end the call for everyone",
    "join-backstage": "may join while the call is in backstage",
    "kick-user": "may remove participants",
    "update-call-permissions": "may change who may do what in the call",
    "update-call-settings": "may change the call's settings",
}

#: Roles that every signed-in user, every guest or everyone at all holds: any gain is an escalation.
BROAD_ROLES: Mapping[str, str] = {
    "anonymous": "anyone, without an account",
    "guest": "every guest user",
    "user": "every signed-in user",
}


@dataclass(frozen=True, order=True)
class GrantChange:
    """One permission gained or lost by one role of one call type."""

    role: str
    permission: str
    direction: Direction
    escalation: bool
    reason: str

    def describe(self) -> str:
        """``role user gains join-backstage`` / ``role host loses end-call``."""
        verb = "gains" if self.direction == "grant" else "loses"
        return f"role {self.role} {verb} {self.permission}"


def _escalation_reason(role: str, permission: str) -> str | None:
    privileged = PRIVILEGED_PERMISSIONS.get(base_permission(permission))
    broad = BROAD_ROLES.get(role)
    if privileged and broad:
        return f"{broad} {privileged}"
    if privileged:
        scope = ""
        if permission.endswith("-owner"):
            scope = " (on calls they created)"
        elif permission.endswith("-any-team"):
            scope = " (in any team)"
        return f"every holder of role {role} {privileged}{scope}"
    if broad:
        return f"{broad} gains {permission}"
    return None


def classify_grants(
    before: Mapping[str, list[str]] | None,
    after: Mapping[str, list[str]],
    *,
    replace_missing_roles: bool = False,
) -> list[GrantChange]:
    """Every permission each role gains or loses going from ``before`` to ``after``, sorted.

    ``before`` None means the call type does not exist yet, so everything in ``after`` is a grant.
    Roles absent from ``after`` are left alone, as Stream's UpdateCallType replaces grants per
    role and keeps the roles it is not sent; pass ``replace_missing_roles`` when ``after`` is a
    complete map and a missing role means it lost everything.
    """
    previous = before or {}
    roles = set(after)
    if replace_missing_roles:
        roles |= set(previous)
    changes: list[GrantChange] = []
    for role in roles:
        old = set(previous.get(role, ()))
        new = set(after.get(role, ()))
        for permission in new - old:
            reason = _escalation_reason(role, permission)
            changes.append(
                GrantChange(
                    role=role,
                    permission=permission,
                    direction="grant",
                    escalation=reason is not None,
                    reason=reason or f"role {role} gains {permission}",
                )
            )
        for permission in old - new:
            changes.append(
                GrantChange(
                    role=role,
                    permission=permission,
                    direction="revoke",
                    escalation=False,
                    reason=f"role {role} loses {permission}",
                )
            )
    return sorted(changes)


def role_escalation(role: str, permissions: Collection[str]) -> str | None:
    """Why ``role`` holding ``permissions`` on a new call type widens access, in one clause (None
    when it does not): who holds the role when it is a broad one, then its privileged permissions.

    The same rules as :func:`classify_grants`, said once per role: a new call type's access
    review is one line per role, not one per permission.
    """
    privileged = sorted(p for p in set(permissions) if base_permission(p) in PRIVILEGED_PERMISSIONS)
    parts = [BROAD_ROLES[role]] if role in BROAD_ROLES and permissions else []
    if privileged:
        parts.append(f"privileged: {', '.join(privileged)}")
    return "; ".join(parts) or None
