"""The facts that decide who may join one call, gathered from the manifests or a backend.

:class:`AccessPolicy` holds a call's backstage settings, ``starts_at``, its call type's grants, its
creator and its live state; :class:`Principal` is who asks (a role, or a user with their app and
member roles). The rules that turn these facts into answers are Stream's and live in
:mod:`stagecfg.rules`; this module only gathers the facts and adapts them to those rules.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stagecfg import timestamps
from stagecfg.errors import UsageError
from stagecfg.model import ActualState, DesiredState
from stagecfg.rules import builtins, join
from stagecfg.rules.join import JoinWindow, Stage, join_window
from stagecfg.rules.roles import roles_of
from stagecfg.rules.settings import backstage_of, call_settings_request, effective_backstage


@dataclass(frozen=True)
class AccessPolicy:
    """The facts that decide who may join one call."""

    cid: str
    backstage_enabled: bool
    join_ahead_time_seconds: int
    starts_at: str | None
    grants: Mapping[str, tuple[str, ...]]
    created_by_id: str | None = None
    live: bool = False  # current (or declared) state: True once go-live, False in backstage
    ended_at: str | None = None
    #: app role per user id and call member role per user id, for ``--user``
    user_roles: Mapping[str, str] = field(default_factory=dict)
    members: Mapping[str, str] = field(default_factory=dict)

    @property
    def window(self) -> JoinWindow:
        return join_window(self.backstage_enabled, self.join_ahead_time_seconds, self.starts_at)


@dataclass(frozen=True)
class Principal:
    """Who asks to join: the roles whose grants they hold, and whether they created the call."""

    label: str
    roles: tuple[str, ...]
    is_creator: bool = False


def stage_at(policy: AccessPolicy, *, at: datetime | None, live: bool) -> Stage:
    """Which rule applies at instant ``at`` (None: no particular time) given the live state."""
    ended = policy.ended_at is not None and (at is None or at >= timestamps.parse(policy.ended_at))
    return join.stage_of(
        ended=ended,
        in_backstage=policy.backstage_enabled and not live,
        window_open=at is not None and policy.window.is_open(at),
    )


def admitting_permission(
    grants: Mapping[str, Collection[str]], principal: Principal, stage: Stage
) -> str | None:
    """The grant that lets ``principal`` join during ``stage``, or None."""
    return join.admitting_grant(
        grants, principal.roles, is_creator=principal.is_creator, stage=stage
    )


def _frozen_grants(grants: Mapping[str, Collection[str]]) -> dict[str, tuple[str, ...]]:
    return {role: tuple(sorted(set(perms))) for role, perms in grants.items()}


def policy_from_desired(desired: DesiredState, cid: str) -> AccessPolicy:
    """The access facts of a declared call, from the manifests alone (no backend)."""
    call = desired.calls.get(cid)
    if call is None:
        declared = ", ".join(sorted(desired.calls)) or "none"
        raise UsageError(
            f"call {cid!r} is not declared in the manifests (declared calls: {declared}); "
            "use --from-backend to read it from the backend"
        )
    spec = desired.call_types.get(call.type)
    if spec is None and call.type not in builtins.BUILTIN_CALL_TYPES:
        raise UsageError(
            f"call {cid!r} has call type {call.type!r}, which the manifests do not declare "
            "and which is not a built-in type"
        )
    # The call type as the manifests leave it: a built-in type's (or a new type's template)
    # settings and grants, changed as the declaration would change them.
    call_type = builtins.changed_call_type(
        builtins.starting_call_type(call.type),
        settings=spec.settings if spec else None,
        grants=spec.grants if spec else None,
    )
    # A declared call follows its type's declared fields (unless it opts out): the same rule the
    # planner holds existing calls to, so this answer is what the backend has after an apply.
    request = call_settings_request(
        spec.settings if spec else None,
        call.settings_override,
        follows=call.follow_call_type,
    )
    backstage = effective_backstage(call_type["settings"], request)
    return AccessPolicy(
        cid=cid,
        backstage_enabled=backstage.enabled,
        join_ahead_time_seconds=backstage.join_ahead_time_seconds,
        starts_at=timestamps.normalize(call.starts_at),
        grants=_frozen_grants(call_type["grants"]),
        created_by_id=call.created_by_id,
        live=bool(call.live) and backstage.enabled,
        user_roles={uid: user.role or "user" for uid, user in desired.users.items()},
        members=dict(call.members or {}),
    )


def policy_from_actual(actual: ActualState, cid: str) -> AccessPolicy:
    """The access facts of a call as a backend holds it (its current backstage flag)."""
    call = actual.calls.get(cid)
    if call is None:
        raise UsageError(f"call {cid!r} does not exist on the backend")
    call_type = actual.call_types.get(call.type)
    grants = call_type.grants if call_type is not None else {}
    backstage = backstage_of(call.settings)
    # The flag is what the backend enforces now, even if settings were patched since.
    enabled = backstage.enabled or call.backstage
    return AccessPolicy(
        cid=cid,
        backstage_enabled=enabled,
        join_ahead_time_seconds=backstage.join_ahead_time_seconds,
        starts_at=timestamps.normalize(call.starts_at),
        grants=_frozen_grants(grants),
        created_by_id=call.created_by_id,
        live=enabled and not call.backstage,
        ended_at=call.ended_at,
        user_roles={uid: user.role for uid, user in actual.users.items()},
        members=dict(call.members),
    )


def role_principal(role: str) -> Principal:
    return Principal(label=f"role {role}", roles=(role,))


def user_principal(policy: AccessPolicy, user_id: str) -> Principal:
    """A user's roles: their app role plus their member role in this call, if any."""
    app_role = policy.user_roles.get(user_id)
    if app_role is None:
        raise UsageError(
            f"user {user_id!r} is unknown (not in the manifests' users: nor on the backend); "
            "use --role to ask about a role instead"
        )
    member_role = policy.members.get(user_id)
    detail = f"app role {app_role}"
    if member_role is not None:
        detail += f", member role {member_role}" if member_role else ", member"
    return Principal(
        label=f"user {user_id} ({detail})",
        roles=roles_of(app_role, member_role),
        is_creator=policy.created_by_id == user_id,
    )


def listed_roles(policy: AccessPolicy) -> tuple[str, ...]:
    """Roles the answers cover: those the grants map names."""
    return tuple(sorted(policy.grants))
