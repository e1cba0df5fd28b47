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


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("0099-03-04T05:06:07+00:00", "0099-03-04T05:06:07Z"),
        ("0999-12-31T23:59:59.5Z", "0999-12-31T23:59:59.500000Z"),
        ("1677-09-21T01:12:43.145225+01:00", "1677-09-21T00:12:43.145225Z"),
    ],
)
def test_years_are_always_written_with_four_digits(text: str, formatted: str) -> None:
    # strftime's %Y writes year 1 as "1" on glibc; Stream then rejects "1-01-01T00:00:00Z".
    assert timestamps.normalize(text) == formatted
    assert timestamps.is_rfc3339(formatted)


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("0001-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00+01:00", False),  # year 0 in UTC: no OverflowError
        ("1677-09-21T00:12:43.145224191Z", False),
        ("1677-09-21T00:12:43.145224192Z", False),  # -2**63 itself, but sent as .145224
        ("1677-09-21T00:12:43.145225Z", True),
        ("1970-01-01T00:00:00Z", True),
        ("2262-04-11T23:47:16.854775807Z", True),  # 2**63 - 1, sent as .854775
        ("2262-04-11T23:47:16.854776Z", False),
        ("9999-12-31T23:59:59-01:00", False),  # year 10000 in UTC
    ],
)
def test_instants_outside_int64_nanoseconds_do_not_fit_the_wire(text: str, fits: bool) -> None:
    assert timestamps.is_rfc3339(text)
    assert timestamps.in_wire_range(text) is fits


def test_exact_nanos_keep_every_digit_and_the_sign() -> None:
    assert timestamps.exact_nanos("1677-09-21T00:12:43.145224192Z") == -(2**63)
    assert timestamps.exact_nanos("2262-04-11T23:47:16.854775807Z") == 2**63 - 1
    assert timestamps.exact_nanos("2026-12-01T19:00:00+01:00") == timestamps.to_nanos(
        "2026-12-01T18:00:00Z"
    )
    assert timestamps.exact_nanos("2026-12-01T18:00:00Z\n") is None
    assert timestamps.exact_nanos("2026-02-30T18:00:00Z") is None


def test_to_nanos_before_1970_with_a_fraction_is_not_a_second_late() -> None:
    # int(datetime.timestamp()) truncates towards zero: -1.5 s became -0.5 s.
    assert timestamps.to_nanos("1969-12-31T23:59:58.5Z") == -1_500_000_000
    assert timestamps.normalize(timestamps.to_nanos("1969-12-31T23:59:58.5Z")) == (
        "1969-12-31T23:59:58.500000Z"
    )


def test_a_trailing_newline_is_not_rfc3339() -> None:
    assert not timestamps.is_rfc3339("2026-12-01T18:00:00Z\n")


def test_digits_of_other_scripts_are_not_rfc3339() -> None:
    # int() reads "٢٠٢٦" as 2026; Stream and the JSON Schema pattern do not.
    assert not timestamps.is_rfc3339("\u0662\u0660\u0662\u0666-12-01T18:00:00Z")
