"""Text splices on a parsed YAML file: remove entries, insert lines, replace one value's text.

Every change is a (start, end, new text) splice against the text the tree was parsed from, so
what no splice covers is kept byte for byte. Removing a block entry removes its whole lines but
keeps the comment lines inside it (they are the author's words, and stay where they were).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagecfg.drift.yaml_style import (
    Layout,
    block_text,
    flow_text,
    is_block,
    literal_text,
    scalar_text,
)
from stagecfg.drift.yaml_tree import Node, Tree, end_of


class SpliceError(Exception):
    """The splices of one edit overlap: the edit is beyond what can be done safely."""


@dataclass(frozen=True)
class Slot:
    """Where a node sits: the value of ``key`` (whose ":" is at ``colon``), or a block list's
    entry after the ``-`` at ``dash``, or the root (neither); ``flow`` inside ``{}``/``[]``."""

    node: Node
    key: Node | None
    colon: int
    flow: bool
    dash: int


class Splicer:
    """Collects splices against ``tree.text`` and applies them all at once."""

    def __init__(self, tree: Tree, layout: Layout) -> None:
        self.tree, self.text, self.layout = tree, tree.text, layout
        self.splices: list[tuple[int, int, int, str]] = []

    def splice(self, start: int, end: int, text: str) -> None:
        self.splices.append((start, end, len(self.splices), text))

    def result(self) -> str:
        # Insertions before removals at the same place, each kind in the order made.
        ordered = sorted(self.splices, key=lambda s: (s[0], s[1] > s[0], s[2]))
        out: list[str] = []
        at = 0
        for start, end, _, text in ordered:
            if start < at:
                raise SpliceError(f"overlapping splices at {start}")
            out += [self.text[at:start], text]
            at = end
        out.append(self.text[at:])
        result = "".join(out)
        newline = self.layout.newline
        if not self.text.endswith("\n") and result.endswith("\n"):
            result = result[: -len(newline)] if result.endswith(newline) else result[:-1]
        elif self.text.endswith("\n") and result and not result.endswith("\n"):
            result += newline
        return result

    # -- lines ------------------------------------------------------------------------------

    def remove_lines(self, first: int, last: int) -> None:
        """Remove lines ``first``..``last`` (1-based), but not the comment lines among them."""
        run: int | None = None
        for line in range(first, last + 2):
            drop = line <= last and not self.tree.is_comment_line(line)
            if drop and run is None:
                run = line
            elif not drop and run is not None:
                self.splice(self.tree.line_start(run), self.tree.line_start(line), "")
                run = None

    def insert_lines(self, lines: list[str], *, after: int = -1, before: int = -1) -> None:
        """New lines after the line holding index ``after - 1`` (the end of an entry), or
        before the line holding index ``before``."""
        if not lines:
            return
        newline = self.layout.newline
        body = newline.join(lines)
        if before >= 0:
            at = self.tree.line_start(self.tree.line_of(before))
            self.splice(at, at, body + newline)
            return
        at = self.tree.line_end(self.tree.line_of(max(after - 1, 0)))
        if at == len(self.text) and not self.text.endswith("\n"):
            self.splice(at, at, newline + body)
        else:
            self.splice(at, at, body + newline)

    def remove_entries(self, node: Node, entries: list[tuple[int, int]], gone: list[int]) -> None:
        """Remove the entries ``gone`` of a mapping or list; ``entries`` are (start, end) of each
        (the key or "-" to the end of the value). At least one entry stays unless block."""
        if not gone:
            return
        dropped = set(gone)
        left = [i for i in range(len(entries)) if i not in dropped]
        if node.flow:
            last = left[-1]
            for i in gone:
                if i < last:
                    self.splice(entries[i][0], entries[i + 1][0], "")
            trailing = [i for i in gone if i > last]
            if trailing:
                self.splice(entries[last][1], entries[trailing[-1]][1], "")
            return
        skip: set[int] = set()
        if 0 in dropped and not self.tree.at_line_start(entries[0][0]):
            # "- a: 1" or "- - x": the first entry shares the line of the "-" above.
            nxt = left[0]
            self.splice(entries[0][0], entries[nxt][0], "")
            skip = set(range(nxt))
        for i in gone:
            if i not in skip:
                start, end = entries[i]
                self.remove_lines(self.tree.line_of(start), self.tree.line_of(max(end - 1, start)))

    # -- one value --------------------------------------------------------------------------

    def after_head(self, slot: Slot) -> int:
        """Just after the ":" or "-" before a value; where its anchor (if any) ends."""
        at = slot.colon + 1 if slot.colon >= 0 else slot.dash + 1
        if at <= 0:
            raise SpliceError("the value has no ':' or '-' before it")
        node = slot.node
        if node.anchor and node.kind in ("map", "seq") and not node.flow:
            at = node.start + 1 + len(node.anchor)
        return at

    def insert_empty(self, slot: Slot, text: str) -> None:
        """Write ``{}`` or ``[]`` for a block collection whose entries were all removed."""
        if slot.colon < 0 and slot.dash < 0:
            self.insert_lines([text], before=slot.node.start)
        else:
            at = self.after_head(slot)
            self.splice(at, at, " " + text)

    def replace(self, slot: Slot, value: Any) -> None:
        """Write ``value`` in place of the node (its anchor kept), in the style of the place."""
        node = slot.node
        anchor = f"&{node.anchor}" if node.anchor else ""
        end = end_of(self.text, node)
        inline = slot.flow or (node.kind in ("map", "seq") and node.flow) or not is_block(value)
        block_node = node.kind in ("map", "seq") and not node.flow
        if inline and not block_node:
            text = (anchor + " " if anchor else "") + flow_text(value)
            self.splice(node.start, end, (" " if node.empty else "") + text)
            return
        start = self.after_head(slot)
        if inline:
            self.splice(start, end, " " + flow_text(value))
            return
        newline = self.layout.newline
        if slot.dash >= 0 and not anchor:
            col = self.tree.col_of(slot.dash) + 2
            self.splice(start, end, " " + block_text(value, col, self.layout))
            return
        base = self.tree.col_of(slot.key.start) if slot.key is not None else 0
        if slot.dash >= 0:
            base = self.tree.col_of(slot.dash)
        step = self.layout.mapping if isinstance(value, dict) else self.layout.offset
        col = base + (step if isinstance(value, dict) or step else 0)
        if slot.dash >= 0 and col == base:
            col += 2
        head = " " + anchor if anchor and not block_node else ""
        self.splice(start, end, head + newline + " " * col + block_text(value, col, self.layout))

    def replace_scalar(self, slot: Slot, value: Any) -> None:
        """Write a scalar in place of a scalar, keeping its quote style where the value allows."""
        node = slot.node
        if node.empty:
            self.splice(node.start, node.start, " " + scalar_text(value, flow=slot.flow))
            return
        anchor = f"&{node.anchor} " if node.anchor else ""
        text: str | None = None
        if node.style in ("|", ">"):
            if node.style == "|" and isinstance(value, str):
                text = literal_text(value, self.block_indent(slot), self.layout)
            text = text or scalar_text(value, flow=slot.flow)
        else:
            style = node.style if isinstance(value, str) else None
            text = scalar_text(value, style=style, flow=slot.flow)
        self.splice(node.start, end_of(self.text, node), anchor + text)

    def block_indent(self, slot: Slot) -> int:
        """The indentation of a block scalar's text (or one step in from its key)."""
        node = slot.node
        for line in self.text[node.start : node.end].split("\n")[1:]:
            if line.strip():
                return len(line) - len(line.lstrip(" "))
        base = self.tree.col_of(slot.key.start) if slot.key is not None else 0
        return base + self.layout.mapping
