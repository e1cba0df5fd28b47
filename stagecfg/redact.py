"""Keep secrets out of every output: registered secret values and anything shaped like a JWT."""

from __future__ import annotations

import re
import threading

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_lock = threading.Lock()
_secrets: set[str] = set()
_named: dict[str, str] = {}  # secret value -> the environment variable it came from

MASK = "***"


def register_secret(value: str | None, *, variable: str | None = None) -> None:
    """Remember a secret (API secret, token) so that :func:`redact` masks it wherever it shows.

    ``variable`` names the environment variable a manifest took it from, so that files which
    must keep the data (saved plans) can hold ``${VARIABLE}`` instead of the value.
    """
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)
            if variable:
                _named[value] = variable


def secret_variables() -> dict[str, str]:
    """Secret values that came from manifest variables, mapped to the variable's name."""
    with _lock:
        return dict(_named)


def redact(text: str) -> str:
    """``text`` with every registered secret and every JWT replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _JWT.sub(MASK, text)
