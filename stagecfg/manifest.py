"""Manifest files: find them, read YAML safely with locations, substitute variables, merge them.

YAML is read with the safe loader (libyaml's C loader when present) and turned into plain JSON data
from the composed node tree, so every key and value keeps its file:line:col. PyYAML's YAML 1.1
implicit typing is switched off: plain scalars are resolved here by YAML 1.2 core rules, so
timestamps stay strings and ``yes``/``on``/``n`` are reported instead of silently becoming
booleans. Every problem is collected as a :class:`~stagecfg.errors.Problem`; nothing here raises
for bad input.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stagecfg.errors import Location, Problem
from stagecfg.redact import register_secret

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ALIASES = 1_000
MAX_NODES = 1_000_000
#: Nodes written in one file. Composing costs about 600 bytes a node, so this keeps a file
#: within ~150 MB before any alias is expanded; real manifests stay far below it.
MAX_FILE_NODES = 250_000
MAX_DEPTH = 64
MANIFEST_SUFFIXES = (".yaml", ".yml")

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader without YAML 1.1 implicit types: every untagged scalar composes as a string."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        # Called only for untagged nodes; with no implicit resolvers the answer is fixed.
        if kind is yaml.ScalarNode:
            return "tag:yaml.org,2002:str"
        if kind is yaml.SequenceNode:
            return "tag:yaml.org,2002:seq"
        return "tag:yaml.org,2002:map"


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
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Variables whose values are masked as ``***`` in output (STREAM_API_SECRET, CDN_TOKEN, ...).
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)


@dataclass
class Document:
    """One manifest file as plain data, with where each key and value was written."""

    path: str
    data: dict[str, Any]
    raw: bytes
    relative: str = ""
    keys: dict[str, Location] = field(default_factory=dict)  # JSON path -> location of its key
    values: dict[str, Location] = field(default_factory=dict)  # JSON path -> location of value

    def locate(self, path: str, *, value: bool = False) -> Location:
        """The best location for a JSON path: its key (or, with ``value``, the value itself),
        else the nearest parent's."""
        first, second = (self.values, self.keys) if value else (self.keys, self.values)
        found = _nearest(path, first, second)
        return Location(self.path, 1, 1) if found is None else found


def _nearest(
    path: str, first: Mapping[str, Location], second: Mapping[str, Location]
) -> Location | None:
    """Where ``path``, or else its nearest recorded parent, was written; ``first`` wins a tie."""
    probe = path
    while True:
        found = first.get(probe) or second.get(probe)
        if found is not None:
            return found
        parent = parent_path(probe)
        if parent == probe:
            return None
        probe = parent


@dataclass
class Merged:
    """All documents merged into one manifest, with a location for every JSON path."""

    data: dict[str, Any]
    documents: list[Document]
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)

    def locate(self, path: str) -> Location | None:
        found = _nearest(path, self.keys, self.values)
        if found is None and self.documents:
            return Location(self.documents[0].path, 1, 1)
        return found

    @property
    def digest(self) -> str:
        """sha256 over every file's relative path and bytes, in load order."""
        sha = hashlib.sha256()
        for doc in self.documents:
            sha.update((doc.relative or doc.path).encode("utf-8") + b"\0")
            sha.update(doc.raw)
            sha.update(b"\0")
        return sha.hexdigest()


# --- JSON paths -----------------------------------------------------------------------------------


def child_path(parent: str, key: str | int) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; other keys use brackets: ``$.calls['x:y']``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _IDENT.match(key):
        return f"{parent}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{parent}['{escaped}']"


def join_path(parts: Iterable[str | int]) -> str:
    path = "$"
    for part in parts:
        path = child_path(path, part)
    return path


_LAST_PART = re.compile(r"(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['(?:[^'\\]|\\.)*'\])$")


def parent_path(path: str) -> str:
    match = _LAST_PART.search(path)
    if not match or match.start() == 0:
        return "$" if path != "$" else path
    return path[: match.start()]


# --- sources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A manifest file to load; ``relative`` names it stably (for the digest) whatever the cwd."""

    path: Path
    relative: str


def collect_sources(paths: Sequence[str]) -> tuple[list[Source], list[Problem]]:
    """Files to load: each file as given, each directory's ``*.yaml``/``*.yml`` (recursive, sorted).

    Hidden files and directories (``.git``, ``.stagecfg``) are skipped. A file named twice is
    loaded once.
    """
    sources: list[Source] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        candidates: list[Source]
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(
                    Problem(
                        Location(raw),
                        "$",
                        "directory has no manifests (*.yaml or *.yml, searched recursively)",
                        suggestion="point at a manifest file or a directory containing one",
                    )
                )
            candidates = [Source(p, p.relative_to(path).as_posix()) for p in found]
        elif path.exists():
            candidates = [Source(path, path.name)]
        else:
            problems.append(
                Problem(
                    Location(raw),
                    "$",
                    "no such file or directory",
                    suggestion="check the path; a relative path starts from the current directory",
                )
            )
            continue
        for candidate in candidates:
            key = candidate.path.resolve()
            if key not in seen:
                seen.add(key)
                sources.append(candidate)
    return sources, problems


