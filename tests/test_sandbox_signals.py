"""What a call sends its users, through the sandbox engine: SendCallEvent and RingCall."""

from __future__ import annotations

from typing import Any

import pytest
from test_sandbox_engine import api_error, clock, engine, make_call  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError

CID = ("default", "ring")


@pytest.fixture
def ringing(engine: Engine) -> Engine:  # noqa: F811
    engine.upsert_users({"users": {u: {"id": u} for u in ("carol", "dave", "erin")}})
    members = [{"user_id": u} for u in ("alice", "bob", "carol", "dave")]
    make_call(engine, "default:ring", members=members)
    return engine


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args, **kwargs)
    return api_error(excinfo)


def test_ring_rings_members_not_in_the_call_nor_blocked_nor_the_ringer(ringing: Engine) -> None:
    assert ringing.ring_call(*CID, {})["members_ids"] == ["bob", "carol", "dave"]
    ringing.join_call(*CID, user_id="bob", body={})
    ringing.block_user(*CID, {"user_id": "dave"})
    assert ringing.ring_call(*CID, {"video": True})["members_ids"] == ["carol"]
    # A user token rings as that user: bob is in the call, and the creator is rung now.
    assert ringing.ring_call(*CID, {}, caller="carol")["members_ids"] == ["alice"]


def test_ring_named_members_keeps_their_order(ringing: Engine) -> None:
    answer = ringing.ring_call(*CID, {"members_ids": ["dave", "bob", "dave"]})
    assert answer["members_ids"] == ["dave", "bob"]


@pytest.mark.parametrize(
    "body",
    [
        {"members_ids": ["erin"]},  # a user, but not a member
        {"members_ids": [f"u{i}" for i in range(26)]},
        {"members_ids": "bob"},
        {"video": "yes"},
        {"members": ["bob"]},
    ],
)
def test_bad_rings_are_400(ringing: Engine, body: dict[str, Any]) -> None:
    assert refused(ringing.ring_call, *CID, body)[:2] == (400, 4)


def test_ring_on_get_or_create_is_accepted(engine: Engine) -> None:  # noqa: F811
    data = {"created_by_id": "alice", "members": [{"user_id": "bob"}]}
    body = {"ring": True, "video": True, "data": data}
    assert engine.get_or_create_call("default", "rung", body)["created"] is True


def test_events_need_a_sender_server_side(ringing: Engine) -> None:
    assert ringing.send_call_event(*CID, {"user_id": "alice", "custom": {"k": 1}}) == {}
    ringing.send_call_event(*CID, {"user": {"id": "frank", "name": "Frank"}, "custom": {}})
    users = ringing.query_users({"filter_conditions": {"id": "frank"}})["users"]
    assert [u.get("name") for u in users] == ["Frank"]  # a new sender is created
    ringing.send_call_event(*CID, {"custom": {"k": 1}}, caller="carol")  # a token names its own
    for body in (
        {"custom": {"k": 1}},
        {"user_id": "ghost"},
        {"user_id": "alice", "user": {"id": "bob"}},
        {"user_id": "alice", "custom": []},
        {"user": "alice"},
        {"user": {"id": "alice", "mood": "happy"}},
        {"user_id": "alice", "type": "custom"},
    ):
        assert refused(ringing.send_call_event, *CID, body)[:2] == (400, 4), body


def test_a_user_needs_send_event(ringing: Engine) -> None:
    ringing.upsert_users({"users": {"mute": {"id": "mute", "role": "nobody"}}})
    status, code, message = refused(ringing.send_call_event, *CID, {}, caller="mute")
    assert (status, code) == (403, 17) and "lacks send-event" in message
