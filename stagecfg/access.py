"""Who may join a call, and when: Stream's backstage rules as pure functions over data.

A call's access is decided by a few facts: whether backstage is enabled in its effective settings,
``join_ahead_time_seconds``, ``starts_at``, the call type's grants, who created the call, and
whether it is live or has ended. :class:`AccessPolicy` holds those facts; :func:`decide` answers
one question (may these roles join at this instant in this live state, and why) and
:func:`timeline` describes every phase of the call's life. Both are built on the same rule
(:func:`_admitting_permissions`) so they cannot disagree.

The rules (reference section 5): a user's grants are the union of the grants of their app role
and their call member role. An ended call admits only ``join-ended-call``. While the call is in
backstage, ``join-backstage`` admits (``join-backstage-owner`` for the creator), and once
``starts_at - join_ahead_time_seconds`` has passed (when that is > 0 and starts_at is set)
``join-call`` admits too. After go-live ``join-call`` admits (``join-call-owner`` for the
creator). With backstage disabled the call is never in backstage.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from stagecfg import timestamps
from stagecfg.errors import UsageError
from stagecfg.escalation import JoinWindow, join_window
from stagecfg.model import ActualState, DesiredState, Json

JOIN_CALL = "join-call"
JOIN_BACKSTAGE = "join-backstage"
JOIN_ENDED_CALL = "join-ended-call"
OWNER_SUFFIX = "-owner"

Stage = Literal["backstage", "join-ahead", "live", "ended"]


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


@dataclass(frozen=True)
class Decision:
    """The answer for one principal at one instant."""

    principal: Principal
    allowed: bool
    stage: Stage
    permission: str | None  # what admitted them; None when refused
    reason: str

    def to_json(self) -> Json:
        return {
            "allowed": self.allowed,
            "is_creator": self.principal.is_creator,
            "permission": self.permission,
            "principal": self.principal.label,
            "reason": self.reason,
            "roles": list(self.principal.roles),
            "stage": self.stage,
        }


@dataclass(frozen=True)
class Admission:
    """Roles one permission admits during a phase; ``owner`` ones only for the call's creator."""

    permission: str
    roles: tuple[str, ...]
    owner: bool = False


