"""Text plans: the backend, what apply would refuse, the access review, one block per change, and
the summary; a large plan also starts with counts per kind and action, and folds.

A large plan repeats one shape many times (1,990 calls whose ``starts_at`` moves), and listing
every one hides the few changes that matter. A plan of more than ``group_over`` changes
(:data:`GROUP_OVER` unless the caller says otherwise) starts with its counts per kind and
action, and when one kind and action has more than ``group_over`` changes, its changes of one
shape are folded into one block: the shape, :data:`EXAMPLES` of them in full, and a count of the
rest (``full``, i.e. ``--full``, lists everything). Smaller plans look as they always did.

A shape is the kind, the action, the stage and the set of changed field paths, so every change
a fold stands for changes exactly the fields its heading names. What a reviewer must not miss is
never folded: deletes, stop-live, disruptive changes and the objects the access review flags as
escalations. Plan notes with one message, and join windows that move per call, fold by the same
rule.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, KIND_USER
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    Note,
    Plan,
)
from stagecfg.render.common import (
    COLOURS,
    RED,
    REFUSED_HEADING,
    SYMBOLS,
    TEXT_WIDTH,
    change_title,
    environment_lines,
    field_line,
    paint,
    refusal_line,
    summary_line,
    where,
    wrapped,
)

if TYPE_CHECKING:
    from stagecfg.access import AccessNote, AccessReview
    from stagecfg.safety import Refusal

#: A plan with more changes than this starts with counts; one kind and action with more than
#: this folds (one kind, for notes).
GROUP_OVER = 50
#: Changes (or notes) of a fold shown in full; a shape with no more than this is never folded.
EXAMPLES = 3
FULL_HINT = "(--full to list all)"

KIND_ORDER = (KIND_USER, KIND_CALL_TYPE, KIND_CALL)
KIND_PLURALS = {KIND_USER: "users", KIND_CALL_TYPE: "call types", KIND_CALL: "calls"}
#: The order changes run in (stages), which is also the order counts are listed in.
ACTION_ORDER = (ACTION_CREATE, ACTION_UPDATE, ACTION_GO_LIVE, ACTION_STOP_LIVE, ACTION_DELETE)
ACTION_WORDS = {
    ACTION_CREATE: "to create",
    ACTION_UPDATE: "to update",
    ACTION_GO_LIVE: "to go live",
    ACTION_STOP_LIVE: "to stop live",
    ACTION_DELETE: "to delete",
}
NEVER_FOLDED = (ACTION_DELETE, ACTION_STOP_LIVE)


def kind_plural(kind: str) -> str:
    return KIND_PLURALS.get(kind, kind.replace("_", " ") + "s")


def _rank(order: Sequence[str], item: str) -> tuple[int, str]:
    # Anything unknown sorts after the known ones, by name, so the output stays stable.
    return (order.index(item) if item in order else len(order), item)


def count_rows(changes: Sequence[Change]) -> list[tuple[str, str]]:
    """``[("calls", "12 to create, 1,990 to update"), ...]``: counts per kind and action, kinds
    and actions in the order apply runs them."""
    counts = Counter((c.kind, c.action) for c in changes)
    rows = []
    for kind in sorted({k for k, _ in counts}, key=lambda k: _rank(KIND_ORDER, k)):
        actions = sorted((a for k, a in counts if k == kind), key=lambda a: _rank(ACTION_ORDER, a))
        text = ", ".join(f"{counts[kind, a]:,} {ACTION_WORDS.get(a, 'to ' + a)}" for a in actions)
        rows.append((kind_plural(kind), text))
    return rows


def count_lines(changes: Sequence[Change], indent: str = "") -> list[str]:
    """:func:`count_rows` as a small table, labels aligned."""
    rows = count_rows(changes)
    width = max((len(label) for label, _ in rows), default=0) + 1
    return [f"{indent}{(label + ':').ljust(width)} {text}" for label, text in rows]


# --- folding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fold:
    """Changes of one shape, shown as one block (more than :data:`EXAMPLES` of them)."""

    changes: tuple[Change, ...]


def shape(change: Change) -> tuple[str, str, int, tuple[str, ...]]:
    return (change.kind, change.action, change.stage, tuple(sorted(f.path for f in change.fields)))


def foldable(change: Change, flagged: Collection[tuple[str, str]]) -> bool:
    """Whether ``change`` may be folded: never a delete, a stop-live, a disruptive change, or an
    object in ``flagged`` (``(kind, name)`` pairs: the access review's escalations)."""
    return (
        not change.disruptive
        and change.action not in NEVER_FOLDED
        and (change.kind, change.name) not in flagged
    )


def blocks(
    changes: Sequence[Change],
    *,
    group_over: int | None = GROUP_OVER,
    flagged: Collection[tuple[str, str]] = (),
) -> list[Change | Fold]:
    """``changes`` in order, those that fold replaced by one :class:`Fold` where the first of
    them stood."""
    if group_over is None:
        return list(changes)
    per_kind_action = Counter((c.kind, c.action) for c in changes)
    shapes: dict[tuple[str, str, int, tuple[str, ...]], list[Change]] = {}
    for change in changes:
        if per_kind_action[change.kind, change.action] > group_over and foldable(change, flagged):
            shapes.setdefault(shape(change), []).append(change)
    folds = [Fold(tuple(members)) for members in shapes.values() if len(members) > EXAMPLES]
    # By identity: a flagged change may share its shape with changes that fold.
    fold_of = {id(change): fold for fold in folds for change in fold.changes}
    out: list[Change | Fold] = []
    for change in changes:
        fold = fold_of.get(id(change))
        if fold is None:
            out.append(change)
        elif fold.changes[0] is change:
            out.append(fold)
    return out


def note_blocks(notes: Sequence[Note], *, group_over: int | None) -> list[Note | tuple[Note, ...]]:
    """``notes`` in order; when one kind has more than ``group_over``, each message that more
    than :data:`EXAMPLES` of them share becomes one tuple where its first note stood."""
    if group_over is None:
        return list(notes)
    per_kind = Counter(n.kind for n in notes)
    groups: dict[tuple[str, str], list[Note]] = {}
    for note in notes:
        if per_kind[note.kind] > group_over:
            groups.setdefault((note.kind, note.message), []).append(note)
    group_of = {
        id(note): tuple(members)
        for members in groups.values()
        if len(members) > EXAMPLES
        for note in members
    }
    out: list[Note | tuple[Note, ...]] = []
    for note in notes:
        group = group_of.get(id(note))
        if group is None:
            out.append(note)
        elif group[0] is note:
            out.append(group)
    return out


# --- lines --------------------------------------------------------------------------------------


def change_lines(change: Change, color: bool, indent: str = "") -> list[str]:
    # A disruptive change is red whatever its action: it is the one a reviewer must not miss.
    code = RED if change.disruptive else COLOURS.get(change.action, "0")
    lines = [indent + paint(change_title(change), code, color) + where(change.location)]
    for fc in change.fields:
        lines += wrapped(field_line(change, fc), indent + "    ")
    if change.disruptive:
        lines.append(paint(f"{indent}    ! disruptive: {change.reason}", RED, color))
    return lines


def heading_lines(text: str) -> list[str]:
    """A fold's heading, wrapped deeper than the examples under it so the two never mix."""
    return textwrap.wrap(
        text,
        width=TEXT_WIDTH,
        subsequent_indent=" " * 8,
        break_long_words=False,
        break_on_hyphens=False,
    )


def more_line(hidden: int, what: str = "") -> str:
    return f"    ... and {hidden:,} more{what} {FULL_HINT}"


def fold_lines(fold: Fold, color: bool) -> list[str]:
    """``~ 1,990 calls to update: starts_at changed``, a few of them in full, the rest counted."""
    first = fold.changes[0]
    heading = (
        f"{SYMBOLS.get(first.action, '?')} {len(fold.changes):,} {kind_plural(first.kind)} "
        f"{ACTION_WORDS.get(first.action, 'to ' + first.action)}"
    )
    if first.fields:
        verb = "set" if first.action == ACTION_CREATE else "changed"
        heading += f": {', '.join(f.path for f in first.fields)} {verb}"
    code = COLOURS.get(first.action, "0")
    lines = [paint(line, code, color) for line in heading_lines(heading)]
    for change in fold.changes[:EXAMPLES]:
        lines += change_lines(change, color, "    ")
    lines.append(more_line(len(fold.changes) - EXAMPLES))
    return lines


def render_note(note: Note) -> str:
    return f"note: {note.kind} {note.name}: {note.message}{where(note.location)}"


def note_group_lines(notes: tuple[Note, ...]) -> list[str]:
    first = notes[0]
    lines = heading_lines(f"note: {len(notes):,} {kind_plural(first.kind)}: {first.message}")
    lines += [f"    {note.name}{where(note.location)}" for note in notes[:EXAMPLES]]
    lines.append(more_line(len(notes) - EXAMPLES))
    return lines


def _per_call_window(note: AccessNote) -> bool:
    return note.category == "window" and note.kind == KIND_CALL and not note.escalation


def access_lines(access: AccessReview, color: bool, group_over: int | None) -> list[str]:
    """The access review, escalations first; past ``group_over`` per-call join window moves,
    :data:`EXAMPLES` of them and a count."""
    notes = access.ordered()
    windows = sum(1 for note in notes if _per_call_window(note))
    fold = group_over is not None and windows > max(group_over, EXAMPLES)
    lines = []
    seen = 0
    for note in notes:
        if fold and _per_call_window(note):
            seen += 1
            if seen > EXAMPLES:
                if seen == EXAMPLES + 1:
                    lines.append(more_line(windows - EXAMPLES, " calls whose join window moves"))
                continue
        line = note.render()
        lines.append(f"    {paint(line, RED, color) if line.startswith('!') else line}")
    return lines


def render_text(
    plan: Plan,
    *,
    backend: str,
    color: bool = False,
    access: AccessReview | None = None,
    refusals: Sequence[Refusal] = (),
    group_over: int = GROUP_OVER,
    full: bool = False,
) -> str:
    """Terraform-like text: a header naming the backend (with the counts per kind and action
    past ``group_over`` changes), what apply would refuse, the access review, one block per
    change (or per fold, unless ``full``), a summary."""
    lines = [f"backend: {backend}", *environment_lines(plan)]
    if len(plan.changes) > group_over:
        lines += count_lines(plan.changes)
    lines.append("")
    fold_over = None if full else group_over
    if refusals:
        lines.append(paint(REFUSED_HEADING, RED, color))
        lines += [paint(f"    {refusal_line(r)}", RED, color) for r in refusals]
        lines.append("")
    if access is not None and access.notes:
        lines.append("access:")
        lines += access_lines(access, color, fold_over)
        lines.append("")
    flagged = {(n.kind, n.name) for n in access.escalations} if access is not None else set()
    for block in blocks(plan.changes, group_over=fold_over, flagged=flagged):
        lines += fold_lines(block, color) if isinstance(block, Fold) else change_lines(block, color)
    for item in note_blocks(plan.notes, group_over=fold_over):
        lines += note_group_lines(item) if isinstance(item, tuple) else [render_note(item)]
    if plan.changes or plan.notes:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"
