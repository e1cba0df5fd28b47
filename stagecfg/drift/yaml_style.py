"""How new YAML text is written so that it looks like the file around it and reads back exactly.

Scalars keep the quote style of the value they replace when the new value allows it; a string
that stagecfg's loader would read as something else (``5``, ``null``, ``2027-01-01`` is fine,
``yes``/``on``/``n`` are YAML 1.1 booleans) or that YAML cannot hold plain is double-quoted.
New mappings and lists are written in the file's own indentation (:class:`Layout`, inferred from
the file), in block style, or in flow style inside ``{...}``/``[...]``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from stagecfg.drift.yaml_tree import Node, Tree, scalar

#: Plain text that can only be read as itself: no indicator first, no ": " or " #" inside.
_PLAIN = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\n\t]*$")
_FLOW_BREAKERS = frozenset(",[]{}:#")
#: What YAML may hold unescaped; U+0085, U+2028 and U+2029 are line breaks to YAML 1.1 readers.
_PRINTABLE = re.compile(
    "[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(frozen=True)
class Layout:
    """The file's block indentation: a mapping's keys ``mapping`` columns right of their
    parent key, and a list's ``-`` ``offset`` columns right of its key (0: at the key); and
    its line break."""

    mapping: int = 2
    offset: int = 2
    newline: str = "\n"


def infer_layout(tree: Tree) -> Layout:
    """The most common indentation steps of the file (ties: the smaller step)."""
    mapping: Counter[int] = Counter()
    offset: Counter[int] = Counter()
    stack = [tree.root]
    while stack:
        node = stack.pop()
        for key, value in node.pairs:
            if value.kind == "map" and not value.flow and value.pairs:
                first = value.pairs[0][0]
                if first.col > key.col and tree.at_line_start(first.start):
                    mapping[first.col - key.col] += 1
            elif value.kind == "seq" and not value.flow and value.dashes:
                offset[tree.col_of(value.dashes[0]) - key.col] += 1
            stack.append(value)
        stack.extend(node.items)
    step = min(mapping, key=lambda s: (-mapping[s], s)) if mapping else 2
    dash = min(offset, key=lambda s: (-offset[s], s)) if offset else step
    return Layout(step, max(dash, 0))


def reads_as_text(text: str) -> bool:
    """Whether stagecfg reads this plain text as the same string (not a number, bool, null)."""
    return scalar(text, None, None) == text and isinstance(scalar(text, None, None), str)


def plain_ok(text: str, *, flow: bool) -> bool:
    if not text or text != text.strip() or not _PLAIN.match(text):
        return False
    if ": " in text or " #" in text or text.endswith(":") or "${" in text or text == "<<":
        return False
    if flow and _FLOW_BREAKERS.intersection(text):
        return False
    return all(_PRINTABLE.match(ch) for ch in text) and reads_as_text(text)


def double_quoted(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not _PRINTABLE.match(ch):
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def scalar_text(value: Any, *, style: str | None = None, flow: bool = False) -> str:
    """One scalar as YAML text; ``style`` is the replaced scalar's ("'", '"' or None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        shown = repr(value)
        return shown if "." in shown or "e" in shown else shown + ".0"
    text = str(value)
    if style == "'" and "\n" not in text and all(_PRINTABLE.match(ch) for ch in text):
        return "'" + text.replace("'", "''") + "'"
    if style != '"' and plain_ok(text, flow=flow):
        return text
    return double_quoted(text)


def key_text(name: str, *, flow: bool = False) -> str:
    return name if plain_ok(name, flow=flow) else double_quoted(name)


def flow_text(value: Any, *, style: str | None = None) -> str:
    """A value on one line: ``{a: 1, b: [x, y]}``."""
    if isinstance(value, dict):
        inner = ", ".join(f"{key_text(k, flow=True)}: {flow_text(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    return scalar_text(value, style=style, flow=True)


def is_block(value: Any) -> bool:
    """Whether block style writes this value on lines of its own (a non-empty collection)."""
    return isinstance(value, (dict, list)) and bool(value)


def block_text(value: Any, col: int, layout: Layout) -> str:
    """A non-empty mapping or list in block style whose first line starts at column ``col``
    (already there: the first line gets no indentation; later lines get ``col`` spaces)."""
    lines: list[str] = []
    pad = layout.newline + " " * col
    if isinstance(value, dict):
        for name, item in value.items():
            lines.append(pair_text(name, item, col, layout))
    else:
        for item in value:
            inner = block_text(item, col + 2, layout) if is_block(item) else flow_text(item)
            lines.append("- " + inner)
    return pad.join(lines)


def pair_text(name: str, value: Any, col: int, layout: Layout) -> str:
    """``name: value`` with the key at column ``col`` (a block value on the following lines)."""
    if not is_block(value):
        return f"{key_text(name)}: {flow_text(value)}"
    step = layout.mapping if isinstance(value, dict) else layout.offset
    inner = col + step if isinstance(value, dict) or step else col
    return f"{key_text(name)}:{layout.newline}{' ' * inner}{block_text(value, inner, layout)}"


def literal_text(value: str, col: int, layout: Layout) -> str | None:
    """A ``|`` block scalar holding ``value`` indented at ``col``, if it can hold it exactly."""
    body = value[:-1] if value.endswith("\n") else None
    if body is None or body.endswith("\n") or not body or body[0] in " \t":
        return None
    if "\r" in value or not all(_PRINTABLE.match(ch) for ch in value.replace("\n", "")):
        return None
    if any(line != line.rstrip(" \t") for line in body.split("\n")):
        return None
    pad = " " * col
    lines = [pad + line if line else "" for line in body.split("\n")]
    return "|" + layout.newline + layout.newline.join(lines)


def node_col(tree: Tree, node: Node) -> int:
    return tree.col_of(node.start)
