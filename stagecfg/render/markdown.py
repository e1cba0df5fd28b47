"""Plans as the sticky pull-request comment (and ``plan --format markdown``, the same text).

Layout, top to bottom:

1. the hidden marker ``<!-- stagecfg-plan:KEY -->`` that finds the comment again, a title with
   the counts, and the backend;
2. the risk summary (:mod:`stagecfg.render.risk`): escalations, deletes, disruptive changes,
   live calls affected, what apply would refuse;
3. what apply would refuse, each with the flag that allows it; the access changes, escalations
   first;
4. one collapsible ``<details>`` per object (kind, name, actions; its field changes inside), in
   the plan's order (the order apply runs them);
5. the notes.

The whole comment fits GitHub's 65,536 characters: what does not fit is cut at the end, whole
objects (or access lines, or notes) at a time, never mid-object, and a closing line says how many
were cut and where the full plan is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stagecfg.plan.changes import ACTION_CREATE, Change, Plan
from stagecfg.render.common import (
    DEFAULT_COMMENT_KEY,
    GITHUB_COMMENT_LIMIT,
    NO_CHANGES,
    REFUSED_HEADING,
    SYMBOLS,
    comment_marker,
    created_value,
    format_value,
    refusal_line,
    string_list,
    summary_line,
)
from stagecfg.render.risk import risks_of

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal

#: Where the full plan is, when the comment had to be cut and nothing better is known.
LOCAL_FULL_PLAN = "run `stagecfg plan --full` with the same arguments to see every change"

#: Access lines may take at most this share of the comment, so objects always get room.
_ACCESS_SHARE = 3


def code(text: str) -> str:
    """``<code>text</code>``, HTML-escaped: names and paths may hold backticks or ``<``."""
    return f"<code>{html.escape(text, quote=False)}</code>"


def plan_title(plan: Plan, key: str = DEFAULT_COMMENT_KEY) -> str:
    """``### stagecfg plan: 1 to create, ...`` (with ``(KEY)`` for an environment's plan)."""
    which = "" if key == DEFAULT_COMMENT_KEY else f" ({key})"
    counts = "no changes" if plan.empty else summary_line(plan).removeprefix("Plan: ")
    return f"### stagecfg plan{which}: {counts.removesuffix('.')}\n\n"


def render_markdown(
    plan: Plan,
    *,
    backend: str,
    limit: int = GITHUB_COMMENT_LIMIT,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
    key: str = DEFAULT_COMMENT_KEY,
    full_plan: str = LOCAL_FULL_PLAN,
) -> str:
    """The plan comment, at most ``limit`` characters (see the module for the layout)."""
    head = f"{comment_marker(key)}\n{plan_title(plan, key)}Backend: {code(backend)}\n\n"
    return head + plan_sections(
        plan,
        access=access,
        refusals=refusals,
        limit=limit - len(head),
        full_plan=full_plan,
    )


class _Room:
    """What is left of the character budget; parts are added only while they fit."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.parts: list[str] = []

    def add(self, text: str) -> bool:
        if len(text) > self.left:
            return False
        self.parts.append(text)
        self.left -= len(text)
        return True

    def fit(self, items: Sequence[str], share: int | None = None) -> int:
        """Add items in order until one does not fit (or ``share`` is used); how many fit."""
        cap = self.left if share is None else self.left // share
        shown = 0
        for item in items:
            if len(item) > cap or not self.add(item):
                break
            cap -= len(item)
            shown += 1
        return shown


def plan_sections(
    plan: Plan,
    *,
    access: AccessReview | None,
    refusals: Sequence[Refusal],
    limit: int,
    full_plan: str = LOCAL_FULL_PLAN,
) -> str:
    """Everything below the comment's title, in at most ``limit`` characters."""
    objects = group_objects(plan)
    access_items = _access_items(access)
    notes = [
        f"- note: {code(f'{n.kind} {n.name}')}: {html.escape(n.message)}\n" for n in plan.notes
    ]
    # Room for the closing line, whatever is cut (the totals are the longest counts it can name).
    reserve = len(_cut_line(len(objects), len(access_items), len(notes), full_plan, len(refusals)))
    room = _Room(max(0, limit - reserve))
    if not plan.empty:
        room.add(_risk_table(plan, access, refusals))
    cut_refusals = 0
    if refusals:
        room.add(f"#### {REFUSED_HEADING.rstrip(':').capitalize()}\n\n")
        items = [f"- :no_entry: {html.escape(refusal_line(r)[2:])}\n" for r in refusals]
        cut_refusals = len(items) - room.fit(items)
        room.add("\n")
    cut_access = 0
    if access_items:
        count = len(access.escalations) if access is not None else 0
        room.add(f"#### Access changes ({count} escalation{'s' if count != 1 else ''})\n\n")
        cut_access = len(access_items) - room.fit(access_items, share=_ACCESS_SHARE)
        room.add("\n")
    cut_objects = 0
    if plan.empty:
        room.add(NO_CHANGES + "\n\n")
    else:
        room.add(f"#### Changes to {len(objects)} object{'s' if len(objects) != 1 else ''}\n\n")
        cut_objects = len(objects) - room.fit([_details(changes) for changes in objects])
    cut_notes = 0
    if notes:
        room.add("#### Notes\n\n")
        cut_notes = len(notes) - room.fit(notes)
        room.add("\n")
    text = "".join(room.parts)
    if cut_objects or cut_access or cut_notes or cut_refusals:
        text += _cut_line(cut_objects, cut_access, cut_notes, full_plan, cut_refusals)
    return text


