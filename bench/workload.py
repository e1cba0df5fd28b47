"""Synthetic manifests for the benchmark: N call types and M calls spread over them.

The workload is deterministic (same arguments, same bytes) so two runs compare like with like.
Calls are split over several files, as a real project would, so loading covers the merge of
sources and not just one big document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

CALLS_PER_FILE = 1000
PROJECT = "bench"
USERS = ("bench-host", "bench-guest-1", "bench-guest-2", "bench-guest-3")
QUERY_PAGE = 100  # Stream's QueryCalls limit: the backend reads at most 100 cids per request
USERS_PAGE = 100  # users per UpdateUsers request


@dataclass(frozen=True)
class Workload:
    """What was generated, and the round-trip minimums that follow from it."""

    directory: Path
    call_types: int
    calls: int
    users: int
    revision: int

    def cids(self) -> list[str]:
        return [call_cid(i, self.call_types) for i in range(self.calls)]

    def min_reads(self) -> int:
        """One list of call types, ceil(M/100) call queries, ceil(U/100) user queries."""
        return 1 + math.ceil(self.calls / QUERY_PAGE) + math.ceil(self.users / QUERY_PAGE)

    def min_creates(self) -> int:
        """Creating everything on an empty app: one write per call type and per call.

        Users count one write per 100: Stream's UpdateUsers takes a batch of users, and one
        request for the batch is the fewest round trips there can be.
        """
        return self.call_types + self.calls + math.ceil(self.users / USERS_PAGE)


def type_name(index: int) -> str:
    return f"bench_type_{index:03d}"


def call_cid(index: int, call_types: int) -> str:
    return f"{type_name(index % call_types)}:show-{index:06d}"


def _starts_at(index: int, revision: int) -> str:
    # Far in the future so the "starts_at in the past" check never fires; the revision shifts
    # every call by whole hours so an update run changes every call.
    day = index % 28 + 1
    hour = (index // 28 + revision) % 24
    return f"2031-{index % 12 + 1:02d}-{day:02d}T{hour:02d}:{index % 60:02d}:00Z"


def _call_type_yaml(index: int) -> str:
    join_ahead = 300 if index % 2 == 0 else 600
    return (
        f"  {type_name(index)}:\n"
        "    settings:\n"
        f"      backstage: {{enabled: true, join_ahead_time_seconds: {join_ahead}}}\n"
        f"      limits: {{max_participants: {100 + index}, max_duration_seconds: 14400}}\n"
        "    grants:\n"
        "      host: [join-backstage, join-call, read-call, send-audio, send-video]\n"
        "      user: [join-call, read-call]\n"
        "    notification_settings:\n"
        "      call_live_started: {enabled: true}\n"
    )


def _call_yaml(index: int, call_types: int, revision: int) -> str:
    lines = [
        f"  {call_cid(index, call_types)}:",
        f"    created_by_id: {USERS[0]}",
        f'    starts_at: "{_starts_at(index, revision)}"',
        f'    custom: {{title: "Show {index}", episode: {index}, revision: {revision}}}',
    ]
    if index % 3 == 0:
        lines.append("    settings_override:")
        lines.append("      backstage: {enabled: true, join_ahead_time_seconds: 900}")
    if index % 4 == 0:
        guest = USERS[1 + index % (len(USERS) - 1)]
        lines.append(f"    members: {{{USERS[0]}: host, {guest}: user}}")
    return "\n".join(lines) + "\n"


def generate(directory: Path, *, call_types: int, calls: int, revision: int = 0) -> Workload:
    """Write the manifests into ``directory`` (created; existing manifests are replaced)."""
    if call_types < 1:
        raise ValueError("at least one call type is needed to hold the calls")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    header = "version: 1\nproject: " + PROJECT + "\n"
    users = "users:\n" + "".join(f"  {user}: {{role: user, name: {user}}}\n" for user in USERS)
    types = "call_types:\n" + "".join(_call_type_yaml(i) for i in range(call_types))
    (directory / "00-app.yaml").write_text(header + users + types, encoding="utf-8")
    for start in range(0, calls, CALLS_PER_FILE):
        stop = min(start + CALLS_PER_FILE, calls)
        body = "".join(_call_yaml(i, call_types, revision) for i in range(start, stop))
        name = f"calls-{start // CALLS_PER_FILE:04d}.yaml"
        (directory / name).write_text(header + "calls:\n" + body, encoding="utf-8")
    return Workload(directory, call_types, calls, len(USERS), revision)


def call_requests(index: int, call_types: int, revision: int = 0) -> tuple[str, dict[str, object]]:
    """The same call as a plain GetOrCreateCall ``data`` body, for the SDK baseline."""
    data: dict[str, object] = {
        "created_by_id": USERS[0],
        "starts_at": _starts_at(index, revision),
        "custom": {"title": f"Show {index}", "episode": index, "revision": revision},
    }
    if index % 3 == 0:
        data["settings_override"] = {"backstage": {"enabled": True, "join_ahead_time_seconds": 900}}
    if index % 4 == 0:
        guest = USERS[1 + index % (len(USERS) - 1)]
        data["members"] = [
            {"user_id": USERS[0], "role": "host"},
            {"user_id": guest, "role": "user"},
        ]
    return call_cid(index, call_types), data


def call_type_request(index: int) -> dict[str, object]:
    """The same call type as a CreateCallTypeRequest, for the SDK baseline."""
    join_ahead = 300 if index % 2 == 0 else 600
    return {
        "name": type_name(index),
        "settings": {
            "backstage": {"enabled": True, "join_ahead_time_seconds": join_ahead},
            "limits": {"max_participants": 100 + index, "max_duration_seconds": 14400},
        },
        "grants": {
            "host": ["join-backstage", "join-call", "read-call", "send-audio", "send-video"],
            "user": ["join-call", "read-call"],
        },
        "notification_settings": {"call_live_started": {"enabled": True}},
    }
