"""The whole exported manifest: which objects, in which order, as YAML text.

What is exported:

* every call type that differs from Stream's defaults for it (a built-in one too: its changes
  are configuration someone made), and with ``include_builtin`` the unchanged built-ins as well,
  as empty entries;
* every call that is not deleted, or with ``project`` only the calls carrying that project's
  marker (the manifest then names the project);
* the users ``users`` selects (see :mod:`stagecfg.export.users`).

Everything is sorted and every value normalised, so two exports of the same app are the same
bytes, and an export applied to a fresh app exports again to the same bytes.
"""

from __future__ import annotations

import re

import yaml

from stagecfg.backends.base import Backend
from stagecfg.errors import UsageError
from stagecfg.export.call_types import call_type_entry
from stagecfg.export.calls import call_entry
from stagecfg.export.users import (
    USER_CHOICES,
    USERS_ALL,
    USERS_NONE,
    USERS_REFERENCED,
    referenced_users,
    user_entry,
)
from stagecfg.model import PROJECT_MARKER_KEY, ActualState, CallState, Json
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES


def _calls(actual: ActualState, project: str | None) -> list[CallState]:
    calls = list(actual.calls.values())
    if project is not None:
        calls = [c for c in calls if c.custom.get(PROJECT_MARKER_KEY) == project]
    return sorted(calls, key=lambda c: c.cid)


def users_of(actual: ActualState, *, project: str | None = None) -> list[str]:
    """User ids the exported calls refer to (creators and members)."""
    return referenced_users(_calls(actual, project))


def read_for_export(
    backend: Backend, *, project: str | None = None, users: str = USERS_REFERENCED
) -> ActualState:
    """What :func:`export_manifest` needs from ``backend``: every call, and the selected users."""
    if users not in USER_CHOICES:
        raise UsageError(f"--users {users!r}: choose one of {', '.join(USER_CHOICES)}")
    if users == USERS_ALL:
        return backend.read(all_calls=True, all_users=True)
    actual = backend.read(all_calls=True)
    wanted = users_of(actual, project=project) if users == USERS_REFERENCED else []
    if not wanted:
        return actual
    # A second round: which users is only known once the calls are read.
    found = backend.read(users=wanted).users
    return ActualState(call_types=actual.call_types, calls=actual.calls, users=found)


def export_manifest(
    actual: ActualState,
    *,
    include_builtin: bool = False,
    project: str | None = None,
    users: str = USERS_REFERENCED,
) -> Json:
    """A manifest (as data) declaring what ``actual`` holds. ``actual`` needs every call, and
    the users ``users`` selects (:func:`read_for_export` reads exactly that)."""
    manifest: Json = {"version": 1}
    if project is not None:
        manifest["project"] = project
    calls = _calls(actual, project)
    if users == USERS_ALL:
        user_ids = sorted(actual.users)
    elif users == USERS_NONE:
        user_ids = []
    else:
        user_ids = [uid for uid in referenced_users(calls) if uid in actual.users]
    if user_ids:
        manifest["users"] = {uid: user_entry(actual.users[uid]) for uid in user_ids}
    call_types: Json = {}
    for name, state in sorted(actual.call_types.items()):
        entry = call_type_entry(state)
        if entry or name not in BUILTIN_CALL_TYPES or include_builtin:
            call_types[name] = entry
    if call_types:
        manifest["call_types"] = call_types
    exported_calls: Json = {}
    for call in calls:
        type_state = actual.call_types.get(call.type)
        declared = call_types.get(call.type, {}).get("settings")
        exported_calls[call.cid] = call_entry(
            call, dict(type_state.settings) if type_state else {}, declared, project
        )
    if exported_calls:
        manifest["calls"] = exported_calls
    return manifest


class _Dumper(yaml.SafeDumper):
    """Block style YAML, keys sorted, strings that look like other types quoted.

    PyYAML quotes what YAML 1.1 would read as another type; stagecfg's loader reads YAML 1.2
    and reports YAML 1.1's extra booleans, so the strings either reads otherwise are quoted too
    (a custom value ``n``, ``1e3`` or ``0o17`` must come back as that text).
    """


_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?i:y|n|yes|no|on|off)$"),
    list("yYnNoO"),
)
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:0o[0-7]+|0x[0-9a-fA-F]+)$"), ["0"]
)
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _literal_text(value: object) -> object:
    """``value`` with every string's ``${`` written ``$${``: backend text is never a variable
    reference (the loader reads ``$${`` as a literal ``${``). Keys are never expanded."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {key: _literal_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal_text(item) for item in value]
    return value


def dump_manifest(manifest: Json) -> str:
    """YAML text with the schema modeline, sorted keys and stable formatting; loaded by
    stagecfg it gives ``manifest`` back."""
    body = yaml.dump(
        _literal_text(manifest),
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
