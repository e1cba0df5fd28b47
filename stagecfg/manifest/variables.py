"""``${VAR}`` and ``${VAR:-default}`` in manifest strings, and masking of secret variables.

Variables are expanded in the string values of the built data, never in the YAML text, so a
variable can change neither the document's structure nor the type of a value it is part of. A
name declared under ``variables:`` (see :mod:`stagecfg.manifest.typed_variables`) is a typed
variable: a scalar that is exactly one reference to it, ``${max_viewers}``, takes the variable's
value with its type; inside longer text the value is written out (``true``/``false``, ``5000``).
Any other name is read from the environment and always gives text. A variable whose name looks
secret (``STREAM_API_SECRET``, ``CDN_TOKEN``), or a typed one declared secret, is registered with
:mod:`stagecfg.redact` when its value is used, so every message that quotes the value prints
``***`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stagecfg.redact import register_secret

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHOLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Variables whose values are masked as ``***`` in output (STREAM_API_SECRET, CDN_TOKEN, ...).
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)

Scalar = str | int | float | bool
Errors = list[tuple[str, str | None]]


def looks_secret(name: str) -> bool:
    """Whether a variable's name says it holds a secret (``CDN_TOKEN``, ``db_password``)."""
    return _SECRET_NAME.search(name) is not None


@dataclass(frozen=True)
class Value:
    """A typed variable's value; ``saved_as`` names the environment variable a secret one came
    from, which saved plans write in its place (``${STAGECFG_VAR_cdn_token}``)."""

    value: Scalar
    saved_as: str | None = None


def as_text(value: Scalar) -> str:
    """A typed value written into text: booleans as ``true``/``false``, numbers as in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _use(value: Value) -> Scalar:
    if value.saved_as is not None:
        register_secret(as_text(value.value), variable=value.saved_as)
    return value.value


def expand(
    text: str, env: Mapping[str, str], declared: Mapping[str, Value | None]
) -> tuple[Any, Errors]:
    """``text`` with its references filled in, and (message, suggestion) for each bad one.

    ``declared`` maps every declared variable to its value (None: it has none, which is reported
    at the declaration, so its references are left as written). A scalar that is exactly one
    reference to a declared variable gives the variable's value, typed.
    """
    if declared:
        whole = _WHOLE.fullmatch(text)
        if whole is not None and whole.group(1) in declared:
            value = declared[whole.group(1)]
            return (text, []) if value is None else (_use(value), [])
    errors: Errors = []

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            errors.append(("unclosed variable reference '${'", "write ${NAME}, or $${ for text"))
            return whole
        name, sep, default = inner.partition(":-")
        if not _VAR_NAME.match(name):
            errors.append(
                (
                    f"bad variable name '{name}' in '{whole}'",
                    "names are letters, digits and _, not starting with a digit",
                )
            )
            return whole
        if name in declared:
            if sep:
                errors.append(
                    (
                        f"'{whole}': {name} is a declared variable, so it takes no :-default here",
                        f"write ${{{name}}} and give the default in variables.{name}.default",
                    )
                )
                return whole
            value = declared[name]
            return whole if value is None else as_text(_use(value))
        if name in env:
            if looks_secret(name):
                # Messages quote values (`'...' does not match ...`): mask this one wherever
                # the CLI prints it.
                register_secret(env[name], variable=name)
            return env[name]
        if sep:
            return default
        errors.append(
            (
                f"environment variable {name} is not set and has no default",
                f"set {name} or write ${{{name}:-default}}",
            )
        )
        return whole

    return _VARIABLE.sub(replace, text), errors


def substitute_variables(
    text: str, env: Mapping[str, str]
) -> tuple[str, list[tuple[str, str | None]]]:
    """Expand ``${VAR}`` and ``${VAR:-default}`` from the environment; ``$${`` is a literal ``${``.

    The result is always a string, even when the value is one variable reference: "${PORT}" stays
    text, so an environment variable can never change a value's type behind the schema's back.
    """
    value, errors = expand(text, env, {})
    return str(value), errors
