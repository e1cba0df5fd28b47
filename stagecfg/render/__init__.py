"""Plans and apply results as text, JSON, Markdown or GitHub annotations. Returns strings only.

A large text plan (:mod:`stagecfg.render.text`) starts with counts per kind and action and
folds long runs of one shape; JSON is data and never folds.

Text symbols, one per action (also used in Markdown):

* ``+`` create, ``~`` update, ``-`` delete,
* ``>`` go-live (the call leaves backstage), ``<`` stop-live (the call returns to backstage).

A disruptive change gets a ``!`` line with its reason. Colour (ANSI) only when the caller asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from stagecfg.plan.changes import Plan
from stagecfg.render.common import (
    DEFAULT_COMMENT_KEY,
    FORMAT_VERSION,
    FORMATS,
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_MARKER,
    MAX_VALUE_CHARS,
    NO_CHANGES,
    REFUSED_HEADING,
    SYMBOLS,
    TEXT_WIDTH,
    change_title,
    comment_marker,
    format_value,
    list_delta,
    list_text,
    refusal_line,
    summary_line,
    use_color,
)
from stagecfg.render.github import render_github
from stagecfg.render.markdown import render_markdown
from stagecfg.render.text import (
    FULL_HINT,
    GROUP_OVER,
    count_lines,
    count_rows,
    render_note,
    render_text,
)

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal

__all__ = [
    "DEFAULT_COMMENT_KEY",
    "FORMATS",
    "FORMAT_VERSION",
    "FULL_HINT",
    "GITHUB_COMMENT_LIMIT",
    "GROUP_OVER",
    "MARKDOWN_MARKER",
    "MAX_VALUE_CHARS",
    "NO_CHANGES",
    "REFUSED_HEADING",
    "SYMBOLS",
    "TEXT_WIDTH",
    "change_title",
    "comment_marker",
    "count_lines",
    "count_rows",
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
    if plan.environment is not None:
        document["environment"] = plan.environment
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
    group_over: int = GROUP_OVER,
    full: bool = False,
    key: str = DEFAULT_COMMENT_KEY,
) -> str:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`); ``access`` adds the access review and
    ``refusals`` what apply would refuse. ``group_over`` is the text plan's threshold for counts
    and folds, ``full`` turns folding off; the other formats never fold. ``key`` names the
    Markdown comment (its marker)."""
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(
            plan,
            backend=backend,
            color=color,
            access=access,
            refusals=refusals,
            group_over=group_over,
            full=full,
        ),
        "json": lambda: render_json(plan, backend=backend, access=access, refusals=refusals),
        "markdown": lambda: render_markdown(
            plan, backend=backend, access=access, refusals=refusals, key=key
        ),
        "github": lambda: render_github(plan, backend=backend, access=access, refusals=refusals),
    }
    return renderers[fmt]()
