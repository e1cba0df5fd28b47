"""Users in the sandbox engine: QueryUsers' filters and sort, every UserRequest field kept,
deactivation, deletion and restore, with Stream's error shape for what Stream refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from openapi_check import assert_matches

from stagecfg import timestamps
from stagecfg.sandbox import Engine, StreamAPIError

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    eng = Engine(tmp_path / "app.db", clock=clock)
    yield eng
    eng.close()


PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {"name": "Ann Lee", "role": "admin", "teams": ["red"], "custom": {"country": "NL"}},
    "bob": {"name": "Bob Stone", "teams": ["red", "blue"], "custom": {"country": "US", "age": 41}},
    "cat": {"name": "Catherine", "custom": {"age": 29, "tags": ["vip", "beta"], "pro": True}},
    "dan": {"role": "host", "teams": ["blue"], "language": "de"},
}


@pytest.fixture
def people(engine: Engine, clock: Clock) -> Engine:
    """Four users created a minute apart, in the order of PEOPLE."""
    for uid, fields in PEOPLE.items():
        engine.upsert_users({"users": {uid: {"id": uid, **fields}}})
        clock.advance(minutes=1)
    return engine


def ids(engine: Engine, filter_conditions: Any = None, **body: Any) -> list[str]:
    result = engine.query_users({"filter_conditions": filter_conditions or {}, **body})
    assert_matches("QueryUsersResponse", {**result, "users": [full(u) for u in result["users"]]})
    return [u["id"] for u in result["users"]]


def full(user: dict[str, Any]) -> dict[str, Any]:
    """A UserResponse as the emulator answers it (QueryUsers adds the chat fields)."""
    chat = {"channel_mutes": [], "devices": [], "mutes": [], "total_unread_count": 0}
    return {**chat, "unread_channels": 0, "unread_count": 0, "unread_threads": 0, **user}


def refused(call: Any, *args: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args)
    err = excinfo.value
    assert_matches("APIError", {**err.to_body(), "duration": "0ms"})
    return err.status, err.code, err.message


# --- QueryUsers: filters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"id": "bob"}, ["bob"]),
        ({"id": {"$ne": "bob"}}, ["ann", "cat", "dan"]),
        ({"id": {"$nin": ["bob", "cat"]}}, ["ann", "dan"]),
        ({"id": {"$gt": "bob", "$lte": "dan"}}, ["cat", "dan"]),
        ({"id": {"$autocomplete": "ca"}}, ["cat"]),
        ({"role": "user"}, ["bob", "cat"]),
        ({"role": {"$in": ["admin", "host"]}}, ["ann", "dan"]),
        ({"name": "Ann Lee"}, ["ann"]),
        ({"name": {"$autocomplete": "sto"}}, ["bob"]),  # a later word
        ({"name": {"$autocomplete": "CAT"}}, ["cat"]),  # ASCII case ignored
        ({"name": {"$autocomplete": "at"}}, []),  # not a word's start
        ({"name": {"$exists": False}}, ["dan"]),
        ({"name": {"$in": ["Catherine", "Nobody"]}}, ["cat"]),
        ({"language": "de"}, ["dan"]),
        ({"teams": {"$in": ["blue"]}}, ["bob", "dan"]),
        ({"teams": {"$in": ["red", "blue"]}}, ["ann", "bob", "dan"]),
        ({"teams": "red"}, ["ann", "bob"]),
        ({"teams": {"$contains": "blue"}}, ["bob", "dan"]),
        ({"teams": None}, ["cat"]),
        ({"country": "NL"}, ["ann"]),
        ({"country": {"$in": ["NL", "US"]}}, ["ann", "bob"]),
        ({"age": {"$gte": 30}}, ["bob"]),
        ({"age": {"$lt": 30}}, ["cat"]),
        ({"age": "41"}, []),  # a string never equals a number
        ({"tags": {"$contains": "vip"}}, ["cat"]),
        ({"pro": True}, ["cat"]),
        ({"country": {"$exists": False}}, ["cat", "dan"]),
        ({"banned": False}, ["ann", "bob", "cat", "dan"]),
        ({"banned": True}, []),
        ({"shadow_banned": {"$ne": True}}, ["ann", "bob", "cat", "dan"]),
        ({"$or": [{"id": "ann"}, {"country": "US"}]}, ["ann", "bob"]),
        ({"$and": [{"teams": "red"}, {"role": "user"}]}, ["bob"]),
        ({"$nor": [{"role": "user"}, {"id": "dan"}]}, ["ann"]),
        ({"id": {"$in": ["ann", "zed"]}, "role": "admin"}, ["ann"]),
    ],
)
def test_query_users_filters(people: Engine, conditions: Any, expected: list[str]) -> None:
    assert sorted(ids(people, conditions)) == expected


def test_query_users_filters_on_times(people: Engine) -> None:
    second = (T0 + timedelta(minutes=1)).isoformat()
    assert sorted(ids(people, {"created_at": {"$gte": second}})) == ["bob", "cat", "dan"]
    nanos = timestamps.to_nanos(T0 + timedelta(minutes=2))
    assert sorted(ids(people, {"updated_at": {"$lt": nanos}})) == ["ann", "bob"]
    assert ids(people, {"last_active": {"$exists": True}}) == []


def test_query_users_sorts_newest_first_by_default(people: Engine) -> None:
    assert ids(people) == ["dan", "cat", "bob", "ann"]
    assert ids(people, sort=[{"field": "name", "direction": 1}]) == ["dan", "ann", "bob", "cat"]
    by_age = ids(people, {"age": {"$exists": True}}, sort=[{"field": "age", "direction": -1}])
    assert by_age == ["bob", "cat"]
    by_role = [{"field": "role"}, {"field": "created_at", "direction": -1}]
    assert ids(people, sort=by_role) == ["ann", "dan", "cat", "bob"]


def test_query_users_pages_by_limit_and_offset(people: Engine) -> None:
    pages = [ids(people, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert pages == [["dan", "cat", "bob"], ["ann"], []]


@pytest.mark.parametrize(
    ("conditions", "words"),
    [
        ({"role": {"$nin": ["user"]}}, "not supported on role"),
        ({"name": {"$ne": "x"}}, "not supported on name"),
        ({"teams": {"$gt": "a"}}, "not supported on teams"),
        ({"banned": {"$in": [True]}}, "not supported on banned"),
        ({"country": {"$autocomplete": "N"}}, "not supported on country"),
        ({"id": {"$regex": "a"}}, "not supported on id"),
        ({"$not": {"id": "a"}}, "unknown operator $not"),
        ({"$or": []}, "non-empty list"),
        ({"$nor": {"id": "a"}}, "non-empty list"),
        ({"id": {"$in": "ann"}}, "expects a list"),
        ({"id": 5}, "expects a string"),
        ({"banned": "no"}, "true or false"),
        ({"created_at": {"$gt": "yesterday"}}, "RFC 3339"),
        ({"created_at": {"$gt": 10**30}}, "RFC 3339"),
        ({"teams": {"$in": [1]}}, "list of team names"),
        ({"country": {"$eq": {"a": 1}}}, "string, number or boolean"),
        ({"pro": {"$gt": True}}, "not a boolean"),
        ({'bad"key': 1}, "custom field"),
        ({"name": {"$exists": "yes"}}, "true or false"),
    ],
)
def test_query_users_refuses_what_stream_refuses(
    people: Engine, conditions: Any, words: str
) -> None:
    status, code, message = refused(people.query_users, {"filter_conditions": conditions})
    assert (status, code) == (400, 4)
    assert message.startswith('QueryUsers failed with error: "')
    assert words in message


@pytest.mark.parametrize(
    "body",
    [
        {"sort": [{"field": "id"}] * 6},
        {"sort": [{"field": "id", "direction": 2}]},
        {"sort": [{"direction": 1}]},
        {"sort": [{"field": "id", "nulls": "last"}]},
        {"sort": "id"},
        {"limit": 101},
        {"offset": 1001},
        {"filter_conditions": {"$and": [{"$and": [{"$and": [{"$and": [{"$and": [{"$and": [
            {"$and": [{"$and": [{"$and": [{"id": "a"}]}]}]}]}]}]}]}]}]}},
    ],
)  # fmt: skip
def test_query_users_refuses_bad_sorts_and_pages(people: Engine, body: Any) -> None:
    assert refused(people.query_users, body)[:2] == (400, 4)


def test_a_huge_in_list_is_one_query(people: Engine) -> None:
    wanted = [f"nobody-{i}" for i in range(2000)] + ["cat"]
    assert ids(people, {"id": {"$in": wanted}}) == ["cat"]


# --- every UserRequest field kept --------------------------------------------------------

EVERY_FIELD: dict[str, Any] = {
    "id": "eve",
    "role": "admin",
    "name": "Eve",
    "image": "https://example.invalid/eve.png",
    "custom": {"k": [1, {"x": None}]},
    "teams": ["red", "green"],
    "teams_role": {"red": "admin", "green": "user"},
    "language": "fr",
    "invisible": True,
    "privacy_settings": {
        "typing_indicators": {"enabled": False},
        "read_receipts": {"enabled": True},
        "delivery_receipts": {"enabled": False},
    },
}


def test_every_user_request_field_is_kept_and_returned(engine: Engine) -> None:
    upserted = engine.upsert_users({"users": {"eve": EVERY_FIELD}})["users"]["eve"]
    found = engine.query_users({"filter_conditions": {"id": "eve"}})["users"][0]
    for user in (upserted, found):
        assert {k: user[k] for k in EVERY_FIELD} == EVERY_FIELD
    assert_matches("FullUserResponse", upserted)


def test_privacy_settings_survive_a_partial_update_of_other_fields(engine: Engine) -> None:
    engine.upsert_users({"users": {"eve": EVERY_FIELD}})
    engine.update_users_partial({"users": [{"id": "eve", "set": {"name": "E"}}]})
    user = engine.query_users({"filter_conditions": {"id": "eve"}})["users"][0]
    assert user["privacy_settings"] == EVERY_FIELD["privacy_settings"]
    assert user["name"] == "E"


# --- deactivate and reactivate ----------------------------------------------------------


def test_deactivate_hides_from_queries_until_reactivated(people: Engine, clock: Clock) -> None:
    clock.advance(hours=1)
    answer = people.deactivate_user("bob", {"created_by_id": "ann"})
    assert_matches("DeactivateUserResponse", {**answer, "duration": "0ms"})
    assert answer["user"]["deactivated_at"] == timestamps.to_nanos(clock.now)
    assert "bob" not in ids(people)
    assert "bob" in ids(people, include_deactivated_users=True)
    clock.advance(hours=1)
    people.deactivate_user("bob", {})  # again: the first deactivated_at stays
    user = ids_users(people, include_deactivated_users=True)["bob"]
    assert user["deactivated_at"] == timestamps.to_nanos(clock.now - timedelta(hours=1))
    back = people.reactivate_user("bob", {"name": "Robert"})
    assert "deactivated_at" not in back["user"] and back["user"]["name"] == "Robert"
    assert_matches("ReactivateUserResponse", {**back, "duration": "0ms"})
    assert "bob" in ids(people)


def ids_users(engine: Engine, **body: Any) -> dict[str, dict[str, Any]]:
    found = engine.query_users({"filter_conditions": {}, **body})["users"]
    return {u["id"]: u for u in found}


def test_batch_deactivate_and_reactivate(people: Engine) -> None:
    task = people.deactivate_users({"user_ids": ["ann", "bob", "ann"]})
    assert_matches("DeactivateUsersResponse", {**task, "duration": "0ms"})
    assert task["task_id"]
    assert sorted(ids(people)) == ["cat", "dan"]
    task = people.reactivate_users({"user_ids": ["ann", "bob", "cat"]})  # cat was active
    assert_matches("ReactivateUsersResponse", {**task, "duration": "0ms"})
    assert sorted(ids(people)) == ["ann", "bob", "cat", "dan"]


def test_deactivation_errors(people: Engine) -> None:
    assert refused(people.deactivate_user, "zed", {})[:2] == (404, 16)
    assert refused(people.reactivate_user, "zed", {})[:2] == (404, 16)
    status, code, message = refused(people.reactivate_user, "ann", {})
    assert (status, code) == (400, 4) and "is not deactivated" in message
    status, code, message = refused(people.deactivate_users, {"user_ids": ["ann", "zed"]})
    assert (status, code) == (400, 4) and "zed" in message
    assert "ann" in ids(people)  # nothing changed
    for body in ({}, {"user_ids": []}, {"user_ids": ["a"] * 101}, {"user_ids": [""]}):
        assert refused(people.deactivate_users, body)[:2] == (400, 4)
    assert refused(people.deactivate_user, "ann", {"mark_messages_deleted": "yes"})[:2] == (400, 4)
    assert refused(people.reactivate_users, {"user_ids": ["ann"], "nope": 1})[:2] == (400, 4)


def test_a_deactivated_user_cannot_join_or_create_calls(people: Engine) -> None:
    people.get_or_create_call("default", "c", {"data": {"created_by_id": "ann"}})
    people.deactivate_user("bob", {})
    status, code, message = refused(
        lambda: people.join_call("default", "c", user_id="bob", body={})
    )
    assert (status, code) == (403, 17) and "deactivated" in message
    body = {"data": {"created_by_id": "bob"}}
    assert refused(people.get_or_create_call, "default", "d", body)[:2] == (403, 17)


# --- delete and restore -------------------------------------------------------------------


def test_soft_delete_hides_the_user_until_restored(people: Engine) -> None:
    task = people.delete_users({"user_ids": ["bob"]})
    assert_matches("DeleteUsersResponse", {**task, "duration": "0ms"})
    assert "bob" not in ids(people, include_deactivated_users=True)
    status, code, message = refused(people.upsert_users, {"users": {"bob": {"id": "bob"}}})
    assert (status, code) == (400, 4) and "RestoreUsers" in message
    update = {"users": [{"id": "bob", "set": {"name": "x"}}]}
    assert refused(people.update_users_partial, update)[:2] == (400, 4)
    people.restore_users({"user_ids": ["bob"]})
    user = ids_users(people)["bob"]
    assert user["name"] == "Bob Stone" and "deleted_at" not in user


def test_pruning_delete_clears_the_users_data(people: Engine) -> None:
    people.delete_users({"user_ids": ["ann"], "user": "pruning"})
    people.restore_users({"user_ids": ["ann"]})
    user = ids_users(people)["ann"]
    assert "name" not in user and user["custom"] == {} and user["teams"] == []


def test_hard_delete_removes_the_user_and_its_memberships(people: Engine) -> None:
    people.get_or_create_call(
        "default", "c", {"data": {"created_by_id": "ann", "members": [{"user_id": "bob"}]}}
    )
    status, code, message = refused(people.delete_users, {"user_ids": ["bob"], "user": "hard"})
    assert (status, code) == (400, 4) and "messages: hard" in message
    hard = {"user": "hard", "messages": "hard", "conversations": "hard"}
    people.delete_users({"user_ids": ["bob"], **hard})
    assert people.get_call("default", "c")["members"] == []
    assert refused(people.restore_users, {"user_ids": ["bob"]})[:2] == (400, 4)
    people.upsert_users({"users": {"bob": {"id": "bob"}}})  # the id is free again
    assert "bob" in ids(people)


def test_delete_users_with_calls_and_a_new_owner(people: Engine) -> None:
    def make(call_id: str, creator: str, *members: str) -> None:
        data = {"created_by_id": creator, "members": [{"user_id": m} for m in members]}
        people.get_or_create_call("default", call_id, {"data": data})

    make("one-to-one", "ann", "ann", "bob")
    make("group", "bob", "ann", "bob", "cat")
    people.delete_users({"user_ids": ["bob"], "calls": "soft", "new_call_owner_id": "dan"})
    left = [c["call"]["id"] for c in people.query_calls({})["calls"]]
    assert left == ["group"]
    assert people.get_call("default", "group")["call"]["created_by"]["id"] == "dan"
    bad = {"user_ids": ["cat"], "new_call_owner_id": "cat"}
    assert refused(people.delete_users, bad)[:2] == (400, 4)
    bad = {"user_ids": ["cat"], "new_call_owner_id": "zed"}
    assert refused(people.delete_users, bad)[:2] == (400, 4)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user_ids": "bob"},
        {"user_ids": ["zed"]},
        {"user_ids": ["bob"], "user": "gone"},
        {"user_ids": ["bob"], "calls": "pruning"},
        {"user_ids": ["bob"], "conversations": "pruning"},
        {"user_ids": ["bob"], "files": "all"},
        {"user_ids": ["bob"], "unknown": True},
    ],
)
def test_delete_users_refuses_bad_requests(people: Engine, body: Any) -> None:
    assert refused(people.delete_users, body)[:2] == (400, 4)
    assert "bob" in ids(people)


def test_restore_refuses_users_that_are_not_deleted(people: Engine) -> None:
    status, code, message = refused(people.restore_users, {"user_ids": ["ann", "zed"]})
    assert (status, code) == (400, 4) and "ann, zed" in message
