"""Moderation through the sandbox engine: block, unblock, kick, mute, pin and unpin."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import api_error, clock, engine, make_call  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError

CID = ("livestream", "show")


@pytest.fixture
def show(engine: Engine) -> Engine:  # noqa: F811
    """livestream:show by alice, bob its host, carol a member; live, bob and carol in it."""
    engine.upsert_users({"users": {"carol": {"id": "carol"}, "dave": {"id": "dave"}}})
    members = [{"user_id": "bob", "role": "host"}, {"user_id": "carol"}]
    make_call(engine, "livestream:show", members=members)
    engine.go_live(*CID, {})
    for user in ("bob", "carol"):
        engine.join_call(*CID, user_id=user, body={})
    return engine


def call_of(engine: Engine) -> dict[str, Any]:  # noqa: F811
    call: dict[str, Any] = engine.get_call(*CID)["call"]
    assert_matches("CallResponse", call)
    return call


def in_call(engine: Engine) -> list[str]:  # noqa: F811
    return [p["user"]["id"] for p in call_of(engine)["session"]["participants"]]


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args, **kwargs)
    return api_error(excinfo)


def test_blocking_lists_the_user_removes_them_and_keeps_them_out(show: Engine) -> None:
    show.block_user(*CID, {"user_id": "carol"})
    show.block_user(*CID, {"user_id": "dave"})
    show.block_user(*CID, {"user_id": "carol"})  # twice: listed once
    assert call_of(show)["blocked_user_ids"] == ["carol", "dave"]
    assert in_call(show) == ["bob"]
    status, code, message = refused(show.join_call, *CID, user_id="carol", body={})
    assert (status, code) == (403, 17) and "blocked" in message
    show.unblock_user(*CID, {"user_id": "carol"})
    show.unblock_user(*CID, {"user_id": "carol"})  # not blocked any more: fine
    assert call_of(show)["blocked_user_ids"] == ["dave"]
    show.join_call(*CID, user_id="carol", body={})
    assert in_call(show) == ["bob", "carol"]


def test_blocking_needs_an_existing_user(show: Engine) -> None:
    assert refused(show.block_user, *CID, {"user_id": "ghost"})[:2] == (400, 4)
    assert refused(show.block_user, *CID, {})[:2] == (400, 4)
    assert call_of(show)["blocked_user_ids"] == []


def test_kicking_removes_without_blocking_unless_asked(show: Engine) -> None:
    show.kick_user(*CID, {"user_id": "carol", "kicked_by_id": "alice"})
    assert in_call(show) == ["bob"]
    assert call_of(show)["blocked_user_ids"] == []
    show.join_call(*CID, user_id="carol", body={})
    show.kick_user(*CID, {"user_id": "carol", "block": True, "kicked_by": {"id": "alice"}})
    assert call_of(show)["blocked_user_ids"] == ["carol"]
    show.kick_user(*CID, {"user_id": "dave"})  # not in the call: nothing to do


def test_kicking_everyone_out_leaves_the_call_not_ongoing(show: Engine) -> None:
    for user in ("bob", "carol"):
        show.kick_user(*CID, {"user_id": user})
    found = show.query_calls({"filter_conditions": {"ongoing": True}})["calls"]
    assert found == []


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "carol", "block": 1},
        {"user_id": "carol", "kicked_by": {"name": "no id"}},
        {"user_id": "carol", "kicked_by": {"id": "alice"}, "kicked_by_id": "bob"},
        {"user_id": ""},
        {"user": "carol"},
    ],
)
def test_bad_kicks_are_400(show: Engine, body: dict[str, Any]) -> None:
    assert refused(show.kick_user, *CID, body)[:2] == (400, 4)
    assert in_call(show) == ["bob", "carol"]


def test_muting_checks_whom_it_mutes(show: Engine) -> None:
    assert show.mute_users(*CID, {"mute_all_users": True, "audio": True}) == {}
    show.mute_users(*CID, {"user_ids": ["bob"], "video": True, "muted_by": {"id": "alice"}})
    assert refused(show.mute_users, *CID, {"audio": True})[:2] == (400, 4)
    assert refused(show.mute_users, *CID, {"user_ids": ["ghost"]})[:2] == (400, 4)
    assert refused(show.mute_users, *CID, {"user_ids": [f"u{i}" for i in range(101)]})[:2] == (
        400,
        4,
    )


def test_pins_need_a_session_and_unpinning_is_idempotent(engine: Engine) -> None:  # noqa: F811
    make_call(engine, "livestream:show")
    pin = {"user_id": "bob", "session_id": "s1"}
    assert "no active session" in refused(engine.pin, *CID, pin)[2]
    engine.go_live(*CID, {})
    engine.pin(*CID, pin)
    engine.pin(*CID, pin)
    engine.unpin(*CID, pin)
    engine.unpin(*CID, pin)
    assert refused(engine.pin, *CID, {"user_id": "bob"})[:2] == (400, 4)
    assert refused(engine.unpin, *CID, {"session_id": "s1"})[:2] == (400, 4)


@pytest.mark.parametrize(
    "control",
    [
        lambda e: e.block_user("livestream", "nope", {"user_id": "bob"}),
        lambda e: e.unblock_user("livestream", "nope", {"user_id": "bob"}),
        lambda e: e.kick_user("livestream", "nope", {"user_id": "bob"}),
        lambda e: e.mute_users("livestream", "nope", {"mute_all_users": True}),
        lambda e: e.pin("livestream", "nope", {"user_id": "bob", "session_id": "s"}),
        lambda e: e.unpin("livestream", "nope", {"user_id": "bob", "session_id": "s"}),
    ],
)
def test_an_unknown_call_is_404(engine: Engine, control: Any) -> None:  # noqa: F811
    assert refused(control, engine)[:2] == (404, 16)


def test_the_creator_moderates_through_owner_grants_others_may_not(show: Engine) -> None:
    # On livestream the user role moderates only through -owner grants, and has no block-user.
    show.mute_users(*CID, {"mute_all_users": True}, caller="alice")
    status, code, message = refused(show.mute_users, *CID, {"mute_all_users": True}, caller="carol")
    assert (status, code) == (403, 17)
    assert message.endswith('"user carol with roles [user, call_member] lacks mute-users"')
    assert refused(show.block_user, *CID, {"user_id": "dave"}, caller="alice")[:2] == (403, 17)
    assert call_of(show)["blocked_user_ids"] == []
