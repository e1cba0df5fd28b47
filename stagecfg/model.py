"""The data stagecfg reasons about: desired state from manifests, actual state from a backend.

Both sides use Stream's own JSON shapes for settings, grants and notification settings, so a
settings dict here is exactly what a CallSettingsRequest/-Response would carry. Timestamps are
RFC 3339 strings normalised to UTC (see :mod:`stagecfg.timestamps`); they are compared as
instants, never as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stagecfg.errors import Location

Json = dict[str, Any]

#: Key in a call's ``custom`` data that marks it as created by stagecfg for one project.
#: Prune deletes only calls whose marker names the current project.
PROJECT_MARKER_KEY = "stagecfg_project"

KIND_CALL_TYPE = "call_type"
KIND_CALL = "call"
KIND_USER = "user"


def split_cid(cid: str) -> tuple[str, str]:
    """``"livestream:show-1"`` -> ``("livestream", "show-1")``."""
    call_type, _, call_id = cid.partition(":")
    return call_type, call_id


class _NamedByCid:
    """``type`` and ``id`` of a call, from its cid."""

    cid: str

    @property
    def type(self) -> str:
        return split_cid(self.cid)[0]

    @property
    def id(self) -> str:
        return split_cid(self.cid)[1]


# --- desired state (from manifests) -------------------------------------------------------------


@dataclass(frozen=True)
class CallTypeSpec:
    """A call type as declared. ``None`` means the manifest does not manage that part."""

    name: str
    settings: Json | None = None
    grants: Mapping[str, list[str]] | None = None
    notification_settings: Json | None = None
    external_storage: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class CallSpec(_NamedByCid):
    """A call as declared. ``live`` None = live state not managed."""

    cid: str
    created_by_id: str | None = None
    starts_at: str | None = None
    settings_override: Json | None = None
    custom: Json | None = None
    team: str | None = None
    live: bool | None = None
    go_live: Json | None = None
    members: Mapping[str, str] | None = None  # user_id -> call role
    #: False: the call keeps the settings it was created with when its call type changes
    follow_call_type: bool = True
    location: Location | None = None
    #: where each member entry was written, so member errors point at the entry itself
    member_locations: Mapping[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class UserSpec:
    """An app user the manifests declare (call members must exist). ``None`` = not managed."""

    id: str
    role: str | None = None
    name: str | None = None
    custom: Json | None = None
    location: Location | None = None
    image: str | None = None
    teams: list[str] | None = None
    language: str | None = None
    invisible: bool | None = None
    privacy_settings: Json | None = None
    teams_role: Mapping[str, str] | None = None


@dataclass(frozen=True)
class DesiredState:
    """Everything the merged manifests declare."""

    call_types: Mapping[str, CallTypeSpec] = field(default_factory=dict)
    calls: Mapping[str, CallSpec] = field(default_factory=dict)
    users: Mapping[str, UserSpec] = field(default_factory=dict)
    project: str | None = None
    digest: str = ""  # sha256 over the manifests' bytes, in source order (and the var files')
    sources: tuple[str, ...] = ()  # the files that were loaded, in order
    #: the environment selected (``--env``); None when the manifests define no environments
    environment: str | None = None
    #: (kind, name) -> dotted field path (``settings.limits``) -> where an overlay set it
    field_locations: Mapping[tuple[str, str], Mapping[str, Location]] = field(default_factory=dict)
    #: the ``--var NAME=VALUE`` given (never a secret: those are refused) and ``--var-file`` paths
    variables: tuple[tuple[str, str], ...] = ()
    var_files: tuple[str, ...] = ()


# --- actual state (from a backend) --------------------------------------------------------------


@dataclass(frozen=True)
class CallTypeState:
    name: str
    settings: Json
    grants: Mapping[str, list[str]]
    notification_settings: Json
    external_storage: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class CallState(_NamedByCid):
    cid: str
    created_by_id: str | None
    starts_at: str | None
    settings: Json  # effective settings (call type at creation, merged with overrides)
    custom: Json
    backstage: bool
    team: str | None = None
    members: Mapping[str, str] = field(default_factory=dict)  # user_id -> call role
    created_at: str | None = None
    updated_at: str | None = None
    ended_at: str | None = None
    live_started_at: str | None = None
    live_ended_at: str | None = None


@dataclass(frozen=True)
class UserState:
    """A user as the backend holds it; an unset field has Stream's empty value."""

    id: str
    role: str
    name: str | None = None
    custom: Json = field(default_factory=dict)
    image: str | None = None
    teams: list[str] = field(default_factory=list)
    language: str = ""
    invisible: bool = False
    privacy_settings: Json = field(default_factory=dict)
    teams_role: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppVocabulary:
    """The permission ids and roles an app knows (ListPermissions and ListRoles): what
    ``stagecfg validate --online`` checks grants and roles against."""

    permissions: frozenset[str]
    roles: frozenset[str]
    #: The backend it was read from, as ``Backend.describe()`` names it.
    source: str = ""


@dataclass(frozen=True)
class ActualState:
    """What a backend holds for the objects that were asked for (absent = does not exist)."""

    call_types: Mapping[str, CallTypeState] = field(default_factory=dict)
    calls: Mapping[str, CallState] = field(default_factory=dict)
    users: Mapping[str, UserState] = field(default_factory=dict)
