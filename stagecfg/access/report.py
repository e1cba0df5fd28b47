"""The report ``stagecfg access`` prints: the whole timeline, or the answers at one instant."""

from __future__ import annotations

import json
from datetime import datetime

from stagecfg import timestamps
from stagecfg.access.decision import decide
from stagecfg.access.policy import AccessPolicy, Principal, listed_roles, role_principal
from stagecfg.access.timeline import (
    policy_to_json,
    principal_timeline,
    render_decisions_text,
    render_principal_timeline_text,
    render_timeline_text,
    timeline,
)
from stagecfg.errors import UsageError
from stagecfg.model import Json


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
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
