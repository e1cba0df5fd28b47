"""QueryCalls / QueryCallMembers / QueryUsers: Mongo-style filters, sort and cursors -> SQL.

A filter compiles to one WHERE clause so a page is always one indexed query, whatever the
number of cids asked for. Cursors are opaque to clients (base64 of a small JSON object) and
carry either a keyset position (default sort) or an offset (any other sort).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stagecfg import timestamps
from stagecfg.rules.limits import PAGE_LIMIT

DEFAULT_LIMIT = 25

_TEXT = "text"
BOOL = "bool"
TIME = "time"
_BOOL = BOOL
_TIME = TIME


class QueryError(ValueError):
    """The filter, sort or cursor is malformed; the engine answers 400 code 4."""


#: Stream's wire timestamps are int64 nanoseconds: the one definition is in timestamps.
INT64_MIN, INT64_MAX = timestamps.INT64_MIN, timestamps.INT64_MAX
#: ``$and`` / ``$or`` levels a filter may nest, and conditions it may hold in all: SQLite
#: refuses expressions deeper than 1000, and Stream's own filters need a handful.
MAX_FILTER_DEPTH = 8
MAX_FILTER_CONDITIONS = 100
#: The largest offset a cursor may carry (Stream pages QueryUsers only to offset 1000).
MAX_OFFSET = 2**31 - 1


def bounded_nanos(value: str | int | float) -> int:
    """``value`` as integer nanoseconds that fit Stream's int64, or QueryError."""
    if isinstance(value, (int, float)) and not INT64_MIN <= value <= INT64_MAX:
        raise QueryError(f"{value!r:.80} is outside the int64 nanosecond range")
    try:
        nanos = timestamps.to_nanos(value)
    except (ValueError, OverflowError, TypeError):
        raise QueryError(f"{value!r:.80} is not an RFC 3339 timestamp") from None
    if not INT64_MIN <= nanos <= INT64_MAX:
        raise QueryError(f"{value!r:.80} is outside the int64 nanosecond range")
    return nanos


@dataclass(frozen=True)
class Field:
    column: str
    kind: str


CALL_FIELDS: dict[str, Field] = {
    "cid": Field("calls.cid", _TEXT),
    "id": Field("calls.id", _TEXT),
    "type": Field("calls.type", _TEXT),
    "created_by_user_id": Field("calls.created_by_id", _TEXT),
    "team": Field("calls.team", _TEXT),
    "backstage": Field("calls.backstage", _BOOL),
    "ongoing": Field("calls.ongoing", _BOOL),
    "starts_at": Field("calls.starts_at", _TIME),
    "ended_at": Field("calls.ended_at", _TIME),
    "created_at": Field("calls.created_at", _TIME),
    "updated_at": Field("calls.updated_at", _TIME),
}
CALL_SORT_FIELDS: dict[str, str] = {
    name: CALL_FIELDS[name].column
    for name in ("starts_at", "created_at", "updated_at", "ended_at", "type", "id", "cid")
}

MEMBER_FIELDS: dict[str, Field] = {
    "user_id": Field("members.user_id", _TEXT),
    "role": Field("members.role", _TEXT),
    "created_at": Field("members.created_at", _TIME),
    "updated_at": Field("members.updated_at", _TIME),
}
MEMBER_SORT_FIELDS: dict[str, str] = {
    name: MEMBER_FIELDS[name].column for name in ("user_id", "role", "created_at", "updated_at")
}

USER_FIELDS: dict[str, Field] = {
    "id": Field("users.id", _TEXT),
    "role": Field("users.role", _TEXT),
    "created_at": Field("users.created_at", _TIME),
    "updated_at": Field("users.updated_at", _TIME),
}

_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
# Lists longer than this go through json_each() to stay under SQLite's variable limit.
_MAX_INLINE_VALUES = 500


def _value(field_name: str, field: Field, value: Any) -> object:
    return typed_value(field_name, field.kind, value)


