"""Planning users: create one that is missing, change only the declared fields that differ.

Every UserRequest field a manifest may declare (:data:`USER_FIELDS`) is read, compared and
planned; a field the manifest leaves out is not managed and never changes. A create is an
UpdateUsers upsert (nothing to lose yet). An update is an UpdateUsersPartial ``set`` of the
changed fields alone, because UpdateUsers replaces the whole user and would drop every field it
does not carry, including ones stagecfg has no name for. Each field is one value (``custom``,
``teams`` and ``teams_role`` are replaced as a whole), except ``privacy_settings``, whose
undeclared settings are kept. Users are never deleted: prune deletes calls and call types only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stagecfg.model import KIND_USER, Json, UserSpec, UserState
from stagecfg.plan.changes import ACTION_CREATE, ACTION_UPDATE, STAGE_USERS, Change, FieldChange
from stagecfg.plan.comparison import differs

#: The UserRequest fields a manifest may declare, sorted (the order a plan lists them in).
USER_FIELDS = (
    "custom",
    "image",
    "invisible",
    "language",
    "name",
    "privacy_settings",
    "role",
    "teams",
    "teams_role",
)


def declared_fields(spec: UserSpec) -> Json:
    """The fields ``spec`` declares (``None`` = not declared), as UserRequest JSON."""
    declared: Json = {}
    for key in USER_FIELDS:
        value = getattr(spec, key)
        if value is not None:
            declared[key] = dict(value) if key == "teams_role" else value
    return declared


def current_field(state: UserState, key: str) -> Any:
    """What the backend holds for field ``key``; an unset name or image is ``""``, as Stream
    reads it (the other fields already hold Stream's empty value). Not copied: read only."""
    value = getattr(state, key)
    if value is None:
        return ""
    return value


def _copy(value: Any) -> Any:
    """A plan's own copy of a state value (a plan outlives the state it was made from)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def plan_user(spec: UserSpec, state: UserState | None) -> Change | None:
    """The change that makes user ``spec.id`` match ``spec``; None when nothing differs."""
    declared = declared_fields(spec)
    if state is None:
        new: Json = {"id": spec.id, **declared}
        fields = [FieldChange(k, None, declared[k]) for k in USER_FIELDS if k in declared]
        return Change(
            KIND_USER, spec.id, ACTION_CREATE, STAGE_USERS, new, tuple(fields), spec.location
        )
    changed: Json = {}
    changes: list[FieldChange] = []
    for key, value in declared.items():  # in USER_FIELDS order
        current = current_field(state, key)
        if key == "privacy_settings":
            value = {**current, **value}  # the undeclared settings are kept
        if differs(value, current):
            changed[key] = value
            changes.append(FieldChange(key, _copy(current), value))
    if not changes:
        return None
    # An UpdateUserPartialRequest: only the changed fields, so nothing undeclared is touched.
    body: Json = {"id": spec.id, "set": changed}
    return Change(
        KIND_USER, spec.id, ACTION_UPDATE, STAGE_USERS, body, tuple(changes), spec.location
    )
