"""What the two access cross-checks (tests/test_access.py, tests/test_cli_access.py) share.

Both generate call types from these roles and permission ids and ask the emulator's join
endpoint at instants chosen through a settable engine clock.
"""

from __future__ import annotations

from datetime import datetime

from stagecfg import timestamps

#: app and call roles the generated grants and users draw from
JOIN_ROLES = ["user", "guest", "viewer", "host", "call_member"]
#: every permission that decides a join, plus one that does not
JOIN_PERMS = [
    "join-call",
    "join-call-owner",
    "join-backstage",
    "join-backstage-owner",
    "join-ended-call",
    "read-call",
]


class SettableClock:
    """The engine's clock, set by the test so joins happen at chosen instants."""

    def __init__(self, start: str) -> None:
        self.now = timestamps.parse(start)

    def __call__(self) -> datetime:
        return self.now
