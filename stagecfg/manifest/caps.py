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
#: Scalar bytes of one file once every alias is expanded. A file without aliases holds at most
#: its own size, so aliases may not make a document bigger than the largest file that loads:
#: a 4 MB string named by 999 aliases is 4 GB for every later step that copies or serialises it.
MAX_EXPANDED_BYTES = MAX_FILE_BYTES
MAX_ALIASES = 1_000
MAX_NODES = 1_000_000
#: Nodes written in one file, which bounds the memory of composing and building it (measured:
#: ~600 bytes a node, so ~0.35 GB at the cap). An ordinary manifest has a node per ~11 bytes
#: (20,000 calls are 364,000 nodes in 3.9 MB), so every ordinary file under the size cap stays
#: below it; only a file of nothing but tiny values (``[0,0,0,...]``) reaches it.
MAX_FILE_NODES = 600_000
MAX_DEPTH = 64
#: Characters of the JSON paths of one file's values (``$.calls['x:y'].custom.title``): each
#: located value keeps its path, so long keys nested deep would cost memory per value even
#: without aliases. An ordinary manifest has ~4 path bytes per file byte; this allows 32.
MAX_PATH_BYTES = 32 * MAX_FILE_BYTES

_SPLIT_HINT = "split it into several files; a directory of manifests is merged"


def _cap_mib() -> int:
    return MAX_FILE_BYTES // (1024 * 1024)


def _prescan(text: str, file: str) -> tuple[Problem | None, int]:
    """Check depth and alias count on the event stream before composing (which recurses).

    Returns the first cap exceeded, if any, and the number of aliases: a file without any
    cannot repeat a node, so building it needs no alias bookkeeping.
    """
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
                    return _cap(
                        event,
                        file,
                        f"more than {MAX_FILE_NODES:,} values in one file (node cap)",
                        suggestion=_SPLIT_HINT,
                    )
            if kind in _OPENING_EVENTS:
                depth += 1
                if depth > MAX_DEPTH:
                    return _cap(event, file, f"nesting deeper than {MAX_DEPTH} levels (depth cap)")
            elif kind in _CLOSING_EVENTS:
                depth -= 1
            elif kind is yaml.AliasEvent:
                aliases += 1
                if aliases > MAX_ALIASES:
                    return _cap(
                        event, file, f"more than {MAX_ALIASES:,} alias references (alias cap)"
                    )
            elif kind is yaml.StreamEndEvent or event is None:
                return None, aliases
    finally:
        loader.dispose()


_OPENING_EVENTS = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_CLOSING_EVENTS = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})


def _cap(
    event: yaml.Event, file: str, message: str, *, suggestion: str | None = None
) -> tuple[Problem, int]:
    return _cap_problem(event, file, message, suggestion=suggestion), 0


def _cap_problem(
    event: yaml.Event, file: str, message: str, *, suggestion: str | None = None
) -> Problem:
    """A size cap exceeded at ``event``; the whole document is the path."""
    mark = event.start_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return Problem(Location(file, line, col), "$", message, suggestion=suggestion)
