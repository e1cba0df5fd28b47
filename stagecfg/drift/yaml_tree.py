"""A YAML file as a tree of nodes that know where their text is, and the data stagecfg reads.

ruamel.yaml's parser gives every event its exact character span; this module keeps those spans
(and the positions of the ``-`` and ``:`` tokens that events do not carry) on a small tree, so the
writer can change a value by splicing its text and leave every other byte alone. Unlike a
composed node graph, an alias stays a node of its own here, at the place it is written, so
``grants: *g`` can be told apart from the anchored value it names.

``data`` reads a node the way stagecfg's loader does (stagecfg.manifest.yaml_data): plain
scalars by YAML 1.2 core rules, ``yes``/``no``/``on``/``off``/``y``/``n`` as booleans, timestamps
as strings, merge keys (``<<``) with the mapping's own keys winning; ``changed`` is that data
with one value set or deleted, which an edit's result must read back as.
"""

from __future__ import annotations

import bisect
import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml import tokens as tk
from ruamel.yaml.error import YAMLError

from stagecfg.manifest.yaml_data import EXPLICIT_TAGS, YAML11_BOOLS, core_value, explicit_value

_TAG = "tag:yaml.org,2002:"


class TreeError(Exception):
    """The text cannot be read as one YAML document (the message says why, with line:col)."""


