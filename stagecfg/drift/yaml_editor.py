"""The editor behind :mod:`stagecfg.drift.edits`: it walks one edit's path through the parsed
file and records the splices that make it (a scalar rewritten, a mapping or list synced, new
keys placed in the file's own layout), refusing what would change another place (a shared
anchor, a merged key). Several edits on disjoint places can share one editor and one tree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stagecfg.drift.yaml_lists import plan_list
from stagecfg.drift.yaml_splice import Slot, Splicer
from stagecfg.drift.yaml_style import (
    Layout,
    block_text,
    flow_text,
    is_block,
    pair_text,
)
from stagecfg.drift.yaml_style import key_text as key_name
from stagecfg.drift.yaml_tree import (
    DELETE,
    Node,
    Tree,
    changed,
    data,
    end_of,
    is_merge,
    key_text,
    merged,
    same,
    walk,
)
from stagecfg.manifest import type_name

Key = str | int


def _holds(node: Node, path: Sequence[Key], value: Any) -> bool:
    """Whether the value at ``path`` under ``node`` already is ``value`` (then there is nothing
    to write). Only the nodes on the path are read, not the whole file: a drift can be
    thousands of edits to one file, and reading all of it for each would be quadratic."""
    if value is DELETE:
        return False
    for depth, key in enumerate(path):
        while node.kind == "alias" and node.target is not None:
            node = node.target
        index = _find(node, key) if node.kind == "map" and isinstance(key, str) else None
        if index is not None:
            node = node.pairs[index][1]
        elif node.kind == "seq" and type(key) is int and 0 <= key < len(node.items):
            node = node.items[key]
        elif node.kind == "map" and isinstance(key, str):
            # Only merged in (<<: *a), or not there: decide on this mapping's data.
            try:
                return same(data(node), changed(data(node), path[depth:], value))
            except LookupError:
                return False
        else:
            return False
    return same(data(node), value)


def _find(node: Node, name: str) -> int | None:
    for index, (key, _) in enumerate(node.pairs):
        if not is_merge(key) and key_text(key) == name:
            return index
    return None


class Editor(Splicer):
    """Walks one edit's path through the tree and makes the splices it needs."""

    def __init__(self, tree: Tree, layout: Layout, refuse: Callable[..., Exception]) -> None:
        super().__init__(tree, layout)
        self.refuse = refuse

    def set(self, slot: Slot, path: Sequence[Key], value: Any) -> None:
        node = slot.node
        if _holds(node, path, value):
            return
        if node.kind == "alias":
            # Written out at this place; the anchor and its other aliases keep the old value.
            self.replace(slot, self.changed(data(node), path, value, node))
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
                self.sync_list(slot, self.changed(data(node), path, value, node), removed=key)
            else:
                raise self.refuse(f"the list at line {node.line} has no entry {key}", node.line)
        elif (
            node.kind == "scalar"
            and data(node) is None
            and value is not DELETE
            and isinstance(key, str)
        ):
            self.replace(slot, self.changed(None, path, value, node))
        else:
            what = "a list" if node.kind == "seq" else type_name(data(node))
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
