"""The blast radius of a plan: the calls live now (or starting soon) that its changes reach.

A call type change reaches the calls of that type; :func:`blast_radius` reads them from the
backend. :func:`live_calls` adds the calls the plan changes directly while they are on air.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from stagecfg import timestamps
from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, ActualState
from stagecfg.plan.changes import ACTION_DELETE, ACTION_STOP_LIVE, ACTION_UPDATE, Plan
from stagecfg.rules.join import on_air

if TYPE_CHECKING:
    from stagecfg.backends.base import Backend

#: How far ahead a scheduled call counts as affected by a call type change.
RADIUS_HORIZON = timedelta(hours=24)


@dataclass(frozen=True)
class Radius:
    """Calls of one type that a change would reach: live now, or starting within 24 h."""

    live: tuple[str, ...] = ()
    upcoming: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(set(self.live) | set(self.upcoming))


def blast_radius(backend: Backend, names: Collection[str], *, now: datetime) -> dict[str, Radius]:
    """Per call type, the calls live now or starting within 24 h (two queries per type)."""
    horizon = timestamps.normalize(now + RADIUS_HORIZON)
    start = timestamps.normalize(now)
    result: dict[str, Radius] = {}
    for name in sorted(set(names)):
        live = backend.query_calls({"type": name, "backstage": False, "ended_at": None})
        upcoming = backend.query_calls(
            {"type": name, "starts_at": {"$gte": start, "$lte": horizon}, "ended_at": None}
        )
        # The filter asks for these already; the answer is checked rather than trusted.
        on = [c for c in live if on_air(in_backstage=c.backstage, ended=c.ended_at is not None)]
        result[name] = Radius(
            live=tuple(sorted(c.cid for c in on)),
            upcoming=tuple(sorted(c.cid for c in upcoming if c.ended_at is None)),
        )
    return result


def radius_targets(plan: Plan) -> list[str]:
    """Call types the plan updates or deletes: the ones whose calls may feel it."""
    return sorted(
        {
            c.name
            for c in plan.changes
            if c.kind == KIND_CALL_TYPE and c.action in (ACTION_UPDATE, ACTION_DELETE)
        }
    )


def live_calls(plan: Plan, actual: ActualState, radius: Mapping[str, Radius]) -> tuple[str, ...]:
    """The calls on air now that the plan reaches, sorted: through a call type it updates or
    deletes, or directly (it updates, stops or deletes the call). Viewers may notice these."""
    reached: set[str] = set()
    for change in plan.changes:
        if change.kind == KIND_CALL_TYPE and change.name in radius:
            reached.update(radius[change.name].live)
        elif change.kind == KIND_CALL and change.action in (
            ACTION_UPDATE,
            ACTION_DELETE,
            ACTION_STOP_LIVE,
        ):
            state = actual.calls.get(change.name)
            if state is not None and on_air(
                in_backstage=state.backstage, ended=state.ended_at is not None
            ):
                reached.add(change.name)
    return tuple(sorted(reached))
