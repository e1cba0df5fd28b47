"""The backend's current call types, calls and their users as a manifest (``stagecfg export``).

The output is built so that the round trip is exact: planning the exported manifest against the
same backend shows no changes. To that end:

* call types carry their full settings, grants and notification settings, cut down to what the
  manifest schema accepts (response-only fields and nulls are dropped: they are not comparable);
* a call's ``settings_override`` holds only the leaves where the call's effective settings differ
  from its call type's current settings (the planner compares an override against the effective
  settings, so these are exactly the leaves that matter);
* ``live`` is true iff the call is not in backstage, so neither go-live nor stop-live is planned;
* with ``--project`` only the calls carrying that project's marker are exported, the manifest
  names the project and the marker is left out of ``custom`` (the project adds it back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from stagecfg import timestamps
from stagecfg.model import (
    PROJECT_MARKER_KEY,
    ActualState,
    CallState,
    CallTypeState,
    Json,
    UserState,
)
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES
from stagecfg.schema_document import load_schema, resolve


def fit_to_schema(value: Any, node: Any, root: Json) -> Any:
    """``value`` without nulls and without keys the schema node does not allow."""
    node = resolve(node, root)
    if isinstance(value, Mapping):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties", True)
        out: Json = {}
        for key in sorted(value):
            item = value[key]
            if item is None:
                continue
            if key in props:
                out[key] = fit_to_schema(item, props[key], root)
            elif isinstance(extra, Mapping):
                out[key] = fit_to_schema(item, extra, root)
            elif extra is not False:
                out[key] = item
        return out
    if isinstance(value, list):
        items = node.get("items")
        if isinstance(items, Mapping):
            return [fit_to_schema(v, items, root) for v in value if v is not None]
        return list(value)
    return value


def _diff_leaves(effective: Any, base: Any, node: Any, root: Json) -> Any:
    """The parts of ``effective`` that differ from ``base`` (lists and scalars whole).

    A sub-object that is kept also keeps the keys its schema requires (e.g. ``audio`` needs
    ``default_device``), so the exported override stays a valid manifest.
    """
    node = resolve(node, root)
    if isinstance(effective, Mapping) and isinstance(base, Mapping):
        props = node.get("properties") or {} if isinstance(node, Mapping) else {}
        out: Json = {}
        for key in sorted(effective):
            if key not in base:
                out[key] = effective[key]
                continue
            sub = _diff_leaves(effective[key], base[key], props.get(key, {}), root)
            if sub is not _SAME:
                out[key] = sub
        if not out:
            return _SAME
        for key in node.get("required") or () if isinstance(node, Mapping) else ():
            if key in effective and key not in out:
                out[key] = effective[key]
        return dict(sorted(out.items()))
    return _SAME if effective == base else effective


_SAME: Any = object()


def _call_type_entry(state: CallTypeState, defs: Json, root: Json) -> Json:
    entry: Json = {
        "settings": fit_to_schema(state.settings, defs["CallSettingsRequest"], root),
        "grants": {role: sorted(set(perms)) for role, perms in sorted(state.grants.items())},
        "notification_settings": fit_to_schema(
            state.notification_settings, defs["NotificationSettingsRequest"], root
        ),
    }
    if state.external_storage:
        entry["external_storage"] = state.external_storage
    return entry


def _call_entry(
    call: CallState, type_settings: Json, project: str | None, defs: Json, root: Json
) -> Json:
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
    effective = fit_to_schema(call.settings, defs["CallSettingsRequest"], root)
    override = _diff_leaves(
        effective,
        fit_to_schema(type_settings, defs["CallSettingsRequest"], root),
        defs["CallSettingsRequest"],
        root,
    )
    if override is not _SAME and override:
        entry["settings_override"] = override
    return entry


def _user_entry(user: UserState) -> Json:
    """Every UserRequest field the user holds; an unset one (Stream's empty value) is left out,
    which leaves it unmanaged, so the exported manifest plans no changes."""
    entry: Json = {"role": user.role}
    if user.name:
        entry["name"] = user.name
    if user.image:
        entry["image"] = user.image
    if user.teams:
        entry["teams"] = list(user.teams)
    if user.custom:
        entry["custom"] = dict(user.custom)
    if user.language:
        entry["language"] = user.language
    if user.invisible:
        entry["invisible"] = True
    if user.privacy_settings:
        entry["privacy_settings"] = dict(user.privacy_settings)
    if user.teams_role:
        entry["teams_role"] = dict(sorted(user.teams_role.items()))
    return entry


def users_of(actual: ActualState, *, project: str | None = None) -> list[str]:
    """User ids the exported calls refer to (creators and members): the export declares them."""
    ids: set[str] = set()
    for call in _calls(actual, project):
        if call.created_by_id:
            ids.add(call.created_by_id)
        ids.update(call.members)
    return sorted(ids)


def _calls(actual: ActualState, project: str | None) -> list[CallState]:
    calls = list(actual.calls.values())
    if project is not None:
        calls = [c for c in calls if c.custom.get(PROJECT_MARKER_KEY) == project]
    return sorted(calls, key=lambda c: c.cid)


def export_manifest(
    actual: ActualState, *, include_builtin: bool = False, project: str | None = None
) -> Json:
    """A manifest (as data) declaring what ``actual`` holds. ``actual`` needs every call."""
    root = load_schema()
    defs = root["$defs"]
    manifest: Json = {"version": 1}
    if project is not None:
        manifest["project"] = project
    users = {
        uid: _user_entry(actual.users[uid])
        for uid in users_of(actual, project=project)
        if uid in actual.users
    }
    if users:
        manifest["users"] = users
    call_types = {
        name: _call_type_entry(state, defs, root)
        for name, state in sorted(actual.call_types.items())
        if include_builtin or name not in BUILTIN_CALL_TYPES
    }
    if call_types:
        manifest["call_types"] = call_types
    calls = {}
    for call in _calls(actual, project):
        type_state = actual.call_types.get(call.type)
        type_settings = dict(type_state.settings) if type_state else {}
        calls[call.cid] = _call_entry(call, type_settings, project, defs, root)
    if calls:
        manifest["calls"] = calls
    return manifest


class _Dumper(yaml.SafeDumper):
    """Block style YAML, keys sorted, strings that look like other types quoted."""


def dump_manifest(manifest: Json) -> str:
    """YAML text with the schema modeline, sorted keys and stable formatting."""
    body = yaml.dump(
        manifest,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    # The schema's $id names it but serves nothing, so point editors at a local copy instead.
    header = (
        "# yaml-language-server: $schema=stagecfg.schema.json\n"
        "# Exported by `stagecfg export`. For editor completion, write the schema beside this\n"
        "# file: stagecfg schema > stagecfg.schema.json\n"
    )
    return f"{header}{body}"
