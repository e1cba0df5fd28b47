"""Plans as a sticky pull-request comment that always fits GitHub's comment limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stagecfg.plan.changes import ACTION_CREATE, Change, Plan
from stagecfg.render.common import (
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_MARKER,
    NO_CHANGES,
    REFUSED_HEADING,
    SYMBOLS,
    created_value,
    format_value,
    refusal_line,
    string_list,
    summary_line,
)

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal


def _markdown_section(change: Change) -> str:
    symbol = SYMBOLS.get(change.action, "?")
    where = f" (`{change.location}`)" if change.location else ""
    head = f"- `{symbol}` {change.action} **{change.kind}** `{change.name}`{where}"
    if change.disruptive:
        head += f"\n  - :warning: **disruptive**: {change.reason}"
    if not change.fields:
        return head + "\n"
    diff = []
    for fc in change.fields:
        if change.action == ACTION_CREATE:
            diff.append(f"+ {fc.path}: {created_value(fc.after)}")
        elif string_list(fc.before) is not None and string_list(fc.after) is not None:
            diff += _markdown_list_diff(fc.path, fc.before, fc.after)
        else:
            diff.append(f"- {fc.path}: {format_value(fc.before)}")
            diff.append(f"+ {fc.path}: {format_value(fc.after)}")
    body = "\n".join(diff).replace("```", "'''")
    return f"{head}\n\n  ```diff\n" + "\n".join(f"  {d}" for d in body.split("\n")) + "\n  ```\n"


def _markdown_list_diff(path: str, before: list[str], after: list[str]) -> list[str]:
    """A grant list is a set: the lines name what leaves and what joins it, never cut off."""
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    lines = [f"- {path}: [{', '.join(removed)}]"] if removed else []
    lines += [f"+ {path}: [{', '.join(added)}]"] if added else []
    return lines or [f"  {path}: (reordered)"]


def _markdown_access_items(access: AccessReview | None) -> list[str]:
    """Access changes go first in a review comment: escalations are what reviewers must see."""
    if access is None:
        return []
    items = []
    for line in access.lines():
        if line.startswith("! "):
            items.append(f"- :warning: **{line[2:]}**\n")
        else:
            items.append(f"- {line}\n")
    return items


def _more(count: int, what: str) -> str:
    return (
        f"... {count} more {what}{'s' if count != 1 else ''} not shown; run stagecfg plan locally\n"
    )


def render_markdown(
    plan: Plan,
    *,
    backend: str,
    limit: int = GITHUB_COMMENT_LIMIT,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """A sticky pull-request comment that always fits in ``limit`` characters.

    Access changes, changes and notes share the budget in that order; what does not fit of each
    is counted in a closing line instead, so a huge plan still posts (GitHub rejects longer text).
    """
    title = "No changes" if plan.empty else summary_line(plan).removesuffix(".")
    parts = [f"{MARKDOWN_MARKER}\n### stagecfg plan: {title}\n\nBackend: `{backend}`\n\n"]
    # Room for up to three closing "... N more ... not shown" lines, whatever the numbers.
    budget = limit - len(parts[0]) - 3 * 90

    def fit(items: list[str]) -> int:
        """Append the items that fit; once one does not, none after it. Returns how many fit."""
        nonlocal budget
        shown = 0
        for item in items:
            if len(item) > budget:
                break
            parts.append(item)
            budget -= len(item)
            shown += 1
        return shown

    if refusals:
        # First of all: a reviewer must not approve a plan apply cannot run as it stands.
        fit([f"#### {REFUSED_HEADING.rstrip(':').capitalize()}\n\n"])
        shown = fit([f"- :no_entry: {refusal_line(r)[2:]}\n" for r in refusals])
        if shown < len(refusals):
            parts.append("\n" + _more(len(refusals) - shown, "refusal"))
        parts.append("\n")
        budget -= 1
    access_items = _markdown_access_items(access)
    if access_items:
        count = len(access.escalations) if access is not None else 0
        fit([f"#### Access changes ({count} escalation{'s' if count != 1 else ''})\n\n"])
        shown = fit(access_items)
        if shown < len(access_items):
            parts.append("\n" + _more(len(access_items) - shown, "access change"))
        parts.append("\n")
        budget -= 1
    if plan.empty:
        return "".join(parts) + NO_CHANGES + "\n"
    shown = fit([_markdown_section(change) for change in plan.changes])
    if shown < len(plan.changes):
        parts.append("\n" + _more(len(plan.changes) - shown, "change"))
    notes = [f"- note: `{n.kind} {n.name}`: {n.message}\n" for n in plan.notes]
    if notes:
        parts.append("\n")
        budget -= 1
        shown = fit(notes)
        if shown < len(notes):
            parts.append(_more(len(notes) - shown, "note"))
    return "".join(parts)
