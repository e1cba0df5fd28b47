"""One answer: may this principal join this call at this instant, and why (in words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stagecfg import timestamps
from stagecfg.access.policy import AccessPolicy, Principal, admitting_permission, stage_at
from stagecfg.model import Json
from stagecfg.rules.join import JOIN_CALL, Stage, admitting_permissions
from stagecfg.rules.permissions import OWNER_SUFFIX


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
        reason=explain(policy, principal, stage, permission),
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


def explain(policy: AccessPolicy, principal: Principal, stage: Stage, granted: str | None) -> str:
    """Why ``principal`` may (``granted``) or may not join during ``stage``, in one sentence."""
    who = _roles_text(principal)
    context = _stage_text(policy, stage)
    if granted is not None:
        return f"{context}; {who} holds {granted}"
    wanted = admitting_permissions(stage)
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
