"""Manifest files: which ones to load, and reading one of them into a :class:`Document`.

``collect_sources`` turns the paths given on the command line into files (a directory is
searched for ``*.yaml``/``*.yml``). ``load`` reads one file (a manifest, or a ``--var-file`` of
variable values), with every guard that must run before YAML sees it (size cap, NUL bytes,
UTF-8, empty file), pre-scans it, composes it and builds its data, with its ``${...}``
references recorded for later (:mod:`stagecfg.manifest.references`). The document keeps the
exact bytes read and a stable relative name, because the manifest digest
(:attr:`~stagecfg.manifest.merging.Merged.digest`) is computed over them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stagecfg.errors import Location, Problem
from stagecfg.manifest.caps import _SPLIT_HINT, MAX_DEPTH, MAX_FILE_BYTES, _cap_mib, _prescan
from stagecfg.manifest.loader import _Loader
from stagecfg.manifest.paths import _nearest
from stagecfg.manifest.references import Reference, substitute
from stagecfg.manifest.syntax import syntax_problem, tab_in_indentation
from stagecfg.manifest.yaml_data import _Builder, _Stop

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass
class Document:
    """One manifest file as plain data, with where each key and value was written."""

    path: str
    data: dict[str, Any]
    raw: bytes
    relative: str = ""
    keys: dict[str, Location] = field(default_factory=dict)  # JSON path -> location of its key
    values: dict[str, Location] = field(default_factory=dict)  # JSON path -> location of value
    #: strings holding ``${...}``, as written (``data`` holds them unfilled until substituted)
    references: list[Reference] = field(default_factory=list)

    def locate(self, path: str, *, value: bool = False) -> Location:
        """The best location for a JSON path: its key (or, with ``value``, the value itself),
        else the nearest parent's."""
        first, second = (self.values, self.keys) if value else (self.keys, self.values)
        found = _nearest(path, first, second)
        return Location(self.path, 1, 1) if found is None else found

    @property
    def environment(self) -> str | None:
        """The environment this file belongs to (top-level ``environment:``); None: a base file,
        loaded in every environment. A name that is not text is the schema's to report."""
        name = self.data.get("environment")
        return name if isinstance(name, str) else None

    def removed_at(self, path: str) -> Location | None:
        """Where an overlay removed ``path`` (``null``); a file's own data removes nothing."""
        return None


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


_CHUNK = 1024 * 1024

#: What a path that is not a regular file is, for the refusal (``stat.S_IFMT`` -> words).
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
}


#: How the refusals name what is read: manifests, or the files given to ``--var-file``.
_WORDS = {
    "manifest": ("manifests", "a manifest file or a directory of them", "manifest"),
    "var-file": ("variable files", "a YAML file of variable values", "variable file"),
}


def _read_bounded(
    path: Path, kind: str = "manifest"
) -> tuple[bytes, tuple[str, str | None] | None]:
    """The file's bytes, or (message, suggestion) when it is not a regular file under the cap.

    Opened without blocking (a FIFO with no writer would otherwise wait forever), checked on the
    open descriptor (no race with a rename), and read at most one byte past the cap (a file that
    grows, or a size that lies, cannot make the read unbounded).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return b"", (f"cannot read file: {exc.strerror or exc}", None)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            plural, point_at, _ = _WORDS[kind]
            what = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            return b"", (
                f"is {what}, not a regular file: {plural} are read from regular files only",
                f"point stagecfg at {point_at}",
            )
        if info.st_size > MAX_FILE_BYTES:
            return b"", (
                f"file is {info.st_size:,} bytes, over the {_cap_mib()} MiB file size cap",
                _SPLIT_HINT,
            )
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(_CHUNK, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return b"", (f"cannot read file: {exc.strerror or exc}", None)
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        return b"", (f"file is over the {_cap_mib()} MiB file size cap", _SPLIT_HINT)
    return b"".join(chunks), None


def display_path(path: Path) -> str:
    """The path as the user wrote it (directory sources keep the directory prefix given)."""
    return str(path)


def load(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    relative: str | None = None,
    kind: str = "manifest",
) -> tuple[Document | None, list[Problem]]:
    """Read one file into a :class:`Document`; problems instead of exceptions.

    ``kind`` is ``manifest`` or ``var-file`` (only the messages differ). The document's
    ``${...}`` references are left as written; with ``env`` they are filled in from it at once,
    as environment variables (a file read on its own has no typed variables).
    """
    doc, problems = _load(path, relative, kind)
    if doc is None or env is None or not doc.references:
        return doc, problems
    doc.data, more = substitute(doc.data, doc.references, env, {})
    return doc, problems + more


def _load(path: Path, relative: str | None, kind: str) -> tuple[Document | None, list[Problem]]:
    file = display_path(path)
    _, _, noun = _WORDS[kind]
    start = "a manifest starts with 'version: 1'" if kind == "manifest" else "write NAME: VALUE"

    def fail(message: str, line: int = 1, col: int = 1, suggestion: str | None = None) -> Problem:
        return Problem(Location(file, line, col), "$", message, suggestion=suggestion)

    raw, refusal = _read_bounded(path, kind)
    if refusal is not None:
        return None, [fail(refusal[0], suggestion=refusal[1])]
    if b"\0" in raw:
        nul = raw.index(b"\0")
        line = raw.count(b"\n", 0, nul) + 1
        col = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        return None, [
            fail(
                f"binary file (contains NUL bytes), not a YAML {noun}",
                line,
                col,
                f"point stagecfg at YAML {noun}s only",
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
        return None, [fail(f"empty {noun}", suggestion=start)]
    try:
        early, aliases = _prescan(text, file)
        if early is not None:
            return None, [early]
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        tab = tab_in_indentation(text)
        if tab is not None:
            return None, [
                fail("tab character in indentation", tab[0], tab[1], "indent with spaces")
            ]
        return None, [syntax_problem(exc, file, text)]
    except yaml.reader.ReaderError as exc:
        # Not a MarkedYAMLError: it carries a character offset instead of a line and column.
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return None, [fail(f"invalid YAML: character U+{char:04X}: {exc.reason}", line, col)]
    except yaml.YAMLError as exc:
        return None, [fail(f"invalid YAML: {str(exc).splitlines()[0]}")]
    if root is None:
        return None, [fail(f"empty {noun}", suggestion=start)]
    builder = _Builder(file=file, expanded=len(raw), repeats=aliases > 0)
    if not isinstance(root, yaml.MappingNode):
        found = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        expected = (
            "a mapping of version, project, users, call_types, calls"
            if kind == "manifest"
            else "a mapping of variable names to values"
        )
        builder.problem(root, "$", f"the top level must be {expected}; found {found}")
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
        references=builder.references,
    )
    return doc, builder.problems
