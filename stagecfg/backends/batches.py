"""Request bodies and answers that every backend shares, cut to Stream's per-request limits.

The ``local`` and ``stream`` backends differ only in how a body reaches the app (a method call on
the engine, or HTTP); which bodies are sent, how reads are batched and paged, and how answers
become state objects is decided here once, so both backends batch and page alike. Answers of
the wrong shape raise :class:`stagecfg.wire.WireError`, and so does a paging that does not end
(a cursor seen before, more than :data:`MAX_PAGES` pages) instead of being followed forever.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from stagecfg import wire
from stagecfg.model import ActualState, CallState, CallTypeState, Json, UserState
from stagecfg.rules.limits import MEMBERS_PER_REQUEST, PAGE_LIMIT, USERS_PER_REQUEST

T = TypeVar("T")

#: Pages one QueryCalls may take: 100,000 calls at 100 a page, ten times what a project holds.
MAX_PAGES = 1000


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
    seen: set[str] = set()
    for number in range(1, MAX_PAGES + 1):
        body = fetch(request)
        where = f"page {number}"
        page = wire.arr(body.get("calls"), f"{where} calls")
        calls.extend(wire.call_from_wire(wire.obj(state, f"{where} calls[]")) for state in page)
        cursor = wire.opt_text(body.get("next"), f"{where} next")
        if not cursor or not page:
            return calls
        if cursor in seen:
            raise wire.WireError(f"{where} repeats an earlier cursor; the paging would not end")
        seen.add(cursor)
        request = {"filter_conditions": filter_conditions, "limit": PAGE_LIMIT, "next": cursor}
    raise wire.WireError(f"the answer still had more pages after {MAX_PAGES}; stopped there")


def user_queries(ids: Collection[str]) -> list[Json]:
    """QueryUsers payloads that together find the named users.

    Deactivated users are asked for too: QueryUsers leaves them out by default, yet they exist,
    and a plan that did not see one would try to create it again.
    """
    return [
        {
            "filter_conditions": {"id": {"$in": chunk}},
            "limit": PAGE_LIMIT,
            "include_deactivated_users": True,
        }
        for chunk in chunks(sorted(set(ids)))
    ]


def query_every_user(fetch: Callable[[Json], Json]) -> dict[str, UserState]:
    """Every user of the app, deactivated ones too; ``fetch`` sends one QueryUsers payload.

    Paged by id rather than by offset: QueryUsers refuses an offset past 1000, so each page asks
    for the ids after the last one the previous page held, in id order.
    """
    found: dict[str, UserState] = {}
    conditions: Json = {}
    for number in range(1, MAX_PAGES + 1):
        body = fetch(
            {
                "filter_conditions": conditions,
                "sort": [{"field": "id", "direction": 1}],
                "limit": PAGE_LIMIT,
                "include_deactivated_users": True,
            }
        )
        page = wire.arr(body.get("users"), f"page {number} users")
        users = [wire.user_from_wire(wire.obj(u, f"page {number} users[]")) for u in page]
        if not users:
            return found
        last = users[-1].id
        if last in found:
            raise wire.WireError(f"page {number} repeats user {last!r}; the paging would not end")
        found.update((u.id, u) for u in users)
        if len(users) < PAGE_LIMIT:
            return found
        conditions = {"id": {"$gt": last}}
    raise wire.WireError(f"the answer still had more pages after {MAX_PAGES}; stopped there")


def users_from_wire(body: Json) -> dict[str, UserState]:
    found = (
        wire.user_from_wire(wire.obj(u, "users[]")) for u in wire.arr(body.get("users"), "users")
    )
    return {u.id: u for u in found}


def call_types_from_wire(body: Json) -> dict[str, CallTypeState]:
    """A ListCallTypes answer; the map key names a call type whose body leaves ``name`` out."""
    listed = wire.obj(body.get("call_types"), "call_types")
    states: dict[str, CallTypeState] = {}
    for name, ct in listed.items():
        ct = wire.obj(ct, f"call_types.{name}")
        state = wire.call_type_from_wire({**ct, "name": ct.get("name") or name})
        if state.name != name:
            raise wire.WireError(f"call_types.{name} names itself {state.name}")
        states[name] = state
    return states


def check_upserted(body: Json, ids: Collection[str]) -> None:
    """An UpdateUsers answer must hold every user it was asked to write."""
    written = wire.obj(body.get("users"), "users")
    missing = sorted(uid for uid in ids if uid not in written)
    if missing:
        raise wire.WireError(f"users lacks {', '.join(missing[:3])}: the write was not confirmed")


def holds_declared(actual: Any, declared: Any) -> bool:
    """Whether ``actual`` (what the server holds) has every part of ``declared`` (a request).

    Objects compare key by declared key; lists of strings (grants) compare as sets, since the
    server may keep them in another order.
    """
    if isinstance(declared, dict):
        return isinstance(actual, dict) and all(
            key in actual and holds_declared(actual[key], value) for key, value in declared.items()
        )
    if isinstance(declared, list) and isinstance(actual, list):
        if all(isinstance(x, str) for x in (*declared, *actual)):
            return set(declared) == set(actual)
        return len(declared) == len(actual) and all(map(holds_declared, actual, declared))
    return bool(actual == declared)


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


def user_partial_updates(users: Mapping[str, Json]) -> Iterator[tuple[str, Json]]:
    """UpdateUsersPartial bodies, each with the name its failure should carry (the ids, when
    few)."""
    for chunk in chunks(sorted(users), USERS_PER_REQUEST):
        name = ",".join(chunk) if len(chunk) <= 3 else ""
        yield name, {"users": [{**users[uid], "id": uid} for uid in chunk]}


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