@dataclass(frozen=True)
class Phase:
    """One stretch of a call's life and who may join during it."""

    stage: Stage
    label: str  # "until 17:55:00Z", "after go-live", ...
    starts: str | None  # instant the phase begins, when it is a fixed time
    ends: str | None
    admissions: tuple[Admission, ...]
    note: str = ""
    #: after stop-live inside the join window, join-call holders may join again from here
    rejoin_from: str | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role admitted without being the creator, sorted."""
        return tuple(sorted({r for a in self.admissions if not a.owner for r in a.roles}))

    def to_json(self) -> Json:
        return {
            "admissions": [
                {"creator_only": a.owner, "permission": a.permission, "roles": list(a.roles)}
                for a in self.admissions
            ],
            "ends": self.ends,
            "label": self.label,
            "note": self.note,
            "rejoin_from": self.rejoin_from,
            "roles": list(self.roles),
            "stage": self.stage,
            "starts": self.starts,
        }


# --- the rule -------------------------------------------------------------------------------------


def stage_at(policy: AccessPolicy, *, at: datetime | None, live: bool) -> Stage:
    """Which rule applies at instant ``at`` (None: no particular time) given the live state."""
    if policy.ended_at is not None and (at is None or at >= timestamps.parse(policy.ended_at)):
        return "ended"
    if live or not policy.backstage_enabled:
        return "live"
    opens_at = policy.window.opens_at
    if opens_at is not None and at is not None and at >= timestamps.parse(opens_at):
        return "join-ahead"
    return "backstage"


def _admitting_permissions(stage: Stage) -> tuple[str, ...]:
    """Base permissions that admit during a stage, most specific first."""
    if stage == "ended":
        return (JOIN_ENDED_CALL,)
    if stage == "backstage":
        return (JOIN_BACKSTAGE,)
    if stage == "join-ahead":
        return (JOIN_CALL, JOIN_BACKSTAGE)
    return (JOIN_CALL,)


def user_grants(grants: Mapping[str, Collection[str]], roles: Collection[str]) -> frozenset[str]:
    """The union of the grants of every role the user holds (app role and call member role)."""
    return frozenset(p for role in roles for p in grants.get(role, ()))


def admitting_permission(
    grants: Mapping[str, Collection[str]], principal: Principal, stage: Stage
) -> str | None:
    """The grant that lets ``principal`` join during ``stage``, or None."""
    held = user_grants(grants, principal.roles)
    for permission in _admitting_permissions(stage):
        if permission in held:
            return permission
        owner = permission + OWNER_SUFFIX
        if principal.is_creator and owner in held:
            return owner
    return None


def decide(
    policy: AccessPolicy,
    principal: Principal,
    *,
    at: datetime | str | None = None,
    live: bool | None = None,
) -> Decision:
    """May ``principal`` join at ``at`` (None: any time) with the call live or in backstage?"""
    instant = timestamps.parse(at) if at is not None else None
    is_live = policy.live if live is None else live
    stage = stage_at(policy, at=instant, live=is_live)
    permission = admitting_permission(policy.grants, principal, stage)
    return Decision(
        principal=principal,
        allowed=permission is not None,
        stage=stage,
        permission=permission,
        reason=_reason(policy, principal, stage, permission),
    )


def _roles_text(principal: Principal) -> str:
    owner = " (the call's creator)" if principal.is_creator else ""
    return f"{principal.label}{owner}"


def _stage_text(policy: AccessPolicy, stage: Stage) -> str:
    if stage == "ended":
        return f"the call ended at {policy.ended_at}" if policy.ended_at else "the call ended"
    if stage == "live" and not policy.backstage_enabled:
        return "backstage is disabled, so the call is never in backstage"
    if stage == "live":
        return "the call is live (after go-live)"
    if stage == "join-ahead":
        window = policy.window
        return (
            f"the call is in backstage but its join window opened at {window.opens_at} "
            f"(starts_at {window.starts_at} - {window.join_ahead_time_seconds} s)"
        )
    return "the call is in backstage"


def _reason(policy: AccessPolicy, principal: Principal, stage: Stage, granted: str | None) -> str:
    who = _roles_text(principal)
    context = _stage_text(policy, stage)
    if granted is not None:
        return f"{context}; {who} holds {granted}"
    wanted = _admitting_permissions(stage)
    needed = " or ".join(wanted)
    needed += " (or " + " / ".join(p + OWNER_SUFFIX for p in wanted) + " as the creator)"
    hint = ""
    if stage == "backstage":
        opens_at = policy.window.opens_at
        if opens_at is not None:
            hint = f"; holders of {JOIN_CALL} may join from {opens_at}"
        else:
            hint = f"; holders of {JOIN_CALL} may join after go-live"
    return f"{context}; {who} lacks {needed}{hint}"


# --- the timeline -------------------------------------------------------------------------------


def _admissions(
    grants: Mapping[str, Collection[str]], stage: Stage, extra_roles: Collection[str]
) -> tuple[Admission, ...]:
    """Which roles each admitting permission lets in during ``stage``; each role counted once."""
    roles = sorted(set(grants) | set(extra_roles))
    seen: set[str] = set()
    result: list[Admission] = []
    for permission in _admitting_permissions(stage):
        plain = tuple(r for r in roles if r not in seen and permission in grants.get(r, ()))
        seen.update(plain)
        if plain:
            result.append(Admission(permission, plain))
    for permission in _admitting_permissions(stage):
        owner = permission + OWNER_SUFFIX
        only = tuple(r for r in roles if r not in seen and owner in grants.get(r, ()))
        seen.update(only)
        if only:
            result.append(Admission(owner, only, owner=True))
    return tuple(result)


def _clock(instant: str, reference: str | None) -> str:
    """``17:55:00Z`` when on the same day as ``reference``, the full instant otherwise."""
    if reference is not None and instant[:10] == reference[:10]:
        return instant[11:]
    return instant


def timeline(policy: AccessPolicy, *, extra_roles: Collection[str] = ()) -> tuple[Phase, ...]:
    """Every phase of the call's life in order, with the roles each one admits."""
    grants = policy.grants

    def admitted(stage: Stage) -> tuple[Admission, ...]:
        return _admissions(grants, stage, extra_roles)

    phases: list[Phase] = []
    window = policy.window
    if window.kind == "always":
        phases.append(Phase("live", "any time (backstage disabled)", None, None, admitted("live")))
    else:
        if window.kind == "ahead" and window.opens_at is not None:
            opens = _clock(window.opens_at, window.starts_at)
            start = _clock(window.starts_at or "", window.starts_at)
            phases.append(
                Phase("backstage", f"until {opens}", None, window.opens_at, admitted("backstage"))
            )
            phases.append(
                Phase(
                    "join-ahead",
                    f"from {opens} (starts_at {start} - {window.join_ahead_time_seconds} s)",
                    window.opens_at,
                    None,
                    admitted("join-ahead"),
                )
            )
            rejoin = f"; from {opens} holders of {JOIN_CALL} may join again"
            rejoin_from = window.opens_at
        else:
            phases.append(Phase("backstage", "before go-live", None, None, admitted("backstage")))
            rejoin = ""
            rejoin_from = None
        phases.append(Phase("live", "after go-live", None, None, admitted("live")))
        phases.append(
            Phase(
                "backstage",
                "after stop-live",
                None,
                None,
                admitted("backstage"),
                note=f"back to backstage; viewers without {JOIN_BACKSTAGE} are removed{rejoin}",
                rejoin_from=rejoin_from,
            )
        )
    label = f"after the call ended ({policy.ended_at})" if policy.ended_at else "after end-call"
    phases.append(Phase("ended", label, policy.ended_at, None, admitted("ended")))
    return tuple(phases)


