"""Who may join a call, and when, and what a plan changes about it.

* :mod:`~stagecfg.access.policy`: the facts of one call (from the manifests or a backend) and who
  asks; Stream's rules themselves are in :mod:`stagecfg.rules`.
* :mod:`~stagecfg.access.decision`: one answer at one instant, with its reason in words.
* :mod:`~stagecfg.access.timeline`: every phase of a call's life and who each admits.
* :mod:`~stagecfg.access.report`: what ``stagecfg access`` prints.
* :mod:`~stagecfg.access.grants`, :mod:`~stagecfg.access.windows`,
  :mod:`~stagecfg.access.radius` and :mod:`~stagecfg.access.review`: the plan's access review
  (grant changes and escalations, moved join windows, blast radius and the live calls a plan
  reaches, refusals).
"""

from __future__ import annotations

from stagecfg.access.decision import Decision, decide
from stagecfg.access.grants import (
    BROAD_ROLES,
    PRIVILEGED_PERMISSIONS,
    GrantChange,
    classify_grants,
)
from stagecfg.access.policy import (
    AccessPolicy,
    Principal,
    admitting_permission,
    listed_roles,
    policy_from_actual,
    policy_from_desired,
    role_principal,
    stage_at,
    user_principal,
)
from stagecfg.access.radius import Radius, blast_radius, live_calls, radius_targets
from stagecfg.access.report import parse_instant, report
from stagecfg.access.review import (
    AccessNote,
    AccessReview,
    check_review,
    review,
    review_plan,
)
from stagecfg.access.timeline import (
    Admission,
    Phase,
    describe_admissions,
    describe_policy,
    policy_to_json,
    principal_timeline,
    render_decisions_text,
    render_principal_timeline_text,
    render_timeline_text,
    timeline,
)
from stagecfg.access.windows import describe_window, describe_window_change, format_duration

__all__ = [
    "BROAD_ROLES",
    "PRIVILEGED_PERMISSIONS",
    "AccessNote",
    "AccessPolicy",
    "AccessReview",
    "Admission",
    "Decision",
    "GrantChange",
    "Phase",
    "Principal",
    "Radius",
    "admitting_permission",
    "blast_radius",
    "check_review",
    "classify_grants",
    "decide",
    "describe_admissions",
    "describe_policy",
    "describe_window",
    "describe_window_change",
    "format_duration",
    "listed_roles",
    "live_calls",
    "parse_instant",
    "policy_from_actual",
    "policy_from_desired",
    "policy_to_json",
    "principal_timeline",
    "radius_targets",
    "render_decisions_text",
    "render_principal_timeline_text",
    "render_timeline_text",
    "report",
    "review",
    "review_plan",
    "role_principal",
    "stage_at",
    "timeline",
    "user_principal",
]
