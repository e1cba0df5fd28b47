"""Checks on request bodies that every resource shares: what Stream would refuse, refused.

Each operation names its own allowed keys (next to the operation, in its resource module) and
calls :func:`check_request` on the body; the settings, grants and notification checks,
timestamps, the id rule and the small typed-field checks are the same everywhere, so they live
here once. A failed check raises Stream's 400 code 4 with the operation's name, before anything
is written, so nothing invalid is ever stored.

Settings and notification settings are checked against the ``$defs`` of the packaged manifest
schema (:mod:`stagecfg.schema_document`), which are Stream's ``CallSettingsRequest`` and
``NotificationSettingsRequest`` (tests/test_schema.py compares them with Stream's OpenAPI spec).
The other request shapes are the explicit checks below and in the resource modules;
tests/test_request_rules.py compares them with the spec.

Choices where Stream's behaviour is not documented:

* ``null`` inside a settings request leaves the field as it is (the SDK never sends null):
  nulls are dropped before the schema check and :func:`stagecfg.rules.settings.merge_settings`
  skips them.
* Every integer in settings must fit int32 (Stream declares all but seven ingress fields int32;
  those describe bitrates, dimensions and frame rates far below 2**31) and must be written as
  an integer (Stream's Go decoder refuses ``1.0`` for an integer field).
* Request bodies nest at most :data:`MAX_DEPTH` levels: Stream's deepest request shape needs
  ten, and a bound keeps every recursive step after this check safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from stagecfg import timestamps
from stagecfg.model import Json
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.query import QueryError, bounded_nanos
from stagecfg.schema_document import load_schema

#: Call type names and call ids: what Stream accepts in a URL path segment (matched in full).
ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")

#: Levels of objects and lists a request body may nest.
MAX_DEPTH = 32

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

#: Characters of a refused value shown in an error message.
_SHOWN = 80


def is_id(value: Any) -> TypeGuard[str]:
    """True for a call type name or call id Stream accepts (the whole text, no newline)."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def check_depth(op: str, body: Any) -> None:
    """400 when ``body`` nests deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= MAX_DEPTH:
            raise input_error(op, f"request nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def check_request(op: str, body: Any, allowed: Iterable[str]) -> Json:
    """A whole request body: bounded nesting, then only ``allowed`` keys."""
    check_depth(op, body)
    return check_keys(op, "request", body, allowed)


def check_typed_request(
    op: str, body: Any, types: dict[str, str], keys: Iterable[str] | None = None
) -> Json:
    """A whole request body (:func:`check_request`) with only ``keys`` (by default the typed
    ones), each typed field of its type (:func:`check_types`)."""
    checked = check_request(op, body, types if keys is None else keys)
    check_types(op, "request", checked, types)
    return checked


def check_keys(op: str, what: str, body: Any, allowed: Iterable[str]) -> Json:
    """``body`` as an object with only ``allowed`` keys; an absent body is an empty one."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise input_error(op, f"{what} must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        shown = ", ".join(repr(key)[:_SHOWN] for key in unknown[:10])
        raise input_error(op, f"{what} has unknown field(s): {shown}")
    return body


def check_types(op: str, what: str, body: Json, types: dict[str, str]) -> None:
    """Each present, non-null field of ``body`` has its type: ``string``, ``boolean``,
    ``object``, ``integer`` (int32), ``strings`` (a list of strings)."""
    for key, kind in types.items():
        value = body.get(key)
        if value is not None and not _is_kind(value, kind):
            raise input_error(op, f"{what}.{key} must be {_KIND_TEXT[kind]}")


