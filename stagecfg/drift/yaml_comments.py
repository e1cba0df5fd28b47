"""The comments of a YAML text, and the ones an edit would lose inside a flow collection.

The writer keeps every full-line comment by construction, and a block entry that goes takes its
own inline comment with it. What this guards is a flow collection written over several lines
with comments inside (``[a,  # why`` / ``b]``): writing it again (``[a]``) would drop the
comment without anyone deciding so. Such an edit is refused instead, so a reviewer never finds
a comment silently gone.
"""

from __future__ import annotations

import difflib
from collections import Counter

from ruamel.yaml import YAML
from ruamel.yaml import tokens as tk
from ruamel.yaml.error import YAMLError

from stagecfg.drift.yaml_tree import Tree, walk


def comments(text: str) -> list[tuple[int, str]]:
    """``(line, comment)`` for every comment in ``text`` (1-based lines, the ``#`` included):
    a ``#`` at a line's start or after a space or tab, outside every scalar's text."""
    try:
        tokens = list(YAML().scan(text))
    except YAMLError:
        return []
    spans = sorted(
        (t.start_mark.index, t.end_mark.index) for t in tokens if isinstance(t, tk.ScalarToken)
    )
    found: list[tuple[int, str]] = []
    line_start = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        for col, char in enumerate(line):
            if char != "#" or (col and line[col - 1] not in " \t"):
                continue
            index = line_start + col
            if any(start <= index < end for start, end in spans):
                continue
            found.append((number, line[col:].rstrip("\r\n")))
            break
        line_start += len(line)
    return found


def flow_lines(tree: Tree) -> set[int]:
    """The lines of every flow collection written over more than one line."""
    lines: set[int] = set()
    for node in walk(tree.root):
        if node.flow and node.kind in ("map", "seq"):
            last = tree.line_of(max(node.end - 1, node.start))
            if last > node.line:
                lines.update(range(node.line, last + 1))
    return lines


def lost_comments(before: str, after: str, watched: set[int]) -> list[tuple[int, str]]:
    """The comments on ``watched`` lines of ``before`` that ``after`` no longer has, but for
    those whose whole line is gone."""
    if not watched:
        return []
    candidates = [(line, c) for line, c in comments(before) if line in watched]
    if not candidates:
        return []
    remaining = Counter(comment for _, comment in comments(after))
    old_lines = before.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, after.splitlines(), autojunk=False)
    gone = {
        line + 1
        for tag, first, last, _, _ in matcher.get_opcodes()
        if tag == "delete"
        for line in range(first, last)
    }
    lost = []
    for line, comment in candidates:
        if remaining[comment] > 0:
            remaining[comment] -= 1
        elif line not in gone:
            lost.append((line, comment))
    return lost
