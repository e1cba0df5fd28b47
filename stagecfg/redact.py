"""Keep secrets out of every output: registered secret values and anything shaped like a JWT."""

from __future__ import annotations

import re
import threading

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_lock = threading.Lock()
_secrets: set[str] = set()

MASK = "***"


def register_secret(value: str | None) -> None:
    """Remember a secret (API secret, token) so that :func:`redact` masks it wherever it shows."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every JWT replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _JWT.sub(MASK, text)
