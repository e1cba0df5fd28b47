"""The manifest JSON Schema: load the packaged copy and turn its verdicts into located Problems.

An ``overlay:`` entry is checked against the schema's patch definitions (``CallTypePatch``, ...:
no required keys, ``null`` allowed to remove one), generated from the full ones by
``tools/gen_schema_variants.py``; the objects overlays patch are checked again, merged, against
the full definitions (:func:`validate_objects`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from stagecfg.errors import Location, Problem, suggest
from stagecfg.manifest import Document, Merged, child_path, join_path, type_name
from stagecfg.rules import permissions
from stagecfg.schema_document import load_schema
from stagecfg.timestamps import is_rfc3339


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or is_rfc3339(value)


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_date_time)


#: ECMA 262's ASCII classes, which Python's re reads as Unicode (``\d`` matches "٢").
_ECMA_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_"}


@cache
def _whole_text(pattern: str) -> re.Pattern[str]:
    r"""``pattern`` as JSON Schema (ECMA 262) reads it, which is how jsonschema-rs reads it.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would accept
    ``"abc\n"`` as an id, and its ``\d`` and ``\w`` take any script's digits and letters.
    Every ``$`` outside a character class becomes ``\Z`` and ``\d``/``\w`` their ASCII sets,
    so both validators give the same answer (tests/test_schema.py checks every pattern).
    """
    out: list[str] = []
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escape = pattern[index : index + 2]
            ascii_set = _ECMA_CLASSES.get(escape[1:])
            if ascii_set is not None:
                escape = ascii_set if in_class else f"[{ascii_set}]"
            out.append(escape)
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = "\\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _whole_text(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: Draft 2020-12 with ``pattern`` read as JSON Schema means it (see :func:`_whole_text`).
_Draft: Any = validators.extend(Draft202012Validator, {"pattern": _pattern})


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    validator: Draft202012Validator = _Draft(load_schema(), format_checker=_FORMATS)
    return validator


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """A compiled (Rust) validator for the yes/no question, or None when it is not installed.

    jsonschema (pure Python) walks 100,000 calls at ~100 us each; jsonschema-rs answers "valid"
    for the whole document in a fraction of that. It is only trusted to say "valid": any
    document it rejects goes through jsonschema, whose errors are the ones reported, so the
    problems are the same with or without it. The two agree: the same date-time check, and
    ``pattern`` read with ``$`` as the end of the text in both (:func:`_whole_text`).
    """
    try:
        import jsonschema_rs
    except ImportError:  # optional speed-up; behaviour does not depend on it
        return None
    return jsonschema_rs.Draft202012Validator(
        load_schema(), formats={"date-time": _is_date_time}, validate_formats=True
    )


def _quickly_valid(data: Any) -> bool:
    fast = _fast_validator()
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(data))
    except (ValueError, TypeError, OverflowError):  # data it cannot take: let jsonschema judge
        return False


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value)


#: How many characters of choices a one-line message lists before it says "and N more".
_CHOICES_WIDTH = 160


def _one_of(options: Sequence[Any]) -> str:
    """The choices, each whole: a cut-off value (``portrait-1...``) would read as a valid one."""
    names = [str(o) for o in options]
    shown = ", ".join(names)
    if len(shown) <= _CHOICES_WIDTH:
        return shown
    kept: list[str] = []
    width = 0
    for name in names:
        width += len(name) + 2
        if width > _CHOICES_WIDTH and kept:
            break
        kept.append(name)
    return f"{', '.join(kept)} and {len(names) - len(kept)} more"


class Locator(Protocol):
    """Where a JSON path was written: one file (:class:`Document`) or the merged manifest."""

    def locate(self, path: str, *, value: bool = False) -> Location | None: ...

    def removed_at(self, path: str) -> Location | None: ...


def _nullable(schema: Any) -> bool:
    """``{"anyOf": [X, {"type": "null"}]}``: a patch definition's "X, or null to remove it"."""
    options = schema.get("anyOf") if isinstance(schema, dict) else None
    return isinstance(options, list) and len(options) == 2 and options[1] == {"type": "null"}


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _error_problems(error: ValidationError, doc: Locator, prefix: list[str | int]) -> list[Problem]:
    if error.validator == "anyOf" and _nullable(error.schema):
        # Not null, so the value itself is wrong: say why, as for a value outside an overlay.
        inner = [e for e in error.context or () if list(e.relative_schema_path)[:1] == [0]]
        return [p for e in inner for p in _error_problems(e, doc, prefix)]
    parts = prefix + list(error.absolute_path)
    path = join_path(parts)
    keyword = error.validator
    schema: Any = error.schema
    value = error.instance
    schema_path = list(error.absolute_schema_path)

    # Wrong values point at the value; missing or unknown keys at the key.
    on_value = keyword not in ("additionalProperties", "required") and (
        "propertyNames" not in schema_path
    )

    def at(p: str, message: str, suggestion: str | None = None) -> Problem:
        return Problem(doc.locate(p, value=on_value), p, message, suggestion=suggestion)

    if "propertyNames" in schema_path:
        # The instance is the offending key; point at the key itself.
        key = str(value)
        key_path = child_path(path, key)
        shown = json.dumps(key, ensure_ascii=False)[1:-1]  # a newline in a key stays on one line
        rule = {
            "pattern": f"may only use letters, digits, _ and - (pattern {schema.get('pattern')})",
            "maxLength": f"is longer than {schema.get('maxLength')} characters",
            "minLength": "must not be empty",
        }.get(str(keyword), error.message)
        if path == "$.calls" and keyword == "pattern":
            rule = "is not a valid cid: write <call type>:<call id>, each 1-64 of [a-zA-Z0-9_-]"
        elif keyword == "pattern" and (path == "$.users" or path.endswith(".members")):
            rule = "is not a valid user id: it may not contain spaces or control characters"
        return [at(key_path, f"name '{shown}' {rule}")]
    if keyword == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        return [
            at(
                child_path(path, k),
                f"unknown key '{k}'",
                suggest(k, allowed) or (f"allowed: {_one_of(allowed)}" if allowed else None),
            )
            for k in extra
        ]
    if keyword == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        removed = doc.removed_at(child_path(path, missing))
        if removed is not None:
            message = f"missing required key '{missing}' (an overlay removed it)"
            return [Problem(removed, path, message, suggestion="set it instead of null")]
        return [at(path, f"missing required key '{missing}'")]
    if keyword == "const":
        return [at(path, f"must be {_shown(schema.get('const'))}, found {_shown(value)}")]
    if keyword == "enum" and schema is load_schema()["$defs"].get("PermissionId"):
        # Said as the semantic check says it, so validate reports one problem, not two; the
        # type error covers a value that is not text.
        if not isinstance(value, str):
            return []
        advice = permissions.suggest_permission(value) or "see README: Permission ids"
        return [at(path, f"{UNKNOWN_PERMISSION} '{value}'", advice)]
    if keyword == "enum":
        options = schema.get("enum", [])
        hint = suggest(value, [str(o) for o in options]) if isinstance(value, str) else None
        return [at(path, f"{_shown(value)} is not one of: {_one_of(options)}", hint)]
    if keyword == "type":
        expected = schema.get("type")
        if isinstance(expected, list):
            named = [_TYPE_NAMES.get(str(e), str(e)) for e in expected]
            want = ", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else named[0]
        else:
            want = _TYPE_NAMES.get(str(expected), str(expected))
        found = type_name(value)
        if value is None:
            found = "null (an empty value)"
        elif not isinstance(value, (dict, list)):
            found += f" {_shown(value)}"
        return [at(path, f"expected {want}, found {found}", _type_hint(value, expected))]
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = schema.get(keyword)
        word = "below the minimum" if "inimum" in str(keyword) else "above the maximum"
        return [at(path, f"{_shown(value)} is {word} of {bound}")]
    if keyword in ("minItems", "maxItems", "maxProperties"):
        bound = schema.get(keyword)
        what = "at least" if keyword == "minItems" else "at most"
        unit = "entries" if keyword == "maxProperties" else "items"
        return [at(path, f"needs {what} {bound} {unit}, found {len(value)}")]
    if keyword == "uniqueItems" and isinstance(value, list):
        # Point at each repeat, naming the entry and where it first appeared.
        first: dict[str, int] = {}
        repeats = []
        for index, item in enumerate(value):
            key = json.dumps(item, sort_keys=True)
            if key in first:
                repeats.append(
                    at(
                        f"{path}[{index}]",
                        f"{_shown(item)} is listed twice (first at [{first[key]}])",
                        "remove the repeat",
                    )
                )
            else:
                first[key] = index
        return repeats or [at(path, "has duplicate entries")]
    if keyword == "minLength":
        return [at(path, "must not be empty")]
    if keyword == "maxLength":
        return [at(path, f"is longer than {schema.get('maxLength')} characters")]
    if keyword in ("format", "pattern") and (
        schema.get("format") == "date-time" or keyword == "format"
    ):
        hint = "e.g. 2026-12-01T18:00:00Z or 2026-12-01T19:00:00+01:00"
        if isinstance(value, str) and value[10:11] == " ":
            fixed = f"{value[:10]}T{value[11:]}"
            if is_rfc3339(fixed):  # the usual slip: a space where the schema needs T
                hint = f"write '{fixed}': T between date and time, not a space"
        return [at(path, f"{_shown(value)} is not an RFC 3339 date-time with an offset", hint)]
    if keyword == "pattern":
        return [at(path, f"{_shown(value)} does not match {schema.get('pattern')}")]
    return [at(path, str(error.message))]


