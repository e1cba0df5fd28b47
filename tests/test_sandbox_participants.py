"""Who is in a call through the sandbox engine: QueryCallParticipants, GetActiveCallsStatus."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import Clock, api_error, clock, engine, make_call  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError

CID = ("default", "room")


@pytest.fixture
def room(engine: Engine, clock: Clock) -> Engine:  # noqa: F811
    """default:room by alice; bob (host), carol and dave join in that order, a second apart."""
    engine.upsert_users({"users": {"carol": {"id": "carol"}, "dave": {"id": "dave"}}})
    make_call(engine, "default:room", members=[{"user_id": "bob", "role": "host"}])
    for user in ("bob", "carol", "dave"):
        engine.join_call(*CID, user_id=user, body={})
        clock.advance(seconds=1)
    return engine


def ids(answer: dict[str, Any]) -> list[str]:
    return [p["user"]["id"] for p in answer["participants"]]


def query(engine: Engine, where: Any = None, **kwargs: Any) -> dict[str, Any]:  # noqa: F811
    body = {} if where is None else {"filter_conditions": where}
    answer: dict[str, Any] = engine.query_call_participants(*CID, body, **kwargs)
    assert_matches("QueryCallParticipantsResponse", answer)
    return answer


def test_everyone_in_join_order_with_the_call_and_members(room: Engine) -> None:
    answer = query(room)
    assert ids(answer) == ["bob", "carol", "dave"]
    assert answer["total_participants"] == 3
    assert answer["call"]["cid"] == "default:room"
    assert [m["user_id"] for m in answer["members"]] == ["bob"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"user_id": "carol"}, ["carol"]),
        ({"user_id": {"$in": ["dave", "bob"]}}, ["bob", "dave"]),
        ({"user_id": {"$nin": ["bob"]}}, ["carol", "dave"]),
        ({"role": "host"}, ["bob"]),
        ({"role": {"$ne": "host"}}, ["carol", "dave"]),
        ({"joined_at": {"$gt": "2030-01-01T12:00:00.5Z"}}, ["carol", "dave"]),
        ({"$or": [{"user_id": "bob"}, {"role": "user"}]}, ["bob", "carol", "dave"]),
        ({"published_tracks": {"$eq": "video"}}, []),
        ({"published_tracks": {"$exists": True}}, []),
    ],
)
def test_filters(room: Engine, where: dict[str, Any], expected: list[str]) -> None:
    answer = query(room, where)
    assert ids(answer) == expected
    assert answer["total_participants"] == len(expected)


def test_limit_cuts_the_page_not_the_total(room: Engine) -> None:
    answer = query(room, limit=2)
    assert ids(answer) == ["bob", "carol"]
    assert answer["total_participants"] == 3
    assert ids(query(room, limit="1")) == ["bob"]  # as the query string carries it


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"filter_conditions": {"mood": "happy"}}, None),
        ({"filter_conditions": {"user_id": {"$regex": "b"}}}, None),
        ({"filter_conditions": {"joined_at": {"$gt": "yesterday"}}}, None),
        ({"filter_conditions": []}, None),
        ({"sort": []}, None),
        ({}, 101),
        ({}, "ten"),
        ({}, "99999999999"),
        ({}, "\u00b2"),  # a digit to str.isdigit, not to int()
    ],
)
def test_bad_queries_are_400(room: Engine, body: dict[str, Any], limit: Any) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        room.query_call_participants(*CID, body, limit=limit)
    assert api_error(excinfo)[:2] == (400, 4)


def test_a_call_nobody_joined_has_no_participants(engine: Engine) -> None:  # noqa: F811
    make_call(engine, "default:empty")
    answer = engine.query_call_participants("default", "empty", {})
    assert (answer["participants"], answer["total_participants"]) == ([], 0)


def test_active_calls_count_calls_with_people_in_them(room: Engine) -> None:
    make_call(room, "default:empty")
    make_call(room, "livestream:other")
    room.go_live("livestream", "other", {})
    room.join_call("livestream", "other", user_id="alice", body={})
    status = room.active_calls_status()
    assert_matches("GetActiveCallsStatusResponse", status)
    assert status["summary"] == {
        "active_calls": 2,
        "active_publishers": 0,
        "active_subscribers": 0,
        "participants": 4,
    }
    room.mark_ended(*CID)
    assert room.active_calls_status()["summary"]["active_calls"] == 1
    room.delete_call("livestream", "other", {})
    assert room.active_calls_status()["summary"] == {
        "active_calls": 0,
        "active_publishers": 0,
        "active_subscribers": 0,
        "participants": 0,
    }


def test_active_calls_metrics_have_every_statistic_and_measure_no_media(room: Engine) -> None:
    metrics = room.active_calls_status()["metrics"]
    assert_matches("ActiveCallsMetrics", metrics)
    # Every statistic the spec names is there, so a client may read any of them.
    video = metrics["publishers"]["all"]["video"]
    assert video["resolution"] == {"p10": 0, "p50": 0}
    assert video["fps_30"] == {"p05": 0, "p10": 0, "p50": 0, "p90": 0}
    assert metrics["join_call_api"]["total"] == metrics["join_call_api"]["failures"] == 0
    assert set(metrics["subscribers"]["all"]["audio"]) == {
        "concealment_pct",
        "jitter_ms",
        "packets_lost_pct",
    }
    # An answer changed by its reader leaves the next one as it was.
    video["resolution"]["p10"] = 720
    assert room.active_calls_status()["metrics"]["publishers"]["all"]["video"]["resolution"] == {
        "p10": 0,
        "p50": 0,
    }
