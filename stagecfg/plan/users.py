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


def current_fields(state: UserState) -> Json:
    """What the backend holds for each field; an unset string is ``""``, as Stream reads it."""
    return {
        "role": state.role,
        "name": state.name or "",
        "image": state.image or "",
        "teams": list(state.teams),
        "custom": dict(state.custom),
        "language": state.language,
        "invisible": state.invisible,
        "privacy_settings": dict(state.privacy_settings),
        "teams_role": dict(state.teams_role),
    }


def _wanted(key: str, declared: Any, current: Any) -> Any:
    """The value to hold: the declared one, with undeclared privacy settings kept."""
    if key == "privacy_settings":
        return {**current, **declared}
    return declared


def plan_user(spec: UserSpec, state: UserState | None) -> Change | None:
    """The change that makes user ``spec.id`` match ``spec``; None when nothing differs."""
    declared = declared_fields(spec)
    if state is None:
        new: Json = {"id": spec.id, **declared}
        fields = [FieldChange(k, None, declared[k]) for k in USER_FIELDS if k in declared]
        return Change(
            KIND_USER, spec.id, ACTION_CREATE, STAGE_USERS, new, tuple(fields), spec.location
        )
    current = current_fields(state)
    changed: Json = {}
    changes: list[FieldChange] = []
    for key in USER_FIELDS:
        if key not in declared:
            continue
        wanted = _wanted(key, declared[key], current[key])
        if differs(wanted, current[key]):
            changed[key] = wanted
            changes.append(FieldChange(key, current[key], wanted))
    if not changes:
        return None
    # An UpdateUserPartialRequest: only the changed fields, so nothing undeclared is touched.
    body: Json = {"id": spec.id, "set": changed}
    return Change(
        KIND_USER, spec.id, ACTION_UPDATE, STAGE_USERS, body, tuple(changes), spec.location
    )
