"""Plans and apply results as text, JSON, Markdown or GitHub annotations. Returns strings only.

Text symbols, one per action (also used in Markdown):

* ``+`` create, ``~`` update, ``-`` delete,
* ``>`` go-live (the call leaves backstage), ``<`` stop-live (the call returns to backstage).

A disruptive change gets a ``!`` line with its reason. Colour (ANSI) only when the caller asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stagecfg.errors import Location
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    FieldChange,
    Note,
    Plan,
)

if TYPE_CHECKING:
    from stagecfg.access import AccessReview

FORMAT_VERSION = 1
FORMATS = ("text", "json", "markdown", "github")

NO_CHANGES = "No changes. The backend matches the manifests."

#: GitHub's limit for one issue or pull-request comment.
GITHUB_COMMENT_LIMIT = 65_536
MARKDOWN_MARKER = "<!-- stagecfg-plan -->"

SYMBOLS = {
    ACTION_CREATE: "+",
    ACTION_UPDATE: "~",
    ACTION_DELETE: "-",
    ACTION_GO_LIVE: ">",
    ACTION_STOP_LIVE: "<",
}

_COLOURS = {
    ACTION_CREATE: "32",  # green
    ACTION_UPDATE: "33",  # yellow
    ACTION_DELETE: "31",  # red
    ACTION_GO_LIVE: "36",  # cyan
    ACTION_STOP_LIVE: "35",  # magenta
}
_RED = "31"

MAX_VALUE_CHARS = 80


def use_color(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org).

    As that convention says, an empty ``NO_COLOR`` counts as unset.
    """
    return isatty and not environ.get("NO_COLOR")


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def format_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """JSON text of ``value``, cut to ``limit`` characters with ``...`` when longer."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def summary_line(plan: Plan) -> str:
    if plan.empty:
        return NO_CHANGES
    s = plan.summary()
    live = f"{s['live']} live change" + ("" if s["live"] == 1 else "s")
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, {live}."
    )


def change_title(change: Change) -> str:
    """``~ call livestream:show`` (plus the live action's name for go-live/stop-live)."""
    title = f"{SYMBOLS.get(change.action, '?')} {change.kind} {change.name}"
    if change.action in (ACTION_GO_LIVE, ACTION_STOP_LIVE):
        title += f" {change.action}"
    return title


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def list_delta(before: Any, after: Any) -> str | None:
    """``+[read-call] -[mute-users]`` for two lists of strings (grants), else None.

    A grant list is a set: showing what joins and leaves it reads faster than two cut-off lists.
    """
    old, new = _string_list(before), _string_list(after)
    if old is None or new is None:
        return None
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    parts = []
    if added:
        parts.append("+[" + ", ".join(added) + "]")
    if removed:
        parts.append("-[" + ", ".join(removed) + "]")
    return " ".join(parts) or "(reordered)"


def _field_line(change: Change, fc: FieldChange) -> str:
    if change.action == ACTION_CREATE:
        return f"{fc.path}: {format_value(fc.after)}"
    delta = list_delta(fc.before, fc.after)
    if delta is not None:
        return f"{fc.path}: {delta}"
    return f"{fc.path}: {format_value(fc.before)} -> {format_value(fc.after)}"


def _where(location: Location | None) -> str:
    return f"  ({location})" if location else ""


# --- text ---------------------------------------------------------------------------------------


def render_text(
    plan: Plan, *, backend: str, color: bool = False, access: AccessReview | None = None
) -> str:
    """Terraform-like text: a header naming the backend, one block per change, a summary."""
    lines = [f"backend: {backend}", ""]
    if access is not None and access.notes:
        lines.append("access:")
        for line in access.lines():
            painted = _paint(line, _RED, color) if line.startswith("!") else line
            lines.append(f"    {painted}")
        lines.append("")
    for change in plan.changes:
        # A disruptive change is red whatever its action: it is the one a reviewer must not miss.
        code = _RED if change.disruptive else _COLOURS.get(change.action, "0")
        title = _paint(change_title(change), code, color)
        lines.append(title + _where(change.location))
        lines += [f"    {_field_line(change, fc)}" for fc in change.fields]
        if change.disruptive:
            lines.append(_paint(f"    ! disruptive: {change.reason}", _RED, color))
    lines += [render_note(note) for note in plan.notes]
    if plan.changes or plan.notes:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def render_note(note: Note) -> str:
    return f"note: {note.kind} {note.name}: {note.message}{_where(note.location)}"


# --- json ---------------------------------------------------------------------------------------


def plan_document(
    plan: Plan, *, backend: str, access: AccessReview | None = None
) -> dict[str, Any]:
    data = plan.to_json()
    document = {
        "format_version": FORMAT_VERSION,
        "backend": backend,
        "summary": data["summary"],
        "changes": data["changes"],
        "notes": data["notes"],
        "options": data["options"],
    }
    if access is not None:
        document["access"] = access.to_json()
    return document


def render_json(plan: Plan, *, backend: str, access: AccessReview | None = None) -> str:
    """The plan as JSON, keys sorted, documented in README ("JSON plan format")."""
    document = plan_document(plan, backend=backend, access=access)
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


# --- markdown -----------------------------------------------------------------------------------


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
            diff.append(f"+ {fc.path}: {format_value(fc.after)}")
        elif _string_list(fc.before) is not None and _string_list(fc.after) is not None:
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


# --- github annotations -------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, location: Location | None, message: str) -> str:
    props = ""
    if location is not None:
        props = f" file={_escape_property(location.file)}"
        if location.line > 0:
            props += f",line={location.line}"
            if location.col > 0:
                props += f",col={location.col}"
    return f"::{level}{props}::{_escape_data(message)}"


def render_github(plan: Plan, *, backend: str, access: AccessReview | None = None) -> str:
    """GitHub workflow commands: one annotation per change and note, then the summary."""
    lines = []
    for access_note in access.notes if access is not None else ():
        level = "warning" if access_note.escalation else "notice"
        lines.append(_annotation(level, access_note.location, access_note.render()))
    for change in plan.changes:
        message = f"{change_title(change)}: " + (
            "; ".join(_field_line(change, fc) for fc in change.fields[:10]) or change.action
        )
        if len(change.fields) > 10:
            message += f"; ... {len(change.fields) - 10} more fields"
        level = "notice"
        if change.disruptive:
            level = "warning"
            message += f" (disruptive: {change.reason})"
        lines.append(_annotation(level, change.location, message))
    for note in plan.notes:
        lines.append(
            _annotation("warning", note.location, f"{note.kind} {note.name}: {note.message}")
        )
    lines.append(_annotation("notice", None, f"backend: {backend}: {summary_line(plan)}"))
    return "\n".join(lines) + "\n"


def render(
    plan: Plan,
    fmt: str,
    *,
    backend: str,
    color: bool = False,
    access: AccessReview | None = None,
) -> str:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`); ``access`` adds the access review."""
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(plan, backend=backend, color=color, access=access),
        "json": lambda: render_json(plan, backend=backend, access=access),
        "markdown": lambda: render_markdown(plan, backend=backend, access=access),
        "github": lambda: render_github(plan, backend=backend, access=access),
    }
    return renderers[fmt]()