def typed_value(field_name: str, kind: str, value: Any) -> object:
    """A filter operand as SQLite stores a field of ``kind``: bools as 0/1, times as nanoseconds,
    anything else as text; an operand of another type is a QueryError naming the field."""
    shown = field_name[:80]
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise QueryError(f"{shown} expects true or false, got {value!r:.80}")
        return int(value)
    if kind == _TIME:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise QueryError(f"{shown} expects an RFC 3339 timestamp, got {value!r:.80}")
        try:
            return bounded_nanos(value)
        except QueryError:
            raise QueryError(f"{shown} expects an RFC 3339 timestamp, got {value!r:.80}") from None
    if not isinstance(value, str):
        raise QueryError(f"{shown} expects a string, got {value!r:.80}")
    return value


def in_clause(column: str, values: list[object], params: list[object], negate: bool) -> str:
    op = "NOT IN" if negate else "IN"
    if not values:
        return "1" if negate else "0"
    if len(values) > _MAX_INLINE_VALUES:
        params.append(json.dumps(values))
        return f"{column} {op} (SELECT value FROM json_each(?))"
    params.extend(values)
    return f"{column} {op} ({', '.join('?' * len(values))})"


def _operator(field_name: str, field: Field, op: str, operand: Any, params: list[object]) -> str:
    column = field.column
    if op == "$eq":
        if operand is None:
            return f"{column} IS NULL"
        params.append(_value(field_name, field, operand))
        return f"{column} = ?"
    if op == "$ne":
        if operand is None:
            return f"{column} IS NOT NULL"
        params.append(_value(field_name, field, operand))
        return f"{column} IS NOT ?"
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise QueryError(f"{field_name}.{op} expects a list")
        values = [_value(field_name, field, v) for v in operand]
        return in_clause(column, values, params, negate=op == "$nin")
    if op in _COMPARE:
        params.append(_value(field_name, field, operand))
        return f"{column} {_COMPARE[op]} ?"
    if op == "$exists":
        if not isinstance(operand, bool):
            raise QueryError(f"{field_name}.$exists expects true or false")
        return f"{column} IS {'NOT ' if operand else ''}NULL"
    raise QueryError(f"unknown operator {op} on field {field_name}")


def _members_condition(operand: Any, params: list[object]) -> str:
    if isinstance(operand, Mapping):
        if set(operand) - {"$in", "$eq"} or len(operand) != 1:
            raise QueryError("members supports only $in and $eq")
        ((op, value),) = operand.items()
        values = value if op == "$in" else [value]
    else:
        values = operand if isinstance(operand, list) else [operand]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise QueryError("members expects a list of user ids")
    inner = in_clause("m.user_id", list(values), params, negate=False)
    return f"EXISTS (SELECT 1 FROM members m WHERE m.call_seq = calls.seq AND {inner})"


def check_filter_shape(conditions: Any) -> None:
    """QueryError when a filter nests ``$and`` / ``$or`` / ``$nor`` too deep or holds too many
    conditions (walked without recursion, before compiling recurses)."""
    count = 0
    stack: list[tuple[Any, int]] = [(conditions, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Mapping):
            continue
        for key, value in node.items():
            if not isinstance(key, str):
                raise QueryError("filter field names must be strings")
            count += 1
            if count > MAX_FILTER_CONDITIONS:
                raise QueryError(f"a filter may hold at most {MAX_FILTER_CONDITIONS} conditions")
            if key in ("$and", "$or", "$nor") and isinstance(value, list):
                if depth >= MAX_FILTER_DEPTH:
                    raise QueryError(f"{key} may nest at most {MAX_FILTER_DEPTH} levels")
                stack.extend((v, depth + 1) for v in value)
            elif isinstance(value, Mapping):
                stack.append((value, depth))


def compile_filter(
    conditions: Any, fields: Mapping[str, Field], params: list[object], *, calls: bool = False
) -> str:
    """A WHERE fragment (with ``?`` placeholders appended to ``params``)."""
    check_filter_shape(conditions)
    return _compile(conditions, fields, params, calls)


def _compile(
    conditions: Any, fields: Mapping[str, Field], params: list[object], calls: bool
) -> str:
    if conditions is None:
        return "1"
    if not isinstance(conditions, Mapping):
        raise QueryError("filter_conditions must be an object")
    parts: list[str] = []
    for key in sorted(conditions):
        value = conditions[key]
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} expects a non-empty list of filters")
            inner = [_compile(v, fields, params, calls) for v in value]
            joiner = " AND " if key == "$and" else " OR "
            parts.append("(" + joiner.join(f"({p})" for p in inner) + ")")
        elif key.startswith("$"):
            raise QueryError(f"unknown operator {key[:80]}")
        elif calls and key == "members":
            parts.append(_members_condition(value, params))
        elif key in fields:
            field = fields[key]
            if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
                for op in sorted(value):
                    parts.append(_operator(key, field, op, value[op], params))
            else:
                parts.append(_operator(key, field, "$eq", value, params))
        else:
            known = ", ".join(sorted([*fields, *(["members"] if calls else [])]))
            raise QueryError(f"cannot filter on {key[:80]!r}; filterable fields: {known}")
    return " AND ".join(f"({p})" for p in parts) if parts else "1"


