"""Join windows in words: when viewers of a call may join, and how a change moves that."""

from __future__ import annotations

from stagecfg import timestamps
from stagecfg.rules.join import JoinWindow


def format_duration(seconds: int) -> str:
    """``600`` -> ``10 minutes``; whole hours and minutes read better than seconds."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def describe_window(window: JoinWindow) -> str:
    """When viewers may join, as the end of a sentence starting "viewers can join ..."."""
    if window.kind == "always":
        return "at any time (backstage disabled)"
    if window.kind == "go-live":
        return "only after go-live"
    return f"{format_duration(window.join_ahead_time_seconds)} before start ({window.opens_at})"


def describe_window_change(cid: str, before: JoinWindow, after: JoinWindow) -> str | None:
    """One sentence on how a change moves when viewers of ``cid`` may join; None if it does not.

    "viewers of `livestream:launch` can now join 10 minutes before start instead of 5"
    """
    if before.same_as(after):
        return None
    subject = f"viewers of `{cid}` can now join"
    if before.kind == after.kind == "ahead" and timestamps.same_instant(
        before.starts_at, after.starts_at
    ):
        new = format_duration(after.join_ahead_time_seconds)
        old = format_duration(before.join_ahead_time_seconds)
        old_count, _, old_unit = old.partition(" ")
        if new.partition(" ")[2].rstrip("s") == old_unit.rstrip("s"):
            old = old_count
        return f"{subject} {new} before start instead of {old}"
    return f"{subject} {describe_window(after)} instead of {describe_window(before)}"