def describe_admissions(admissions: Sequence[Admission], stage: Stage) -> str:
    """``admin, host (join-backstage); creator only: user (join-backstage-owner)``."""
    if not admissions:
        needed = " or ".join(_admitting_permissions(stage))
        return f"nobody (no role holds {needed})"
    parts: list[str] = []
    for admission in admissions:
        roles = ", ".join(admission.roles)
        if admission.owner:
            parts.append(f"creator only: {roles} ({admission.permission})")
        elif admission.permission == JOIN_CALL:
            parts.append(f"every role with {JOIN_CALL}: {roles}")
        else:
            parts.append(f"{roles} ({admission.permission})")
    return "; ".join(parts)


def describe_policy(policy: AccessPolicy) -> str:
    """The header line: ``livestream:launch (backstage enabled, ..., starts_at ...)``."""
    facts = [
        "backstage enabled" if policy.backstage_enabled else "backstage disabled",
        f"join_ahead_time_seconds {policy.join_ahead_time_seconds}",
        f"starts_at {policy.starts_at}" if policy.starts_at else "no starts_at",
    ]
    if policy.ended_at:
        facts.append("ended")
    elif policy.backstage_enabled:
        facts.append("live now" if policy.live else "in backstage now")
    return f"{policy.cid} ({', '.join(facts)})"


def render_timeline_text(policy: AccessPolicy, phases: Sequence[Phase]) -> str:
    lines = [describe_policy(policy)]
    for phase in phases:
        body = phase.note if phase.note else describe_admissions(phase.admissions, phase.stage)
        lines.append(f"  {phase.label}: {body}")
    return "\n".join(lines) + "\n"


def render_decisions_text(
    policy: AccessPolicy, decisions: Sequence[Decision], *, heading: str = ""
) -> str:
    lines = [describe_policy(policy)]
    indent = "  "
    if heading:
        lines.append(f"  {heading}:")
        indent = "    "
    for decision in decisions:
        verdict = "yes" if decision.allowed else "no"
        lines.append(f"{indent}{decision.principal.label}: {verdict}: {decision.reason}")
    return "\n".join(lines) + "\n"


