"""The access review of a plan: what it changes about who may join what, and what it refuses.

Three kinds of note: grant changes (escalations first), join windows that move per scheduled
call, and the blast radius of a call type change (its calls live now or starting within 24 h).
Deleting a call type that has live calls is refused whatever the flags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from stagecfg import timestamps
from stagecfg.access.grants import Direction, classify_grants, role_escalation
from stagecfg.access.radius import Radius, blast_radius, live_calls, radius_targets
from stagecfg.access.windows import describe_window_change
from stagecfg.errors import Location, PlanRefused
from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, ActualState, CallState, DesiredState, Json
from stagecfg.plan.changes import ACTION_CREATE, ACTION_DELETE, ACTION_UPDATE, Change, Plan
from stagecfg.rules.builtins import (
    BUILTIN_CALL_TYPES,
    call_type_settings,
    replace_grants,
    template_grants,
)
from stagecfg.rules.join import JoinWindow, window_of
from stagecfg.rules.settings import backstage_of, call_settings_request, effective_backstage

if TYPE_CHECKING:
    from stagecfg.backends.base import Backend

Category = Literal["grant", "window", "radius"]


@dataclass(frozen=True)
class AccessNote:
    """One thing a plan does to who may join what: a grant change, a moved window, a radius."""

    category: Category
    kind: str  # "call_type" | "call"
    name: str
    message: str
    escalation: bool = False
    direction: Direction | None = None
    location: Location | None = None

    def to_json(self) -> Json:
        loc = self.location
        return {
            "category": self.category,
            "direction": self.direction,
            "escalation": self.escalation,
            "kind": self.kind,
            "location": None if loc is None else loc.to_json(),
            "message": self.message,
            "name": self.name,
        }

    def render(self) -> str:
        """``! escalation: role user gains join-backstage (call type livestream)``."""
        where = f"call type {self.name}" if self.kind == KIND_CALL_TYPE else f"call {self.name}"
        if self.escalation:
            return f"! escalation: {self.message} ({where})"
        if self.category == "grant":
            return f"{self.direction}: {self.message} ({where})"
        # Call window notes already name their call ("viewers of `cid` ..."); a bare substring
        # test would also match a call type's name inside one of its cids.
        if f"`{self.name}`" in self.message:
            return self.message
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class AccessReview:
    """Everything a plan changes about access, escalations first, and why it must be refused."""

    notes: tuple[AccessNote, ...] = ()
    refusals: tuple[str, ...] = ()
    #: calls on air now that the plan reaches (:func:`~stagecfg.access.radius.live_calls`)
    live_calls: tuple[str, ...] = ()

    @property
    def escalations(self) -> tuple[AccessNote, ...]:
        return tuple(n for n in self.notes if n.escalation)

    @property
    def empty(self) -> bool:
        return not self.notes and not self.refusals

    def refuses(self, *, deny_escalation: bool = False) -> bool:
        """Whether :func:`check_review` would refuse this plan."""
        return bool(self.refusals) or (deny_escalation and bool(self.escalations))

    def ordered(self) -> list[AccessNote]:
        """The notes in the order plans show them: escalations first, then by category."""
        return sorted(self.notes, key=lambda n: (not n.escalation, _ORDER[n.category]))

    def lines(self) -> list[str]:
        """Text lines, escalations first, for the text and Markdown plans."""
        return [n.render() for n in self.ordered()]

    def to_json(self) -> Json:
        return {
            "escalations": len(self.escalations),
            "notes": [n.to_json() for n in self.notes],
            "refusals": list(self.refusals),
        }


_ORDER: Mapping[str, int] = {"grant": 0, "window": 1, "radius": 2}


def _created_grant_notes(change: Change) -> list[AccessNote]:
    """A new call type's grants, one line per role: the declared roles, and the roles the plan
    does not declare, which keep the grants of the template Stream starts it from."""
    declared: Mapping[str, list[str]] = change.body.get("grants") or {}
    # The rule CreateCallType follows: the request's roles replace the template's, per role.
    held = replace_grants(template_grants(), declared)
    notes: list[AccessNote] = []
    for role in sorted(held):
        permissions = sorted(set(held[role]))
        if not permissions:
            continue
        source = "gains" if role in declared else "gets Stream's default grants (not declared):"
        escalation = role_escalation(role, permissions)
        message = f"role {role} {source} {', '.join(permissions)}"
        notes.append(
            AccessNote(
                "grant",
                KIND_CALL_TYPE,
                change.name,
                message if escalation is None else f"{message}: {escalation}",
                escalation=escalation is not None,
                direction="grant",
                location=change.location,
            )
        )
    return notes


def _grant_notes(plan: Plan, actual: ActualState) -> list[AccessNote]:
    notes: list[AccessNote] = []
    for change in plan.changes:
        if change.kind != KIND_CALL_TYPE:
            continue
        state = actual.call_types.get(change.name)
        if change.action == ACTION_CREATE and state is None:
            notes += _created_grant_notes(change)
            continue
        if change.action != ACTION_UPDATE or "grants" not in change.body:
            continue
        before = state.grants if state is not None else None
        # Escalations stand alone, one line each; the plain gains and losses of a role read
        # faster as one line per role and direction than as a line per permission.
        plain: dict[tuple[str, Direction], list[str]] = {}
        for grant in classify_grants(before, change.body["grants"]):
            if not grant.escalation:
                plain.setdefault((grant.role, grant.direction), []).append(grant.permission)
                continue
            notes.append(
                AccessNote(
                    "grant",
                    KIND_CALL_TYPE,
                    change.name,
                    f"{grant.describe()}: {grant.reason}",
                    escalation=True,
                    direction=grant.direction,
                    location=change.location,
                )
            )
        for (role, direction), permissions in sorted(plain.items()):
            verb = "gains" if direction == "grant" else "loses"
            notes.append(
                AccessNote(
                    "grant",
                    KIND_CALL_TYPE,
                    change.name,
                    f"role {role} {verb} {', '.join(sorted(permissions))}",
                    direction=direction,
                    location=change.location,
                )
            )
    return notes


def _window_of(settings: Json, starts_at: str | None) -> JoinWindow:
    return window_of(backstage_of(settings), starts_at)


def _window_with(settings: Json, override: Json | None, starts_at: str | None) -> JoinWindow:
    """The window of a call made from ``settings`` with ``override`` merged in."""
    return window_of(effective_backstage(settings, override), starts_at)


def _type_settings(name: str, desired: DesiredState, actual: ActualState, *, after: bool) -> Json:
    """A call type's settings before this plan, or (``after``) once it has run."""
    state = actual.call_types.get(name)
    spec = desired.call_types.get(name)
    declared = spec.settings if after and spec is not None else None
    return call_type_settings(name, state.settings if state is not None else None, declared)