_LITERALS = {
    "integer": re.compile(r"[-+]?[0-9]+"),
    "number": re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"),
    "boolean": re.compile(r"true|false"),
}


def _type_hint(value: Any, expected: Any) -> str | None:
    """How to write a value of the wrong type: an empty one, or text that reads as the expected
    type (``"300"``, ``"true"``)."""
    if value is None:
        empty = {"object": "{} ", "array": "[] "}.get(str(expected))
        return f"write {empty}or remove the key" if empty else "give it a value or remove the key"
    literal = _LITERALS.get(str(expected))
    if not isinstance(value, str) or literal is None or not literal.fullmatch(value.strip()):
        return None
    return (
        f"write {value.strip()} without quotes; an environment ${{VAR}} always gives text, "
        "a typed variable (variables:) keeps its type"
    )


_SECTION_DEFS = {"users": "User", "call_types": "CallType", "calls": "Call"}


@cache
def _def_validator(name: str) -> Draft202012Validator:
    root = load_schema()
    schema = {"$schema": root["$schema"], "$defs": root["$defs"], "$ref": f"#/$defs/{name}"}
    validator: Draft202012Validator = _Draft(schema, format_checker=_FORMATS)
    return validator


#: How a grant that is no documented permission id is reported (by the schema, and by the
#: semantic check in the same words, so validate reports it once).
UNKNOWN_PERMISSION = "unknown permission id"


