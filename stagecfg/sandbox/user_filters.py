"""QueryUsers' filter and sort, compiled to SQL over the ``users`` table.

The fields and the operators each takes are the spec's (``QueryUsersPayload.filter_conditions``
lists them in ``x-stream-filter-fields``), held in :data:`USER_FIELDS`. A key that names no
built-in field is a custom field, as Stream documents ("filter and sort on the custom fields
you've set"): ``{"country": "NL"}`` matches ``custom.country``. Conditions combine with
``$and``, ``$or`` and ``$nor``; several keys in one object must all hold.

Choices where Stream's behaviour is not documented:

* ``$autocomplete`` matches a value that starts with the text, or has a word (after a space)
  that does, ignoring ASCII case.
* ``teams`` takes a team name: ``$eq`` and ``$contains`` match users in that team, ``$in`` users
  in any of the listed teams, and ``teams: null`` users in no team.
* A custom field compares only with values of its own JSON type (a number never equals a
  string); ``$contains`` matches a custom array holding the value.
* ``banned``, ``shadow_banned`` and ``bypass_moderation`` are false and ``last_active`` is unset
  for every sandbox user (it has no moderation and no connections).
* Without ``sort``, users come newest first (``created_at`` then ``id``, both descending, as
  Stream documents); ``id`` always ends the order, so pages neither repeat nor skip a user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stagecfg.sandbox import query
from stagecfg.sandbox.query import QueryError

_TEXT = "text"
# The kinds query.typed_value converts operands for.
_BOOL = query.BOOL
_TIME = query.TIME
_TEAMS = "teams"
_CUSTOM = "custom"

_ORDERED = ("$eq", "$gt", "$gte", "$lt", "$lte", "$in", "$exists")


@dataclass(frozen=True)
class UserField:
    """A filterable field: its SQL expression, value kind and the operators Stream accepts."""

    sql: str
    kind: str
    operators: frozenset[str]


def _field(sql: str, kind: str, *operators: str) -> UserField:
    return UserField(sql, kind, frozenset(operators))


def _data(path: str) -> str:
    return f"json_extract(users.data, '{path}')"


#: The built-in fields of QueryUsersPayload's filter, with the spec's operators for each.
USER_FIELDS: Mapping[str, UserField] = {
    "id": _field("users.id", _TEXT, *_ORDERED, "$autocomplete", "$ne", "$nin"),
    "role": _field("users.role", _TEXT, *_ORDERED),
    "name": _field(_data("$.name"), _TEXT, *_ORDERED, "$autocomplete"),
    "language": _field(f"COALESCE({_data('$.language')}, '')", _TEXT, "$eq"),
    "teams": _field("", _TEAMS, "$eq", "$contains", "$in"),
    "banned": _field("0", _BOOL, "$eq", "$ne"),
    "shadow_banned": _field("0", _BOOL, "$eq", "$ne"),
    "bypass_moderation": _field("0", _BOOL, "$eq", "$ne"),
    "created_at": _field("users.created_at", _TIME, *_ORDERED),
    "updated_at": _field("users.updated_at", _TIME, *_ORDERED),
    "last_active": _field("NULL", _TIME, *_ORDERED),
    # Not UserRequest fields: in the sandbox they are custom data, with the spec's operators.
    "email": _field("", _CUSTOM, "$eq", "$in"),
    "username": _field("", _CUSTOM, "$eq", "$autocomplete"),
}
#: Operators of a custom field (the spec's ``custom`` entry).
CUSTOM_OPERATORS = frozenset({"$contains", "$eq", "$exists", "$gt", "$gte", "$in", "$lt", "$lte"})
#: Fields a sort may name besides custom ones.
SORT_FIELDS: Mapping[str, str] = {
    "id": "users.id",
    "created_at": "users.created_at",
    "updated_at": "users.updated_at",
    "name": _data("$.name"),
    "role": "users.role",
    "last_active": "NULL",
}
MAX_SORT = 5  # QueryUsersPayload.sort: maxItems 5
#: Values a custom ``$in`` may list (each is a typed comparison of its own).
MAX_CUSTOM_VALUES = 100
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
#: A custom field name that fits a JSON path between double quotes.
_CUSTOM_KEY = re.compile(r'[^"\\\x00-\x1f]{1,255}')


def _custom_path(key: str) -> str:
    if not _CUSTOM_KEY.fullmatch(key):
        raise QueryError(f"cannot filter or sort on custom field {key[:80]!r}")
    return f'$.custom."{key}"'


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise QueryError(f"{name[:80]} expects a string, got {value!r:.80}")
    return value


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _autocomplete(sql: str, name: str, value: Any, params: list[object]) -> str:
    text = _like(_text(name, value))
    params.extend([f"{text}%", f"% {text}%"])
    return f"({sql} LIKE ? ESCAPE '\\' OR {sql} LIKE ? ESCAPE '\\')"


def _scalar(name: str, field: UserField, value: Any) -> object:
    # The user fields share the calls' kinds ("bool", "time", text), so one conversion serves.
    return query.typed_value(name, field.kind, value)


def _builtin(name: str, field: UserField, op: str, operand: Any, params: list[object]) -> str:
    sql = field.sql
    if op == "$exists":
        if not isinstance(operand, bool):
            raise QueryError(f"{name}.$exists expects true or false")
        return f"{sql} IS {'NOT ' if operand else ''}NULL"
    if op == "$autocomplete":
        return _autocomplete(sql, name, operand, params)
    if op in ("$eq", "$ne") and operand is None:
        return f"{sql} IS {'NOT ' if op == '$ne' else ''}NULL"
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise QueryError(f"{name}.{op} expects a list")
        values = [_scalar(name, field, v) for v in operand]
        return query.in_clause(sql, values, params, negate=op == "$nin")
    params.append(_scalar(name, field, operand))
    if op == "$eq":
        return f"{sql} = ?"
    if op == "$ne":
        return f"{sql} IS NOT ?"
    return f"{sql} {_COMPARE[op]} ?"


def _teams(op: str, operand: Any, params: list[object]) -> str:
    if op == "$eq" and operand is None:
        return "COALESCE(json_array_length(users.data, '$.teams'), 0) = 0"
    values = operand if op == "$in" else [operand]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        wanted = "a list of team names" if op == "$in" else "a team name"
        raise QueryError(f"teams.{op} expects {wanted}")
    inner = query.in_clause("value", list(values), params, negate=False)
    return f"EXISTS (SELECT 1 FROM json_each(users.data, '$.teams') WHERE {inner})"


def _json_kind(value: Any) -> tuple[str, object]:
    """(the SQL ``json_type`` condition, the bound value) of a custom field's operand."""
    if isinstance(value, bool):
        return f"IN ('{'true' if value else 'false'}')", None
    if isinstance(value, (int, float)):
        return "IN ('integer', 'real')", value
    if isinstance(value, str):
        return "= 'text'", value
    raise QueryError(f"a custom field compares with a string, number or boolean, got {value!r:.80}")


