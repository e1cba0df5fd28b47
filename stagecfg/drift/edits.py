"""Comment-preserving edits of a manifest's YAML text: set or delete the value at a path.

``stagecfg drift --write`` adopts live values into the files that declare them. A rewrite from
parsed data would lose what people wrote around the values, so every edit here is a splice of
the file's text at the exact spans ruamel.yaml's parser reports (stagecfg.drift.yaml_tree): the
changed scalars, list entries and keys are rewritten, and every other byte (comments, key
order, quoting, flow or block style, anchors, blank lines, ``---``, line endings) stays as it
was. New text is written in the file's own indentation (stagecfg.drift.yaml_style).

Each edit is checked before it is returned: the new text is parsed again and must read, by
stagecfg's rules, as exactly the old data with the edit made. An edit that cannot be made safely
(a variable reference, an anchor that other places share, a path that is not there) is refused
with :class:`EditRefused`; :func:`refused_edits` lists those without applying anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stagecfg.drift.yaml_comments import flow_lines, lost_comments
from stagecfg.drift.yaml_editor import Editor
from stagecfg.drift.yaml_splice import Slot, SpliceError
from stagecfg.drift.yaml_style import infer_layout
from stagecfg.drift.yaml_tree import (
    DELETE,
    TreeError,
    changed,
    data,
    holds_variable,
    parse,
    same,
)
from stagecfg.errors import StagecfgError
from stagecfg.manifest import join_path

Key = str | int


@dataclass(frozen=True)
class Edit:
    """Set the value at ``path`` (from the document root) to JSON ``value``, or delete it."""

    path: tuple[Key, ...]
    action: Literal["set", "delete"]
    value: Any = None


class EditRefused(StagecfgError):
    """One edit cannot be made without changing something else, or at all; says why."""

    def __init__(
        self, file: str, path: tuple[Key, ...], reason: str, line: int = 0, col: int = 0
    ) -> None:
        self.file, self.path, self.reason, self.line, self.col = file, path, reason, line, col
        where = f"{file}:{line}:{col}" if line else file
        super().__init__(f"{where}: cannot edit {join_path(path)}: {reason}")


def apply_edits(text: str, edits: Sequence[Edit], *, file: str) -> str:
    """The text with every edit made in order; :class:`EditRefused` (and nothing made) if one
    cannot be."""
    batched = _apply_together(text, edits)
    if batched is not None:
        return batched
    newline = _newline(text)
    for edit in edits:
        text = _apply(text, edit, file, newline)
    return text


def apply_possible(text: str, edits: Sequence[Edit], *, file: str) -> tuple[str, list[EditRefused]]:
    """The text with every edit that can be made, and the ones refused (as
    :func:`refused_edits` lists them), in one pass."""
    batched = _apply_together(text, edits)
    if batched is not None:
        return batched, []
    refused: list[EditRefused] = []
    newline = _newline(text)
    for edit in edits:
        try:
            text = _apply(text, edit, file, newline)
        except EditRefused as exc:
            refused.append(exc)
    return text, refused


def refused_edits(text: str, edits: Sequence[Edit], *, file: str) -> list[EditRefused]:
    """The edits :func:`apply_edits` would refuse, each tried after the ones before it that
    can be made; the others are then safe to apply together."""
    if _apply_together(text, edits) is not None:
        return []
    refused: list[EditRefused] = []
    newline = _newline(text)
    for edit in edits:
        try:
            text = _apply(text, edit, file, newline)
        except EditRefused as exc:
            refused.append(exc)
    return refused


def _newline(text: str) -> str:
    """The file's line break, kept for a text that earlier edits left on one line."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


class _Apart(Exception):
    """The edits cannot all be made on one parse of the file: make them one at a time."""


def _apart(*_: object, **__: object) -> Exception:
    return _Apart()


def _apply_together(text: str, edits: Sequence[Edit]) -> str | None:
    """All ``edits`` made on one parse of the file, when they touch separate places and the
    result passes every check one edit at a time would make; else None.

    One edit at a time parses the file again for each edit, which for a file of thousands of
    calls and a drift in each of them is quadratic. Edits that interact (one makes the parent
    another writes into), or that any check refuses, fall back to that careful path, which also
    says why an edit is refused.
    """
    if len(edits) < 2:
        return None
    try:
        tree = parse(text)
        layout = dataclasses.replace(infer_layout(tree), newline=_newline(text))
        editor = Editor(tree, layout, _apart)
        expected = data(tree.root)
        for edit in edits:
            value = DELETE if edit.action == "delete" else edit.value
            if not edit.path or (edit.action == "set" and holds_variable(value)):
                return None
            editor.set(Slot(tree.root, None, -1, False, -1), edit.path, value)
            expected = changed(expected, edit.path, value)
        result = editor.result()
        if not same(data(parse(result).root), expected):
            return None
    except (_Apart, EditRefused, SpliceError, TreeError, LookupError):
        return None
    if lost_comments(text, result, flow_lines(tree)):
        return None
    return result


def _apply(text: str, edit: Edit, file: str, newline: str) -> str:
    def refuse(reason: str, line: int = 0, col: int = 0) -> EditRefused:
        return EditRefused(file, edit.path, reason, line, col)

    value = DELETE if edit.action == "delete" else edit.value
    if not edit.path:
        raise refuse("the path is empty; name the key to change")
    if edit.action == "set" and holds_variable(value):
        raise refuse(
            "the new value holds '${', which stagecfg would read as a variable reference; "
            "edit this value by hand"
        )
    try:
        tree = parse(text)
    except TreeError as exc:
        raise refuse(f"the file cannot be edited: {exc}; fix the YAML first") from None
    layout = infer_layout(tree)
    editor = Editor(tree, dataclasses.replace(layout, newline=newline), refuse)
    try:
        editor.set(Slot(tree.root, None, -1, False, -1), edit.path, value)
        result = editor.result()
    except SpliceError:
        raise refuse(
            "the edit is too tangled to write safely (entries sharing lines); make it by hand"
        ) from None
    if result == text:
        return text
    try:
        expected = changed(data(tree.root), edit.path, value)
        ok = same(data(parse(result).root), expected)
    except (TreeError, LookupError):
        ok = False
    if not ok:
        raise refuse(
            "the edit could not be written without changing other values (a stagecfg bug); "
            "make it by hand"
        )
    lost = lost_comments(text, result, flow_lines(tree))
    if lost:
        line, comment = lost[0]
        raise refuse(f"it would lose the comment {comment!r}; make this edit by hand", line)
    return result
