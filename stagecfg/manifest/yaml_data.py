"""Composed YAML nodes turned into plain JSON data, with the file:line:col of every key and value.

PyYAML's YAML 1.1 implicit typing is switched off in the loader, so plain scalars are resolved
here by YAML 1.2 core rules: timestamps stay strings, and ``yes``/``on``/``n`` are reported
instead of silently becoming booleans. A string holding ``${`` is recorded as a
:class:`~stagecfg.manifest.references.Reference` and kept as written: references are filled in
after every file is loaded (typed variables are declared in the files). Duplicate keys,
non-string keys, tags and merge keys (``<<``) are dealt with while building, and the node, alias
and depth caps that only alias expansion can reveal are enforced here (YAML syntax errors are
stagecfg.manifest.syntax's). Every problem is collected; nothing here raises for bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from stagecfg.errors import Location, Problem
from stagecfg.manifest.caps import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED_BYTES,
    MAX_NODES,
    MAX_PATH_BYTES,
)
from stagecfg.manifest.paths import child_path
from stagecfg.manifest.references import Reference

_TAG = "tag:yaml.org,2002:"
_COLLECTION_TAGS = (_TAG + "map", _TAG + "seq", _TAG + "omap")
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")
_YAML11_BOOLS = {"yes": True, "no": False, "on": True, "off": False, "y": True, "n": False}
_NUMERIC_START = frozenset("0123456789+-.~")
_SHORT_KEY = 256


class _Stop(Exception):
    """Abandon building a document (a cap was hit); the problem is already recorded."""


@dataclass
class _Builder:
    """Builds one file's data from its composed node tree, recording locations and problems."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    #: Every string holding ``${``, filled in once all files are loaded (``references``).
    references: list[Reference] = field(default_factory=list)
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)
    #: Bytes of scalar text: the file's size, plus every scalar an alias repeats.
    expanded: int = 0
    nodes: int = 0
    aliases: int = 0
    path_bytes: int = 0
    #: Whether the file has aliases, so that a node can be built more than once.
    repeats: bool = True
    seen: set[int] = field(default_factory=set)
    #: Scalar keys seen once: an alias used as a key repeats its text too.
    seen_keys: set[int] = field(default_factory=set)

    def where(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(
        self, node: yaml.Node, path: str, message: str, suggestion: str | None = None
    ) -> None:
        self.problems.append(Problem(self.where(node), path, message, suggestion=suggestion))

    def build(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.problem(
                node,
                path,
                f"document expands to more than {MAX_NODES:,} nodes (node cap); "
                "this looks like an alias bomb",
            )
            raise _Stop
        # Every located value keeps its JSON path, so long keys nested deep cost memory per
        # value even without aliases; the paths together are bounded like the values.
        self.path_bytes += len(path)
        if self.path_bytes > MAX_PATH_BYTES:
            self.problem(
                node,
                path,
                f"keys and nesting add up to more than {MAX_PATH_BYTES // 2**20} MiB of value "
                "paths (path cap)",
                suggestion="shorten long keys or flatten the nesting",
            )
            raise _Stop
        if self.repeats:
            if id(node) in self.seen:
                # The composer hands out the anchored node again for every alias naming it.
                self.repeat(node, path)
            else:
                self.seen.add(id(node))
        if depth > MAX_DEPTH:
            self.problem(node, path, f"nesting deeper than {MAX_DEPTH} levels (depth cap)")
            raise _Stop
        self.values.setdefault(path, self.where(node))
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            self.problem(
                node,
                path,
                f"unsupported YAML tag '{node.tag}'",
                suggestion="remove the tag; manifests hold plain data only",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, child_path(path, index), depth + 1)
                for index, item in enumerate(node.value)
            ]
        assert isinstance(node, yaml.ScalarNode)
        return self.scalar(node, path)

    def repeat(self, node: yaml.Node, path: str) -> None:
        """Count a node an alias names again: a reference, and its bytes once more."""
        if isinstance(node, yaml.ScalarNode):
            self.expand(node, path, node.value)
            return
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            self.problem(
                node,
                path,
                f"aliases expand to more than {MAX_ALIASES:,} references (alias cap); "
                "this looks like an alias bomb",
            )
            raise _Stop

    def expand(self, node: yaml.Node, path: str, text: str) -> None:
        """Add a repeated scalar's text to the expanded size (which starts at the file's)."""
        self.expanded += len(text)
        if self.expanded > MAX_EXPANDED_BYTES:
            self.problem(
                node,
                path,
                f"aliases expand the document to more than {MAX_EXPANDED_BYTES // 2**20} MiB "
                "(expanded size cap); this looks like an alias bomb",
                suggestion="write the value once instead of repeating it through aliases",
            )
            raise _Stop

    def mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        merged_from: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.tag in (_TAG + "merge", _TAG + "str")
                and key_node.style in (None, "")
                and key_node.value == "<<"
            ):
                merged_from.update(self.merge_source(value_node, path, depth))
                continue
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            key = self.key(key_node, child_path(path, shown))
            if key is None:
                continue
            key_path = child_path(path, key)
            if key in first_seen:
                first = self.where(first_seen[key])
                self.problem(
                    key_node,
                    key_path,
                    f"duplicate key '{key}' (first defined at line {first.line}, col {first.col})",
                    suggestion="remove one of them; YAML would silently keep the last",
                )
                continue
            first_seen[key] = key_node
            self.keys[key_path] = self.where(key_node)
            result[key] = self.build(value_node, key_path, depth + 1)
        for key, value in merged_from.items():
            result.setdefault(key, value)
        return result

    def merge_source(self, node: yaml.Node, path: str, depth: int) -> dict[str, Any]:
        """``<<: *anchor`` (or a list of anchors): keys the mapping itself sets win."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            value = self.build(source, path, depth + 1)
            merged.update(value)
        return merged

    def key(self, node: yaml.Node, path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, "keys must be strings, found a mapping or list as a key")
            return None
        if self.repeats and len(node.value) > _SHORT_KEY:
            # An alias used as a key repeats its text; short keys repeated within the alias
            # cap cannot add up to anything, so only long ones are tracked.
            if id(node) in self.seen_keys:
                self.expand(node, path, node.value)
            self.seen_keys.add(id(node))
        value = self.scalar(node, path, is_key=True)
        if not isinstance(value, str):
            shown = node.value
            self.problem(
                node,
                path,
                f"keys must be strings, '{shown}' is read as {type_name(value)}",
                suggestion=f'quote it: "{shown}"',
            )
            return None
        return value

    def scalar(self, node: yaml.ScalarNode, path: str, *, is_key: bool = False) -> Any:
        text: str = node.value
        tag: str = node.tag
        plain = node.style in (None, "")
        if tag == _TAG + "str" and not plain:
            return text if is_key else self.string(text, node, path)
        if tag == _TAG + "str" and plain:
            return self.plain(text, node, path, is_key=is_key)
        if tag in (_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"):
            try:
                return _explicit(tag, text)
            except (KeyError, ValueError):
                self.problem(node, path, f"'{text}' is not a valid {tag.removeprefix(_TAG)}")
                return text
        self.problem(
            node,
            path,
            f"unsupported YAML tag '{tag}'",
            suggestion="remove the tag; manifests hold plain data only",
        )
        return text

    def plain(self, text: str, node: yaml.Node, path: str, *, is_key: bool) -> Any:
        """YAML 1.2 core schema for an untagged, unquoted scalar."""
        if len(text) > 5 and text[0] not in _NUMERIC_START and text[:5].lower() != "false":
            # Fast path: most scalars are names and words that can only be strings.
            return text if is_key else self.string(text, node, path)
        lowered = text.lower()
        if lowered in _YAML11_BOOLS:
            word = "true" if _YAML11_BOOLS[lowered] else "false"
            self.problem(
                node,
                path,
                f"`{text}` is read as boolean {word} by YAML 1.1; write {word} or quote it",
                suggestion=f'"{text}" if you mean the text',
            )
            return _YAML11_BOOLS[lowered] if not is_key else text
        value = core_value(text)
        if isinstance(value, str):
            return text if is_key else self.string(text, node, path)
        return value

    def string(self, text: str, node: yaml.Node, path: str) -> str:
        if "${" in text:
            self.references.append(Reference(path, self.where(node), text))
        return text


def core_value(text: str) -> Any:
    """An untagged, unquoted scalar's value by YAML 1.2 core rules (YAML 1.1's yes/no/on/off
    words are the caller's: the loader reports them); the text itself when it is a string.
    The one place these rules live: ``drift --write`` reads its edits back with them too."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


#: YAML 1.1's boolean words, which the loader reads as booleans and reports.
YAML11_BOOLS = _YAML11_BOOLS
EXPLICIT_TAGS = (_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null")


def explicit_value(tag: str, text: str) -> Any:
    """:func:`_explicit`, or the text when it is not a valid value of its tag."""
    try:
        return _explicit(tag, text)
    except (KeyError, ValueError):
        return text


def _explicit(tag: str, text: str) -> Any:
    """The value of a scalar with an explicit standard tag (``!!int 5``)."""
    if tag == _TAG + "int":
        return int(text) if _INT.match(text) else int(text, 0)
    if tag == _TAG + "float":
        return float(text)
    if tag == _TAG + "bool":
        return {"true": True, "false": False}[text.lower()]
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