def _custom(key: str, op: str, operand: Any, params: list[object]) -> str:
    path = _custom_path(key)
    if op == "$exists":
        if not isinstance(operand, bool):
            raise QueryError(f"{key[:80]}.$exists expects true or false")
        params.append(path)
        return f"json_type(users.data, ?) IS {'NOT ' if operand else ''}NULL"
    if op == "$autocomplete":
        params.append(path)
        return _autocomplete("json_extract(users.data, ?)", key, operand, params)
    if op == "$contains":
        _json_kind(operand)
        params.extend([path, path, operand])
        return (
            "json_type(users.data, ?) = 'array' AND EXISTS (SELECT 1 FROM"
            " json_each(users.data, ?) AS item WHERE item.value = ?)"
        )
    if op == "$eq" and operand is None:
        params.append(path)
        return "COALESCE(json_type(users.data, ?), 'null') = 'null'"
    if op == "$in" and not isinstance(operand, list):
        raise QueryError(f"{key[:80]}.$in expects a list")
    values = operand if op == "$in" else [operand]
    if len(values) > MAX_CUSTOM_VALUES:
        raise QueryError(f"{key[:80]}.$in lists at most {MAX_CUSTOM_VALUES} values")
    if not values:
        return "0"
    parts = []
    for value in values:
        kind, bound = _json_kind(value)
        sign = "=" if op in ("$eq", "$in") else _COMPARE[op]
        params.append(path)
        if bound is None:
            if sign != "=":
                raise QueryError(f"{op} needs a number, string or timestamp, not a boolean")
            parts.append(f"json_type(users.data, ?) {kind}")
            continue
        params.extend([path, bound])
        parts.append(f"(json_type(users.data, ?) {kind} AND json_extract(users.data, ?) {sign} ?)")
    return "(" + " OR ".join(parts) + ")"