def is_unknown_permission(problem: Problem) -> bool:
    """Whether ``problem`` refuses a grant for not being a documented permission id, which
    ``validate --online`` replaces with the check against the app's own permission list."""
    return problem.message.startswith(f"{UNKNOWN_PERMISSION} '")


def validate(doc: Document) -> list[Problem]:
    """Every schema problem of one document, located and sorted.

    Resources are validated one by one against their definition, and identical bodies only once:
    large manifests repeat the same call shape thousands of times.
    """
    data = doc.data
    if _quickly_valid(data):
        return []
    skeleton = dict(data)
    resources: list[tuple[str, str, Any, str]] = []
    for section, def_name in _SECTION_DEFS.items():
        entries = data.get(section)
        if isinstance(entries, dict):
            skeleton[section] = {key: {} for key in entries}
            resources.extend((section, key, value, def_name) for key, value in entries.items())
    problems: list[Problem] = []
    for error in _validator().iter_errors(skeleton):
        problems.extend(_error_problems(error, doc, []))
    cache: dict[tuple[str, str], list[ValidationError]] = {}
    for section, key, value, def_name in resources:
        fingerprint = (def_name, json.dumps(value, sort_keys=True, default=str))
        errors = cache.get(fingerprint)
        if errors is None:
            errors = list(_def_validator(def_name).iter_errors(value))
            cache[fingerprint] = errors
        for error in errors:
            problems.extend(_error_problems(error, doc, [section, key]))
    unique = {(p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=Problem.sort_key)


def validate_objects(merged: Merged, objects: Iterable[tuple[str, str]]) -> list[Problem]:
    """Each (section, name) of the merged manifest against its full definition: an object that
    overlays patched must still be whole (required keys, types), wherever each value came from.
    Problems point at whoever set the value (the overlay or the base file)."""
    problems: list[Problem] = []
    for section, name in objects:
        entries = merged.data.get(section)
        value = entries.get(name) if isinstance(entries, dict) else None
        if value is None:
            continue
        for error in _def_validator(_SECTION_DEFS[section]).iter_errors(value):
            problems.extend(_error_problems(error, merged, [section, name]))
    unique = {(p.location, p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=Problem.sort_key)
