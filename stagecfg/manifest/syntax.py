"""YAML syntax errors turned into problems at the line the user has to change, with a hint.

libyaml reports where parsing broke, which is not always where the mistake is: a key indented too
deep is accepted, and the error comes at the next key, which is indented right. The common cases
are recognised from the text around the error and reported at their cause.
"""

from __future__ import annotations

from collections import Counter

import yaml

from stagecfg.errors import Location, Problem

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
_FLOW_CONTEXTS = ("while parsing a flow mapping", "while parsing a flow sequence")
#: Characters that end a plain scalar inside {...} or [...].
_FLOW_STOPS = frozenset(" ,[]{}")


def tab_in_indentation(text: str) -> tuple[int, int] | None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return number, indent.index("\t") + 1
    return None


def syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str) -> Problem:
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
    lines = text.splitlines()
    if mark is not None:
        known = (
            _too_deep(exc, lines, file)
            or _deeper_than_value(exc, lines, file)
            or _unquoted_variable(exc, lines, file)
        )
        if known is not None:
            return known
    message = f"invalid YAML: {reason}"
    start = exc.context_mark
    if exc.problem and exc.context and start is not None and start is not mark:
        where = (start.line + 1, start.column + 1)
        if where != (line, col):
            message += f" ({exc.context.strip()} that starts at line {where[0]}, col {where[1]})"
    hint = _SYNTAX_HINTS.get((exc.context, reason))
    return Problem(Location(file, line, col), "$", message, suggestion=hint)


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_column(line: str) -> int:
    """Where a line's key starts, after any ``- `` of the sequence items it opens."""
    column = _indent(line)
    while line.startswith("- ", column):
        column += 2
        column += _indent(line[column:])
    return column


def _indent_step(lines: list[str], skip: int) -> int | None:
    """The file's usual indentation: the most common step from a key to its first child line
    (the fewest spaces on a tie), leaving out the step into line ``skip``."""
    steps: Counter[int] = Counter()
    previous: str | None = None
    for number, line in enumerate(lines):
        if not _content(line):
            continue
        if previous is not None and number != skip:
            step = _indent(line) - _key_column(previous)
            if step > 0:
                steps[step] += 1
        previous = line
    if not steps:
        return None
    return min(steps, key=lambda step: (-steps[step], step))


def _too_deep(exc: yaml.MarkedYAMLError, lines: list[str], file: str) -> Problem | None:
    """A block of keys indented deeper than the key after it, e.g. ``name`` here::

        john:
            name: John
          role: user

    YAML accepts ``name`` as the start of a deeper mapping and breaks only at ``role``. When the
    file's own indentation step says ``role`` is where it should be, ``name`` is the mistake.
    """
    mark = exc.problem_mark
    if (
        mark is None
        or (exc.context, exc.problem)
        != ("while parsing a block mapping", "did not find expected key")
        or mark.line >= len(lines)
    ):
        return None
    column = mark.column
    parent = next(
        (
            number
            for number in range(mark.line - 1, -1, -1)
            if _content(lines[number]) and _indent(lines[number]) < column
        ),
        None,
    )
    if parent is None:
        return None
    block = [n for n in range(parent + 1, mark.line) if _content(lines[n])]
    if not block:
        return None
    first = block[0]
    deep = _indent(lines[first])
    parent_column = _key_column(lines[parent])
    step = _indent_step(lines, first)
    if step is None or deep <= column or deep - parent_column == step:
        return None
    if column - parent_column != step:
        return None
    siblings = [n for n in block if _indent(lines[n]) == deep]
    which = f"line {first + 1}" if len(siblings) == 1 else f"lines {first + 1}-{siblings[-1] + 1}"
    return Problem(
        Location(file, first + 1, deep + 1),
        "$",
        f"invalid YAML: this key is indented deeper (col {deep + 1}) than the next key of its "
        f"mapping at line {mark.line + 1} (col {column + 1})",
        suggestion=f"indent {which} to col {column + 1}, like the other keys of that mapping",
    )


def _deeper_than_value(exc: yaml.MarkedYAMLError, lines: list[str], file: str) -> Problem | None:
    """A key indented deeper than the ``key: value`` line above it, e.g. ``name`` here::

        role: user
          name: John

    YAML reads the deeper line as more of ``user`` and breaks at ``name``'s colon, which the
    generic hint would have the user quote.
    """
    mark = exc.problem_mark
    if (
        mark is None
        or exc.context is not None
        or exc.problem != "mapping values are not allowed in this context"
        or mark.line >= len(lines)
    ):
        return None
    line = lines[mark.line]
    deep = _indent(line)
    if ":" in line[deep : mark.column] or deep >= mark.column:
        return None  # the colon is not the one after this line's first word
    above = next((n for n in range(mark.line - 1, -1, -1) if _content(lines[n])), None)
    if above is None:
        return None
    previous = lines[above]
    column = _key_column(previous)
    key, colon, value = previous[column:].partition(": ")
    value = value.strip()
    if not colon or column >= deep or not value or value[0] in "\"'{[|>&*!#" or ":" in key:
        return None
    return Problem(
        Location(file, mark.line + 1, deep + 1),
        "$",
        f"invalid YAML: this key is indented deeper (col {deep + 1}) than '{key}' above it, so "
        f"YAML reads it as more of the value of '{key}'",
        suggestion=f"indent it to col {column + 1} like '{key}', or quote the value of '{key}' "
        "if the text goes on",
    )


def _unquoted_variable(exc: yaml.MarkedYAMLError, lines: list[str], file: str) -> Problem | None:
    """``{name: ${NAME}}``: inside {...} or [...] YAML reads the ``{`` of ``${`` as syntax."""
    mark = exc.problem_mark
    if mark is None or exc.context not in _FLOW_CONTEXTS or mark.line >= len(lines):
        return None
    line, column = lines[mark.line], mark.column
    if not (0 < column < len(line) and line[column - 1 : column + 1] == "${"):
        return None
    start = column - 1
    while start > 0 and line[start - 1] not in _FLOW_STOPS:
        start -= 1
    close = line.find("}", column)
    if close < 0:
        return None
    end = close + 1
    while end < len(line) and line[end] not in _FLOW_STOPS:
        end += 1
    value = line[start:end]
    bracket = "{...}" if exc.context == _FLOW_CONTEXTS[0] else "[...]"
    return Problem(
        Location(file, mark.line + 1, start + 1),
        "$",
        f"invalid YAML: unquoted variable '{value}' inside {bracket}: YAML reads its '{{' as the "
        "start of a mapping",
        suggestion=f'quote the value: "{value}"',
    )
