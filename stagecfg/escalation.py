"""Grant changes and join-window moves, judged for what they do to access.

Reviewers skim plans; a role quietly gaining ``join-backstage`` or the whole ``user`` role gaining
anything is exactly what must not slip past. :func:`classify_grants` labels every grant change as
a grant or a revoke and flags escalations; :func:`join_window` and :func:`describe_window_change`
say in words when viewers of a call may join, before and after a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from stagecfg import timestamps
from stagecfg.permissions import base_permission

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

__all__ = [
    "BROAD_ROLES",
    "PRIVILEGED_PERMISSIONS",
    "GrantChange",
    "JoinWindow",
    "base_permission",
    "classify_grants",
    "describe_window",
    "describe_window_change",
    "format_duration",
    "join_window",
]


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


# --- join windows --------------------------------------------------------------------------------

WindowKind = Literal["always", "go-live", "ahead"]


@dataclass(frozen=True)
class JoinWindow:
    """When holders of ``join-call`` (viewers) may first join a call.

    ``always``: backstage is disabled, the call is never in backstage. ``go-live``: only once the
    call goes live. ``ahead``: from ``opens_at`` = starts_at - join_ahead_time_seconds, even while
    the call is still in backstage.
    """

    backstage_enabled: bool
    join_ahead_time_seconds: int
    starts_at: str | None

    @property
    def kind(self) -> WindowKind:
        if not self.backstage_enabled:
            return "always"
        if self.join_ahead_time_seconds > 0 and self.starts_at is not None:
            return "ahead"
        return "go-live"

    @property
    def opens_at(self) -> str | None:
        """The instant viewers may join from, when it is a fixed time (kind ``ahead``)."""
        if self.kind != "ahead" or self.starts_at is None:
            return None
        opens = timestamps.to_nanos(self.starts_at) - self.join_ahead_time_seconds * 1_000_000_000
        return timestamps.normalize(opens)

    def same_as(self, other: JoinWindow) -> bool:
        """Equal in effect: two windows that admit viewers at the same moments."""
        if self.kind != other.kind:
            return False
        if self.kind == "ahead":
            return timestamps.same_instant(self.opens_at, other.opens_at)
        return True


def join_window(
    backstage_enabled: bool, join_ahead_time_seconds: int | None, starts_at: str | None
) -> JoinWindow:
    """The join window of a call from its effective backstage settings and its starts_at."""
    return JoinWindow(
        backstage_enabled=bool(backstage_enabled),
        join_ahead_time_seconds=max(0, int(join_ahead_time_seconds or 0)),
        starts_at=timestamps.normalize(starts_at),
    )


def format_duration(seconds: int) -> str:
    """``600`` -> ``10 minutes``; whole hours and minutes read better than seconds."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def describe_window(window: JoinWindow) -> str:
    """When viewers may join, as the end of a sentence starting "viewers can join ..."."""
    if window.kind == "always":
        return "at any time (backstage disabled)"
    if window.kind == "go-live":
        return "only after go-live"
    return f"{format_duration(window.join_ahead_time_seconds)} before start ({window.opens_at})"


def describe_window_change(cid: str, before: JoinWindow, after: JoinWindow) -> str | None:
    """One sentence on how a change moves when viewers of ``cid`` may join; None if it does not.

    "viewers of `livestream:launch` can now join 10 minutes before start instead of 5"
    """
    if before.same_as(after):
        return None
    subject = f"viewers of `{cid}` can now join"
    if before.kind == after.kind == "ahead" and timestamps.same_instant(
        before.starts_at, after.starts_at
    ):
        new = format_duration(after.join_ahead_time_seconds)
        old = format_duration(before.join_ahead_time_seconds)
        old_count, _, old_unit = old.partition(" ")
        if new.partition(" ")[2].rstrip("s") == old_unit.rstrip("s"):
            old = old_count
        return f"{subject} {new} before start instead of {old}"
    return f"{subject} {describe_window(after)} instead of {describe_window(before)}"