@dataclass(eq=False)
class Node:
    """One scalar, mapping, sequence or alias as written. ``start``/``end`` index the text;
    for a scalar or collection with an anchor or tag, ``start`` is where those begin."""

    kind: str  # "scalar" | "map" | "seq" | "alias"
    start: int
    end: int
    line: int  # 1-based, of start
    col: int  # 0-based, of start
    anchor: str | None = None
    tag: str | None = None
    value: str = ""  # a scalar's text after escapes; an alias's anchor name
    style: str | None = None  # a scalar's: None plain, "'", '"', "|", ">"
    flow: bool = False
    pairs: list[tuple[Node, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    dashes: list[int] = field(default_factory=list)  # a block sequence's "-" per item
    colons: list[int] = field(default_factory=list)  # a mapping's ":" per pair (-1: none)
    target: Node | None = None  # an alias's anchored node
    uses: list[Node] = field(default_factory=list)  # an anchored node's aliases
    pending: Node | None = None  # while building a mapping: a key waiting for its value

    @property
    def empty(self) -> bool:
        """A plain scalar with no text (``key:``): null, written as nothing."""
        return self.kind == "scalar" and self.style is None and self.value == "" and not self.tag


@dataclass
class Tree:
    """The parsed file: its root node, the text, and where its lines start."""

    text: str
    root: Node
    line_starts: list[int]
    #: (first, last) 1-based lines of each scalar spanning lines: their ``#`` is text, not comment
    multiline: list[tuple[int, int]]
    #: every anchored node by name (the last definition wins, as in YAML)
    anchors: dict[str, Node]

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.line_starts, index)

    def line_start(self, line: int) -> int:
        return self.line_starts[line - 1] if line <= len(self.line_starts) else len(self.text)

    def line_end(self, line: int) -> int:
        """Index just past the line's newline (or the end of the text)."""
        return self.line_start(line + 1)

    def col_of(self, index: int) -> int:
        return index - self.line_starts[self.line_of(index) - 1]

    def at_line_start(self, index: int) -> bool:
        start = self.line_starts[self.line_of(index) - 1]
        return not self.text[start:index].strip(" ")

    def is_comment_line(self, line: int) -> bool:
        text = self.text[self.line_start(line) : self.line_end(line)].strip()
        if not text.startswith("#"):
            return False
        return not any(first <= line <= last for first, last in self.multiline)


def parse(text: str) -> Tree:
    """The one document in ``text`` as a :class:`Tree`; :class:`TreeError` if it is not one."""
    yaml = YAML()
    try:
        tokens = list(yaml.scan(text))
        events = list(yaml.parse(text))
    except YAMLError as exc:
        raise TreeError(" ".join(str(exc).split())) from None
    dash_at = sorted(t.start_mark.index for t in tokens if isinstance(t, tk.BlockEntryToken))
    colon_at = sorted(t.start_mark.index for t in tokens if isinstance(t, tk.ValueToken))
    marks = sorted(set(dash_at) | set(colon_at))
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    if starts[-1] == len(text) and len(starts) > 1:
        starts.pop()
    builder = _TreeBuilder(text, marks, dash_at, colon_at)
    root = builder.build(events)
    return Tree(text, root, starts, builder.multiline, builder.anchors)


class _TreeBuilder:
    def __init__(self, text: str, marks: list[int], dashes: list[int], colons: list[int]) -> None:
        self.text = text
        self.marks = marks
        self.dashes = dashes
        self.colons = colons
        self.anchors: dict[str, Node] = {}
        self.multiline: list[tuple[int, int]] = []

    def build(self, events: list[Any]) -> Node:
        documents = sum(1 for e in events if isinstance(e, ev.DocumentStartEvent))
        if documents != 1:
            raise TreeError(f"expected one YAML document, found {documents}")
        stack: list[Node] = []
        root: Node | None = None
        for event in events:
            node: Node | None = None
            if isinstance(event, ev.ScalarEvent):
                node = self.node("scalar", event)
                node.value, node.style = event.value, event.style
                if node.empty:
                    # An empty value's mark sits at the next token; put it after its ":" or "-".
                    at = bisect.bisect_left(self.marks, node.start) - 1
                    node.start = node.end = self.marks[at] + 1 if at >= 0 else node.start
                if "\n" in self.text[node.start : node.end].rstrip("\n"):
                    first = self.text.count("\n", 0, node.start) + 1
                    self.multiline.append(
                        (first, first + self.text[node.start : node.end].rstrip("\n").count("\n"))
                    )
            elif isinstance(event, ev.AliasEvent):
                node = self.node("alias", event)
                node.value = event.anchor
                node.target = self.anchors.get(event.anchor)
                if node.target is None:
                    raise TreeError(f"line {node.line}: alias *{event.anchor} names no anchor")
                node.target.uses.append(node)
            elif isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
                kind = "map" if isinstance(event, ev.MappingStartEvent) else "seq"
                opened = self.node(kind, event)
                opened.flow = bool(event.flow_style)
                if stack:
                    self.attach(stack, opened)
                stack.append(opened)
                continue
            elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
                closed = stack.pop()
                closed.end = event.end_mark.index if closed.flow else self.last_end(closed)
                if not stack:
                    root = closed
                continue
            else:
                continue
            if stack:
                self.attach(stack, node)
            else:
                root = node
        if root is None or root.kind != "map":
            raise TreeError("the top level is not a mapping")
        return root

    def node(self, kind: str, event: Any) -> Node:
        mark = event.start_mark
        node = Node(kind, mark.index, event.end_mark.index, mark.line + 1, mark.column)
        node.anchor = getattr(event, "anchor", None) if kind != "alias" else None
        node.tag = getattr(event, "tag", None)
        if node.anchor:
            self.anchors[node.anchor] = node
        return node

    def attach(self, stack: list[Node], node: Node) -> None:
        parent = stack[-1]
        if parent.kind == "seq":
            if not parent.flow:
                # The last "-" before the entry (a nested list starts at its own "-").
                at = bisect.bisect_left(self.dashes, node.start) - 1
                parent.dashes.append(self.dashes[at] if at >= 0 else node.start)
            parent.items.append(node)
            return
        # A mapping's children come key, value, key, value.
        pending = parent.pending
        if pending is None:
            parent.pending = node
            return
        parent.pending = None
        parent.pairs.append((pending, node))
        at = bisect.bisect_left(self.colons, pending.end)
        colon = self.colons[at] if at < len(self.colons) else -1
        parent.colons.append(colon if colon <= max(node.start, pending.end) else -1)

    def last_end(self, node: Node) -> int:
        """Where a block collection's text ends: at the end of its last descendant."""
        while node.kind in ("map", "seq") and not node.flow:
            last = node.pairs[-1][1] if node.kind == "map" else node.items[-1]
            node = last
        return end_of(self.text, node)


def end_of(text: str, node: Node) -> int:
    """The end of a node's own text: a block scalar's trailing line breaks are not its text."""
    if node.kind == "scalar" and node.style in ("|", ">"):
        return node.start + len(text[node.start : node.end].rstrip("\n"))
    return node.end


def content_start(text: str, node: Node) -> int:
    """Where a node's value text begins, after its anchor and tag."""
    at = node.start
    while at < len(text) and text[at] in "&!":
        while at < len(text) and text[at] not in " \t\r\n":
            at += 1
        while at < len(text) and text[at] in " \t":
            at += 1
    return at


def data(node: Node) -> Any:
    """The node as stagecfg's loader reads it (merge keys applied, aliases followed)."""
    if node.kind == "alias":
        assert node.target is not None
        return data(node.target)
    if node.kind == "seq":
        return [data(item) for item in node.items]
    if node.kind == "map":
        own: dict[str, Any] = {}
        for key, value in node.pairs:
            if is_merge(key):
                continue
            own.setdefault(key_text(key), data(value))
        for name, value in merged(node).items():
            own.setdefault(name, value)
        return own
    return scalar(node.value, node.style, node.tag)


def merged(node: Node) -> dict[str, Any]:
    """The keys a mapping gets from its merge keys (``<<: *a`` or ``<<: [*a, *b]``)."""
    result: dict[str, Any] = {}
    for key, value in node.pairs:
        if is_merge(key):
            sources = value.items if value.kind == "seq" else [value]
            for source in sources:
                found = data(source)
                if isinstance(found, dict):
                    for name, item in found.items():
                        result.setdefault(name, item)
    return result


def is_merge(key: Node) -> bool:
    return key.kind == "scalar" and key.style is None and key.value == "<<"


def key_text(key: Node) -> str:
    if key.kind == "alias" and key.target is not None:
        key = key.target
    return key.value


def scalar(text: str, style: str | None, tag: str | None) -> Any:
    """A scalar's value: quoted and block scalars are text; plain ones by the loader's rules."""
    if tag in EXPLICIT_TAGS:
        return explicit_value(tag, text)
    if style is not None or (tag is not None and tag != _TAG + "str"):
        return text
    if text.lower() in YAML11_BOOLS:
        return YAML11_BOOLS[text.lower()]
    return core_value(text)


class _Delete:
    """The value of a delete: the key or entry goes."""


DELETE: Any = _Delete()


def changed(current: Any, path: Sequence[str | int], value: Any) -> Any:
    """Data with the value at ``path`` set (missing mappings made) or deleted; LookupError
    if the path cannot be there."""
    if not path:
        return copy.deepcopy(value)
    key, rest = path[0], path[1:]
    if isinstance(current, dict) and isinstance(key, str):
        result = dict(current)
        if not rest and value is DELETE:
            del result[key]
        else:
            result[key] = changed(current.get(key), rest, value)
        return result
    if isinstance(current, list) and isinstance(key, int) and not isinstance(key, bool):
        items = list(current)
        if not rest and value is DELETE and 0 <= key < len(items):
            del items[key]
        elif not rest and key == len(items) and value is not DELETE:
            items.append(copy.deepcopy(value))
        elif 0 <= key < len(items):
            items[key] = changed(items[key], rest, value)
        else:
            raise LookupError(key)
        return items
    if current is None and isinstance(key, str) and value is not DELETE:
        return {key: changed(None, rest, value)}
    raise LookupError(key)


def same(a: Any, b: Any) -> bool:
    """Equal as data and of the same JSON type (``1`` is not ``1.0`` nor ``true``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def holds_variable(value: Any) -> bool:
    """Whether data holds a ``${...}`` string anywhere (a variable reference)."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(holds_variable(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_variable(v) for v in value)
    return False


def walk(node: Node) -> list[Node]:
    """The node and everything written inside it (not following aliases)."""
    found = [node]
    for key, value in node.pairs:
        found += walk(key) + walk(value)
    for item in node.items:
        found += walk(item)
    return found
