"""Plans as GitHub workflow commands (annotations on the manifest lines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stagecfg.errors import Location
from stagecfg.plan.changes import Change, Plan
from stagecfg.render.common import (
    REFUSED_HEADING,
    change_title,
    field_line,
    refusal_line,
    string_list,
    summary_line,
)
from stagecfg.render.risk import risks_of

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(
    level: str, location: Location | None, message: str, *, title: str | None = None
) -> str:
    props = []
    if location is not None:
        props.append(f"file={_escape_property(location.file)}")
        if location.line > 0:
            props.append(f"line={location.line}")
            if location.col > 0:
                props.append(f"col={location.col}")
    if title is not None:
        props.append(f"title={_escape_property(title)}")
    joined = f" {','.join(props)}" if props else ""
    return f"::{level}{joined}::{_escape_data(message)}"


#: GitHub shows about this many annotations of each severity per step; more are dropped.
PER_SEVERITY = 10


def render_github(
    plan: Plan,
    *,
    backend: str,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    """GitHub workflow commands: the summary first, at most :data:`PER_SEVERITY` annotations of
    each severity (refusals as errors; escalations, disruptive changes and notes as warnings;
    the other changes as notices), then, when some were left out, one saying how many."""
    errors = [
        _annotation("error", None, f"{REFUSED_HEADING} {refusal_line(r)[2:]}") for r in refusals
    ]
    warnings: list[str] = []
    notices: list[str] = []
    for access_note in access.notes if access is not None else ():
        target = warnings if access_note.escalation else notices
        level = "warning" if access_note.escalation else "notice"
        target.append(_annotation(level, access_note.location, access_note.render()))
    for change in plan.changes:
        message = _change_message(change)
        if change.disruptive:
            warnings.append(
                _annotation("warning", change.location, f"{message} (disruptive: {change.reason})")
            )
        else:
            notices.append(_annotation("notice", change.location, message))
    for note in plan.notes:
        warnings.append(
            _annotation("warning", note.location, f"{note.kind} {note.name}: {note.message}")
        )
    risks = risks_of(plan, access, refusals)
    environment = f", environment: {plan.environment}" if plan.environment else ""
    summary = f"backend: {backend}{environment}: {summary_line(plan)}"
    if not plan.empty or refusals:
        summary += f" Risks: {risks.words()}."
    lines = [_annotation("notice", None, summary, title="stagecfg plan")]
    # The summary is a notice, and so is the line about what was left out.
    cut = len(errors) > PER_SEVERITY or len(warnings) > PER_SEVERITY
    cut = cut or len(notices) > PER_SEVERITY - 1
    notice_room = PER_SEVERITY - 1 - (1 if cut else 0)
    shown = errors[:PER_SEVERITY] + warnings[:PER_SEVERITY] + notices[:notice_room]
    lines += shown
    if cut:
        left = {
            "error": len(errors) - min(len(errors), PER_SEVERITY),
            "warning": len(warnings) - min(len(warnings), PER_SEVERITY),
            "notice": len(notices) - min(len(notices), notice_room),
        }
        counts = ", ".join(f"{n} {level}{'s' if n != 1 else ''}" for level, n in left.items() if n)
        total = sum(left.values())
        lines.append(
            _annotation(
                "notice",
                None,
                f"{total} more annotation{'s' if total != 1 else ''} not shown ({counts}): "
                f"GitHub shows {PER_SEVERITY} of each kind per step. Every change is in the plan "
                "comment and the job summary (`stagecfg plan --github-comment`), or run "
                "`stagecfg plan` to see them all.",
                title="stagecfg plan",
            )
        )
    return "\n".join(lines) + "\n"


def _change_message(change: Change) -> str:
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
    return message
