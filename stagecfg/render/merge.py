"""What ``apply --reviewed`` says on merge: applied, refused because the reviewed plan no longer
matches (with the difference and the current plan), or failed; as text and as the pull
request's sticky comment (same marker as the plan comment, so it replaces it).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stagecfg.plan.changes import Change, Plan
from stagecfg.plandiff import Changed, Comparison
from stagecfg.render.common import (
    DEFAULT_COMMENT_KEY,
    GITHUB_COMMENT_LIMIT,
    change_title,
    comment_marker,
    summary_line,
)
from stagecfg.render.markdown import LOCAL_FULL_PLAN, code, plan_sections

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal

MISMATCH_HEADING = "the reviewed plan no longer matches the plan of the current manifests:"

#: How many changes of each part of a difference the text and the comment list by name.
SHOWN_PER_PART = 50


@dataclass(frozen=True)
class MergeContext:
    """What the comment says about the merge: the commit, the branch, the paths and plan file
    (for the recovery commands) and where the full plan is."""

    sha: str | None = None
    ref: str | None = None
    paths: tuple[str, ...] = ()
    key: str = DEFAULT_COMMENT_KEY
    full_plan: str = LOCAL_FULL_PLAN

    def commit(self) -> str:
        return f"commit {code(self.sha[:12])}" if self.sha else "the merged commit"

    def head(self, what: str) -> str:
        which = "" if self.key == DEFAULT_COMMENT_KEY else f" ({self.key})"
        return f"{comment_marker(self.key)}\n### stagecfg apply{which}: {what}\n\n"


# --- text -----------------------------------------------------------------------------------


def render_mismatch_text(comparison: Comparison) -> str:
    """The difference, for the log: reviewed-only changes, current-only changes, changed ones."""
    lines = [MISMATCH_HEADING]
    saved_only = [change for _, change in comparison.saved_only]
    for label, changes in (
        ("only in the reviewed plan", saved_only),
        ("only in the current plan", list(comparison.fresh_only)),
    ):
        if changes:
            lines.append(f"  {label} ({len(changes)}):")
            lines += [f"    {change_title(c)}" for c in changes[:SHOWN_PER_PART]]
            lines += _more_text(len(changes))
    if comparison.changed:
        lines.append(f"  changed ({len(comparison.changed)}):")
        for item in comparison.changed[:SHOWN_PER_PART]:
            lines.append(f"    {change_title(item.saved)}")
            lines += [f"        {d}" for d in item.differences]
        lines += _more_text(len(comparison.changed))
    lines += [f"  {other}" for other in comparison.other]
    return "\n".join(lines) + "\n"


def _more_text(count: int) -> list[str]:
    return [f"    ... and {count - SHOWN_PER_PART} more"] if count > SHOWN_PER_PART else []


# --- comments -------------------------------------------------------------------------------


def render_applied_markdown(
    plan: Plan,
    *,
    applied: int,
    merge: MergeContext,
    access: AccessReview | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The comment after a successful apply on merge: the commit, the counts, the plan."""
    if plan.empty:
        head = merge.head("nothing to apply")
        text = f"Nothing to apply at {merge.commit()}: the backend already matched the manifests.\n"
        return head + text
    head = merge.head("applied")
    s = plan.summary()
    counts = (
        f"{s['create']} created, {s['update']} updated, {s['delete']} deleted, "
        f"{s['live']} live change{'s' if s['live'] != 1 else ''}"
    )
    text = (
        f"Applied the reviewed plan at {merge.commit()}: {applied} change"
        f"{'s' if applied != 1 else ''} ({counts}). The backend matches the manifests.\n\n"
        "#### The applied plan\n\n"
    )
    body = plan_sections(
        plan,
        access=access,
        refusals=(),
        limit=limit - len(head) - len(text),
        full_plan=merge.full_plan,
    )
    return head + text + body


