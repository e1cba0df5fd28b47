"""Planning calls: create, update (call and members), go-live and stop-live, delete on prune.

Decisions worth knowing:

* ``created_by_id`` and ``team`` cannot change after a call is created (UpdateCallRequest has no
  such fields), so a difference is a :class:`~stagecfg.plan.changes.Note` in the plan, never a
  change or an error.
* A call update's body has up to two parts, ``update_call`` and ``update_call_members``, each
  the exact payload of one request (see :class:`~stagecfg.plan.changes.Change`).
* ``members``, when declared, is the complete member list: members the manifest leaves out are
  removed.
* ``live`` is planned from backstage: go-live when the call waits in backstage, stop-live (which
  is disruptive) when it is live. When backstage is disabled for the call, a call is live from
  creation and ``live: false`` is a note. Whether it is disabled is Stream's settings merge,
  asked of :func:`stagecfg.rules.settings.effective_backstage`.
* With a project, every declared call gets the project marker in ``custom``, since prune
  deletes calls by it; a call another project's marker claims gets a note. Deleting a live call
  is disruptive as stop-live is.
"""

from __future__ import annotations

from stagecfg import timestamps
from stagecfg.model import KIND_CALL, PROJECT_MARKER_KEY, CallSpec, CallState, Json
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    STAGE_CALL_DELETES,
    STAGE_CALLS,
    STAGE_LIVE,
    Change,
    FieldChange,
    Note,
)
from stagecfg.plan.comparison import (
    changed_paths,
    create_fields,
    differs,
    field_changes,
    settings_body,
)
from stagecfg.rules.join import on_air
from stagecfg.rules.settings import call_settings_request, effective_backstage


def _desired_custom(spec: CallSpec, state: CallState | None, project: str | None) -> Json | None:
    """The custom object to hold; None when neither the manifest nor the marker asks for one."""
    if spec.custom is not None:
        custom = dict(spec.custom)
    elif project is not None and state is not None:
        custom = dict(state.custom)
    elif project is not None:
        custom = {}
    else:
        return None
    if project is not None:
        custom[PROJECT_MARKER_KEY] = project
    return custom


def plan_call_create(
    spec: CallSpec, type_settings: Json, project: str | None
) -> tuple[list[Change], list[Note]]:
    """Create ``spec``; ``type_settings`` are its call type's settings once stage 1 has run."""
    body: Json = {}
    fields: list[FieldChange] = []
    notes: list[Note] = []
    if spec.created_by_id is not None:
        body["created_by_id"] = spec.created_by_id
        fields.append(FieldChange("created_by_id", None, spec.created_by_id))
    if spec.starts_at is not None:
        body["starts_at"] = timestamps.normalize(spec.starts_at)
        fields.append(FieldChange("starts_at", None, body["starts_at"]))
    if spec.team is not None:
        body["team"] = spec.team
        fields.append(FieldChange("team", None, spec.team))
    if spec.settings_override is not None:
        body["settings_override"] = spec.settings_override
        fields += create_fields("settings_override", spec.settings_override)
    custom = _desired_custom(spec, None, project)
    if custom is not None:
        body["custom"] = custom
        fields += create_fields("custom", custom)
    if spec.members is not None:
        body["members"] = [
            {"user_id": uid, "role": role} for uid, role in sorted(spec.members.items())
        ]
        fields += [FieldChange(f"members.{u}", None, r) for u, r in sorted(spec.members.items())]
    changes = [
        Change(KIND_CALL, spec.cid, ACTION_CREATE, STAGE_CALLS, body, tuple(fields), spec.location)
    ]
    in_backstage = effective_backstage(type_settings, spec.settings_override).enabled
    if spec.live is True and in_backstage:
        changes.append(_go_live(spec))
    elif spec.live is False and not in_backstage:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                "live: false, but backstage is disabled for this call, so it is live as soon "
                "as it is created and cannot wait in backstage",
                spec.location,
            )
        )
    return changes, notes


def _go_live(spec: CallSpec) -> Change:
    return Change(
        KIND_CALL,
        spec.cid,
        ACTION_GO_LIVE,
        STAGE_LIVE,
        dict(spec.go_live or {}),
        (FieldChange("backstage", True, False),),
        spec.location,
    )


def _members_part(spec: CallSpec, state: CallState) -> tuple[Json, list[FieldChange]]:
    if spec.members is None:
        return {}, []
    fields: list[FieldChange] = []
    update: list[Json] = []
    for uid, role in sorted(spec.members.items()):
        have = state.members.get(uid)
        if have != role:
            update.append({"user_id": uid, "role": role})
            fields.append(FieldChange(f"members.{uid}", have, role))
    remove = sorted(uid for uid in state.members if uid not in spec.members)
    fields += [FieldChange(f"members.{uid}", state.members[uid], None) for uid in remove]
    part: Json = {}
    if update:
        part["update_members"] = update
    if remove:
        part["remove_members"] = remove
    return part, fields


