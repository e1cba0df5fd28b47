"""Instants: RFC 3339 in manifests and requests, integer nanoseconds on Stream's wire.

Everything inside stagecfg holds UTC RFC 3339 text produced by :func:`normalize`, and compares
instants with :func:`same_instant`, so "18:00:00Z" and "19:00:00+01:00" never show as a diff.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d is [0-9]: int() would read other scripts' digits, the wire would not
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = datetime(1970, 1, 1)

#: Stream carries instants as int64 nanoseconds since the epoch: -2**63 is
#: 1677-09-21T00:12:43.145224192Z and 2**63 - 1 is 2262-04-11T23:47:16.854775807Z. stagecfg
#: sends instants to the microsecond (``normalize``), so the first and the last instant it can
#: send are these; anything outside is refused at validation, not at apply.
WIRE_MIN = "1677-09-21T00:12:43.145225Z"
WIRE_MAX = "2262-04-11T23:47:16.854775Z"
#: Stream's wire timestamps are int64 nanoseconds (1677-09-21 to 2262-04-11).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def is_rfc3339(text: str) -> bool:
    """True for a full RFC 3339 date-time with an explicit offset (any year 0001-9999), as JSON
    Schema's ``date-time`` reads it: ``T`` or ``t`` between date and time. RFC 3339 lets
    applications agree on a space instead, but its grammar, check-jsonschema and editors do not,
    so a manifest that passes validate also passes every schema checker."""
    return text[10:11] in ("T", "t") and exact_nanos(text) is not None


# The schema's format check and the semantic checks ask about the same starts_at texts.
@functools.lru_cache(maxsize=4096)
def exact_nanos(text: str) -> int | None:
    """Nanoseconds since the epoch of RFC 3339 text, exact (no float, all nine fraction digits),
    or None when it is not RFC 3339. Integer arithmetic on the written fields, so year 1 with a
    positive offset (year 0 in UTC) is a number like any other, not an OverflowError."""
    match = _RFC3339.fullmatch(text)  # fullmatch: re's $ would accept a final newline
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        written = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    if sign is not None and (int(off_h) > 23 or int(off_m) > 59):
        return None
    offset = 0 if sign is None else (int(off_h) * 60 + int(off_m)) * 60 * (-1 if sign == "-" else 1)
    seconds = (written - _NAIVE_EPOCH) // timedelta(seconds=1) - offset
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    return seconds * 1_000_000_000 + nanos


def in_wire_range(text: str) -> bool:
    """Whether an RFC 3339 instant, as sent (to the microsecond, like ``normalize``), fits
    Stream's int64 nanoseconds: WIRE_MIN .. WIRE_MAX."""
    nanos = exact_nanos(text)
    if nanos is None:
        return False
    sent = nanos // 1000 * 1000  # normalize drops the digits after the microseconds
    return INT64_MIN <= sent <= INT64_MAX


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
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:  # year 1 east of UTC, or 9999 west of it: no year 0 or 10000
        raise ValueError(f"timestamp {value!r} is outside the years 0001-9999 in UTC") from None


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
    # Not strftime: its %Y writes year 1 as "1" on glibc, and RFC 3339 needs four digits.
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    return f"{text}.{dt.microsecond:06d}Z" if dt.microsecond else text + "Z"


def to_nanos(value: str | int | float | datetime) -> int:
    """Integer nanoseconds since the epoch, as Stream sends timestamps."""
    if type(value) is str:
        exact = exact_nanos(value.strip())
        if exact is not None:  # every fraction digit: WIRE_MIN itself stays in range
            return exact
    dt = parse(value)
    # Integer arithmetic: int(dt.timestamp()) truncates towards zero, which put an instant
    # before 1970 with a fraction one second late, and a float loses nanoseconds far out.
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000


def same_instant(a: str | int | None, b: str | int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return parse(a) == parse(b)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
