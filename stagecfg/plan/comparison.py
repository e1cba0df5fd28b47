"""Comparing what the manifests declare with what the backend has, and shaping request bodies.

Only what the manifests declare is compared, so server defaults never show up as a diff: the
actual object is cut down to the declared keys first (:func:`changed_paths`). Paths are tuples
of dict keys; a list counts as one value. :func:`settings_body` turns the changed paths back into
a request body that carries only the changed leaves (Stream merges them into what it has) plus
the keys Stream's request models require next to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.plan.changes import FieldChange
from stagecfg.schema_document import resolve


class _Missing:
    """A value the actual object does not have (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
#: What :func:`get_path` gives for a path the data does not have (distinct from JSON null).
MISSING = _MISSING


def _project(actual: Any, declared: Any) -> Any:
    """``actual`` cut down to the keys ``declared`` has (recursively through dicts)."""
    if not isinstance(declared, Mapping) or not isinstance(actual, Mapping):
        return actual
    return {k: _project(actual[k], v) for k, v in declared.items() if k in actual}


def get_path(data: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` (dict keys), or :data:`MISSING`."""
    return _get(data, tuple(path))


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _leaves(data: Any, prefix: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Leaf paths of nested dicts; lists and empty dicts are leaves."""
    if isinstance(data, Mapping) and data:
        for key in sorted(data):
            yield from _leaves(data[key], (*prefix, str(key)))
    else:
        yield prefix, data


def _deep_diff(before: Any, after: Any, **options: Any) -> Any:
    """DeepDiff, imported on first use: deepdiff (with the pydantic it loads) takes ~70 ms to
    import, and a plan whose objects all match (:func:`_same`) never needs it."""
    from deepdiff import DeepDiff

    return DeepDiff(before, after, ignore_numeric_type_changes=True, **options)


def changed_paths(declared: Any, actual: Any) -> list[tuple[str, ...]]:
    """Leaf paths where the declared value differs from the actual one (declared leaves only).

    DeepDiff finds the differences; a list counts as one value, so paths stop at the first index.
    """
    if _holds(actual, declared):
        return []
    projected = _project(actual, declared)
    diff = _deep_diff(projected, declared, view="tree")
    paths: set[tuple[str, ...]] = set()
    for items in diff.values():
        for item in items:
            raw = item.path(output_format="list")
            cut: list[str] = []
            for part in raw:
                if isinstance(part, int):
                    break
                cut.append(str(part))
            paths.add(tuple(cut))
    expanded: set[tuple[str, ...]] = set()
    for path in paths:
        value = _get(declared, path)
        if isinstance(value, Mapping) and value:
            # A whole sub-object missing on the backend: report each declared leaf.
            for leaf, _ in _leaves(value, path):
                if differs(_get(declared, leaf), _get(actual, leaf)):
                    expanded.add(leaf)
        else:
            expanded.add(path)
    return sorted(expanded)


def _holds(actual: Any, declared: Any) -> bool:
    """``_same(_project(actual, declared), declared)`` without building the projection.

    Every declared call is compared with its call type's declared settings on every plan, and
    building the projection first was most of a no-op plan's time.
    """
    if type(declared) is dict:
        if type(actual) is not dict:
            return False
        for key, value in declared.items():
            if key not in actual or not _holds(actual[key], value):
                return False
        return True
    return _same(actual, declared)


def _same(a: Any, b: Any) -> bool:
    """Identical JSON data, types included: then DeepDiff would find nothing.

    A cheap first check, since most objects in a plan are unchanged. It is stricter than
    DeepDiff (1 vs 1.0 or a tuple vs a list say "not the same" here), so anything it does not
    vouch for still goes to DeepDiff, and results are unchanged.
    """
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differs(after: Any, before: Any) -> bool:
    """Whether ``after`` (declared) is not what ``before`` (actual, or missing) holds."""
    if isinstance(before, _Missing):
        return True
    if _same(before, after):
        return False
    return bool(_deep_diff(before, after))


def _shown(value: Any) -> Any:
    # A field not there yet (or one a change removes) is shown as None, as FieldChange says;
    # _MISSING itself must never reach a plan's JSON.
    return None if isinstance(value, _Missing) else value


def field_changes(
    prefix: str, declared: Any, actual: Any, paths: Iterable[tuple[str, ...]]
) -> list[FieldChange]:
    """One :class:`FieldChange` per path, named ``prefix.path``, from actual to declared."""
    out = []
    for path in paths:
        dotted = ".".join((prefix, *path)) if prefix else ".".join(path)
        out.append(FieldChange(dotted, _shown(_get(actual, path)), _shown(_get(declared, path))))
    return out


def _nest(declared: Any, paths: Iterable[tuple[str, ...]]) -> Json:
    """Only ``paths`` of ``declared``, nested: the changed leaves, since Stream merges them."""
    out: Json = {}
    for path in paths:
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if path:
            node[path[-1]] = _get(declared, path)
    return out


def _with_required(nested: Json, declared: Any, node: Any) -> Json:
    """``nested`` plus, in every sub-object it sends, the declared keys the schema requires.

    Stream's request models require some keys (``audio.default_device``, ``ring.*_ms``...), so
    a body carrying only the changed leaf of such a sub-object would be refused.
    """
    node = resolve(node)
    if not isinstance(node, Mapping) or not isinstance(declared, Mapping):
        return nested
    props = node.get("properties") or {}
    out = dict(nested)
    for key, value in nested.items():
        if isinstance(value, dict) and key in props:
            out[key] = _with_required(value, declared.get(key), props[key])
    for key in node.get("required") or ():
        if key not in out and key in declared:
            out[key] = declared[key]
    return out


def settings_body(declared: Json, paths: list[tuple[str, ...]], schema_def: str) -> Json:
    """The request body for ``paths`` of ``declared``, as schema ``$defs/schema_def`` needs it."""
    nested = _nest(declared, paths)
    return _with_required(nested, declared, {"$ref": f"#/$defs/{schema_def}"})


def create_fields(prefix: str, value: Any) -> list[FieldChange]:
    """The fields a create shows for ``value``: each leaf from nothing (an empty dict is one)."""
    if isinstance(value, Mapping) and not value:
        return [FieldChange(prefix, None, {})]
    return [FieldChange(".".join((prefix, *path)), None, leaf) for path, leaf in _leaves(value, ())]