def compile_sort(sort: Any, fields: Mapping[str, str], max_entries: int) -> list[tuple[str, int]]:
    """[(column, direction)] from a SortParamRequest list."""
    if sort is None:
        return []
    if not isinstance(sort, list) or len(sort) > max_entries:
        raise QueryError(f"sort must be a list of at most {max_entries} entries")
    out: list[tuple[str, int]] = []
    for entry in sort:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
            raise QueryError("each sort entry needs a field")
        if set(entry) - {"field", "direction", "type"}:
            raise QueryError("a sort entry has only field, direction and type")
        name = entry["field"]
        if name not in fields:
            raise QueryError(f"cannot sort on {name[:80]!r}; sortable fields: {', '.join(fields)}")
        direction = entry.get("direction")
        direction = 1 if direction is None else direction
        if type(direction) is not int or direction not in (1, -1):
            raise QueryError("sort direction must be 1 or -1")
        out.append((fields[name], int(direction)))
    return out


def parse_limit(limit: Any) -> int:
    # 0 is treated like "not given" so a client looping on `next` cannot spin forever.
    if limit is None:
        return DEFAULT_LIMIT
    if type(limit) is not int or not 0 <= limit <= PAGE_LIMIT:
        raise QueryError(f"limit must be an integer between 0 and {PAGE_LIMIT}")
    return limit or DEFAULT_LIMIT


@dataclass(frozen=True)
class Cursor:
    offset: int = 0
    key: tuple[Any, ...] | None = None  # keyset position for the default sort


def encode_cursor(cursor: Cursor) -> str:
    payload: dict[str, Any] = {"o": cursor.offset}
    if cursor.key is not None:
        payload["k"] = list(cursor.key)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: Any) -> Cursor:
    if not isinstance(text, str) or not text:
        raise QueryError("next/prev must be a cursor string from a previous response")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        payload = json.loads(raw)
        offset = payload["o"]
        key = payload.get("k")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise QueryError("next/prev is not a valid cursor") from None
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET or not _cursor_key(key):
        raise QueryError("next/prev is not a valid cursor")
    return Cursor(offset=offset, key=tuple(key) if key is not None else None)


def _cursor_key(key: Any) -> bool:
    """A keyset position is absent, or a list of texts and int64 integers (bound into SQL)."""
    if key is None:
        return True
    return isinstance(key, list) and all(
        isinstance(k, str) or (type(k) is int and INT64_MIN <= k <= INT64_MAX) for k in key
    )


def request_cursor(body: Mapping[str, Any]) -> Cursor:
    """The position a request's ``next`` or ``prev`` token asks for (the start without one)."""
    for name in ("next", "prev"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise QueryError(f"{name} must be a cursor string from a previous response")
    if body.get("next") and body.get("prev"):
        raise QueryError("give either next or prev, not both")
    token = body.get("next") or body.get("prev")
    return decode_cursor(token) if token else Cursor()


def add_page_links(
    out: dict[str, Any],
    cursor: Cursor,
    limit: int,
    more: bool,
    last_key: tuple[Any, ...] | None,
) -> None:
    """Set ``next`` (when there is ``more``) and ``prev`` (past the first page) on ``out``."""
    if more:
        out["next"] = encode_cursor(Cursor(offset=cursor.offset + limit, key=last_key))
    if cursor.offset > 0:
        out["prev"] = encode_cursor(Cursor(offset=max(0, cursor.offset - limit)))


def order_clause(order: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{col} {'ASC' if d == 1 else 'DESC'}" for col, d in order)