def display_path(path: Path) -> str:
    """The path as the user wrote it (directory sources keep the directory prefix given)."""
    return str(path)


# --- loading one file ----------------------------------------------------------------------------


class _Stop(Exception):
    """Abandon building a document (a cap was hit); the problem is already recorded."""


@dataclass
class _Builder:
    file: str
    env: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)
    nodes: int = 0
    aliases: int = 0
    seen: set[int] = field(default_factory=set)

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
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            # The composer hands out the anchored node again for every alias that names it.
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                self.problem(
                    node,
                    path,
                    f"aliases expand to more than {MAX_ALIASES:,} references (alias cap); "
                    "this looks like an alias bomb",
                )
                raise _Stop
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
            return text if is_key else self.substitute(text, node, path)
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
            return text if is_key else self.substitute(text, node, path)
        if text in ("", "~", "null", "Null", "NULL"):
            return None
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
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
        return text if is_key else self.substitute(text, node, path)

    def substitute(self, text: str, node: yaml.Node, path: str) -> str:
        if "$" not in text:
            return text
        value, errors = substitute_variables(text, self.env)
        for message, suggestion in errors:
            self.problem(node, path, message, suggestion=suggestion)
        return value


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


def substitute_variables(
    text: str, env: Mapping[str, str]
) -> tuple[str, list[tuple[str, str | None]]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; ``$${`` is a literal ``${``.

    The result is always a string, even when the value is one variable reference: "${PORT}" stays
    text, so a variable can never change a value's type behind the schema's back.
    """
    errors: list[tuple[str, str | None]] = []

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            errors.append(("unclosed variable reference '${'", "write ${NAME}, or $${ for text"))
            return whole
        name, sep, default = inner.partition(":-")
        if not _VAR_NAME.match(name):
            errors.append(
                (
                    f"bad variable name '{name}' in '{whole}'",
                    "names are letters, digits and _, not starting with a digit",
                )
            )
            return whole
        if name in env:
            if _SECRET_NAME.search(name):
                # Messages quote values (`'...' does not match ...`): mask this one wherever
                # the CLI prints it.
                register_secret(env[name], variable=name)
            return env[name]
        if sep:
            return default
        errors.append(
            (
                f"environment variable {name} is not set and has no default",
                f"set {name} or write ${{{name}:-default}}",
            )
        )
        return whole

    return _VARIABLE.sub(replace, text), errors


_SPLIT_HINT = "split it into several files; a directory of manifests is merged"


def _cap_mib() -> int:
    return MAX_FILE_BYTES // (1024 * 1024)


def _tab_in_indentation(text: str) -> tuple[int, int] | None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return number, indent.index("\t") + 1
    return None


def _prescan(text: str, file: str) -> Problem | None:
    """Check depth and alias count on the event stream before composing (which recurses)."""
    depth = 0
    aliases = 0
    nodes = 0
    # This walks every event of every file once more before composing, so it stays lean: the
    # parser is driven directly (no generator), events are told apart by exact type (PyYAML
    # never subclasses them) and marks are read only for the problem that is reported.
    loader = _Loader(text)
    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent or kind in _OPENING_EVENTS:
                nodes += 1
                if nodes > MAX_FILE_NODES:
                    return _cap_problem(
                        event,
                        file,
                        f"more than {MAX_FILE_NODES:,} values in one file (node cap)",
                        suggestion="split the manifests into several files",
                    )
            if kind in _OPENING_EVENTS:
                depth += 1
                if depth > MAX_DEPTH:
                    return _cap_problem(
                        event, file, f"nesting deeper than {MAX_DEPTH} levels (depth cap)"
                    )
            elif kind in _CLOSING_EVENTS:
                depth -= 1
            elif kind is yaml.AliasEvent:
                aliases += 1
                if aliases > MAX_ALIASES:
                    return _cap_problem(
                        event, file, f"more than {MAX_ALIASES:,} alias references (alias cap)"
                    )
            elif kind is yaml.StreamEndEvent or event is None:
                return None
    finally:
        loader.dispose()


_OPENING_EVENTS = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_CLOSING_EVENTS = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})


def _cap_problem(
    event: yaml.Event, file: str, message: str, *, suggestion: str | None = None
) -> Problem:
    """A size cap exceeded at ``event``; the whole document is the path."""
    mark = event.start_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return Problem(Location(file, line, col), "$", message, suggestion=suggestion)


#: (libyaml's context, problem) -> what usually fixes it.
_SYNTAX_HINTS: dict[tuple[str | None, str], str] = {
    ("while scanning a quoted scalar", "found unexpected end of stream"): "close the quote",
    (None, "mapping values are not allowed in this context"): (
        "quote a value that contains ': ', e.g. \"a: b\""
    ),
    ("while parsing a block mapping", "did not find expected key"): (
        "indent this line like the other keys of that mapping"
    ),
}


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    """A YAML syntax error at its place, with where the broken construct began."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    reason = (exc.problem or exc.context or "invalid YAML").strip()
    if reason == "but found another document":
        return Problem(
            Location(file, line, col),
            "$",
            "a second YAML document ('---'): a manifest file holds one document",
            suggestion="put each document in its own file; the files of a directory are merged",
        )
    message = f"invalid YAML: {reason}"
    start = exc.context_mark
    if exc.problem and exc.context and start is not None and start is not mark:
        where = (start.line + 1, start.column + 1)
        if where != (line, col):
            message += f" ({exc.context.strip()} that starts at line {where[0]}, col {where[1]})"
    hint = _SYNTAX_HINTS.get((exc.context, reason))
    return Problem(Location(file, line, col), "$", message, suggestion=hint)


def load(
    path: Path, *, env: Mapping[str, str], relative: str | None = None
) -> tuple[Document | None, list[Problem]]:
    """Read one manifest file into a :class:`Document`; problems instead of exceptions."""
    file = display_path(path)

    def fail(message: str, line: int = 1, col: int = 1, suggestion: str | None = None) -> Problem:
        return Problem(Location(file, line, col), "$", message, suggestion=suggestion)

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                fail(
                    f"file is {size:,} bytes, over the {_cap_mib()} MiB file size cap",
                    suggestion=_SPLIT_HINT,
                )
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [fail(f"cannot read file: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            fail(f"file is over the {_cap_mib()} MiB file size cap", suggestion=_SPLIT_HINT)
        ]
    if b"\0" in raw:
        nul = raw.index(b"\0")
        line = raw.count(b"\n", 0, nul) + 1
        col = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        return None, [
            fail(
                "binary file (contains NUL bytes), not a YAML manifest",
                line,
                col,
                "point stagecfg at YAML manifests only",
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            fail(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)",
                line,
                col,
                "save the file as UTF-8",
            )
        ]
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        return None, [fail("empty manifest", suggestion="a manifest starts with 'version: 1'")]
    try:
        early = _prescan(text, file)
        if early is not None:
            return None, [early]
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        tab = _tab_in_indentation(text)
        if tab is not None:
            return None, [
                fail("tab character in indentation", tab[0], tab[1], "indent with spaces")
            ]
        return None, [_syntax_problem(exc, file)]
    except yaml.reader.ReaderError as exc:
        # Not a MarkedYAMLError: it carries a character offset instead of a line and column.
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return None, [fail(f"invalid YAML: character U+{char:04X}: {exc.reason}", line, col)]
    except yaml.YAMLError as exc:
        return None, [fail(f"invalid YAML: {str(exc).splitlines()[0]}")]
    if root is None:
        return None, [fail("empty manifest", suggestion="a manifest starts with 'version: 1'")]
    builder = _Builder(file=file, env=env)
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        builder.problem(
            root,
            "$",
            f"the top level must be a mapping of version, project, users, call_types, calls; "
            f"found {kind}",
        )
        return None, builder.problems
    try:
        data = builder.build(root, "$", 0)
    except _Stop:
        return None, builder.problems
    except RecursionError:
        return None, [fail(f"nesting deeper than {MAX_DEPTH} levels (depth cap)")]
    doc = Document(
        path=file,
        data=data,
        raw=raw,
        relative=relative or path.name,
        keys=builder.keys,
        values=builder.values,
    )
    return doc, builder.problems


# --- merging -------------------------------------------------------------------------------------

RESOURCE_SECTIONS = ("users", "call_types", "calls")


def merge(documents: Sequence[Document]) -> tuple[Merged, list[Problem]]:
    """Union of the documents' resources; a resource in two places or two projects is an error."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    merged = Merged(data=data, documents=list(documents))
    project_from: Document | None = None
    for doc in documents:
        # First writer wins: resources are unique (duplicates are reported below), so only the
        # shared top-level paths ($, $.version, $.project, sections) can collide.
        for path, loc in doc.keys.items():
            merged.keys.setdefault(path, loc)
        for path, loc in doc.values.items():
            merged.values.setdefault(path, loc)
        version = doc.data.get("version")
        if "version" not in data:
            data["version"] = version
        if "project" in doc.data:
            project = doc.data["project"]
            if project_from is None:
                project_from = doc
                data["project"] = project
            elif project != data["project"]:
                first = project_from.locate("$.project")
                problems.append(
                    Problem(
                        doc.locate("$.project"),
                        "$.project",
                        f"project '{project}' differs from project '{data['project']}' "
                        f"set at {first}",
                        suggestion="every file must name the same project, or none",
                    )
                )
        for section in RESOURCE_SECTIONS:
            entries = doc.data.get(section)
            if not isinstance(entries, dict):
                continue
            target: dict[str, Any] = data.setdefault(section, {})
            for name, value in entries.items():
                path = child_path(f"$.{section}", name)
                if name in target:
                    first = merged.keys[path]
                    problems.append(
                        Problem(
                            doc.locate(path),
                            path,
                            f"{section[:-1].replace('_', ' ')} '{name}' is declared twice: "
                            f"here and at {first}",
                            suggestion="declare each resource in one place",
                        )
                    )
                    continue
                target[name] = value
    return merged, problems
