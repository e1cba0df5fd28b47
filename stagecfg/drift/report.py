"""The drift report: each difference between the live app and the manifests, field by field.

A plan from the manifests to the app already holds every declared field that differs, with the
live value (``before``) and the manifest's (``after``), so drift is read off the plan rather than
worked out again: the planner's comparison rules (declared subsets, grants as sets, timestamps as
instants, the call type a call follows) stay in one place. The plan is made with prune (when the
manifests name a project), so that live calls carrying this project's marker but declared
nowhere show up too. What a plan only notes (``created_by_id`` and ``team`` cannot change after
creation; ``live: false`` where backstage is disabled) is drift as well: the app is not what the
manifests say, and adopting it is how the manifests stop saying otherwise.

Items keep the field as keys into the manifest's object (``("settings", "limits",
"max_participants")``), the keys adoption writes: for a call setting that follows its call type,
that is the call's own ``settings_override``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stagecfg.errors import Location
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    PROJECT_MARKER_KEY,
    ActualState,
    CallSpec,
    CallState,
    DesiredState,
)
from stagecfg.plan import Plan
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    FieldChange,
    target_name,
)
from stagecfg.plan.comparison import MISSING, differs, get_path

STATUS_CHANGED = "changed"  # a declared field differs
STATUS_ABSENT = "absent"  # declared, not in the app
STATUS_UNDECLARED = "undeclared"  # in the app with this project's marker, declared nowhere


@dataclass(frozen=True)
class DriftItem:
    """One difference: the manifest's value and the live one, for a field or a whole object."""

    kind: str
    name: str
    status: str
    #: the field as shown (``settings.limits.max_participants``, ``live``); None: the object
    path: str | None = None
    #: the field as keys into the manifest's object: what adoption writes
    keys: tuple[str, ...] = ()
    manifest: Any = None
    live: Any = None
    #: False when the field does not exist in the app (adopting it removes it from the manifest)
    live_present: bool = True
    #: where the manifests declare it (the field, or its nearest declared parent)
    location: Location | None = None
    #: the variable that gives the manifest's value, when one does (``--write`` leaves it),
    #: and where the variable's value is set for this environment
    variable: str | None = None
    variable_source: str | None = None
    adoptable: bool = True
    why: str = ""

    @property
    def target(self) -> str:
        return target_name(self.kind, self.name)

    @property
    def object_selector(self) -> str:
        """The object as ``--only`` names it: ``calltype:shows``, ``call:CID``, ``user:ID``."""
        return f"call:{self.name}" if self.kind == KIND_CALL else self.target

    @property
    def selector(self) -> str:
        """The name ``--only`` matches: ``calltype:shows.settings.limits``, ``call:CID.live``."""
        head = self.object_selector
        return f"{head}.{self.path}" if self.path else head

    @property
    def follows_type(self) -> bool:
        """A call setting the call follows from its call type (not its own override)."""
        return self.kind == KIND_CALL and (self.path or "").startswith("settings.")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "target": self.target,
            "status": self.status,
            "path": self.path,
            "manifest": self.manifest,
            "live": self.live if self.live_present else None,
            "location": None if self.location is None else self.location.to_json(),
            "variable": self.variable,
            "variable_source": self.variable_source,
            "adoptable": self.adoptable,
            "why": self.why,
        }


@dataclass(frozen=True)
class DriftReport:
    """The drift of one environment's manifests from one app, sorted."""

    items: tuple[DriftItem, ...]
    environment: str | None
    backend: str
    project: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    def summary(self) -> dict[str, int]:
        return {
            "objects": len({(i.kind, i.name) for i in self.items}),
            "fields": sum(1 for i in self.items if i.status == STATUS_CHANGED),
            "absent": sum(1 for i in self.items if i.status == STATUS_ABSENT),
            "undeclared": sum(1 for i in self.items if i.status == STATUS_UNDECLARED),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "environment": self.environment,
            "backend": self.backend,
            "project": self.project,
            "drifted": self.drifted,
            "summary": self.summary(),
            "drift": [item.to_json() for item in self.items],
        }


