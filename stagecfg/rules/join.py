"""Who may join a call and when: the join window of a scheduled call and the join decision.

The rules (reference section 5):

* an ended call admits only ``join-ended-call``;
* while the call is in backstage, ``join-backstage`` admits;
* once ``starts_at - join_ahead_time_seconds`` has passed (when that is > 0 and ``starts_at`` is
  set), ``join-call`` admits too, though the call is still in backstage;
* after go-live, ``join-call`` admits; with backstage disabled the call is never in backstage;
* stop-live sends the call back to backstage, and those the backstage stage does not admit are
  removed;
* a user blocked from the call (BlockUser, KickUser with ``block``), deactivated or deleted may
  not join at all, whatever their grants: :func:`stagecfg.rules.roles.barred`, which every call
  control asks too.

Each admitting permission admits the call's creator through its ``-owner`` variant as well, and
what UpdateUserPermissions granted or revoked for the user in this call counts like a grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from stagecfg import timestamps
from stagecfg.rules.roles import NO_OVERRIDES, Grants, UserOverrides, first_held
from stagecfg.rules.settings import Backstage

JOIN_CALL = "join-call"
JOIN_BACKSTAGE = "join-backstage"
JOIN_ENDED_CALL = "join-ended-call"

#: Which rule applies: in backstage, in backstage with the join window open, live, or ended.
Stage = Literal["backstage", "join-ahead", "live", "ended"]

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

    def is_open(self, at: datetime) -> bool:
        """Whether the fixed join-ahead time has passed at ``at`` (never, unless kind ``ahead``)."""
        opens_at = self.opens_at
        return opens_at is not None and at >= timestamps.parse(opens_at)

    def same_as(self, other: JoinWindow) -> bool:
        """Equal in effect: two windows that admit viewers at the same moments."""
        if self == other:  # the common case in a big plan, without parsing timestamps
            return True
        if self.kind != other.kind:
            return False
        if self.kind == "ahead":
            return timestamps.same_instant(self.opens_at, other.opens_at)
        return True


def join_window(
    backstage_enabled: bool, join_ahead_time_seconds: int | None, starts_at: str | int | None
) -> JoinWindow:
    """The join window of a call from its effective backstage settings and its starts_at."""
    return JoinWindow(
        backstage_enabled=bool(backstage_enabled),
        join_ahead_time_seconds=max(0, int(join_ahead_time_seconds or 0)),
        starts_at=timestamps.normalize(starts_at),
    )


def window_of(backstage: Backstage, starts_at: str | int | None) -> JoinWindow:
    """The join window of a call with these effective backstage settings (already checked by
    :func:`~stagecfg.rules.settings.backstage_of`, so nothing is converted twice)."""
    return JoinWindow(
        backstage.enabled, backstage.join_ahead_time_seconds, timestamps.normalize(starts_at)
    )


def stage_of(*, ended: bool, in_backstage: bool, window_open: bool) -> Stage:
    """Which rule applies to a join: the call's end first, then its backstage state."""
    if ended:
        return "ended"
    if not in_backstage:
        return "live"
    if window_open:
        return "join-ahead"
    return "backstage"


def on_air(*, in_backstage: bool, ended: bool) -> bool:
    """Whether viewers are watching: the call is out of backstage and has not ended."""
    return stage_of(ended=ended, in_backstage=in_backstage, window_open=False) == "live"


def admitting_permissions(stage: Stage) -> tuple[str, ...]:
    """Base permissions that admit during a stage, most specific first."""
    if stage == "ended":
        return (JOIN_ENDED_CALL,)
    if stage == "backstage":
        return (JOIN_BACKSTAGE,)
    if stage == "join-ahead":
        return (JOIN_CALL, JOIN_BACKSTAGE)
    return (JOIN_CALL,)


def admitting_grant(
    grants: Grants,
    roles: Iterable[str],
    *,
    is_creator: bool,
    stage: Stage,
    overrides: UserOverrides = NO_OVERRIDES,
) -> str | None:
    """The join decision: the grant that lets these roles join during ``stage``, or None."""
    wanted = admitting_permissions(stage)
    return first_held(grants, roles, wanted, is_creator=is_creator, overrides=overrides)