def policy_to_json(policy: AccessPolicy) -> Json:
    return {
        "backstage_enabled": policy.backstage_enabled,
        "cid": policy.cid,
        "created_by_id": policy.created_by_id,
        "ended_at": policy.ended_at,
        "join_ahead_time_seconds": policy.join_ahead_time_seconds,
        "join_opens_at": policy.window.opens_at,
        "live": policy.live,
        "starts_at": policy.starts_at,
    }


# --- building a policy ----------------------------------------------------------------------------


def _copy_json(value: Any) -> Any:
    # copy.deepcopy's memo bookkeeping made it most of a 100,000-call plan review; plain JSON
    # trees need none of it. Anything that is not a dict, list or scalar still goes to deepcopy.
    kind = type(value)
    if kind is dict:
        return {k: _copy_json(v) for k, v in value.items()}
    if kind is list:
        return [_copy_json(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _merge_into(merged: Json, override: Json) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            _merge_into(merged[key], value)  # merged[key] is already this merge's own copy
        else:
            merged[key] = _copy_json(value)


def merge_settings(base: Json, override: Json | None) -> Json:
    """Field-level merge of a CallSettingsRequest over settings, as Stream applies overrides."""
    merged: Json = _copy_json(base)
    _merge_into(merged, override or {})
    return merged


def _backstage(settings: Json) -> tuple[bool, int]:
    backstage: Any = settings.get("backstage") or {}
    ahead = int(backstage.get("join_ahead_time_seconds") or 0)
    return bool(backstage.get("enabled")), max(0, ahead)


def _frozen_grants(grants: Mapping[str, Collection[str]]) -> dict[str, tuple[str, ...]]:
    return {role: tuple(sorted(set(perms))) for role, perms in grants.items()}


def _call_type_defaults(name: str) -> tuple[Json, dict[str, list[str]]]:
    """Settings and grants a call type has before the manifest's declarations apply."""
    from stagecfg.sandbox import builtins

    known = builtins.builtin_call_types()
    if name in known:
        return known[name]["settings"], known[name]["grants"]
    return builtins.template_settings(), builtins.template_grants()


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
    if spec is None and call.type not in _builtin_names():
        raise UsageError(
            f"call {cid!r} has call type {call.type!r}, which the manifests do not declare "
            "and which is not a built-in type"
        )
    base_settings, base_grants = _call_type_defaults(call.type)
    settings = merge_settings(base_settings, spec.settings if spec else None)
    grants = dict(base_grants)
    if spec is not None and spec.grants is not None:
        grants.update(spec.grants)  # UpdateCallType replaces grants per role
    enabled, ahead = _backstage(merge_settings(settings, call.settings_override))
    return AccessPolicy(
        cid=cid,
        backstage_enabled=enabled,
        join_ahead_time_seconds=ahead,
        starts_at=timestamps.normalize(call.starts_at),
        grants=_frozen_grants(grants),
        created_by_id=call.created_by_id,
        live=bool(call.live) and enabled,
        user_roles={uid: user.role or "user" for uid, user in desired.users.items()},
        members=dict(call.members or {}),
    )


def _builtin_names() -> tuple[str, ...]:
    from stagecfg.sandbox import builtins

    return builtins.BUILTIN_NAMES


def policy_from_actual(actual: ActualState, cid: str) -> AccessPolicy:
    """The access facts of a call as a backend holds it (its current backstage flag)."""
    call = actual.calls.get(cid)
    if call is None:
        raise UsageError(f"call {cid!r} does not exist on the backend")
    call_type = actual.call_types.get(call.type)
    grants = call_type.grants if call_type is not None else {}
    enabled, ahead = _backstage(call.settings)
    # The flag is what the backend enforces now, even if settings were patched since.
    enabled = enabled or call.backstage
    return AccessPolicy(
        cid=cid,
        backstage_enabled=enabled,
        join_ahead_time_seconds=ahead,
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
    roles = [app_role]
    member_role = policy.members.get(user_id)
    detail = f"app role {app_role}"
    if member_role is not None:
        detail += f", member role {member_role}" if member_role else ", member"
        if member_role and member_role not in roles:
            roles.append(member_role)
    return Principal(
        label=f"user {user_id} ({detail})",
        roles=tuple(roles),
        is_creator=policy.created_by_id == user_id,
    )


def listed_roles(policy: AccessPolicy) -> tuple[str, ...]:
    """Roles the answers cover: those the grants map names."""
    return tuple(sorted(policy.grants))


def principal_timeline(
    policy: AccessPolicy, principal: Principal, phases: Sequence[Phase]
) -> tuple[tuple[Phase, Decision], ...]:
    """For each phase, whether ``principal`` may join during it and why."""
    answers: list[tuple[Phase, Decision]] = []
    for phase in phases:
        permission = admitting_permission(policy.grants, principal, phase.stage)
        decision = Decision(
            principal=principal,
            allowed=permission is not None,
            stage=phase.stage,
            permission=permission,
            reason=_reason(policy, principal, phase.stage, permission),
        )
        answers.append((phase, decision))
    return tuple(answers)


def render_principal_timeline_text(
    policy: AccessPolicy, answers: Sequence[tuple[Phase, Decision]]
) -> str:
    lines = [describe_policy(policy)]
    if answers:
        lines.append(f"  {answers[0][1].principal.label}:")
    for phase, decision in answers:
        if decision.allowed:
            because = f"holds {decision.permission}"
        else:
            because = "lacks " + " or ".join(_admitting_permissions(phase.stage))
        verdict = "yes" if decision.allowed else "no"
        line = f"    {phase.label}: {verdict} ({because})"
        if phase.rejoin_from is not None and not decision.allowed:
            again = admitting_permission(policy.grants, decision.principal, "join-ahead")
            if again is not None:
                line += f"; yes again from {phase.rejoin_from} (holds {again})"
        lines.append(line)
    return "\n".join(lines) + "\n"


# --- the report the CLI prints -------------------------------------------------------------------


def parse_instant(text: str, *, now: datetime | None = None) -> datetime:
    """``--at`` values: RFC 3339 with an offset, or ``now``."""
    if text.strip().lower() == "now":
        return now or timestamps.now_utc()
    if not timestamps.is_rfc3339(text):
        raise UsageError(
            f"--at {text!r} is not an RFC 3339 date-time with an offset; "
            "write e.g. 2026-12-01T17:58:00Z, or 'now'"
        )
    return timestamps.parse(text)


def report(
    policy: AccessPolicy,
    *,
    principal: Principal | None = None,
    at: datetime | None = None,
    live: bool | None = None,
    fmt: str = "text",
) -> str:
    """Who may join ``policy``'s call: the whole timeline, or the answer at one instant.

    Without ``at`` the answer covers every phase; with it, one instant in the given live state
    (default: the call's current or declared state). ``principal`` narrows it to one role or user.
    """
    is_live = policy.live if live is None else live
    if at is None:
        phases = timeline(policy, extra_roles=principal.roles if principal else ())
        if principal is None:
            if fmt == "json":
                return _dump(
                    {"call": policy_to_json(policy), "phases": [p.to_json() for p in phases]}
                )
            return render_timeline_text(policy, phases)
        answers = principal_timeline(policy, principal, phases)
        if fmt == "json":
            return _dump(
                {
                    "call": policy_to_json(policy),
                    "phases": [
                        {**phase.to_json(), "decision": decision.to_json()}
                        for phase, decision in answers
                    ],
                    "principal": principal.label,
                }
            )
        return render_principal_timeline_text(policy, answers)
    principals = [principal] if principal else [role_principal(r) for r in listed_roles(policy)]
    decisions = [decide(policy, p, at=at, live=is_live) for p in principals]
    instant = timestamps.normalize(at)
    if fmt == "json":
        return _dump(
            {
                "at": instant,
                "call": policy_to_json(policy),
                "decisions": [d.to_json() for d in decisions],
                "live": is_live,
            }
        )
    state = "live" if is_live else "in backstage"
    if not policy.backstage_enabled:
        state = "backstage disabled"
    return render_decisions_text(policy, decisions, heading=f"at {instant} ({state})")


def _dump(data: Json) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True) + "\n"
