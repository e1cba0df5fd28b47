"""Plans and apply results as text, JSON, Markdown or GitHub annotations. Returns strings only.

Text symbols, one per action (also used in Markdown):

* ``+`` create, ``~`` update, ``-`` delete,
* ``>`` go-live (the call leaves backstage), ``<`` stop-live (the call returns to backstage).

A disruptive change gets a ``!`` line with its reason. Colour (ANSI) only when the caller asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from stagecfg.plan.changes import Note, Plan
from stagecfg.render.common import (
    COLOURS,
    FORMAT_VERSION,
    FORMATS,
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_MARKER,
    MAX_VALUE_CHARS,
    NO_CHANGES,
    RED,
    REFUSED_HEADING,
    SYMBOLS,
    TEXT_WIDTH,
    change_title,
    field_line,
    format_value,
    list_delta,
    list_text,
    paint,
    refusal_line,
    summary_line,
    use_color,
    where,
    wrapped,
)
from stagecfg.render.github import render_github
from stagecfg.render.markdown import render_markdown

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal

__all__ = [
    "FORMATS",
    "FORMAT_VERSION",
    "GITHUB_COMMENT_LIMIT",
    "MARKDOWN_MARKER",
    "MAX_VALUE_CHARS",
    "NO_CHANGES",
    "REFUSED_HEADING",
    "SYMBOLS",
    "TEXT_WIDTH",
    "change_title",
    "format_value",
    "list_delta",
    "list_text",
    "plan_document",
    "refusal_line",
    "render",
    "render_github",
    "render_json",
    "render_markdown",
    "render_note",
    "render_text",
    "summary_line",
    "use_color",
]

# --- text ---------------------------------------------------------------------------------------


def render_text(
    plan: Plan,
    *,
    backend: str,
    color: bool = False,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """Terraform-like text: a header naming the backend, what apply would refuse, one block per
    change, a summary."""
    lines = [f"backend: {backend}", ""]
    if refusals:
        lines.append(paint(REFUSED_HEADING, RED, color))
        lines += [paint(f"    {refusal_line(r)}", RED, color) for r in refusals]
        lines.append("")
    if access is not None and access.notes:
        lines.append("access:")
        for line in access.lines():
            painted = paint(line, RED, color) if line.startswith("!") else line
            lines.append(f"    {painted}")
        lines.append("")
    for change in plan.changes:
        # A disruptive change is red whatever its action: it is the one a reviewer must not miss.
        code = RED if change.disruptive else COLOURS.get(change.action, "0")
        title = paint(change_title(change), code, color)
        lines.append(title + where(change.location))
        for fc in change.fields:
            lines += wrapped(field_line(change, fc), "    ")
        if change.disruptive:
            lines.append(paint(f"    ! disruptive: {change.reason}", RED, color))
    lines += [render_note(note) for note in plan.notes]
    if plan.changes or plan.notes:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def render_note(note: Note) -> str:
    return f"note: {note.kind} {note.name}: {note.message}{where(note.location)}"


# --- json ---------------------------------------------------------------------------------------


def plan_document(
    plan: Plan,
    *,
    backend: str,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> dict[str, Any]:
    data = plan.to_json()
    document = {
        "format_version": FORMAT_VERSION,
        "backend": backend,
        "summary": data["summary"],
        "changes": data["changes"],
        "notes": data["notes"],
        "options": data["options"],
        "refusals": [r.to_json() for r in refusals],
    }
    if access is not None:
        document["access"] = access.to_json()
    return document


def render_json(
    plan: Plan,
    *,
    backend: str,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """The plan as JSON, keys sorted, documented in README ("JSON plan format")."""
    document = plan_document(plan, backend=backend, access=access, refusals=refusals)
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def render(
    plan: Plan,
    fmt: str,
    *,
    backend: str,
    color: bool = False,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`); ``access`` adds the access review and
    ``refusals`` what apply would refuse."""
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(
            plan, backend=backend, color=color, access=access, refusals=refusals
        ),
        "json": lambda: render_json(plan, backend=backend, access=access, refusals=refusals),
        "markdown": lambda: render_markdown(
            plan, backend=backend, access=access, refusals=refusals
        ),
        "github": lambda: render_github(plan, backend=backend, access=access, refusals=refusals),
    }
    return renderers[fmt]()
