"""The manifest JSON Schema the package ships, read once, and its ``$ref`` lookup.

Three readers share the one document: the validator (:mod:`stagecfg.schema`), the planner (a
request body carries the keys the schema requires) and export (settings cut down to what the
schema accepts). The document is cached and shared, so callers only read it.

The shipped file is written for editors: every integer, number and boolean field there also
accepts a reference to a typed variable (``max_participants: ${max_viewers}``), which only
becomes a number once stagecfg fills it in. stagecfg itself checks the data after that, so
:func:`load_schema` gives the schema without those alternatives
(:func:`strip_variable_references`): an unfilled ``${...}`` is a string where a number belongs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

#: The definition the editor schema offers, beside every typed field, for ``${variable}``.
VARIABLE_REFERENCE = "VariableReference"
_REFERENCE = {"$ref": f"#/$defs/{VARIABLE_REFERENCE}"}


@cache
def load_schema() -> dict[str, Any]:
    """The packaged schema as stagecfg checks data with: ``schemas/stagecfg.schema.json``
    (byte-identical to the package's copy) without the variable-reference alternatives."""
    return strip_variable_references(published_schema())


def published_schema() -> dict[str, Any]:
    """The packaged schema file as editors read it."""
    text = files("stagecfg").joinpath("stagecfg.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def strip_variable_references(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``anyOf: [X, {$ref: VariableReference}]`` replaced by X (the node's
    own keys, such as its description, kept) and that definition removed (a new copy)."""

    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(item) for item in node]
        if not isinstance(node, dict):
            return node
        options = node.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and options[1] == _REFERENCE:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**rest, **strip(options[0])}
        return {k: strip(v) for k, v in node.items()}

    stripped: dict[str, Any] = strip(schema)
    stripped.get("$defs", {}).pop(VARIABLE_REFERENCE, None)
    return stripped


def resolve(node: Any, root: Mapping[str, Any] | None = None) -> Any:
    """``node`` with its ``$ref`` chain followed inside ``root`` (default: the packaged schema);
    a reference to nothing resolves to ``{}``."""
    if root is None:
        root = load_schema()
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
    return node
