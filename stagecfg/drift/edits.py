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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stagecfg.drift.yaml_comments import flow_lines, lost_comments
from stagecfg.drift.yaml_lists import plan_list
from stagecfg.drift.yaml_splice import Slot, SpliceError, Splicer
from stagecfg.drift.yaml_style import (
    Layout,
    block_text,
    flow_text,
    infer_layout,
    is_block,
    pair_text,
)
from stagecfg.drift.yaml_style import key_text as key_name
from stagecfg.drift.yaml_tree import (
    DELETE,
    Node,
    Tree,
    TreeError,
    changed,
    data,
    end_of,
    holds_variable,
    is_merge,
    key_text,
    merged,
    parse,
    same,
    walk,
)
from stagecfg.errors import StagecfgError
from stagecfg.manifest import join_path, type_name

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
    newline = _newline(text)
    for edit in edits:
        text = _apply(text, edit, file, newline)
    return text


def refused_edits(text: str, edits: Sequence[Edit], *, file: str) -> list[EditRefused]:
    """The edits :func:`apply_edits` would refuse, each tried after the ones before it that
    can be made; the others are then safe to apply together."""
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
    editor = _Editor(tree, dataclasses.replace(layout, newline=newline), refuse)
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


def _find(node: Node, name: str) -> int | None:
    for index, (key, _) in enumerate(node.pairs):
        if not is_merge(key) and key_text(key) == name:
            return index
    return None


