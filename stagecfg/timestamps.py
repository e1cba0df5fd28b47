"""Instants: RFC 3339 in manifests and requests, integer nanoseconds on Stream's wire.

Everything inside stagecfg holds UTC RFC 3339 text produced by :func:`normalize`, and compares
instants with :func:`same_instant`, so "18:00:00Z" and "19:00:00+01:00" never show as a diff.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime, timezone

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def is_rfc3339(text: str) -> bool:
    """True for a full RFC 3339 date-time with an explicit offset."""
    if not _RFC3339.fullmatch(text):  # not .match: its $ accepts a final newline
        return False
    try:
        parse(text)
    except ValueError:
        return False
    return True


def parse(value: str | int | float | datetime) -> datetime:
    """An aware UTC datetime from RFC 3339 text, integer nanoseconds or a datetime."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds, nanos = divmod(int(value), 1_000_000_000)
        base = datetime.fromtimestamp(seconds, tz=timezone.utc)
        return base.replace(microsecond=nanos // 1000)
    return _parse_text(str(value))


# A plan compares and re-normalises the same few strings several times per call (starts_at on
# both sides, join windows before and after); datetimes are immutable, so sharing is safe.
@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = text.replace("t", "T").replace(" ", "T", 1)
    # Python 3.10's fromisoformat accepts only 0, 3 or 6 fractional digits.
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if match and match.group(2):
        frac = (match.group(2)[1:] + "000000")[:6]
        text = f"{match.group(1)}.{frac}{match.group(3)}"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return dt.astimezone(timezone.utc)


def _format_nanos(nanos: int) -> str:
    # Hot path: every call read from Stream carries several ns timestamps, and strftime on a
    # datetime costs about three times as much as formatting the fields of a struct_time.
    seconds, rest = divmod(nanos, 1_000_000_000)
    t = time.gmtime(seconds)
    text = (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )
    micros = rest // 1000
    return f"{text}.{micros:06d}Z" if micros else text + "Z"


def normalize(value: str | int | float | datetime | None) -> str | None:
    """Canonical UTC text, e.g. ``2026-12-01T18:00:00Z``; None stays None."""
    if value is None:
        return None
    if type(value) is int:
        return _format_nanos(value)
    if type(value) is str:
        return _normalize_text(value)
    return _format(parse(value))


@functools.lru_cache(maxsize=4096)
def _normalize_text(value: str) -> str:
    return _format(parse(value))


def _format(dt: datetime) -> str:
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_nanos(value: str | int | float | datetime) -> int:
    """Integer nanoseconds since the epoch, as Stream sends timestamps."""
    dt = parse(value)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def same_instant(a: str | int | None, b: str | int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return parse(a) == parse(b)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
