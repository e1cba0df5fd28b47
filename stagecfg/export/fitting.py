"""Settings as the manifest schema takes them, and the leaves where two such settings differ.

Both halves of a minimal export: what a backend answers is cut down to what a manifest may
declare (:func:`fit_to_schema`), then only what differs from a baseline is kept
(:func:`changed_leaves`): Stream's built-in defaults for a call type, or the call type's current
settings for a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stagecfg.model import Json
from stagecfg.schema_document import load_schema, resolve


def fit_to_schema(value: Any, node: Any, root: Json) -> Any:
    """``value`` without nulls and without keys the schema node does not allow."""
    node = resolve(node, root)
    if isinstance(value, Mapping):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties", True)
        out: Json = {}
        for key in sorted(value):
            item = value[key]
            if item is None:
                continue
            if key in props:
                out[key] = fit_to_schema(item, props[key], root)
            elif isinstance(extra, Mapping):
                out[key] = fit_to_schema(item, extra, root)
            elif extra is not False:
                out[key] = item
        return out
    if isinstance(value, list):
        items = node.get("items")
        if isinstance(items, Mapping):
            return [fit_to_schema(v, items, root) for v in value if v is not None]
        return list(value)
    return value


def fit(value: Any, schema_def: str) -> Any:
    """:func:`fit_to_schema` against the manifest schema's ``$defs/schema_def``."""
    root = load_schema()
    return fit_to_schema(value, root["$defs"][schema_def], root)


class _Same:
    """No difference (distinct from any JSON value, ``{}`` included)."""


SAME: Any = _Same()


def _changed(effective: Any, base: Any, node: Any, root: Json) -> Any:
    node = resolve(node, root)
    if not (isinstance(effective, Mapping) and isinstance(base, Mapping)):
        return SAME if effective == base else effective
    props = (node.get("properties") or {}) if isinstance(node, Mapping) else {}
    out: Json = {}
    for key in sorted(effective):
        if key not in base:
            out[key] = effective[key]
            continue
        sub = _changed(effective[key], base[key], props.get(key, {}), root)
        if sub is not SAME:
            out[key] = sub
    if not out:
        return SAME
    # A sub-object that is kept also keeps the keys its schema requires (e.g. ``audio`` needs
    # ``default_device``), so the exported part stays a valid manifest.
    for key in (node.get("required") or ()) if isinstance(node, Mapping) else ():
        if key in effective and key not in out:
            out[key] = effective[key]
    return dict(sorted(out.items()))


def changed_leaves(effective: Any, base: Any, schema_def: str) -> Json | None:
    """The parts of ``effective`` that differ from ``base`` (lists and scalars whole), or None.

    Both are already fitted to ``$defs/schema_def``. Merged over ``base`` as Stream merges a
    settings request, the result gives ``effective`` back; a key only ``base`` has is not
    reported (no settings request can remove one).
    """
    root = load_schema()
    out = _changed(effective, base, root["$defs"][schema_def], root)
    return None if out is SAME or not out else dict(out)
