"""Keep secrets out of every output without changing what the output means.

Two kinds of secret are registered here:

* **Long secrets** (at least :data:`MIN_SECRET_LENGTH` characters): the API secret, tokens, and
  long values of secret-named manifest variables. No meaningful text contains one by accident,
  so they are masked wherever they occur, in any text: :func:`redact` does that (and masks
  anything shaped like a JWT) and is safe on every line stagecfg prints.
* **Short values of secret-named manifest variables** (``CDN_TOKEN=abc``). They are masked too,
  whatever their length, but only as whole tokens inside data values (:func:`mask_data`,
  :func:`mask_text`), before the data is serialised. Masking them in rendered text would also
  hit the same characters where they mean something else (``true`` in JSON, a role name), and a
  JSON plan would no longer parse.

So a command renders structured output (plans, exports, reports) from data passed through
:func:`mask_data`, and prints it through :func:`redact`; free text (errors, notices) is printed
through :func:`mask_text`, which masks both kinds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_lock = threading.Lock()
_secrets: set[str] = set()
_named: dict[str, str] = {}  # secret value -> the environment variable it came from
_patterns: dict[bool, re.Pattern[str] | None] = {}  # short ones included? -> one alternation

MASK = "***"

#: An API secret shorter than this is refused (see :func:`secret_too_short`): anything shorter
#: could be an ordinary word of the output. Stream's secrets are far longer.
MIN_SECRET_LENGTH = 16


def register_secret(value: str | None, *, variable: str | None = None) -> None:
    """Remember a secret (API secret, token, secret-named variable's value) so output masks it.

    ``variable`` names the environment variable a manifest took it from, so that files which
    must keep the data (saved plans) can hold ``${VARIABLE}`` instead of the value. Values of
    any length are kept: a short one is masked as a whole token inside data only.
    """
    if not value:
        return
    with _lock:
        _secrets.add(value)
        _patterns.clear()
        if variable:
            _named[value] = variable


def secret_variables() -> dict[str, str]:
    """Secret values that came from manifest variables, mapped to the variable's name."""
    with _lock:
        return dict(_named)


def secret_too_short(value: str) -> str | None:
    """Why an API secret cannot be masked safely, or None when it can."""
    if len(value) >= MIN_SECRET_LENGTH:
        return None
    return (
        f"the API secret has {len(value)} characters; stagecfg needs at least "
        f"{MIN_SECRET_LENGTH} to keep it out of its output without masking ordinary words "
        "(Stream's API secrets are longer: check that the whole secret was given)"
    )


def _pattern(short: bool) -> re.Pattern[str] | None:
    """One regex over the registered secrets: long ones anywhere, short ones as whole tokens."""
    with _lock:
        if short not in _patterns:
            parts = []
            # Longest first, so a secret that contains another is masked whole.
            for secret in sorted(_secrets, key=lambda s: (-len(s), s)):
                if len(secret) >= MIN_SECRET_LENGTH:
                    parts.append(re.escape(secret))
                elif short:
                    parts.append(rf"(?<![\w-]){re.escape(secret)}(?![\w-])")
            _patterns[short] = re.compile("|".join(parts)) if parts else None
        return _patterns[short]


def _mask(text: str, *, short: bool) -> str:
    pattern = _pattern(short)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _JWT.sub(MASK, text)


def redact(text: str) -> str:
    """``text`` with every long secret and every JWT replaced by ``***``; safe on any text."""
    return _mask(text, short=False)


def mask_text(text: str) -> str:
    """``text`` with every secret masked, short ones as whole tokens: for one data value or a
    free-text message, never for rendered structured output."""
    return _mask(text, short=True)


def has_short_secrets() -> bool:
    """Whether any registered secret is short enough to need masking inside data."""
    with _lock:
        return any(len(secret) < MIN_SECRET_LENGTH for secret in _secrets)


def mask_data(data: Any) -> Any:
    """JSON-like data with :func:`mask_text` applied to every string, keys included (a copy).

    With no short secret registered the data comes back as it is: long secrets and JWTs are
    masked by :func:`redact` when the rendered text is printed, which cannot change its meaning.
    """
    if not has_short_secrets():
        return data
    return _walk(data, mask_text)


def mask_strings(data: Any) -> Any:
    """JSON-like data with :func:`mask_text` applied to every string, keys included (a copy),
    whatever secrets are registered: for data served as JSON, which no later :func:`redact` of
    printed text would mask (the emulator's request log)."""
    return _walk(data, mask_text)


def _walk(data: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {_walk(k, mask): _walk(v, mask) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_walk(item, mask) for item in data]
    return data
