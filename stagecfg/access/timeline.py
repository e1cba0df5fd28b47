"""The phases of a call's life (backstage, join-ahead, live, after stop-live, ended), who each
admits, and the text and JSON the access report shows for them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from stagecfg.access.decision import Decision, explain
from stagecfg.access.policy import AccessPolicy, Principal, admitting_permission
from stagecfg.model import Json
from stagecfg.rules.join import JOIN_BACKSTAGE, JOIN_CALL, Stage, admitting_permissions
from stagecfg.rules.permissions import OWNER_SUFFIX


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


def _admissions(
    grants: Mapping[str, Collection[str]], stage: Stage, extra_roles: Collection[str]
) -> tuple[Admission, ...]:
    """Which roles each admitting permission lets in during ``stage``; each role counted once."""
    roles = sorted(set(grants) | set(extra_roles))
    seen: set[str] = set()
    result: list[Admission] = []
    for permission in admitting_permissions(stage):
        plain = tuple(r for r in roles if r not in seen and permission in grants.get(r, ()))
        seen.update(plain)
        if plain:
            result.append(Admission(permission, plain))
    for permission in admitting_permissions(stage):
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
        needed = " or ".join(admitting_permissions(stage))
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
            reason=explain(policy, principal, phase.stage, permission),
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
            because = "lacks " + " or ".join(admitting_permissions(phase.stage))
        verdict = "yes" if decision.allowed else "no"
        line = f"    {phase.label}: {verdict} ({because})"
        if phase.rejoin_from is not None and not decision.allowed:
            again = admitting_permission(policy.grants, decision.principal, "join-ahead")
            if again is not None:
                line += f"; yes again from {phase.rejoin_from} (holds {again})"
        lines.append(line)
    return "\n".join(lines) + "\n"