def _window_notes(desired: DesiredState, actual: ActualState) -> list[AccessNote]:
    """Join windows that move, per scheduled call; and call types whose move misses calls."""
    type_settings_cache: dict[tuple[str, bool], Json] = {}

    def type_settings(name: str, *, after: bool) -> Json:
        # Read-only below (merges copy their base), so one computation per call type will do.
        key = (name, after)
        if key not in type_settings_cache:
            type_settings_cache[key] = _type_settings(name, desired, actual, after=after)
        return type_settings_cache[key]

    notes: list[AccessNote] = []
    kept: dict[str, list[str]] = {}
    undeclared: dict[str, int] = {}
    for cid in sorted(set(desired.calls) | set(actual.calls)):
        spec = desired.calls.get(cid)
        state = actual.calls.get(cid)
        if spec is None:
            if state is not None and _type_window_moves(state, type_settings):
                # Calls the manifests do not declare are never touched: only counted.
                undeclared[state.type] = undeclared.get(state.type, 0) + 1
            continue
        if state is None and spec.starts_at is None:
            continue
        override = spec.settings_override
        if state is not None:
            before = _window_of(state.settings, state.starts_at)
            # Stream keeps a call's settings from its creation; stagecfg carries the declared
            # type fields the call follows (reference section 5; rules.settings).
            declared_type = desired.call_types.get(spec.type)
            request = call_settings_request(
                declared_type.settings if declared_type is not None else None,
                override,
                follows=spec.follow_call_type,
            )
            after = _window_with(state.settings, request, spec.starts_at or state.starts_at)
        else:
            type_name = spec.type
            if type_name not in actual.call_types and type_name not in BUILTIN_CALL_TYPES:
                continue  # the call type is new too: there is no window before
            before = _window_with(type_settings(type_name, after=False), override, spec.starts_at)
            after = _window_with(type_settings(type_name, after=True), override, spec.starts_at)
        message = describe_window_change(cid, before, after)
        if message is None:
            if (
                state is not None
                and not spec.follow_call_type
                and _type_window_moves(state, type_settings, spec.starts_at)
            ):
                kept.setdefault(spec.type, []).append(cid)
            continue
        if state is None:
            message += " (created by this plan)"
        notes.append(AccessNote("window", KIND_CALL, cid, message, location=spec.location))
    for type_name in sorted(set(kept) | set(undeclared)):
        spec_type = desired.call_types.get(type_name)
        parts = []
        if kept.get(type_name):
            parts.append(f"follow_call_type: false keeps theirs: {', '.join(kept[type_name])}")
        if undeclared.get(type_name):
            count = undeclared[type_name]
            parts.append(
                f"{count} existing call{'s' if count != 1 else ''} the manifests do not declare "
                f"keep{'s' if count == 1 else ''} theirs"
            )
        notes.append(
            AccessNote(
                "window",
                KIND_CALL_TYPE,
                type_name,
                "the join window change applies to new calls and to the declared calls that "
                f"follow the call type; {'; '.join(parts)}",
                location=spec_type.location if spec_type else None,
            )
        )
    return notes


