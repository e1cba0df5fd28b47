"""JSON as the wire carries it: NaN, Infinity and numbers beyond a float's range are refused.

Python's json accepts ``NaN`` and ``Infinity`` and turns ``1e400`` into ``inf``; neither Stream's
decoder nor any other JSON reader does. Server answers (transport), emulator requests and saved
plans are all read through :func:`loads`, so the three refuse the same things.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite_float(text: str) -> float:
    """A JSON number as a float, or ValueError when it does not fit one."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: str | bytes) -> Any:
    """Strict JSON; ValueError (or RecursionError for deep nesting) when it is not."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=finite_float)
