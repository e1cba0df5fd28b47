"""The size caps on a manifest file, and the pre-scan that enforces them before composing.

Hostile or mistaken input (a huge file, an alias bomb, nesting thousands deep) must end in one
clear problem, never in a MemoryError, a RecursionError or minutes of work. So the file size is
checked before reading, and values, nesting and alias references are counted on the YAML event
stream before PyYAML composes a node tree (its composer recurses and keeps every node). What
only expansion reveals (aliases multiplying nodes) is counted while building the data, in
``yaml_data``, against the same caps. The numbers live here so every check and message quotes
the same ones.
"""

from __future__ import annotations

import yaml

from stagecfg.errors import Location, Problem
from stagecfg.manifest.loader import _Loader

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ALIASES = 1_000
MAX_NODES = 1_000_000
#: Nodes written in one file. Composing costs about 600 bytes a node, so this keeps a file
#: within ~150 MB before any alias is expanded; real manifests stay far below it.
MAX_FILE_NODES = 250_000
MAX_DEPTH = 64

_SPLIT_HINT = "split it into several files; a directory of manifests is merged"


def _cap_mib() -> int:
    return MAX_FILE_BYTES // (1024 * 1024)


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
