"""Plans as GitHub workflow commands (annotations on the manifest lines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stagecfg.errors import Location
from stagecfg.plan.changes import Plan
from stagecfg.render.common import (
    REFUSED_HEADING,
    change_title,
    field_line,
    refusal_line,
    string_list,
    summary_line,
)

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal


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


def render_github(
    plan: Plan,
    *,
    backend: str,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """GitHub workflow commands: refusals, one annotation per change and note, the summary."""
    lines = [
        _annotation("error", None, f"{REFUSED_HEADING} {refusal_line(r)[2:]}") for r in refusals
    ]
    for access_note in access.notes if access is not None else ():
        level = "warning" if access_note.escalation else "notice"
        lines.append(_annotation(level, access_note.location, access_note.render()))
    for change in plan.changes:
        # Up to 10 fields, but every grant list in full: grants are never cut off.
        shown = [
            fc
            for i, fc in enumerate(change.fields)
            if i < 10 or (string_list(fc.before) is not None or string_list(fc.after) is not None)
        ]
        message = f"{change_title(change)}: " + (
            "; ".join(field_line(change, fc) for fc in shown) or change.action
        )
        if len(shown) < len(change.fields):
            message += f"; ... {len(change.fields) - len(shown)} more fields"
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
