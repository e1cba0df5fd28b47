"""Planning users: create one that is missing, update the declared fields that differ.

Only ``role``, ``name`` and ``custom`` are compared with the backend; ``image`` and ``teams``
are sent when declared, and compared once :class:`~stagecfg.model.UserState` carries them. An
update sends the whole user, since UpdateUsers replaces it. Users are never deleted: prune
deletes calls and call types only.
"""

from __future__ import annotations

from stagecfg.model import KIND_USER, Json, UserSpec, UserState
from stagecfg.plan.changes import ACTION_CREATE, ACTION_UPDATE, STAGE_USERS, Change, FieldChange
from stagecfg.plan.comparison import differs


def plan_user(spec: UserSpec, state: UserState | None) -> Change | None:
    """The change that makes user ``spec.id`` match ``spec``; None when nothing differs."""
    declared: Json = {}
    if spec.role is not None:
        declared["role"] = spec.role
    if spec.name is not None:
        declared["name"] = spec.name
    if spec.custom is not None:
        declared["custom"] = spec.custom
    # image and teams are newer UserSpec fields; compared only once UserState carries them.
    for extra in ("image", "teams"):
        value = getattr(spec, extra, None)
        if value is not None:
            declared[extra] = value
    if state is None:
        new: Json = {"id": spec.id, **declared}
        fields = [FieldChange(k, None, v) for k, v in sorted(declared.items())]
        return Change(
            KIND_USER, spec.id, ACTION_CREATE, STAGE_USERS, new, tuple(fields), spec.location
        )
    current: Json = {"role": state.role, "name": state.name, "custom": dict(state.custom)}
    for extra in ("image", "teams"):
        if hasattr(state, extra):
            current[extra] = getattr(state, extra)
    fields = [
        FieldChange(key, current[key], value)
        for key, value in sorted(declared.items())
        if key in current and differs(value, current[key])
    ]
    if not fields:
        return None
    # UpdateUsers replaces the whole user, so undeclared fields are sent as they are now.
    body: Json = {"id": spec.id, "role": state.role, "custom": dict(state.custom)}
    for key in ("name", "image", "teams"):
        if current.get(key) is not None:
            body[key] = current[key]
    body.update(declared)
    return Change(
        KIND_USER, spec.id, ACTION_UPDATE, STAGE_USERS, body, tuple(fields), spec.location
    )