class _Editor(Splicer):
    """Walks one edit's path through the tree and makes the splices it needs."""

    def __init__(self, tree: Tree, layout: Layout, refuse: Callable[..., EditRefused]) -> None:
        super().__init__(tree, layout)
        self.refuse = refuse

    def set(self, slot: Slot, path: Sequence[Key], value: Any) -> None:
        node = slot.node
        current = data(node)
        try:
            if value is not DELETE and same(current, changed(current, path, value)):
                return
        except LookupError:
            pass
        if node.kind == "alias":
            # Written out at this place; the anchor and its other aliases keep the old value.
            self.replace(slot, self.changed(current, path, value, node))
            return
        self.check_unshared(node, node.uses)
        if not path:
            self.sync(slot, value)
            return
        key, rest = path[0], path[1:]
        if node.kind == "map" and isinstance(key, str):
            self.set_in_map(slot, key, rest, value)
        elif node.kind == "seq" and isinstance(key, int) and not isinstance(key, bool):
            if 0 <= key < len(node.items) and (rest or value is not DELETE):
                self.set(self.item(slot, key), rest, value)
            elif 0 <= key < len(node.items) or (key == len(node.items) and not rest):
                self.sync_list(slot, self.changed(current, path, value, node), removed=key)
            else:
                raise self.refuse(f"the list at line {node.line} has no entry {key}", node.line)
        elif current is None and value is not DELETE and isinstance(key, str):
            self.replace(slot, self.changed(None, path, value, node))
        else:
            what = "a list" if node.kind == "seq" else type_name(current)
            need = "a list" if isinstance(key, int) else "a mapping"
            raise self.refuse(
                f"the path goes through {what} at line {node.line}, not {need}; edit it by hand",
                node.line,
                node.col + 1,
            )

    def set_in_map(self, slot: Slot, key: str, rest: Sequence[Key], value: Any) -> None:
        node = slot.node
        index = _find(node, key)
        inherited = merged(node)
        if value is DELETE and not rest:
            if index is None and key not in inherited:
                raise self.refuse(
                    f"there is no '{key}' in the mapping at line {node.line} to delete",
                    node.line,
                    node.col + 1,
                )
            self.sync_map(slot, {k: v for k, v in data(node).items() if k != key})
        elif index is not None:
            self.set(self.pair(slot, index), rest, value)
        else:
            # A key only merged in (<<: *a) is overridden by writing it in this mapping.
            new = self.changed(inherited.get(key), rest, value, node)
            self.sync_map(slot, {**data(node), key: new})

    def changed(self, current: Any, path: Sequence[Key], value: Any, node: Node) -> Any:
        try:
            return changed(current, path, value)
        except LookupError:
            raise self.refuse(
                f"the path does not exist under line {node.line}; nothing to delete"
                if value is DELETE
                else f"the path goes through {type_name(current)} under line {node.line}, "
                "not a mapping; edit it by hand",
                node.line,
            ) from None

    def check_unshared(self, node: Node, uses: list[Node]) -> None:
        if node.anchor and uses:
            lines = ", ".join(str(use.line) for use in uses)
            raise self.refuse(
                f"the value at line {node.line} is the anchor &{node.anchor}, also used at "
                f"line {lines}; changing it would change those too: edit it by hand",
                node.line,
                node.col + 1,
            )

    def check_removable(self, *nodes: Node) -> None:
        """Values may go unless they hold a variable, or an anchor used elsewhere."""
        inside = {id(n) for node in nodes for n in walk(node)}
        for found in (n for node in nodes for n in walk(node)):
            if found.kind == "scalar" and "${" in found.value:
                raise self.refuse(
                    f"the value at line {found.line} is the variable reference "
                    f"'{found.value}'; change the variable's value instead (values:, --var)",
                    found.line,
                    found.col + 1,
                )
            self.check_unshared(found, [use for use in found.uses if id(use) not in inside])

    def pair(self, slot: Slot, index: int) -> Slot:
        node = slot.node
        key, value = node.pairs[index]
        return Slot(value, key, node.colons[index], slot.flow or node.flow, -1)

    def item(self, slot: Slot, index: int) -> Slot:
        node = slot.node
        dash = -1 if node.flow else node.dashes[index]
        return Slot(node.items[index], None, -1, slot.flow or node.flow, dash)

    def replace(self, slot: Slot, value: Any) -> None:
        if slot.node is self.tree.root:
            raise self.refuse("the top level must stay a mapping")
        self.check_removable(slot.node)
        super().replace(slot, value)

    # -- making a node equal to a value ----------------------------------------------------

    def sync(self, slot: Slot, value: Any) -> None:
        node = slot.node
        if node.kind == "map" and isinstance(value, dict):
            self.sync_map(slot, value)
        elif node.kind == "seq" and isinstance(value, list):
            self.sync_list(slot, value)
        elif node.kind == "scalar" and not isinstance(value, (dict, list)):
            self.check_removable(node)
            self.replace_scalar(slot, value)
        else:
            self.replace(slot, value)

    def sync_map(self, slot: Slot, value: dict[str, Any]) -> None:
        node = slot.node
        inherited = merged(node)
        names = {key_text(k) for k, _ in node.pairs if not is_merge(k)}
        gone = [
            i for i, (k, _) in enumerate(node.pairs) if not is_merge(k) and key_text(k) not in value
        ]
        for index in gone:
            key = node.pairs[index][0]
            if key_text(key) in inherited:
                raise self.refuse(
                    f"'{key.value}' at line {key.line} overrides a merged (<<) value, which "
                    "would show through if it were deleted; edit it by hand",
                    key.line,
                    key.col + 1,
                )
            self.check_removable(*node.pairs[index])
        for name in inherited:
            if name not in names and name not in value:
                raise self.refuse(
                    f"'{name}' comes from a merge key (<<) of the mapping at line {node.line}; "
                    "it cannot be removed here without changing the anchor: edit it by hand",
                    node.line,
                    node.col + 1,
                )
        added = [
            (name, item)
            for name, item in value.items()
            if name not in names and not (name in inherited and same(inherited[name], item))
        ]
        kept = [i for i in range(len(node.pairs)) if i not in gone]
        first_inline = bool(node.pairs) and not self.tree.at_line_start(node.pairs[0][0].start)
        if not kept and node is self.tree.root and node.flow:
            # A top level emptied to "{}" by earlier edits gets its keys back in block style.
            self.splice(node.start, node.end, block_text(value, 0, self.layout) or "{}")
            return
        if not kept and (node.flow or not node.pairs or first_inline):
            self.replace(slot, value)
            return
        for index in kept:
            key = node.pairs[index][0]
            if not is_merge(key):
                self.set(self.pair(slot, index), (), value[key_text(key)])
        entries = [(k.start, end_of(self.text, v)) for k, v in node.pairs]
        self.remove_entries(node, entries, gone)
        if node.flow:
            more = "".join(f", {key_name(n, flow=True)}: {flow_text(v)}" for n, v in added)
            self.splice(entries[kept[-1]][1], entries[kept[-1]][1], more)
        elif not kept and not added:
            self.insert_empty(slot, "{}")
        else:
            col = self.tree.col_of(node.pairs[0][0].start)
            lines = [" " * col + self.new_pair(node, n, v, col) for n, v in added]
            if kept:
                self.insert_lines(lines, after=entries[kept[-1]][1])
            else:
                self.insert_lines(lines, before=entries[0][0])

    def new_pair(self, node: Node, name: str, value: Any, col: int) -> str:
        """A new ``name: value`` line in a block mapping: a list in flow style if every list
        already there is (a ``grants`` of ``[...]`` lists stays so), else block style."""
        alike = [v for _, v in node.pairs if v.kind == "seq"]
        if isinstance(value, list) and value and alike and all(v.flow for v in alike):
            return f"{key_name(name)}: {flow_text(value)}"
        return pair_text(name, value, col, self.layout)

    def sync_list(self, slot: Slot, value: list[Any], removed: int | None = None) -> None:
        node = slot.node
        current = [data(item) for item in node.items]
        plan = plan_list(current, value, [item.kind == "map" for item in node.items], removed)
        for index in plan.gone:
            self.check_removable(node.items[index])
        first_inline = bool(node.dashes) and not self.tree.at_line_start(node.dashes[0])
        if not plan.kept and (node.flow or not node.items or first_inline):
            self.replace(slot, value)
            return
        for index, target in plan.kept.items():
            self.set(self.item(slot, index), (), value[target])
        starts = [item.start for item in node.items] if node.flow else node.dashes
        entries = [(s, end_of(self.text, item)) for s, item in zip(starts, node.items, strict=True)]
        self.remove_entries(node, entries, plan.gone)
        first = min(plan.kept) if plan.kept else 0
        for after, targets in plan.inserts:
            new = [value[t] for t in targets]
            if node.flow:
                if after is None:
                    text = "".join(flow_text(v) + ", " for v in new)
                    self.splice(entries[first][0], entries[first][0], text)
                else:
                    text = "".join(", " + flow_text(v) for v in new)
                    self.splice(entries[after][1], entries[after][1], text)
                continue
            col = self.tree.col_of(node.dashes[0])
            lines = [
                " " * col
                + "- "
                + (block_text(v, col + 2, self.layout) if is_block(v) else flow_text(v))
                for v in new
            ]
            if after is not None:
                self.insert_lines(lines, after=entries[after][1])
            elif self.tree.at_line_start(entries[first][0]):
                self.insert_lines(lines, before=entries[first][0])
            else:
                pad = self.layout.newline + " " * col
                self.splice(entries[first][0], entries[first][0], pad.join(lines).lstrip() + pad)
        if not value and not node.flow:
            self.insert_empty(slot, "[]")
