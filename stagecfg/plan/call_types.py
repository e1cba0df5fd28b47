"""Planning call types: create, update the declared settings and grants, delete on prune.

Settings and notification settings are compared as declared subsets, and an update sends only
the changed leaves (see :mod:`stagecfg.plan.comparison`). Grants are compared per declared role
as sets, and an update sends each changed role with its complete sorted list; undeclared roles
are left alone. How Stream applies such a request is :mod:`stagecfg.rules.builtins`' business,
which :func:`predict_type_settings` asks.
"""

from __future__ import annotations

from stagecfg.model import (
    KIND_CALL_TYPE,
    ActualState,
    CallTypeSpec,
    CallTypeState,
    DesiredState,
    Json,
)
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_UPDATE,
    STAGE_CALL_TYPE_DELETES,
    STAGE_CALL_TYPES,
    Change,
    FieldChange,
)
from stagecfg.plan.comparison import changed_paths, create_fields, field_changes, settings_body
from stagecfg.rules.builtins import call_type_settings


def plan_call_type_create(spec: CallTypeSpec) -> Change:
    """Create call type ``spec.name`` with what the manifest declares (Stream fills the rest)."""
    body: Json = {}
    fields: list[FieldChange] = []
    if spec.settings is not None:
        body["settings"] = spec.settings
        fields += create_fields("settings", spec.settings)
    if spec.grants is not None:
        body["grants"] = {role: sorted(set(p)) for role, p in sorted(spec.grants.items())}
        fields += [FieldChange(f"grants.{r}", None, p) for r, p in body["grants"].items()]
    if spec.notification_settings is not None:
        body["notification_settings"] = spec.notification_settings
        fields += create_fields("notification_settings", spec.notification_settings)
    if spec.external_storage is not None:
        body["external_storage"] = spec.external_storage
        fields.append(FieldChange("external_storage", None, spec.external_storage))
    return Change(
        KIND_CALL_TYPE,
        spec.name,
        ACTION_CREATE,
        STAGE_CALL_TYPES,
        body,
        tuple(fields),
        spec.location,
    )


def plan_call_type_update(spec: CallTypeSpec, state: CallTypeState) -> Change | None:
    """The update that makes ``state`` match what ``spec`` declares; None when nothing differs."""
    body: Json = {}
    fields: list[FieldChange] = []
    if spec.settings is not None:
        paths = changed_paths(spec.settings, state.settings)
        if paths:
            body["settings"] = settings_body(spec.settings, paths, "CallSettingsRequest")
            fields += field_changes("settings", spec.settings, state.settings, paths)
    if spec.grants is not None:
        changed: Json = {}
        for role in sorted(spec.grants):
            want = sorted(set(spec.grants[role]))
            have = sorted(set(state.grants.get(role, [])))
            if want != have:
                changed[role] = want
                fields.append(FieldChange(f"grants.{role}", have, want))
        if changed:
            body["grants"] = changed
    if spec.notification_settings is not None:
        paths = changed_paths(spec.notification_settings, state.notification_settings)
        if paths:
            body["notification_settings"] = settings_body(
                spec.notification_settings, paths, "NotificationSettingsRequest"
            )
            fields += field_changes(
                "notification_settings",
                spec.notification_settings,
                state.notification_settings,
                paths,
            )
    if spec.external_storage is not None and spec.external_storage != state.external_storage:
        body["external_storage"] = spec.external_storage
        fields.append(
            FieldChange("external_storage", state.external_storage, spec.external_storage)
        )
    if not fields:
        return None
    return Change(
        KIND_CALL_TYPE,
        spec.name,
        ACTION_UPDATE,
        STAGE_CALL_TYPES,
        body,
        tuple(fields),
        spec.location,
    )


def predict_type_settings(name: str, desired: DesiredState, actual: ActualState) -> Json:
    """The call type's settings once stage 1 has run: actual merged with the declared subset."""
    state = actual.call_types.get(name)
    spec = desired.call_types.get(name)
    return call_type_settings(
        name, state.settings if state else None, spec.settings if spec else None
    )


def plan_call_type_delete(state: CallTypeState, remaining: int) -> Change:
    """Delete ``state``, which ``remaining`` calls still use once this plan has run.

    Deleting a call type is disruptive when calls of that type remain that this plan does not
    delete too: they break.
    """
    return Change(
        KIND_CALL_TYPE,
        state.name,
        ACTION_DELETE,
        STAGE_CALL_TYPE_DELETES,
        disruptive=remaining > 0,
        reason=f"breaks {remaining} call{'s' if remaining != 1 else ''} of this type"
        if remaining
        else "",
    )
