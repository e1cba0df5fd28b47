"""A call as exported: what it holds beyond what its call type gives it.

* ``settings_override`` holds only the leaves where the call's effective settings differ from
  its call type's current settings: a call that matches its type has none.
* ``follow_call_type: false`` is written when following the exported call type would change the
  call, which is when the call lacks a setting the type declares (the type gained it after the
  call was created, and no override can remove a setting). The planner's own
  :func:`~stagecfg.rules.settings.call_settings_request` and
  :func:`~stagecfg.plan.comparison.changed_paths` decide it, so the export and the plan agree.
* ``live`` is true iff the call is not in backstage, so neither go-live nor stop-live is planned.
* with a project the marker is left out of ``custom`` (the project adds it back).
"""

from __future__ import annotations

from stagecfg import timestamps
from stagecfg.export.fitting import changed_leaves, fit
from stagecfg.model import PROJECT_MARKER_KEY, CallState, Json
from stagecfg.plan.comparison import changed_paths
from stagecfg.rules.settings import call_settings_request


def call_entry(
    call: CallState, type_settings: Json, type_declared: Json | None, project: str | None
) -> Json:
    """The manifest entry for ``call``.

    ``type_settings`` are its call type's current settings on the backend, ``type_declared``
    what the export declares for that call type (None when it declares none).
    """
    entry: Json = {"live": not call.backstage}
    if call.created_by_id:
        entry["created_by_id"] = call.created_by_id
    if call.starts_at:
        entry["starts_at"] = timestamps.normalize(call.starts_at)
    custom = dict(call.custom)
    if project is not None:
        custom.pop(PROJECT_MARKER_KEY, None)
    if custom:
        entry["custom"] = custom
    if call.team:
        entry["team"] = call.team
    if call.members:
        entry["members"] = dict(sorted(call.members.items()))
    override = changed_leaves(
        fit(call.settings, "CallSettingsRequest"),
        fit(type_settings, "CallSettingsRequest"),
        "CallSettingsRequest",
    )
    if override is not None:
        entry["settings_override"] = override
    followed = call_settings_request(type_declared, override, follows=True)
    if changed_paths(followed, call.settings):
        entry["follow_call_type"] = False
    return entry