def _condition(key: str, value: Any, params: list[object]) -> list[str]:
    field = USER_FIELDS.get(key)
    allowed = field.operators if field else CUSTOM_OPERATORS
    if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
        ops = sorted(value)
    else:
        ops, value = ["$eq"], {"$eq": value}
    parts = []
    for op in ops:
        if op not in allowed:
            raise QueryError(
                f"operator {str(op)[:20]} is not supported on {key[:80]};"
                f" {key[:80]} takes {', '.join(sorted(allowed))}"
            )
        operand = value[op]
        if field is None or field.kind == _CUSTOM:
            parts.append(_custom(key, op, operand, params))
        elif field.kind == _TEAMS:
            parts.append(_teams(op, operand, params))
        else:
            parts.append(_builtin(key, field, op, operand, params))
    return parts


def _compile(conditions: Any, params: list[object]) -> str:
    if conditions is None:
        return "1"
    if not isinstance(conditions, Mapping):
        raise QueryError("filter_conditions must be an object")
    parts: list[str] = []
    for key in sorted(conditions):
        value = conditions[key]
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} expects a non-empty list of filters")
            inner = " OR " if key != "$and" else " AND "
            joined = "(" + inner.join(f"({_compile(v, params)})" for v in value) + ")"
            parts.append(f"NOT {joined}" if key == "$nor" else joined)
        elif key.startswith("$"):
            raise QueryError(f"unknown operator {key[:80]}")
        else:
            parts.extend(_condition(key, value, params))
    return " AND ".join(f"({p})" for p in parts) if parts else "1"


def compile_filter(conditions: Any, params: list[object]) -> str:
    """A WHERE fragment for QueryUsers' ``filter_conditions`` (placeholders in ``params``)."""
    query.check_filter_shape(conditions)
    return _compile(conditions, params)


def compile_sort(sort: Any, params: list[object]) -> str:
    """The ORDER BY clause for QueryUsers' ``sort`` (default: newest first), ``id`` last."""
    if sort is None or sort == []:
        return "users.created_at DESC, users.id DESC"
    if not isinstance(sort, list) or len(sort) > MAX_SORT:
        raise QueryError(f"sort must be a list of at most {MAX_SORT} entries")
    terms = []
    for entry in sort:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
            raise QueryError("each sort entry needs a field")
        if set(entry) - {"field", "direction", "type"}:
            raise QueryError("a sort entry has only field, direction and type")
        direction = entry.get("direction")
        direction = 1 if direction is None else direction
        if type(direction) is not int or direction not in (1, -1):
            raise QueryError("sort direction must be 1 or -1")
        name = entry["field"]
        if name in SORT_FIELDS:
            sql = SORT_FIELDS[name]
        else:
            params.append(_custom_path(name))
            sql = "json_extract(users.data, ?)"
        terms.append(f"{sql} {'ASC' if direction == 1 else 'DESC'}")
    return ", ".join([*terms, "users.id ASC"])