def find_drift(desired: DesiredState, actual: ActualState, plan: Plan) -> list[DriftItem]:
    """Every difference ``plan`` (from ``desired`` to ``actual``) shows, as drift items."""
    items: list[DriftItem] = []
    for change in plan.changes:
        items += _from_change(change, desired, actual)
    items += _from_notes(desired, actual, plan)
    return sort_items(items)


def sort_items(items: Sequence[DriftItem]) -> list[DriftItem]:
    order = {KIND_USER: 0, KIND_CALL_TYPE: 1, KIND_CALL: 2}
    return sorted(items, key=lambda i: (order.get(i.kind, 3), i.name, i.path or "", i.status))


def select(items: Sequence[DriftItem], only: Sequence[str]) -> list[DriftItem]:
    """The items ``--only`` selects: each selector names an object or a field and what is in
    it (``calltype:shows.settings`` selects ``settings.limits.max_participants``)."""
    if not only:
        return list(items)
    return [i for i in items if any(_selected(i.selector, s) for s in only)]


def _selected(selector: str, wanted: str) -> bool:
    return selector == wanted or selector.startswith(wanted + ".")


def _from_change(change: Change, desired: DesiredState, actual: ActualState) -> list[DriftItem]:
    kind, name = change.kind, change.name
    if change.action == ACTION_CREATE:
        return [DriftItem(kind, name, STATUS_ABSENT, location=change.location)]
    if change.action == ACTION_DELETE:
        # Prune would delete it: a marked call declared nowhere. Call types carry no marker, so
        # an undeclared one is not this project's business.
        if kind != KIND_CALL:
            return []
        return [DriftItem(kind, name, STATUS_UNDECLARED, why="declared nowhere")]
    if change.action in (ACTION_GO_LIVE, ACTION_STOP_LIVE):
        going = change.action == ACTION_GO_LIVE
        return [
            DriftItem(
                kind,
                name,
                STATUS_CHANGED,
                "live",
                ("live",),
                manifest=going,
                live=not going,
                location=change.location,
            )
        ]
    if change.action != ACTION_UPDATE:
        return []
    items: list[DriftItem] = []
    for field_change in change.fields:
        items += _from_field(change, field_change, desired, actual)
    return items


def _from_field(
    change: Change, field_change: FieldChange, desired: DesiredState, actual: ActualState
) -> list[DriftItem]:
    kind, name = change.kind, change.name
    head, _, rest = field_change.path.partition(".")
    if kind == KIND_USER:
        spec, state = desired.users[name], actual.users[name]
        if head in ("custom", "teams_role", "privacy_settings"):
            declared = getattr(spec, head)
            # privacy_settings is a declared subset (the rest is kept); custom and teams_role
            # are whole values, so a key only the app has is drift too.
            subset = head == "privacy_settings"
            return [
                _item(change, (head, *keys), m, live, present)
                for keys, m, live, present in leaf_diffs(
                    declared, dict(getattr(state, head)), subset=subset
                )
            ]
        return [_item(change, (head,), field_change.after, field_change.before)]
    if kind == KIND_CALL_TYPE:
        ct_state = actual.call_types[name]
        if head == "grants":
            return [_item(change, ("grants", rest), field_change.after, field_change.before)]
        if head in ("settings", "notification_settings"):
            spec_ct = desired.call_types[name]
            tree = getattr(ct_state, head)
            keys = (head, *split_dotted(rest, getattr(spec_ct, head), tree))
            live = get_path(tree, keys[1:])
            return [_item(change, keys, field_change.after, live)]
        return [_item(change, (head,), field_change.after, field_change.before)]
    call_spec, call_state = desired.calls[name], actual.calls[name]
    return _call_field(change, field_change, call_spec, call_state, head, rest)


