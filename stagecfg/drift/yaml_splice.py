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
        cut = any(end == len(self.text) > start for start, end, _, _ in self.splices)
        # The last line of a file without a final newline went: so does the newline before
        # it (unless that ends a blank line, which stays).
        if cut and not self.text.endswith("\n") and result.endswith(newline):
            result = result if result.endswith(newline * 2) else result[: -len(newline)]
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
            # "- a: 1" or "- - x": the first entry shares the line of its "-", which stays
            # alone on it (the next entry is not moved up, so its line stays as it was).
            start, end = entries[0]
            line = self.tree.line_of(start)
            while self.text[start - 1] == " ":
                start -= 1
            self.splice(start, min(end, self.content_end(line)), "")
            self.remove_lines(line + 1, self.tree.line_of(max(end - 1, start)))
            skip = {0}
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
            # The top level: after what is left (comment lines), where no removal reaches.
            end = len(self.text)
            last = self.text.endswith("\n")
            self.splice(
                end, end, text + self.layout.newline if last else self.layout.newline + text
            )
        else:
            at = self.after_head(slot)
            self.splice(at, at, " " + text)

    def replace(self, slot: Slot, value: Any) -> None:
        """Write ``value`` in place of the node (its anchor kept), in the style of the place.
        A block mapping or list replaced keeps the comment lines it had."""
        node = slot.node
        anchor = f"&{node.anchor}" if node.anchor else ""
        end = end_of(self.text, node)
        shown = node.target if node.kind == "alias" and node.target is not None else node
        inline = slot.flow or (shown.kind in ("map", "seq") and shown.flow) or not is_block(value)
        newline = self.layout.newline
        if node.kind in ("map", "seq") and not node.flow:
            first = node.pairs[0][0].start if node.kind == "map" else node.dashes[0]
            line = self.tree.line_of(first)
            last = self.tree.line_of(max(end - 1, first))
            if not self.tree.at_line_start(first):
                # "- a: 1": the value starts on the line of its "-".
                col = self.tree.col_of(first)
                text = flow_text(value) if inline else block_text(value, col, self.layout)
                self.splice(first, min(end, self.content_end(line)), text)
                self.remove_lines(line + 1, last)
                return
            at = self.after_head(slot)
            text = " " + flow_text(value) if inline else newline + self.indented(slot, value)
            self.splice(at, at, text)
            self.remove_lines(line, last)
            return
        if inline:
            text = (anchor + " " if anchor else "") + flow_text(value)
            self.splice(node.start, end, (" " if node.empty else "") + text)
        elif slot.dash >= 0 and not anchor:
            self.splice(
                node.start, end, block_text(value, self.tree.col_of(slot.dash) + 2, self.layout)
            )
        else:
            head = " " + anchor if anchor else ""
            self.splice(self.after_head(slot), end, head + newline + self.indented(slot, value))

    def indented(self, slot: Slot, value: Any) -> str:
        """A block value on the lines after its key or "-", indented as the file indents."""
        base = self.tree.col_of(slot.dash if slot.dash >= 0 else slot.node.start)
        if slot.key is not None:
            base = self.tree.col_of(slot.key.start)
        step = self.layout.mapping if isinstance(value, dict) else self.layout.offset
        col = base + (2 if slot.dash >= 0 else step)
        return " " * col + block_text(value, col, self.layout)

    def content_end(self, line: int) -> int:
        """The end of a line's text, before its line break."""
        end = self.tree.line_end(line)
        while end > self.tree.line_start(line) and self.text[end - 1] in "\r\n":
            end -= 1
        return end

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
