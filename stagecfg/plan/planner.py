"""``make_plan``: the whole plan, in apply's order, with ``--target`` and ``--prune``.

It asks the per-kind planners (:mod:`~stagecfg.plan.users`, :mod:`~stagecfg.plan.call_types`,
:mod:`~stagecfg.plan.calls`) for each declared object's changes, picks what prune deletes, cuts
the plan down to the targets, and sorts it. Pure data, no I/O.

Decisions worth knowing:

* Prune deletes only calls that carry this project's marker, and never the built-in call types;
  a deleted call type's remaining calls are those of its type this plan does not delete too.
* ``--target`` names must exist (declared, or read from the backend), and a targeted new call
  whose call type is new too needs that call type targeted as well.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from stagecfg.errors import UsageError
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    PROJECT_MARKER_KEY,
    ActualState,
    CallState,
    CallTypeState,
    DesiredState,
    Json,
    split_cid,
)
from stagecfg.plan.call_types import (
    plan_call_type_create,
    plan_call_type_delete,
    plan_call_type_update,
    predict_type_settings,
)
from stagecfg.plan.calls import plan_call_create, plan_call_delete, plan_call_update
from stagecfg.plan.changes import ACTION_CREATE, Change, Note, Plan, target_name
from stagecfg.plan.fingerprints import LazyFingerprints
from stagecfg.plan.users import plan_user
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES


def _prunable_calls(
    desired: DesiredState, actual: ActualState, project: str | None
) -> list[CallState]:
    if project is None:
        return []
    return [
        state
        for cid, state in actual.calls.items()
        if cid not in desired.calls and state.custom.get(PROJECT_MARKER_KEY) == project
    ]


def _unmarked_call_notes(
    desired: DesiredState, actual: ActualState, project: str | None
) -> list[Note]:
    """Undeclared calls that ``--prune`` keeps for want of a project marker, one note each.

    Without these a prune that deletes nothing reads "No changes", as if nothing were left.
    """
    why = "carries no project marker (custom.stagecfg_project), so prune keeps it" + (
        f"; only calls marked {project!r} are pruned"
        if project is not None
        else "; calls are pruned only for a project: set `project:` (or --project), and "
        "stagecfg marks the calls it creates or updates"
    )
    return [
        Note(KIND_CALL, cid, f"not declared, not deleted: it {why}")
        for cid, state in sorted(actual.calls.items())
        if cid not in desired.calls and PROJECT_MARKER_KEY not in state.custom
    ]


def _check_targets(targets: Collection[str], desired: DesiredState, actual: ActualState) -> None:
    valid = (
        {target_name(KIND_CALL_TYPE, n) for n in (*desired.call_types, *actual.call_types)}
        | {target_name(KIND_CALL, c) for c in (*desired.calls, *actual.calls)}
        | {target_name(KIND_USER, u) for u in desired.users}
    )
    unknown = sorted(set(targets) - valid)
    if unknown:
        names = sorted(valid)
        shown = ", ".join(names[:30]) + (
            f", ... ({len(names) - 30} more)" if len(names) > 30 else ""
        )
        raise UsageError(
            f"unknown target {', '.join(repr(t) for t in unknown)}; "
            f"valid targets: {shown or '(none)'}"
        )


def _check_target_types(changes: Iterable[Change], wanted: Collection[str]) -> None:
    # A targeted call cannot be created when its type is created by a change the targets leave
    # out: Stream answers "call type does not exist" half-way through the apply.
    created_types = {
        c.name for c in changes if c.kind == KIND_CALL_TYPE and c.action == ACTION_CREATE
    }
    missing = sorted(
        (c.name, split_cid(c.name)[0])
        for c in changes
        if c.kind == KIND_CALL
        and c.action == ACTION_CREATE
        and c.target in wanted
        and split_cid(c.name)[0] in created_types
        and target_name(KIND_CALL_TYPE, split_cid(c.name)[0]) not in wanted
    )
    if missing:
        cid, type_name = missing[0]
        more = f" (and {len(missing) - 1} more calls)" if len(missing) > 1 else ""
        raise UsageError(
            f"target {cid!r}{more} needs call type {type_name!r}, which does not exist yet and "
            f"is not targeted; add --target calltype:{type_name}"
        )


def make_plan(
    desired: DesiredState,
    actual: ActualState,
    *,
    prune: bool = False,
    targets: Collection[str] = (),
    project: str | None = None,
) -> Plan:
    """The changes that make ``actual`` match ``desired``, in the order apply runs them.

    ``project`` defaults to the manifests' ``project``. With ``prune``, ``actual`` must hold
    every call (read with ``all_calls=True``), since calls are pruned by their project marker.
    """
    project = project if project is not None else desired.project
    if targets:
        _check_targets(targets, desired, actual)
    changes: list[Change] = []
    notes: list[Note] = []

    for uid in sorted(desired.users):
        user = plan_user(desired.users[uid], actual.users.get(uid))
        if user is not None:
            changes.append(user)

    for name in sorted(desired.call_types):
        ct_spec = desired.call_types[name]
        ct_now = actual.call_types.get(name)
        ct = (
            plan_call_type_create(ct_spec)
            if ct_now is None
            else plan_call_type_update(ct_spec, ct_now)
        )
        if ct is not None:
            changes.append(ct)

    # Every new call of a type starts from the same settings: work them out once per type.
    settings_by_type: dict[str, Json] = {}
    for cid in sorted(desired.calls):
        spec = desired.calls[cid]
        call_state = actual.calls.get(cid)
        if call_state is None:
            if spec.type not in settings_by_type:
                settings_by_type[spec.type] = predict_type_settings(spec.type, desired, actual)
            more, more_notes = plan_call_create(spec, settings_by_type[spec.type], project)
        else:
            declared_type = desired.call_types.get(spec.type)
            more, more_notes = plan_call_update(
                spec,
                call_state,
                project,
                declared_type.settings if declared_type is not None else None,
            )
        changes += more
        notes += more_notes

    prunable_types: list[CallTypeState] = []
    pruned_calls: list[CallState] = []
    if prune:
        pruned_calls = _prunable_calls(desired, actual, project)
        changes += [plan_call_delete(pruned) for pruned in pruned_calls]
        notes += _unmarked_call_notes(desired, actual, project)
        prunable_types = [
            t
            for name, t in actual.call_types.items()
            if name not in desired.call_types and name not in BUILTIN_CALL_TYPES
        ]
        gone = {c.cid for c in pruned_calls}
        for ct_state in prunable_types:
            remaining = sum(
                1 for c in actual.calls.values() if c.type == ct_state.name and c.cid not in gone
            )
            changes.append(plan_call_type_delete(ct_state, remaining))

    if targets:
        wanted = set(targets)
        _check_target_types(changes, wanted)
        changes = [c for c in changes if c.target in wanted]
        notes = [n for n in notes if target_name(n.kind, n.name) in wanted]

    if desired.field_locations:
        changes = [_located_fields(change, desired) for change in changes]
    changes.sort(key=lambda c: (c.stage, c.name, c.kind))
    notes.sort(key=lambda n: (n.kind, n.name, n.message))
    managed = (
        len(desired.call_types)
        + len(desired.calls)
        + len(desired.users)
        + len(prunable_types)
        + len(pruned_calls)
    )
    return Plan(
        changes=tuple(changes),
        notes=tuple(notes),
        fingerprints=LazyFingerprints(desired, actual),
        prune=prune,
        targets=tuple(sorted(set(targets))),
        project=project,
        managed=managed,
        environment=desired.environment,
    )


def _located_fields(change: Change, desired: DesiredState) -> Change:
    """``change`` with each field an overlay set pointing at the overlay (the nearest field path
    an overlay set: a whole mapping it replaced covers the fields inside)."""
    located = desired.field_locations.get((change.kind, change.name))
    if not located:
        return change
    fields = []
    for field_change in change.fields:
        probe = field_change.path
        while probe and probe not in located:
            probe = probe.rpartition(".")[0]
        where = located.get(probe) if probe else None
        fields.append(dataclasses.replace(field_change, location=where))
    return dataclasses.replace(change, fields=tuple(fields))
