"""A call type as exported: only what differs from Stream's built-in defaults for it.

The baseline is :func:`stagecfg.rules.builtins.starting_call_type`: a built-in call type as
every app starts with it, or for any other name the template CreateCallType starts from. What
the backend holds and the baseline both go through the manifest schema first, so response-only
fields and nulls never count as a difference. The planner compares a call type's declared parts
only (settings and notification settings leaf by leaf, grants per declared role), so what is left
out is not managed, and since it equals the default a plan finds nothing to change there; applied
to a fresh app the entry rebuilds the same call type over the same baseline.
"""

from __future__ import annotations

from stagecfg.export.fitting import changed_leaves, fit
from stagecfg.model import CallTypeState, Json
from stagecfg.rules.builtins import starting_call_type


def call_type_entry(state: CallTypeState) -> Json:
    """The manifest entry for ``state``; ``{}`` when it holds Stream's defaults throughout."""
    baseline = starting_call_type(state.name)
    entry: Json = {}
    settings = changed_leaves(
        fit(state.settings, "CallSettingsRequest"),
        fit(baseline["settings"], "CallSettingsRequest"),
        "CallSettingsRequest",
    )
    if settings is not None:
        entry["settings"] = settings
    # A role is one value (a request replaces its whole list). As the planner reads them, a
    # role the backend lacks holds no grants, so an empty role the baseline lacks is no change;
    # a role the baseline has and the backend lacks cannot be declared away, so it is skipped.
    grants = {
        role: sorted(set(ids))
        for role, ids in sorted(state.grants.items())
        if sorted(set(ids)) != baseline["grants"].get(role, [])
    }
    if grants:
        entry["grants"] = grants
    notifications = changed_leaves(
        fit(state.notification_settings, "NotificationSettingsRequest"),
        fit(baseline["notification_settings"], "NotificationSettingsRequest"),
        "NotificationSettingsRequest",
    )
    if notifications is not None:
        entry["notification_settings"] = notifications
    if state.external_storage:
        entry["external_storage"] = state.external_storage
    return entry
