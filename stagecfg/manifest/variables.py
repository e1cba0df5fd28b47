"""``${VAR}`` and ``${VAR:-default}`` in manifest strings, and masking of secret variables.

Variables are expanded in the string values of the built data, never in the YAML text, so a
variable can change neither the document's structure nor a value's type. A variable whose name
looks secret (``STREAM_API_SECRET``, ``CDN_TOKEN``) is registered with :mod:`stagecfg.redact`
when its value is used, so every message that quotes the value prints ``***`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stagecfg.redact import register_secret

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Variables whose values are masked as ``***`` in output (STREAM_API_SECRET, CDN_TOKEN, ...).
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)


def substitute_variables(
    text: str, env: Mapping[str, str]
) -> tuple[str, list[tuple[str, str | None]]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; ``$${`` is a literal ``${``.

    The result is always a string, even when the value is one variable reference: "${PORT}" stays
    text, so a variable can never change a value's type behind the schema's back.
    """
    errors: list[tuple[str, str | None]] = []

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
        if name in env:
            if _SECRET_NAME.search(name):
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
