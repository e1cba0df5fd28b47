"""The JSON shape of a saved plan, checked field by field before anything reads it.

A saved plan is a file anyone can edit, so nothing in it is trusted to have the type it should:
``bool("false")`` is true and ``tuple("calltype:x")`` is nine targets. Each reader here checks
one part and raises :class:`ShapeError` naming the field (``changes[2].stage``) and what it must
be; :mod:`stagecfg.savedplan` turns that into a one-line refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stagecfg.errors import Location
from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, KIND_USER, Json
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    FieldChange,
    Note,
    Plan,
)

KINDS = (KIND_USER, KIND_CALL_TYPE, KIND_CALL)
ACTIONS = (ACTION_CREATE, ACTION_UPDATE, ACTION_DELETE, ACTION_GO_LIVE, ACTION_STOP_LIVE)
SUMMARY_KEYS = ("create", "update", "delete", "live")

#: The keys of a saved plan's top level once its secret placeholders are restored.
TOP_LEVEL_KEYS = frozenset(
    {
        "kind",
        "format_version",
        "backend",
        "manifests",
        "options",
        "managed",
        "summary",
        "changes",
        "notes",
        "fingerprints",
    }
)


#: The keys of ``manifests`` (True: required); the selection keys are written only when used.
MANIFESTS_KEYS = {
    "digest": True,
    "sources": True,
    "files": True,
    "environment": False,
    "vars": False,
    "var_files": False,
}


class ShapeError(ValueError):
    """A field of the saved plan is missing or has the wrong type; ``field`` names it."""

    def __init__(self, field: str, expected: str, value: Any = None, *, missing: bool = False):
        self.field = field
        got = "missing" if missing else f"not {_type_name(value)}"
        super().__init__(f"{field} must be {expected}, {got}")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def obj(value: Any, field: str, keys: Mapping[str, bool]) -> dict[str, Any]:
    """``value`` as a JSON object whose keys are among ``keys`` (True: required)."""
    if not isinstance(value, dict):
        raise ShapeError(field, "an object", value)
    for key, required in keys.items():
        if required and key not in value:
            raise ShapeError(f"{field}.{key}" if field else key, "present", missing=True)
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        where = f"{field}.{unknown[0]}" if field else unknown[0]
        raise ShapeError(where, "absent (not a field of a saved plan)", value[unknown[0]])
    return value


def text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ShapeError(field, "a string", value)
    return value


def optional_text(value: Any, field: str) -> str | None:
    return None if value is None else text(value, field)


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ShapeError(field, "true or false", value)
    return value


def count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ShapeError(field, "a whole number of at least 0", value)
    return value


def texts(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ShapeError(field, "a list of strings", value)
    return tuple(text(item, f"{field}[{i}]") for i, item in enumerate(value))


def assignments(value: Any, field: str) -> tuple[tuple[str, str], ...]:
    """``["NAME=VALUE", ...]`` (each ``--var`` as given) -> ``(("NAME", "VALUE"), ...)``."""
    pairs = []
    for index, item in enumerate(texts(value, field)):
        name, sep, rest = item.partition("=")
        if not sep or not name:
            raise ShapeError(f"{field}[{index}]", "NAME=VALUE", item)
        pairs.append((name, rest))
    return tuple(pairs)


def one_of(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ShapeError(field, "one of " + ", ".join(allowed), value)
    result: str = value
    return result


def _location(value: Any, field: str) -> Location | None:
    if value is None:
        return None
    data = obj(value, field, {"file": True, "line": True, "col": True})
    return Location(
        text(data["file"], f"{field}.file"),
        count(data["line"], f"{field}.line"),
        count(data["col"], f"{field}.col"),
    )


def _field_change(value: Any, field: str) -> FieldChange:
    data = obj(value, field, {"path": True, "before": True, "after": True, "location": False})
    return FieldChange(
        text(data["path"], f"{field}.path"),
        data["before"],
        data["after"],
        _location(data.get("location"), f"{field}.location"),
    )


_CHANGE_KEYS = {
    "kind": True,
    "name": True,
    "action": True,
    "stage": True,
    "body": True,
    "fields": True,
    "location": False,
    "disruptive": True,
    "reason": True,
}


def change(value: Any, field: str) -> Change:
    data = obj(value, field, _CHANGE_KEYS)
    body = data["body"]
    if not isinstance(body, dict):
        raise ShapeError(f"{field}.body", "an object", body)
    fields = data["fields"]
    if not isinstance(fields, list):
        raise ShapeError(f"{field}.fields", "a list", fields)
    return Change(
        kind=one_of(data["kind"], f"{field}.kind", KINDS),
        name=text(data["name"], f"{field}.name"),
        action=one_of(data["action"], f"{field}.action", ACTIONS),
        stage=count(data["stage"], f"{field}.stage"),
        body=body,
        fields=tuple(_field_change(f, f"{field}.fields[{i}]") for i, f in enumerate(fields)),
        location=_location(data.get("location"), f"{field}.location"),
        disruptive=flag(data["disruptive"], f"{field}.disruptive"),
        reason=text(data["reason"], f"{field}.reason"),
    )


def note(value: Any, field: str) -> Note:
    data = obj(value, field, {"kind": True, "name": True, "message": True, "location": False})
    return Note(
        kind=text(data["kind"], f"{field}.kind"),
        name=text(data["name"], f"{field}.name"),
        message=text(data["message"], f"{field}.message"),
        location=_location(data.get("location"), f"{field}.location"),
    )


def _items(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(field, "a list", value)
    return value


def plan(data: Json) -> Plan:
    """The plan part of a saved plan's top level (changes, notes, options, counts)."""
    options = obj(data["options"], "options", {"prune": True, "targets": True, "project": True})
    summary = obj(data["summary"], "summary", dict.fromkeys(SUMMARY_KEYS, True))
    for key in SUMMARY_KEYS:
        # Recomputed from the changes, never read; checked so a junk file is refused whole.
        count(summary[key], f"summary.{key}")
    prints = data["fingerprints"]
    if not isinstance(prints, dict):
        raise ShapeError("fingerprints", "an object", prints)
    return Plan(
        changes=tuple(
            change(c, f"changes[{i}]") for i, c in enumerate(_items(data["changes"], "changes"))
        ),
        notes=tuple(note(n, f"notes[{i}]") for i, n in enumerate(_items(data["notes"], "notes"))),
        fingerprints={k: text(v, f"fingerprints.{k}") for k, v in prints.items()},
        prune=flag(options["prune"], "options.prune"),
        targets=texts(options["targets"], "options.targets"),
        project=optional_text(options["project"], "options.project"),
        managed=count(data["managed"], "managed"),
    )