def _settings_part(
    spec: CallSpec, state: CallState, request: Json
) -> tuple[bool, list[tuple[tuple[str, ...], FieldChange]]]:
    """The settings leaves to send, each with its field; and whether any follows the type.

    A leaf the call's own ``settings_override`` sets is shown under that name; a leaf it follows
    from its call type is shown as ``settings.<path>``, the call's effective setting.
    """
    paths = changed_paths(request, state.settings)
    out: list[tuple[tuple[str, ...], FieldChange]] = []
    followed = False
    for path in paths:
        own = _has_path(spec.settings_override, path)
        followed = followed or not own
        name = "settings_override" if own else "settings"
        out += [(path, f) for f in field_changes(name, request, state.settings, [path])]
    return followed, out


def _has_path(data: Json | None, path: tuple[str, ...]) -> bool:
    node: object = data
    for key in path:
        if not isinstance(node, dict) or node.get(key) is None:
            return False
        node = node[key]
    return True


def plan_call_update(
    spec: CallSpec, state: CallState, project: str | None, type_declared: Json | None = None
) -> tuple[list[Change], list[Note]]:
    """What makes ``state`` match ``spec``: an update and a live change, each when needed.

    ``type_declared`` is the settings the manifests declare for the call's type (None when they
    declare none): the call follows them unless ``follow_call_type`` is false.
    """
    notes: list[Note] = []
    patch: Json = {}
    fields: list[FieldChange] = []
    if spec.created_by_id is not None and spec.created_by_id != state.created_by_id:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"created_by_id is {state.created_by_id!r} on the backend and cannot change "
                f"after creation; the manifest's {spec.created_by_id!r} is ignored",
                spec.location,
            )
        )
    if spec.team is not None and spec.team != state.team:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"team is {state.team!r} on the backend and cannot change after creation; "
                f"the manifest's {spec.team!r} is ignored",
                spec.location,
            )
        )
    owner = state.custom.get(PROJECT_MARKER_KEY)
    if project is not None and owner is not None and owner != project:
        # Two projects declaring one cid would fight over it on every apply; say so plainly.
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"belongs to project {owner!r} on the backend; this apply makes it project "
                f"{project!r}'s (and only {project!r} will prune it)",
                spec.location,
            )
        )
    if spec.starts_at is not None and not timestamps.same_instant(spec.starts_at, state.starts_at):
        patch["starts_at"] = timestamps.normalize(spec.starts_at)
        fields.append(FieldChange("starts_at", state.starts_at, patch["starts_at"]))
    custom = _desired_custom(spec, state, project)
    if custom is not None and differs(custom, dict(state.custom)):
        patch["custom"] = custom
        paths = sorted(
            {p for p in changed_paths(custom, state.custom)}
            | {(k,) for k in state.custom if k not in custom}
        )
        fields += field_changes("custom", custom, state.custom, paths)
    request = call_settings_request(
        type_declared, spec.settings_override, follows=spec.follow_call_type
    )
    followed, settings_fields = _settings_part(spec, state, request)
    # Changing the settings of a call on air changes them under its viewers.
    live = followed and on_air(in_backstage=state.backstage, ended=state.ended_at is not None)
    if settings_fields:
        patch["settings_override"] = settings_body(
            request, [path for path, _ in settings_fields], "CallSettingsRequest"
        )
        fields += [field for _, field in settings_fields]
    members, member_fields = _members_part(spec, state)
    fields += member_fields
    changes: list[Change] = []
    if patch or members:
        body: Json = {}
        if patch:
            body["update_call"] = patch
        if members:
            body["update_call_members"] = members
        changes.append(
            Change(
                KIND_CALL,
                spec.cid,
                ACTION_UPDATE,
                STAGE_CALLS,
                body,
                tuple(fields),
                spec.location,
                disruptive=live,
                reason=_follow_reason(spec, live) if followed else "",
            )
        )
    if followed and not live:  # a live call's follow-up says it on its disruptive line
        notes.append(Note(KIND_CALL, spec.cid, _follow_reason(spec, live), spec.location))
    if spec.live is True and state.backstage:
        changes.append(_go_live(spec))
    elif (
        spec.live is False
        and not state.backstage
        and not effective_backstage(state.settings, request).enabled
    ):
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                "live: false, but backstage is disabled for this call, so it cannot wait in "
                "backstage; no stop-live is planned",
                spec.location,
            )
        )
    elif spec.live is False and not state.backstage:
        changes.append(
            Change(
                KIND_CALL,
                spec.cid,
                ACTION_STOP_LIVE,
                STAGE_LIVE,
                {},
                (FieldChange("backstage", False, True),),
                spec.location,
                disruptive=True,
                reason="stop-live sends the call back to backstage and removes viewers",
            )
        )
    return changes, notes


def _follow_reason(spec: CallSpec, live: bool) -> str:
    text = f"follows call type {spec.type}"
    if live:
        return f"the call is live: its settings change while it is on air ({text})"
    return f"{text} (set follow_call_type: false to keep what it was created with)"


def plan_call_delete(state: CallState) -> Change:
    """Delete ``state`` (prune); disruptive when the call is on air."""
    # Like stop-live, deleting a call that is on air takes it away from its viewers.
    live = on_air(in_backstage=state.backstage, ended=state.ended_at is not None)
    return Change(
        KIND_CALL,
        state.cid,
        ACTION_DELETE,
        STAGE_CALL_DELETES,
        disruptive=live,
        reason="the call is live: deleting it ends it for its viewers" if live else "",
    )
