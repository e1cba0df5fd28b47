"""Typed variables: declared under ``variables:``, given values from five places, type-checked.

A base file declares ``NAME: {type: string|integer|number|boolean, default: VALUE, description:
TEXT, secret: BOOL}``. A variable's value is the last of these that sets it, lowest first (as
Terraform does): its ``default``; the environment variable ``STAGECFG_VAR_NAME``; ``values:`` in
the selected environment's files; each ``--var-file`` in the order given; each ``--var NAME=VALUE``
in the order given. Text from the environment and ``--var`` is read by the declared type
(``"5000"`` is the integer 5000); values in files must already have it. Every problem is located:
at the value in a file, or naming the environment variable or flag.

A secret variable (``secret: true``, or a string variable whose name looks secret) is masked in
every output, and a saved plan holds ``${STAGECFG_VAR_NAME}`` in its place, so its value may come
only from that environment variable: a default, a file or a flag would put it in git, in shell
history or in the plan's digest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagecfg.errors import Location, Problem, suggest
from stagecfg.manifest.paths import child_path
from stagecfg.manifest.sources import Document, load
from stagecfg.manifest.variables import Scalar, Value, looks_secret
from stagecfg.manifest.yaml_data import type_name

TYPES = ("string", "integer", "number", "boolean")
#: ``STAGECFG_VAR_max_viewers`` sets the variable ``max_viewers``.
ENV_PREFIX = "STAGECFG_VAR_"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTEGER = re.compile(r"^[-+]?[0-9]{1,30}$")
_NUMBER = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_A = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean"}
_EXAMPLE = {
    "string": "any text",
    "integer": "a whole number such as 5000",
    "number": "a number such as 2.5",
    "boolean": "true or false",
}


@dataclass(frozen=True)
class Declaration:
    """One variable as a base file declares it."""

    name: str
    type: str
    location: Location
    default: Scalar | None = None
    has_default: bool = False
    secret: bool = False


@dataclass(frozen=True)
class VariableInput:
    """One ``--var NAME=VALUE`` as given on the command line."""

    name: str
    text: str


def parse_var(given: str) -> VariableInput:
    """``NAME=VALUE`` -> its parts; raises ValueError saying what is wrong."""
    name, sep, text = given.partition("=")
    if not sep:
        raise ValueError(f"{given!r} is not NAME=VALUE")
    if not NAME.match(name):
        raise ValueError(
            f"{name!r} is not a variable name (letters, digits and _, not starting with a digit)"
        )
    return VariableInput(name, text)


def declarations(documents: Sequence[Document]) -> tuple[dict[str, Declaration], list[Problem]]:
    """Every variable the (base) documents declare; shapes the schema rejects are skipped."""
    found: dict[str, Declaration] = {}
    problems: list[Problem] = []
    for doc in documents:
        section = doc.data.get("variables")
        if not isinstance(section, dict):
            continue
        for name, spec in section.items():
            path = child_path("$.variables", name)
            if not NAME.match(name) or not isinstance(spec, dict):
                continue  # the schema reports it
            kind = spec.get("type")
            if kind not in TYPES:
                continue  # the schema reports it
            if name in found:
                problems.append(
                    Problem(
                        doc.locate(path),
                        path,
                        f"variable '{name}' is declared twice: here and at {found[name].location}",
                        suggestion="declare each variable in one base file",
                    )
                )
                continue
            # Only text is masked (a number masked as a token would hide every such number); a
            # secret of another type is reported below.
            secret = kind == "string" and (spec.get("secret") is True or looks_secret(name))
            declaration = Declaration(name, kind, doc.locate(path), secret=secret)
            problems += _check_secret(doc, path, declaration, spec)
            if "default" in spec:
                default_path = child_path(path, "default")
                value, message = _typed(declaration, spec["default"])
                if message is not None:
                    problems.append(
                        Problem(
                            doc.locate(default_path, value=True),
                            default_path,
                            message[0],
                            suggestion=message[1],
                        )
                    )
                elif not secret:
                    declaration = Declaration(name, kind, declaration.location, value, True, secret)
            found[name] = declaration
    return found, problems


def _check_secret(
    doc: Document, path: str, declaration: Declaration, spec: dict[str, Any]
) -> list[Problem]:
    problems = []
    if spec.get("secret") is True and declaration.type != "string":
        at = child_path(path, "secret")
        problems.append(
            Problem(
                doc.locate(at, value=True),
                at,
                f"a secret variable must be of type string, not {declaration.type}",
                suggestion="make it a string, or drop secret: true",
            )
        )
    elif declaration.secret and "default" in spec:
        at = child_path(path, "default")
        problems.append(
            Problem(
                doc.locate(at),
                at,
                f"secret variable '{declaration.name}' may not have a default: a default is "
                "written in the manifest, for everyone to read",
                suggestion=_from_environment(declaration.name),
            )
        )
    return problems


def _from_environment(name: str) -> str:
    return f"set it through {ENV_PREFIX}{name}, so it stays out of files, shell history and plans"


def _typed(declaration: Declaration, value: Any) -> tuple[Scalar | None, tuple[str, str] | None]:
    """``value`` (from YAML) if it has the declared type, else (message, suggestion)."""
    kind = declaration.type
    ok = (
        (kind == "string" and isinstance(value, str))
        or (kind == "boolean" and isinstance(value, bool))
        or (kind == "integer" and isinstance(value, int) and not isinstance(value, bool))
        or (
            kind == "number"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        )
    )
    if ok:
        return value, None
    found = "null (an empty value)" if value is None else type_name(value)
    if isinstance(value, (str, int, float)) and value is not None:
        found += f" {value!r}" if isinstance(value, str) else f" {value}"
    hint = f"write {_EXAMPLE[kind]}"
    if isinstance(value, str) and kind != "string" and parse_text(declaration, value)[1] is None:
        hint = f"write {value.strip()} without quotes"
    elif kind == "string" and isinstance(value, (bool, int, float)):
        hint = "quote it to make it text"
    return None, (f"variable '{declaration.name}' is {_A[kind]}; found {found}", hint)


def parse_text(declaration: Declaration, text: str) -> tuple[Scalar | None, tuple[str, str] | None]:
    """Text from the environment or ``--var`` read by the declared type; (value, error), the
    error as (message, suggestion)."""
    kind = declaration.type
    stripped = text.strip()
    if kind == "string":
        return text, None
    if kind == "boolean" and stripped in ("true", "false"):
        return stripped == "true", None
    if kind == "integer" and _INTEGER.match(stripped):
        return int(stripped), None
    if kind == "number" and _NUMBER.match(stripped) and len(stripped) <= 64:
        number = float(stripped)
        if math.isfinite(number):
            return (int(stripped) if _INTEGER.match(stripped) else number), None
    return None, (
        f"variable '{declaration.name}' is {_A[kind]}; {text!r} is not one",
        f"write {_EXAMPLE[kind]}",
    )


def _suggest(name: str, declared: Mapping[str, Declaration]) -> str:
    return suggest(name, declared) or (
        "declare it under variables: in a base file (one without environment:)"
    )


def resolve(
    declared: Mapping[str, Declaration],
    *,
    environ: Mapping[str, str],
    values_from: Sequence[Document] = (),
    var_files: Sequence[Document] = (),
    cli: Sequence[VariableInput] = (),
) -> tuple[dict[str, Value | None], list[Problem]]:
    """Every declared variable's value (None: it has none, and that is a problem)."""
    chosen: dict[str, Scalar] = {
        d.name: d.default for d in declared.values() if d.has_default and d.default is not None
    }
    problems: list[Problem] = []
    for name, declaration in sorted(declared.items()):
        text = environ.get(ENV_PREFIX + name)
        if text is None:
            continue
        value, error = parse_text(declaration, text)
        if error is not None:
            where = Location(f"environment variable {ENV_PREFIX}{name}")
            path = child_path("$.variables", name)
            problems.append(Problem(where, path, error[0], suggestion=error[1]))
        elif value is not None:
            chosen[name] = value
    set_here: dict[str, Location] = {}
    for doc in values_from:
        problems += _from_file(doc, "$.values", declared, chosen, set_here, "values:")
    for doc in var_files:
        problems += _from_file(doc, "$", declared, chosen, {}, "--var-file")
    for given in cli:
        path = child_path("$.variables", given.name)
        where = Location("--var")
        known = declared.get(given.name)
        if known is None:
            message = f"no variable '{given.name}' is declared"
            hint = _suggest(given.name, declared)
            problems.append(Problem(where, path, message, suggestion=hint))
        elif known.secret:
            problems.append(
                Problem(
                    where,
                    path,
                    f"'{given.name}' is a secret variable",
                    suggestion=f"set it through {ENV_PREFIX}{given.name} so it stays out of "
                    "shell history and plan files",
                )
            )
        else:
            value, error = parse_text(known, given.text)
            if error is not None:
                problems.append(Problem(where, path, error[0], suggestion=error[1]))
            elif value is not None:
                chosen[given.name] = value
    result: dict[str, Value | None] = {}
    for name, declaration in declared.items():
        if name not in chosen:
            result[name] = None
            if declaration.secret:
                suggestion = _from_environment(name)
            else:
                suggestion = (
                    f"give it a default, or set it: values: in an environment file, --var-file, "
                    f"--var {name}=VALUE or {ENV_PREFIX}{name}"
                )
            problems.append(
                Problem(
                    declaration.location,
                    child_path("$.variables", name),
                    f"variable '{name}' has no value",
                    suggestion=suggestion,
                )
            )
            continue
        saved_as = ENV_PREFIX + name if declaration.secret else None
        result[name] = Value(chosen[name], saved_as=saved_as)
    return result, problems


