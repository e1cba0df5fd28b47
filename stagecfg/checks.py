"""Semantic checks over merged manifests: what the schema cannot see.

Each check reads the merged data defensively (a part the schema already rejected is skipped, not
crashed on) and returns located Problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from stagecfg.errors import Location, Problem, Severity, suggest
from stagecfg.manifest import Merged, child_path
from stagecfg.model import AppVocabulary
from stagecfg.rules import permissions
from stagecfg.rules import settings as stream_settings
from stagecfg.rules.builtins import (
    BUILTIN_CALL_TYPES,
    starting_backstage,
    starting_call_type,
)
from stagecfg.schema import UNKNOWN_PERMISSION
from stagecfg.schema_document import load_schema
from stagecfg.timestamps import WIRE_MAX, WIRE_MIN, in_wire_range, is_rfc3339, now_utc, parse

ONE_DAY_SECONDS = 86_400

Locate = Callable[[str], "Location | None"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Report:
    def __init__(self, merged: Merged) -> None:
        self.merged = merged
        self.problems: list[Problem] = []

    def add(
        self,
        path: str,
        message: str,
        *,
        severity: Severity = "error",
        suggestion: str | None = None,
    ) -> None:
        self.problems.append(Problem(self.merged.locate(path), path, message, severity, suggestion))


def check(
    merged: Merged, *, now: datetime | None = None, vocabulary: AppVocabulary | None = None
) -> list[Problem]:
    """Every semantic problem in the merged manifests, sorted.

    With ``vocabulary`` (the app's own permissions and roles, ``validate --online``), grants are
    checked against the app's permission list instead of the documented ids, and every role the
    manifests name must be one of the app's roles.
    """
    report = _Report(merged)
    data = merged.data
    call_types = _dict(data.get("call_types"))
    calls = _dict(data.get("calls"))
    users = _dict(data.get("users"))
    for name, spec in sorted(call_types.items()):
        path = child_path("$.call_types", name)
        _check_grants(report, path, _dict(spec), vocabulary)
        _check_join_ahead(report, child_path(path, "settings"), _dict(spec).get("settings"))
        _check_backstage_access(report, path, name, _dict(spec))
    for cid, spec in sorted(calls.items()):
        path = child_path("$.calls", cid)
        call = _dict(spec)
        _check_call_type(report, path, cid, call_types)
        override = call.get("settings_override")
        _check_join_ahead(report, child_path(path, "settings_override"), override)
        _check_live(report, path, cid, call, call_types, now or now_utc())
        _check_members(report, path, call, users)
    named = _named_roles(call_types, calls, users)
    unknown = _check_app_roles(report, named, vocabulary) if vocabulary else set()
    _check_roles(report, call_types, [n for n in named if n[0] not in unknown])
    return sorted(report.problems, key=Problem.sort_key)


def granted_roles(call_types: dict[str, Any]) -> frozenset[str]:
    """Roles some call type grants a permission: a built-in or declared type, with the declared
    grants replacing its starting ones per role (as Stream applies them)."""
    granted: set[str] = set()
    for name in sorted(set(BUILTIN_CALL_TYPES) | set(call_types)):
        declared = _dict(_dict(call_types.get(name)).get("grants"))
        effective = {
            **starting_call_type(name)["grants"],
            **declared,
        }  # as replace_grants, on unchecked data
        granted.update(r for r, ids in effective.items() if isinstance(ids, list) and ids)
    return frozenset(granted)


#: (JSON path, role, what kind of role) of each role a manifest names for a user or member.
NamedRole = tuple[str, str, str]


def _named_roles(
    call_types: dict[str, Any], calls: dict[str, Any], users: dict[str, Any]
) -> list[NamedRole]:
    """The roles users and members hold, then the roles call types grant (for the online check)."""
    named: list[NamedRole] = []
    for user_id, spec in sorted(users.items()):
        role = _dict(spec).get("role")
        if isinstance(role, str) and role:
            named.append((child_path(child_path("$.users", user_id), "role"), role, "app role"))
    for cid, spec in sorted(calls.items()):
        members_path = child_path(child_path("$.calls", cid), "members")
        for user_id, role in sorted(_dict(_dict(spec).get("members")).items()):
            if isinstance(role, str) and role:
                named.append((child_path(members_path, user_id), role, "call role"))
    for name, spec in sorted(call_types.items()):
        grants_path = child_path(child_path("$.call_types", name), "grants")
        for role in sorted(_dict(_dict(spec).get("grants"))):
            named.append((child_path(grants_path, role), role, "granted role"))
    return named


def _check_app_roles(
    report: _Report, named: list[NamedRole], vocabulary: AppVocabulary
) -> set[str]:
    """An error for each role the app does not have; the paths reported."""
    reported = set()
    for path, role, kind in named:
        if role in vocabulary.roles:
            continue
        reported.add(path)
        report.add(
            path,
            f"{kind} '{role}' is not a role of the app (checked online)",
            suggestion=suggest(role, vocabulary.roles)
            or "create it in the app first, with Stream's CreateRole, or use one of its roles",
        )
    return reported


def _check_roles(report: _Report, call_types: dict[str, Any], named: list[NamedRole]) -> None:
    # A misspelt role is valid to Stream and silently grants nothing: the user or member could
    # not do what the reviewer thinks (e.g. a host locked out of backstage).
    held = [n for n in named if n[2] != "granted role"]
    if not held:
        return
    granted = granted_roles(call_types)
    for path, role, kind in held:
        if role in granted:
            continue
        report.add(
            path,
            f"{kind} '{role}' is granted nothing by any declared or built-in call type",
            severity="warning",
            suggestion=suggest(role, granted)
            or "grant it permissions under a call type's grants, or use a role that has some",
        )


def _check_grants(
    report: _Report, path: str, spec: dict[str, Any], vocabulary: AppVocabulary | None
) -> None:
    known = vocabulary.permissions if vocabulary else None
    for role, granted in sorted(_dict(spec.get("grants")).items()):
        if not isinstance(granted, list):
            continue
        role_path = child_path(child_path(path, "grants"), role)
        for index, permission in enumerate(granted):
            if not isinstance(permission, str):
                continue
            if known is None:
                if permissions.is_known(permission):
                    continue
            elif permission in known:
                continue
            where = " (not in the app's permission list, checked online)" if known else ""
            report.add(
                child_path(role_path, index),
                f"{UNKNOWN_PERMISSION} '{permission}'{where}",
                suggestion=permissions.suggest_permission(permission, known)
                or "see README: Permission ids",
            )


def _backstage(settings: Any) -> dict[str, Any]:
    return _dict(_dict(settings).get("backstage"))


def _check_join_ahead(report: _Report, settings_path: str, settings: Any) -> None:
    value = _backstage(settings).get("join_ahead_time_seconds")
    if isinstance(value, bool) or not isinstance(value, int):
        return
    path = f"{settings_path}.backstage.join_ahead_time_seconds"
    if value < 0:
        report.add(
            path, f"join_ahead_time_seconds is negative ({value})", suggestion="use 0 or more"
        )
    elif value > ONE_DAY_SECONDS:
        report.add(
            path,
            f"join_ahead_time_seconds is {value}, more than a day: viewers could join "
            f"{value // 3600} hours before starts_at",
            severity="warning",
        )


@cache
def _backstage_keys() -> frozenset[str]:
    return frozenset(load_schema()["$defs"]["BackstageSettingsRequest"]["properties"])


def _check_backstage_access(report: _Report, path: str, name: str, spec: dict[str, Any]) -> None:
    grants = spec.get("grants")
    if not isinstance(grants, dict) or not grants:
        return  # grants not managed here: the app's current grants decide
    backstage = _backstage(spec.get("settings"))
    if not set(backstage) <= _backstage_keys():
        # A misspelt key (join_ahead_time_second) is the schema's error; read without it, the
        # backstage would look like join_ahead_time_seconds 0 and warn about a value never set.
        return
    enabled = backstage.get(
        "enabled", stream_settings.backstage_of(starting_backstage(name)).enabled
    )
    if enabled is not True or backstage.get("join_ahead_time_seconds", 0) not in (0, None):
        return
    # Grants are replaced per declared role; the others keep what the type starts with (the
    # built-in type's defaults, or those of a new type), as `stagecfg access` also assumes.
    effective: dict[str, Any] = dict(starting_call_type(name)["grants"])
    effective.update(grants)
    if any(
        role != "admin" and isinstance(granted, list) and permissions.grants_join_backstage(granted)
        for role, granted in effective.items()
    ):
        return
    report.add(
        child_path(path, "grants"),
        f"call type '{name}' has backstage enabled but no role other than admin has "
        "join-backstage and join_ahead_time_seconds is 0: nobody but admins could get in "
        "before go-live",
        severity="warning",
        suggestion="grant join-backstage to a role such as host, or set join_ahead_time_seconds",
    )


@cache
def _cid_rule() -> re.Pattern[str]:
    calls = load_schema()["properties"]["calls"]
    return re.compile(calls["propertyNames"]["pattern"])


def _check_call_type(report: _Report, path: str, cid: str, call_types: dict[str, Any]) -> None:
    if not _cid_rule().fullmatch(cid):
        return  # a malformed cid is the schema's to report
    call_type = cid.partition(":")[0]
    if call_type in call_types or call_type in BUILTIN_CALL_TYPES:
        return
    known = sorted(set(call_types) | set(BUILTIN_CALL_TYPES))
    report.add(
        path,
        f"call type '{call_type}' is neither declared in call_types nor built-in",
        suggestion=suggest(call_type, known) or "declare it under call_types",
    )


def effective_backstage(call_type: str, call: dict[str, Any], call_types: dict[str, Any]) -> bool:
    """Whether a new call starts in backstage: its call type's settings (the built-in type's, or
    a new type's template, with the declared settings merged in) with its settings_override."""
    declared = _dict(_dict(call_types.get(call_type)).get("settings"))
    # Only backstage decides; merging just that part of each layer is the same merge.
    part = {"backstage": declared["backstage"]} if "backstage" in declared else {}
    settings = stream_settings.merge_settings(starting_backstage(call_type), part)
    override = _dict(call.get("settings_override"))
    return stream_settings.effective_backstage(settings, override).enabled


def _check_live(
    report: _Report,
    path: str,
    cid: str,
    call: dict[str, Any],
    call_types: dict[str, Any],
    now: datetime,
) -> None:
    live = call.get("live")
    if "go_live" in call and "live" not in call:
        report.add(
            child_path(path, "go_live"),
            "go_live options without live: they are used only when stagecfg takes the call live",
            suggestion="add live: true (or live: false to hold it in backstage until then)",
        )
    call_type = cid.partition(":")[0]
    if live is True and not effective_backstage(call_type, call, call_types):
        report.add(
            child_path(path, "live"),
            "live: true on a call whose backstage is disabled: it is live from creation and "
            "never waits in backstage",
            severity="warning",
            suggestion="enable settings_override.backstage if the call should wait for go-live",
        )
    starts_at = call.get("starts_at")
    if not isinstance(starts_at, str) or not is_rfc3339(starts_at):
        return  # not an instant: the schema's to report
    if not in_wire_range(starts_at):
        report.add(
            child_path(path, "starts_at"),
            f"starts_at {starts_at} is outside what Stream can store (int64 nanoseconds, sent to "
            "the microsecond: "
            f"{WIRE_MIN} .. {WIRE_MAX})",
            suggestion="use an instant between those two",
        )
        return
    past = parse(starts_at) < now
    if live is False and past:
        report.add(
            child_path(path, "starts_at"),
            f"starts_at {starts_at} is in the past, but the call still waits in backstage "
            "(live: false)",
            severity="warning",
            suggestion="move starts_at to the future or set live: true",
        )


def _check_members(report: _Report, path: str, call: dict[str, Any], users: dict[str, Any]) -> None:
    for user_id in sorted(_dict(call.get("members"))):
        if user_id in users:
            continue
        report.add(
            child_path(child_path(path, "members"), user_id),
            f"member '{user_id}' is not declared under users: it must already exist in the app",
            severity="warning",
            suggestion=suggest(user_id, users) or f"declare users.{user_id}",
        )
