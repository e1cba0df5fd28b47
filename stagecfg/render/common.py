"""What every plan format shares: symbols, value and field formatting, titles, refusal lines."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stagecfg.errors import Location, UsageError, one_line
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    FieldChange,
    Plan,
)

if TYPE_CHECKING:
    from stagecfg.safety import Refusal

FORMAT_VERSION = 1
FORMATS = ("text", "json", "markdown", "github")

NO_CHANGES = "No changes. The backend matches the manifests."

#: GitHub's limit for one issue or pull-request comment.
GITHUB_COMMENT_LIMIT = 65_536

#: The sticky comment's key when the manifests define no environments.
DEFAULT_COMMENT_KEY = "default"
_COMMENT_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def comment_marker(key: str = DEFAULT_COMMENT_KEY) -> str:
    """``<!-- stagecfg-plan:KEY -->``: the hidden first line that finds the sticky comment again.

    One comment per key (an environment's name), so staging and production plans of one pull
    request do not overwrite each other. The key must not be able to end the HTML comment.
    """
    if not _COMMENT_KEY.fullmatch(key):
        raise UsageError(
            f"{one_line(key)[:80]!r} cannot name a plan comment: use letters, digits, '_', '.' "
            "and '-' (at most 64, starting with a letter or digit)"
        )
    return f"<!-- stagecfg-plan:{key} -->"


MARKDOWN_MARKER = comment_marker()

SYMBOLS = {
    ACTION_CREATE: "+",
    ACTION_UPDATE: "~",
    ACTION_DELETE: "-",
    ACTION_GO_LIVE: ">",
    ACTION_STOP_LIVE: "<",
}

COLOURS = {
    ACTION_CREATE: "32",  # green
    ACTION_UPDATE: "33",  # yellow
    ACTION_DELETE: "31",  # red
    ACTION_GO_LIVE: "36",  # cyan
    ACTION_STOP_LIVE: "35",  # magenta
}
RED = "31"

MAX_VALUE_CHARS = 80
#: Text plans wrap a list of strings (a role's grants) at this width instead of cutting it.
TEXT_WIDTH = 100

REFUSED_HEADING = "apply would refuse this plan:"


def use_color(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org).

    As that convention says, an empty ``NO_COLOR`` counts as unset.
    """
    return isatty and not environ.get("NO_COLOR")


def paint(text: str, code: str, color: bool) -> str:
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


def string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def list_delta(before: Any, after: Any) -> str | None:
    """``+[read-call] -[mute-users]`` for two lists of strings (grants), else None.

    A grant list is a set: showing what joins and leaves it reads faster than two cut-off lists.
    """
    old, new = string_list(before), string_list(after)
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


def list_text(items: list[str]) -> str:
    """``[join-call, read-call]``: a list of strings (grants) in full, never cut off."""
    return "[" + ", ".join(items) + "]"


def created_value(value: Any) -> str:
    # A role's grants are what a reviewer approves: every permission, however long the list.
    items = string_list(value)
    return list_text(items) if items is not None else format_value(value)


def field_line(change: Change, fc: FieldChange) -> str:
    """``path: before -> after``, and where an overlay set the value when one did."""
    return _field_text(change, fc) + where(fc.location)


def _field_text(change: Change, fc: FieldChange) -> str:
    if change.action == ACTION_CREATE:
        return f"{fc.path}: {created_value(fc.after)}"
    delta = list_delta(fc.before, fc.after)
    if delta is not None:
        return f"{fc.path}: {delta}"
    return f"{fc.path}: {format_value(fc.before)} -> {format_value(fc.after)}"


def environment_lines(plan: Plan) -> list[str]:
    """The header line naming the environment (none when the manifests define none)."""
    return [f"environment: {plan.environment}"] if plan.environment else []


def where(location: Location | None) -> str:
    return f"  ({location})" if location else ""


def wrapped(line: str, indent: str) -> list[str]:
    """``line`` indented, wrapped at :data:`TEXT_WIDTH` at spaces (never inside a word)."""
    return textwrap.wrap(
        line,
        width=TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


def refusal_line(refusal: Refusal) -> str:
    """``! needs --force: the plan deletes ...`` (or ``! no flag allows this: ...``)."""
    need = f"needs {refusal.flag}" if refusal.flag else "no flag allows this"
    return f"! {need}: {refusal.message}"
