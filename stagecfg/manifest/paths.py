"""JSON paths (``$.calls['x:y'].settings``): how manifest values are named and located.

Every problem names the value it is about by a JSON path, and every loaded document maps the JSON
paths it holds to the file:line:col where they were written. The helpers here build and take
apart those paths and find the nearest recorded location of one. They need no YAML, so they sit
at the bottom of the package: every other manifest module (and schema, checks, pipeline) uses
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from stagecfg.errors import Location

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def child_path(parent: str, key: str | int) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; other keys use brackets: ``$.calls['x:y']``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _IDENT.fullmatch(key):
        return f"{parent}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    if not escaped.isprintable():
        # A path is shown in one-line messages: a newline in a key is written \n.
        escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped)
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


_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")
_UNESCAPE = re.compile(r"\\(.)")


def split_path(path: str) -> list[tuple[str | int, str]] | None:
    """``$.calls['x:y'].members`` -> ``[("calls", ".calls"), ("x:y", "['x:y']"), ...]``.

    The inverse of :func:`child_path`: each part with the text it was written as, because a key
    holding a non-printable character is written escaped and cannot be read back exactly (its
    caller then matches the written text). None when ``path`` is not one of ours.
    """
    if not path.startswith("$"):
        return None
    parts: list[tuple[str | int, str]] = []
    index = 1
    while index < len(path):
        match = _PART.match(path, index)
        if match is None:
            return None
        name, number, quoted = match.groups()
        if name is not None:
            parts.append((name, match.group(0)))
        elif number is not None:
            parts.append((int(number), match.group(0)))
        else:
            parts.append((_UNESCAPE.sub(r"\1", quoted), match.group(0)))
        index = match.end()
    return parts


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
