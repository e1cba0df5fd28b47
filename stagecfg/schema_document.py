"""The manifest JSON Schema the package ships, read once, and its ``$ref`` lookup.

Three readers share the one document: the validator (:mod:`stagecfg.schema`), the planner (a
request body carries the keys the schema requires) and export (settings cut down to what the
schema accepts). The document is cached and shared, so callers only read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load_schema() -> dict[str, Any]:
    """The packaged schema (byte-identical to ``schemas/stagecfg.schema.json``)."""
    text = files("stagecfg").joinpath("stagecfg.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


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