def render_mismatch_markdown(
    comparison: Comparison,
    current: Plan,
    *,
    backend: str,
    merge: MergeContext,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The comment when the reviewed plan no longer matches: nothing was applied, what differs,
    how to recover, then the current plan (what a new plan would hold)."""
    branch = code(merge.ref) if merge.ref else "the merged commit"
    head = merge.head(f"the reviewed plan no longer matches {branch}")
    intro = (
        f"**Nothing was applied.** Planning the manifests at {merge.commit()} against "
        f"{code(backend)} gives other changes than the plan reviewed on this pull request, so "
        "`stagecfg apply --reviewed` refused to run it. Usually another pull request merged "
        "first and changed the same objects, or someone changed them on the app.\n\n"
    )
    recovery = _recovery(merge)
    budget = limit - len(head) - len(intro) - len(recovery)
    # The difference may take half of what is left; the current plan gets the rest.
    difference = _difference_markdown(comparison, budget // 2)
    current_head = "#### The current plan\n\n"
    sections = plan_sections(
        current,
        access=access,
        refusals=refusals,
        limit=budget - len(difference) - len(current_head),
        full_plan=merge.full_plan,
    )
    return head + intro + difference + recovery + current_head + sections


def render_failed_markdown(
    message: str,
    *,
    merge: MergeContext,
    plan: Plan | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The comment when apply on merge stopped for another reason (a refusal, a failed change)."""
    head = merge.head("apply on merge failed")
    shown = html.escape(message[:4000])
    text = f"Apply at {merge.commit()} stopped:\n\n> {shown}\n\n"
    if plan is not None and not plan.empty:
        text += f"The plan it ran: {summary_line(plan)} See the job log for what was applied.\n\n"
    text += "Fix the cause, then re-run the apply job, or recover as below.\n\n"
    return (head + text + _recovery(merge, plan_below=False))[:limit]


def _recovery(merge: MergeContext, *, plan_below: bool = True) -> str:
    # Paths are the workflow's; a fence inside one must not end the code block.
    paths = (" ".join(merge.paths) or "PATHS").replace("```", "'''")
    read = "Read the current plan below." if plan_below else "Make a new plan of this commit."
    return (
        "#### How to recover\n\n"
        f"1. {read} If it is what should happen, run the re-plan workflow "
        "(`workflow_dispatch`) on the merged branch: it plans this commit with "
        "`stagecfg plan --out`, posts that plan, and its apply job waits for the environment's "
        "required reviewers before running `stagecfg apply --reviewed` with it.\n"
        "2. If it is not, fix the manifests in a new pull request.\n\n"
        "By hand, the same steps are:\n\n"
        f"```sh\nstagecfg plan {paths} --out stagecfg-plan.json   # review this plan\n"
        f"stagecfg apply {paths} --reviewed stagecfg-plan.json --auto-approve\n```\n\n"
    )


def _difference_markdown(comparison: Comparison, limit: int) -> str:
    parts = ["#### What differs\n\n"]
    saved_only = [change for _, change in comparison.saved_only]
    for label, changes in (
        ("Only in the reviewed plan", saved_only),
        ("Only in the current plan", list(comparison.fresh_only)),
    ):
        if changes:
            parts.append(f"**{label}** ({len(changes)}):\n\n")
            parts += [f"- {code(change_title(c))}\n" for c in changes[:SHOWN_PER_PART]]
            parts += _more_markdown(len(changes))
            parts.append("\n")
    if comparison.changed:
        parts.append(f"**Changed** ({len(comparison.changed)}):\n\n")
        parts += [_changed_details(item) for item in comparison.changed[:SHOWN_PER_PART]]
        parts += _more_markdown(len(comparison.changed))
    parts += [f"- {html.escape(other)}\n" for other in comparison.other]
    parts.append("\n")
    text = ""
    for part in parts:
        if len(text) + len(part) > limit - 80:
            return text + "\n*The rest of the difference is in the job log.*\n\n"
        text += part
    return text


def _more_markdown(count: int) -> list[str]:
    if count <= SHOWN_PER_PART:
        return []
    return [f"- ... and {count - SHOWN_PER_PART} more (see the job log)\n"]


def _changed_details(item: Changed) -> str:
    change: Change = item.saved
    lines = "\n".join(item.differences).replace("```", "'''")
    return (
        f"<details><summary>{code(change_title(change))}</summary>\n\n"
        f"```\n{lines}\n```\n\n</details>\n\n"
    )
