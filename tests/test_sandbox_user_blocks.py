"""Users blocking users through the sandbox engine: BlockUsers, GetBlockedUsers, UnblockUsers,
and each user's ``blocked_user_ids`` wherever a UserResponse is answered."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import T0, Clock, api_error, clock, engine, make_call  # noqa: F401

from stagecfg import timestamps
from stagecfg.sandbox import Engine, StreamAPIError


@pytest.fixture
def people(engine: Engine) -> Engine:  # noqa: F811
    """alice and bob (from ``engine``), and carol."""
    engine.upsert_users({"users": {"carol": {"id": "carol"}}})
    return engine


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args, **kwargs)
    return api_error(excinfo)


def test_a_block_is_answered_listed_and_shown_on_the_user(
    people: Engine,
    clock: Clock,  # noqa: F811
) -> None:
    made = people.block_users({"user_id": "alice", "blocked_user_id": "carol"})
    assert_matches("BlockUsersResponse", made)
    assert made == {
        "blocked_by_user_id": "alice",
        "blocked_user_id": "carol",
        "created_at": timestamps.to_nanos(T0),
    }
    clock.advance(seconds=1)
    people.block_users({"user": {"id": "alice"}, "blocked_user_id": "bob"})
    listed = people.get_blocked_users("alice")
    assert_matches("GetBlockedUsersResponse", listed)
    assert [b["blocked_user_id"] for b in listed["blocks"]] == ["carol", "bob"]  # as made
    first = listed["blocks"][0]
    assert (first["user_id"], first["user"]["id"], first["blocked_user"]["id"]) == (
        "alice",
        "alice",
        "carol",
    )
    assert first["user"]["blocked_user_ids"] == ["bob", "carol"]
    found = people.query_users({"filter_conditions": {"id": {"$in": ["alice", "bob"]}}})
    by_id = {u["id"]: u["blocked_user_ids"] for u in found["users"]}
    assert by_id == {"alice": ["bob", "carol"], "bob": []}
    assert people.get_blocked_users("carol") == {"blocks": []}


def test_blocks_show_on_members_and_call_creators(people: Engine) -> None:
    people.block_users({"user_id": "alice", "blocked_user_id": "bob"})
    call = make_call(people, "default:c", members=[{"user_id": "alice"}])
    assert call["call"]["created_by"]["blocked_user_ids"] == ["bob"]
    assert call["members"][0]["user"]["blocked_user_ids"] == ["bob"]


def test_blocking_again_keeps_the_first_block(people: Engine, clock: Clock) -> None:  # noqa: F811
    first = people.block_users({"user_id": "alice", "blocked_user_id": "bob"})
    clock.advance(minutes=5)
    again = people.block_users({"user_id": "alice", "blocked_user_id": "bob"})
    assert again == first
    assert len(people.get_blocked_users("alice")["blocks"]) == 1


def test_unblock_removes_only_that_block_and_may_repeat(people: Engine) -> None:
    people.block_users({"user_id": "alice", "blocked_user_id": "bob"})
    people.block_users({"user_id": "alice", "blocked_user_id": "carol"})
    people.block_users({"user_id": "bob", "blocked_user_id": "alice"})
    assert people.unblock_users({"user_id": "alice", "blocked_user_id": "bob"}) == {}
    assert people.unblock_users({"user_id": "alice", "blocked_user_id": "bob"}) == {}
    assert [b["blocked_user_id"] for b in people.get_blocked_users("alice")["blocks"]] == ["carol"]
    assert [b["blocked_user_id"] for b in people.get_blocked_users("bob")["blocks"]] == ["alice"]


def test_a_user_caller_acts_for_itself_only(people: Engine) -> None:
    people.block_users({"blocked_user_id": "bob"}, caller="alice")
    assert [b["blocked_user_id"] for b in people.get_blocked_users(caller="alice")["blocks"]] == [
        "bob"
    ]
    for call, body in (
        (people.block_users, {"user_id": "carol", "blocked_user_id": "bob"}),
        (people.unblock_users, {"user": {"id": "carol"}, "blocked_user_id": "bob"}),
    ):
        status, code, message = refused(call, body, caller="alice")
        assert (status, code) == (403, 17)
        assert "only act for its own user" in message
    assert refused(people.get_blocked_users, "carol", caller="alice")[:2] == (403, 17)
    assert people.get_blocked_users("carol") == {"blocks": []}
    assert people.get_blocked_users("alice", caller="alice")["blocks"][0]["blocked_user_id"] == (
        "bob"
    )


BAD: list[tuple[str, Any]] = [
    ("not an object", "alice"),
    ("unknown field", {"user_id": "alice", "blocked_user_id": "bob", "reason": "x"}),
    ("no blocked user", {"user_id": "alice"}),
    ("blocked user not a string", {"user_id": "alice", "blocked_user_id": ["bob"]}),
    ("no blocking user", {"blocked_user_id": "bob"}),
    ("user_id not a string", {"user_id": 1, "blocked_user_id": "bob"}),
    ("user and user_id disagree", {"user_id": "alice", "user": {"id": "carol"},
                                   "blocked_user_id": "bob"}),
    ("user with an unknown field", {"user": {"id": "alice", "x": 1}, "blocked_user_id": "bob"}),
    ("oneself", {"user_id": "alice", "blocked_user_id": "alice"}),
    ("unknown blocked user", {"user_id": "alice", "blocked_user_id": "ghost"}),
    ("unknown blocking user", {"user_id": "ghost", "blocked_user_id": "bob"}),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("op", ["BlockUsers", "UnblockUsers"])
def test_bad_requests_are_400_code_4_and_store_nothing(
    people: Engine, op: str, why: str, body: Any
) -> None:
    call = people.block_users if op == "BlockUsers" else people.unblock_users
    people.block_users({"user_id": "bob", "blocked_user_id": "carol"})
    status, code, message = refused(call, body)
    assert (status, code) == (400, 4), why
    assert message.startswith(f"{op} failed with error: ")
    assert people.get_blocked_users("alice") == {"blocks": []}
    assert len(people.get_blocked_users("bob")["blocks"]) == 1


def test_get_blocked_users_needs_an_existing_user(people: Engine) -> None:
    assert refused(people.get_blocked_users)[:2] == (400, 4)
    assert refused(people.get_blocked_users, "")[:2] == (400, 4)
    assert refused(people.get_blocked_users, "ghost")[:2] == (400, 4)


def test_a_deleted_user_cannot_block_or_be_blocked(people: Engine) -> None:
    people.delete_users({"user_ids": ["carol"], "user": "soft"})
    for body in ({"user_id": "alice", "blocked_user_id": "carol"},
                 {"user_id": "carol", "blocked_user_id": "alice"}):  # fmt: skip
        assert refused(people.block_users, body)[:2] == (400, 4)


def test_a_user_deleted_for_good_leaves_no_block(people: Engine) -> None:
    people.block_users({"user_id": "alice", "blocked_user_id": "carol"})
    people.block_users({"user_id": "carol", "blocked_user_id": "bob"})
    hard = {"user_ids": ["carol"], "user": "hard", "messages": "hard", "conversations": "hard"}
    people.delete_users(hard)
    assert people.get_blocked_users("alice") == {"blocks": []}
    people.upsert_users({"users": {"carol": {"id": "carol"}}})  # the id is free again
    assert people.get_blocked_users("carol") == {"blocks": []}
    found = people.query_users({"filter_conditions": {"id": "alice"}})
    assert found["users"][0]["blocked_user_ids"] == []


def test_an_upsert_keeps_the_users_blocks(people: Engine) -> None:
    people.block_users({"user_id": "alice", "blocked_user_id": "bob"})
    people.upsert_users({"users": {"alice": {"id": "alice", "name": "Alice"}}})
    people.update_users_partial({"users": [{"id": "alice", "set": {"name": "Al"}}]})
    assert [b["blocked_user_id"] for b in people.get_blocked_users("alice")["blocks"]] == ["bob"]
