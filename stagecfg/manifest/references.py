"""Where a file's ``${...}`` references are, and the pass that fills them in once values are known.

Typed variables are declared, and given values, in manifest files themselves (``variables:`` in a
base file, ``values:`` in an environment's file), so no reference can be resolved while one file
is being read. The YAML builder only records each string scalar that holds a ``$`` (its JSON
path, location and text): reading costs nothing more than that check. :func:`substitute` runs
after every file is loaded, once per environment, and gives the file's data with the references
filled in. It copies only the mappings and lists on the way to a reference, so the file's own
data, shared by every environment, is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stagecfg.errors import Location, Problem
from stagecfg.manifest.paths import child_path, split_path
from stagecfg.manifest.variables import Value, expand

#: Top-level keys whose text is taken as written: the variables' declarations and values, and the
#: environment's name, are what references are resolved with.
LITERAL_KEYS = ("environment", "values", "variables")
_LITERAL_PATHS = frozenset(f"$.{key}" for key in LITERAL_KEYS)
_LITERAL_PREFIXES = tuple(f"$.{key}{sep}" for key in LITERAL_KEYS for sep in (".", "["))


@dataclass(frozen=True)
class Reference:
    """A string scalar holding ``${...}``: where it is and what it says."""

    path: str
    location: Location
    text: str


def substitute(
    data: dict[str, Any],
    references: Sequence[Reference],
    env: Mapping[str, str],
    declared: Mapping[str, Value | None],
) -> tuple[dict[str, Any], list[Problem]]:
    """``data`` with every reference filled in (a copy where it changed), and the problems."""
    problems: list[Problem] = []
    root = dict(data) if references else data
    copied: set[int] = {id(root)}
    for ref in references:
        if ref.path in _LITERAL_PATHS or ref.path.startswith(_LITERAL_PREFIXES):
            continue
        value, errors = expand(ref.text, env, declared)
        for message, suggestion in errors:
            problems.append(Problem(ref.location, ref.path, message, suggestion=suggestion))
        if value is ref.text:
            continue
        _assign(root, ref, value, copied)
    return root, problems


def _assign(root: dict[str, Any], ref: Reference, value: Any, copied: set[int]) -> None:
    """Set the value at ``ref.path``, copying each container on the way the first time."""
    parts = split_path(ref.path)
    if not parts:
        return
    container: Any = root
    for depth, (part, written) in enumerate(parts):
        key = _key(container, part, written)
        if key is None:
            return
        if depth == len(parts) - 1:
            # A `<<` merge key records the merged-in text at the same path as the mapping's own
            # value; the mapping's own value wins, so only the text that is there is replaced.
            if container[key] == ref.text:
                container[key] = value
            return
        child = container[key]
        if not isinstance(child, (dict, list)):
            return
        if id(child) not in copied:
            child = dict(child) if isinstance(child, dict) else list(child)
            copied.add(id(child))
            container[key] = child
        container = child


def _key(container: Any, part: str | int, written: str) -> str | int | None:
    if isinstance(container, list):
        return part if isinstance(part, int) and 0 <= part < len(container) else None
    if not isinstance(container, dict):
        return None
    if part in container:
        return part
    # A key with a control character is written escaped in paths: match the written form.
    return next((k for k in container if child_path("", k) == written), None)