_KIND_TEXT = {
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "integer": "an integer",
    "strings": "a list of strings",
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "integer":
        return is_int32(value)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def is_int32(value: Any) -> bool:
    return type(value) is int and INT32_MIN <= value <= INT32_MAX


def check_settings(op: str, what: str, settings: Any) -> Json:
    """A CallSettingsRequest as Stream's spec describes it (nulls leave fields as they are)."""
    return _check_schema(op, what, settings, "CallSettingsRequest")


def check_notifications(op: str, body: Any) -> Json:
    """A NotificationSettingsRequest as Stream's spec describes it."""
    return _check_schema(op, "notification_settings", body, "NotificationSettingsRequest")


def check_definition(op: str, what: str, value: Any, definition: str) -> Json:
    """``value`` against one of Stream's request shapes the manifest schema defines
    (``LayoutSettingsRequest``, ``SpeechSegmentConfig``, ...); nulls leave fields out."""
    return _check_schema(op, what, value, definition)


def check_grants(op: str, grants: Any) -> dict[str, list[str]]:
    """Grants: role -> list of permission ids."""
    if grants is None:
        return {}
    if not isinstance(grants, dict):
        raise input_error(op, "grants must be an object mapping role to a list of permissions")
    for role, ids in grants.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise input_error(op, f"grants.{role[:_SHOWN]} must be a list of permission strings")
    return grants


def check_call_id(op: str, call_id: Any) -> None:
    """The id rule for a call about to be created."""
    if not is_id(call_id):
        raise input_error(op, "call id must be 1-64 letters, digits, underscores or dashes")


def instant(op: str, name: str, value: Any) -> int:
    """An RFC 3339 timestamp (or nanoseconds) from a request, as int64 integer nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise input_error(op, f"{name} must be an RFC 3339 timestamp")
    if isinstance(value, str) and not (value == value.strip() and timestamps.is_rfc3339(value)):
        raise input_error(op, f"{name} must be an RFC 3339 timestamp, got {value[:_SHOWN]!r}")
    try:
        return bounded_nanos(value)
    except QueryError:
        raise input_error(
            op, f"{name} must be an RFC 3339 timestamp between 1678 and 2262, got {value!r:.80}"
        ) from None


# --- the schema check -----------------------------------------------------------------------


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _is_integer(checker: Any, instance: Any) -> bool:
    # 1.0 is an integer to JSON Schema, not to Stream's Go decoder; True is never one.
    return type(instance) is int


def _int32_type(
    validator: Any, types: Any, instance: Any, schema: Json
) -> Iterator[ValidationError]:
    yield from _TYPE(validator, types, instance, schema)
    if types == "integer" and type(instance) is int and not is_int32(instance):
        yield ValidationError(f"{instance} does not fit a 32-bit integer")


_TYPE = Draft202012Validator.VALIDATORS["type"]
_Validator = validators.extend(
    Draft202012Validator,
    validators={"type": _int32_type},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@cache
def _validator(definition: str) -> Any:
    defs = load_schema()["$defs"]
    return _Validator({"$defs": defs, "$ref": f"#/$defs/{definition}"})


@cache
def _fast_validator(definition: str) -> Any:
    """jsonschema-rs for the common "valid" answer (see :mod:`stagecfg.schema`), or None."""
    try:
        import jsonschema_rs
    except ImportError:  # optional speed-up; behaviour does not depend on it
        return None
    return jsonschema_rs.Draft202012Validator(
        {"$defs": load_schema()["$defs"], "$ref": f"#/$defs/{definition}"}
    )


def _plain_int32(value: Any) -> bool:
    """No float anywhere and every integer int32: then jsonschema-rs's "valid" is ours too."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float) or (type(node) is int and not is_int32(node)):
            return False
    return True


def _check_schema(op: str, what: str, value: Any, definition: str) -> Json:
    if value is None:
        return {}
    check_depth(op, value)
    if not isinstance(value, dict):
        raise input_error(op, f"{what} must be a JSON object")
    cleaned = _without_nulls(value)
    fast = _fast_validator(definition)
    if fast is not None and _plain_int32(cleaned):
        try:
            if fast.is_valid(cleaned):
                return value
        except (ValueError, TypeError, OverflowError):
            pass  # data it cannot take: let jsonschema judge
    error = best_match(_validator(definition).iter_errors(cleaned))
    if error is None:
        return value
    where = ".".join([what, *(str(p) for p in error.absolute_path)])
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    raise input_error(op, f"{where}: {message}")