def group_objects(plan: Plan) -> list[list[Change]]:
    """The plan's changes per object (kind and name), objects in the order of their first
    change: a call created and then taken live is one object with two actions."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in plan.changes:
        groups.setdefault((change.kind, change.name), []).append(change)
    return list(groups.values())


def _risk_table(plan: Plan, access: AccessReview | None, refusals: Sequence[Refusal]) -> str:
    rows = ["| risk | count |", "| --- | ---: |"]
    for label, count in risks_of(plan, access, refusals).rows():
        shown = f"**{count}** :warning:" if count else "0"
        rows.append(f"| {label} | {shown} |")
    return "#### Risk summary\n\n" + "\n".join(rows) + "\n\n"


def _access_items(access: AccessReview | None) -> list[str]:
    """Escalations first (:meth:`AccessReview.lines` sorts them so): the cut never hides one
    while showing a plain grant."""
    if access is None:
        return []
    items = []
    for line in access.lines():
        if line.startswith("! "):
            items.append(f"- :warning: **{html.escape(line[2:])}**\n")
        else:
            items.append(f"- {html.escape(line)}\n")
    return items


def summary_of(changes: Sequence[Change]) -> str:
    """The ``<summary>`` of one object: symbol, kind, name, actions (and disruptive)."""
    first = changes[0]
    actions = ", ".join(dict.fromkeys(c.action for c in changes))
    text = f"{code(SYMBOLS.get(first.action, '?'))} {first.kind} {code(first.name)}: {actions}"
    if any(c.disruptive for c in changes):
        text += " :warning: disruptive"
    return text


def _details(changes: Sequence[Change]) -> str:
    """One object as a collapsible block: where it is declared, then each change's fields."""
    first = changes[0]
    body = [f"<details><summary>{summary_of(changes)}</summary>\n\n"]
    if first.location is not None:
        body.append(f"{code(str(first.location))}\n\n")
    for change in changes:
        if len(changes) > 1:
            body.append(f"**{change.action}**\n\n")
        if change.disruptive:
            body.append(f"> :warning: **disruptive**: {html.escape(change.reason)}\n\n")
        body.append(_field_block(change))
    body.append("</details>\n\n")
    return "".join(body)


def _field_block(change: Change) -> str:
    if not change.fields:
        return f"*{change.action}*: no field changes\n\n"
    diff = []
    for fc in change.fields:
        if change.action == ACTION_CREATE:
            diff.append(f"+ {fc.path}: {created_value(fc.after)}")
        elif string_list(fc.before) is not None and string_list(fc.after) is not None:
            diff += _list_diff(fc.path, fc.before, fc.after)
        else:
            diff.append(f"- {fc.path}: {format_value(fc.before)}")
            diff.append(f"+ {fc.path}: {format_value(fc.after)}")
    # A value cannot close the fence early.
    text = "\n".join(diff).replace("```", "'''")
    return f"```diff\n{text}\n```\n\n"


def _list_diff(path: str, before: list[str], after: list[str]) -> list[str]:
    """A grant list is a set: the lines name what leaves and what joins it, never cut off."""
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    lines = [f"- {path}: [{', '.join(removed)}]"] if removed else []
    lines += [f"+ {path}: [{', '.join(added)}]"] if added else []
    return lines or [f"  {path}: (reordered)"]


def _cut_line(objects: int, access: int, notes: int, full_plan: str, refusals: int = 0) -> str:
    """``**Not shown**: 1,234 objects, ...``; GitHub's limit, and where the full plan is."""
    parts = [
        f"{count:,} {what}{'s' if count != 1 else ''}"
        for count, what in (
            (refusals, "refusal"),
            (access, "access change"),
            (objects, "object"),
            (notes, "note"),
        )
        if count
    ]
    return (
        f"**Not shown**: {', '.join(parts) or 'nothing'} (GitHub limits a comment to "
        f"{GITHUB_COMMENT_LIMIT:,} characters). The full plan: {full_plan}.\n"
    )
