"""Instants: RFC 3339 text and Stream's integer nanoseconds name the same moments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagecfg import timestamps


@given(st.integers(min_value=0, max_value=253_402_300_799 * 10**9))
def test_nanos_normalize_like_the_datetime_path(nanos: int) -> None:
    seconds, rest = divmod(nanos, 10**9)
    dt = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=seconds, microseconds=rest // 1000
    )
    expected = dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    assert timestamps.normalize(nanos) == expected
    assert timestamps.same_instant(timestamps.normalize(nanos), nanos - rest % 1000)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2026-12-01T18:00:00Z", "2026-12-01T19:00:00+01:00"),
        ("2026-12-01T18:00:00.5Z", "2026-12-01T18:00:00.500000+00:00"),
        ("2026-12-01T18:00:00Z", 1_796_148_000 * 10**9),
    ],
)
def test_same_instant_ignores_spelling(a: str, b: str | int) -> None:
    assert timestamps.same_instant(a, b)
    assert timestamps.normalize(a) == timestamps.normalize(b)


def test_rfc3339_requires_an_offset() -> None:
    assert timestamps.is_rfc3339("2026-12-01T18:00:00+05:30")
    assert not timestamps.is_rfc3339("2026-12-01T18:00:00")
    assert not timestamps.is_rfc3339("2026-13-01T18:00:00Z")
    with pytest.raises(ValueError):
        timestamps.parse("2026-12-01T18:00:00")


def test_nanos_round_trip() -> None:
    text = "2026-12-01T18:00:00.123456Z"
    assert timestamps.normalize(timestamps.to_nanos(text)) == text