def _type_window_moves(
    state: CallState, type_settings: Callable[..., Json], starts_at: str | None = None
) -> bool:
    """Whether this plan moves the join window of ``state``'s call type at the call's start."""
    start = timestamps.normalize(starts_at) if starts_at is not None else state.starts_at
    if start is None:
        return False
    type_before = _window_of(type_settings(state.type, after=False), start)
    type_after = _window_of(type_settings(state.type, after=True), start)
    return not type_before.same_as(type_after)


def review_plan(
    plan: Plan,
    desired: DesiredState,
    actual: ActualState,
    radius: Mapping[str, Radius],
) -> AccessReview:
    """What ``plan`` changes about access: grant changes, moved join windows, blast radius.

    Deleting a call type that has live calls is a refusal, whatever flags are given.
    """
    notes = _grant_notes(plan, actual) + _window_notes(desired, actual)
    refusals: list[str] = []
    # Calls this plan deletes first (prune) no longer hold their call type.
    deleted = {c.name for c in plan.changes if c.kind == KIND_CALL and c.action == ACTION_DELETE}
    for change in plan.changes:
        if change.kind != KIND_CALL_TYPE or change.name not in radius:
            continue
        reach = radius[change.name]
        live = [cid for cid in reach.live if cid not in deleted]
        if change.action == ACTION_DELETE and live:
            shown = ", ".join(live[:10]) + (" ..." if len(live) > 10 else "")
            refusals.append(
                f"deleting call type {change.name} is refused: {len(live)} of its calls "
                f"are live now ({shown}); stop-live or end them first "
                "(--allow-disruptive does not cover this)"
            )
        # Shown even when 0: "reaches no call now" is what lets a reviewer merge at once.
        notes.append(
            AccessNote(
                "radius",
                KIND_CALL_TYPE,
                change.name,
                f"{change.action} affects {reach.total} call{'s' if reach.total != 1 else ''}"
                " live now or starting within 24 h",
                location=change.location,
            )
        )
    notes.sort(key=lambda n: (_ORDER[n.category], n.kind, n.name, n.message))
    return AccessReview(
        notes=tuple(notes),
        refusals=tuple(refusals),
        live_calls=live_calls(plan, actual, radius),
    )


def review(
    plan: Plan, desired: DesiredState, actual: ActualState, backend: Backend, *, now: datetime
) -> AccessReview:
    """:func:`review_plan` with the blast radius read from ``backend``."""
    return review_plan(plan, desired, actual, blast_radius(backend, radius_targets(plan), now=now))


def check_review(review: AccessReview, *, deny_escalation: bool = False) -> None:
    """Raise :class:`PlanRefused` for live-call deletions, and escalations when denied."""
    if not review.refuses(deny_escalation=deny_escalation):
        return
    if review.refusals:
        raise PlanRefused(review.refusals[0])
    if review.escalations:
        count = len(review.escalations)
        first = review.escalations[0]
        what = first.message.split(":")[0]
        where = f"{first.kind.replace('_', ' ')} {first.name}"
        raise PlanRefused(
            f"{count} access escalation{'s' if count != 1 else ''} in the plan "
            f"(first: {what} on {where}); "
            "review them and drop --deny-escalation to proceed"
        )