def _from_file(
    doc: Document,
    prefix: str,
    declared: Mapping[str, Declaration],
    chosen: dict[str, Scalar],
    set_here: dict[str, Location],
    source: str,
) -> list[Problem]:
    section = doc.data.get("values") if prefix == "$.values" else doc.data
    if not isinstance(section, dict):
        return []  # the schema (or the var-file check) reports it
    problems: list[Problem] = []
    for name, value in section.items():
        path = child_path(prefix, name)
        declaration = declared.get(name)
        if declaration is None:
            problems.append(
                Problem(
                    doc.locate(path),
                    path,
                    f"{source} sets '{name}', which no variable declares",
                    suggestion=_suggest(name, declared),
                )
            )
            continue
        if declaration.secret:
            problems.append(
                Problem(
                    doc.locate(path),
                    path,
                    f"'{name}' is a secret variable: its value may not be written in a file",
                    suggestion=_from_environment(name),
                )
            )
            continue
        if name in set_here:
            problems.append(
                Problem(
                    doc.locate(path),
                    path,
                    f"'{name}' is set twice for this environment: here and at {set_here[name]}",
                    suggestion="set each variable once per environment",
                )
            )
            continue
        typed, message = _typed(declaration, value)
        if message is not None:
            problems.append(
                Problem(doc.locate(path, value=True), path, message[0], suggestion=message[1])
            )
            continue
        if typed is not None:
            chosen[name] = typed
            if prefix == "$.values":
                set_here[name] = doc.locate(path)
    return problems


def load_var_files(paths: Sequence[str]) -> tuple[list[Document], list[Problem]]:
    """Each ``--var-file``: a YAML (or JSON) mapping of variable names to values, read with the
    manifests' guards (regular files only, size caps, UTF-8). Its text is taken as written:
    ``${...}`` in a value is not a reference."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for given in paths:
        doc, found = load(Path(given), relative=given, kind="var-file")
        problems += found
        if doc is not None:
            documents.append(doc)
    return documents, problems
