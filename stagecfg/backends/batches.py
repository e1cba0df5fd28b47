"""Request bodies and answers that every backend shares, cut to Stream's per-request limits.

The ``local`` and ``stream`` backends differ only in how a body reaches the app (a method call on
the engine, or HTTP); which bodies are sent, how reads are batched and paged, and how answers
become state objects is decided here once, so both backends batch and page alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TypeVar

from stagecfg import wire
from stagecfg.model import ActualState, CallState, CallTypeState, Json, UserState
from stagecfg.rules.limits import MEMBERS_PER_REQUEST, PAGE_LIMIT, USERS_PER_REQUEST

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = PAGE_LIMIT) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def call_filters(cids: Collection[str], *, all_calls: bool) -> list[Json]:
    """QueryCalls filters that together find the named calls (or every call)."""
    if all_calls:
        return [{}]
    return [{"cid": {"$in": chunk}} for chunk in chunks(sorted(set(cids)))]


def query_all_calls(fetch: Callable[[Json], Json], filter_conditions: Json) -> list[CallState]:
    """Every page of a QueryCalls; ``fetch`` sends one request body and returns the answer."""
    calls: list[CallState] = []
    request: Json = {"filter_conditions": filter_conditions, "limit": PAGE_LIMIT}
    while True:
        body = fetch(request)
        page = body.get("calls") or ()
        calls.extend(wire.call_from_wire(state) for state in page)
        cursor = body.get("next") or None
        if not cursor or not page:
            return calls
        request = {"filter_conditions": filter_conditions, "limit": PAGE_LIMIT, "next": cursor}


def user_queries(ids: Collection[str]) -> list[Json]:
    """QueryUsers payloads that together find the named users."""
    return [
        {"filter_conditions": {"id": {"$in": chunk}}, "limit": PAGE_LIMIT}
        for chunk in chunks(sorted(set(ids)))
    ]


def users_from_wire(body: Json) -> dict[str, UserState]:
    found = (wire.user_from_wire(u) for u in body.get("users") or ())
    return {u.id: u for u in found}


def call_types_from_wire(body: Json) -> dict[str, CallTypeState]:
    """A ListCallTypes answer; the map key names a call type whose body leaves ``name`` out."""
    return {
        name: wire.call_type_from_wire({**ct, "name": ct.get("name") or name})
        for name, ct in (body.get("call_types") or {}).items()
    }


def actual_state(
    call_types: Mapping[str, CallTypeState],
    calls: Mapping[str, CallState],
    users: Mapping[str, UserState],
) -> ActualState:
    """The state a read returns, every map sorted by key."""
    return ActualState(
        call_types=dict(sorted(call_types.items())),
        calls=dict(sorted(calls.items())),
        users=dict(sorted(users.items())),
    )


def user_upserts(users: Mapping[str, Json]) -> Iterator[tuple[str, Json]]:
    """UpdateUsers bodies, each with the name its failure should carry (the ids, when few)."""
    for chunk in chunks(sorted(users), USERS_PER_REQUEST):
        name = ",".join(chunk) if len(chunk) <= 3 else ""
        yield name, {"users": {uid: {**users[uid], "id": uid} for uid in chunk}}


def member_updates(update: Collection[Json], remove: Collection[str]) -> Iterator[Json]:
    """UpdateCallMembers bodies; at least one, even when both lists are empty."""
    updates = list(update)
    removals = sorted(remove)
    cap = MEMBERS_PER_REQUEST
    rounds = max(1, -(-len(updates) // cap), -(-len(removals) // cap))
    for i in range(rounds):
        yield {
            "update_members": updates[i * cap : (i + 1) * cap],
            "remove_members": removals[i * cap : (i + 1) * cap],
        }