def _call_field(
    change: Change,
    field_change: FieldChange,
    spec: CallSpec,
    state: CallState,
    head: str,
    rest: str,
) -> list[DriftItem]:
    if head == "members":
        live_role = state.members.get(rest)
        return [
            _item(change, ("members", rest), field_change.after, live_role, live_role is not None)
        ]
    if head in ("settings", "settings_override"):
        # A leaf the call follows from its call type is adopted as the call's own override:
        # the app's call has its own value now, whatever its type says.
        keys = split_dotted(rest, spec.settings_override, state.settings)
        live = get_path(state.settings, keys)
        item = _item(change, ("settings_override", *keys), field_change.after, live)
        follows = head == "settings"
        return [
            replace(
                item,
                path=field_change.path,
                why=f"follows call type {spec.type}" if follows else "",
            )
        ]
    if head == "custom":
        keys = split_dotted(rest, spec.custom, state.custom)
        live = get_path(state.custom, keys)
        item = _item(change, ("custom", *keys), field_change.after, live)
        if keys == (PROJECT_MARKER_KEY,):
            return [
                replace(
                    item,
                    adoptable=False,
                    why="the project marker is stagecfg's own: apply puts it back",
                )
            ]
        return [item]
    return [_item(change, (head,), field_change.after, field_change.before)]


def _item(
    change: Change, keys: tuple[str, ...], manifest: Any, live: Any, present: bool = True
) -> DriftItem:
    """A changed field; ``live`` MISSING (or ``present`` False) when the app lacks it."""
    return DriftItem(
        change.kind,
        change.name,
        STATUS_CHANGED,
        ".".join(keys),
        keys,
        manifest=manifest,
        live=None if live is MISSING else live,
        live_present=present and live is not MISSING,
        location=change.location,
    )


def _from_notes(desired: DesiredState, actual: ActualState, plan: Plan) -> list[DriftItem]:
    """What the plan only notes for declared calls: fields fixed at creation, and ``live``
    where backstage is disabled (so no stop-live could ever be planned)."""
    live_planned = {c.name for c in plan.changes if c.action in (ACTION_GO_LIVE, ACTION_STOP_LIVE)}
    noted = {(n.kind, n.name) for n in plan.notes}
    items: list[DriftItem] = []
    for cid, spec in desired.calls.items():
        state = actual.calls.get(cid)
        if state is None or (KIND_CALL, cid) not in noted:
            continue
        for key in ("created_by_id", "team"):
            want, have = getattr(spec, key), getattr(state, key)
            if want is not None and want != have:
                items.append(
                    DriftItem(
                        KIND_CALL, cid, STATUS_CHANGED, key, (key,), want, have,
                        location=spec.location,
                    )
                )  # fmt: skip
        if spec.live is False and not state.backstage and cid not in live_planned:
            items.append(
                DriftItem(
                    KIND_CALL, cid, STATUS_CHANGED, "live", ("live",), False, True,
                    location=spec.location,
                    why="backstage is disabled for this call, so it is live",
                )
            )  # fmt: skip
    return items


def leaf_diffs(
    declared: Any, live: Any, *, subset: bool = False
) -> list[tuple[tuple[str, ...], Any, Any, bool]]:
    """``(keys, manifest value, live value, live has it)`` for each leaf that differs; with
    ``subset`` only the declared leaves count (keys only the app has are not managed)."""
    out: list[tuple[tuple[str, ...], Any, Any, bool]] = []

    def walk(want: Any, have: Any, keys: tuple[str, ...]) -> None:
        if isinstance(want, Mapping) and isinstance(have, Mapping) and want:
            names = set(want) if subset else set(want) | set(have)
            for key in sorted(names):
                if key not in have:
                    out.append(((*keys, key), want[key], None, False))
                elif key not in want:
                    out.append(((*keys, key), None, have[key], True))
                else:
                    walk(want[key], have[key], (*keys, key))
        elif differs(want, have):
            out.append((keys, want, have, True))

    walk(declared, live, ())
    return out


def split_dotted(dotted: str, *trees: Any) -> tuple[str, ...]:
    """A plan's dotted field path as keys, matched against the data it came from, so that a
    key holding a dot (a custom key, a user id) stays one key."""
    keys: list[str] = []
    remaining = dotted
    nodes = list(trees)
    while remaining:
        names = {k for n in nodes if isinstance(n, Mapping) for k in n}
        match = max(
            (k for k in names if remaining == k or remaining.startswith(k + ".")),
            key=len,
            default=None,
        )
        if match is None:
            keys += remaining.split(".")
            break
        keys.append(match)
        remaining = remaining[len(match) + 1 :]
        nodes = [n.get(match) if isinstance(n, Mapping) else None for n in nodes]
    return tuple(keys)
