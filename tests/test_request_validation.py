"""Requests Stream would refuse are refused by the sandbox engine (so by ``local`` and the
emulator alike) with 400 code 4, nothing is stored, and nothing answers 500.

Each example is one the issue reported against the emulator; they run against the Engine (the
emulator is a thin layer over it, see test_emulator_fuzz.py for the HTTP side).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stagecfg.sandbox import Engine, StreamAPIError

Json = dict[str, Any]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = Engine(tmp_path / "sandbox.db")
    yield e
    e.close()


def _nested(depth: int) -> Json:
    node: Json = {}
    for _ in range(depth):
        node = {"x": node}
    return node


def _refused(call: Any, *args: Any, **kwargs: Any) -> StreamAPIError:
    with pytest.raises(StreamAPIError) as info:
        call(*args, **kwargs)
    assert (info.value.status, info.value.code) == (400, 4), info.value.message
    return info.value


def _call_ids(engine: Engine) -> set[str]:
    return {c["call"]["cid"] for c in engine.query_calls({"limit": 100})["calls"]}


def _creator(**data: Any) -> Json:
    return {"data": {"created_by_id": "alice", **data}}


# --- problem 5: bad input answered 500, bad settings stored ---------------------------------


@pytest.mark.parametrize(
    "starts_at",
    ["9999-12-31T23:59:59Z", 10**30, -(10**30), 2**63, 1e300, "0001-01-01T00:00:00Z"],
)
def test_starts_at_beyond_int64_nanoseconds_is_refused(engine: Engine, starts_at: Any) -> None:
    _refused(engine.get_or_create_call, "default", "c1", _creator(starts_at=starts_at))
    assert _call_ids(engine) == set()


def test_starts_at_beyond_int64_is_refused_on_update(engine: Engine) -> None:
    engine.get_or_create_call("default", "c1", _creator())
    _refused(engine.update_call, "default", "c1", {"starts_at": "9999-12-31T23:59:59Z"})
    assert engine.get_call("default", "c1")["call"]["starts_at"] is None


def test_settings_nested_600_deep_are_refused(engine: Engine) -> None:
    settings = {"audio": _nested(600)}
    _refused(engine.create_call_type, {"name": "deep", "settings": settings})
    assert "deep" not in engine.list_call_types()["call_types"]


def test_nested_and_filters_are_refused(engine: Engine) -> None:
    node: Json = {"id": "x"}
    for _ in range(400):
        node = {"$and": [node]}
    _refused(engine.query_calls, {"filter_conditions": node})


def test_wide_filters_are_refused(engine: Engine) -> None:
    conditions = [{"id": f"c{i}"} for i in range(5000)]
    _refused(engine.query_calls, {"filter_conditions": {"$or": conditions}})


def test_a_string_as_the_creator_object_is_refused(engine: Engine) -> None:
    _refused(engine.get_or_create_call, "default", "c1", {"data": {"created_by": "alice"}})
    assert _call_ids(engine) == set()


@pytest.mark.parametrize("role", [["admin"], 5, {"r": 1}, True])
def test_a_member_role_that_is_not_a_string_is_refused(engine: Engine, role: Any) -> None:
    engine.upsert_users({"users": {"bob": {}}})
    body = _creator(members=[{"user_id": "bob", "role": role}])
    _refused(engine.get_or_create_call, "default", "c1", body)
    assert _call_ids(engine) == set()
    engine.get_or_create_call("default", "c2", _creator())
    _refused(
        engine.update_call_members,
        "default",
        "c2",
        {"update_members": [{"user_id": "bob", "role": role}]},
    )


@pytest.mark.parametrize(
    "user",
    [{"name": 5}, {"role": ["admin"]}, {"teams": "a"}, {"custom": []}, {"invisible": "yes"}],
)
def test_user_fields_of_the_wrong_type_are_refused(engine: Engine, user: Json) -> None:
    _refused(engine.upsert_users, {"users": {"bob": user}})
    assert engine.query_users({"filter_conditions": {"id": "bob"}})["users"] == []


@pytest.mark.parametrize(
    "settings",
    [
        {"backstage": {"join_ahead_time_seconds": "abc"}},
        {"backstage": {"join_ahead_time_seconds": 2**40}},
        {"backstage": {"enabled": "yes"}},
        {"broadcasting": {"hls": 5}},
        {"broadcasting": {"hls": {"quality_tracks": ["4k"]}}},
        {"recording": {"mode": "sometimes"}},
        {"limits": {"max_duration_seconds": -1}},
        {"audio": {"nonsense": True}},
    ],
)
def test_call_type_settings_stream_would_refuse_are_refused_and_not_stored(
    engine: Engine, settings: Json
) -> None:
    _refused(engine.create_call_type, {"name": "show", "settings": settings})
    assert "show" not in engine.list_call_types()["call_types"]
    before = engine.get_call_type("default")
    _refused(engine.update_call_type, "default", {"settings": settings})
    after = engine.get_call_type("default")
    assert after["settings"] == before["settings"]
    engine.get_or_create_call("default", "c1", _creator())
    _refused(engine.get_or_create_call, "default", "c2", _creator(settings_override=settings))
    _refused(engine.update_call, "default", "c1", {"settings_override": settings})
    assert _call_ids(engine) == {"default:c1"}


def test_a_call_type_stored_with_bad_settings_does_not_break_later_requests(
    engine: Engine,
) -> None:
    # Rows written before these checks existed: later requests must still not answer 500.
    engine.create_call_type({"name": "show"})
    engine.close()
    with sqlite3.connect(engine.path) as db:
        (data,) = db.execute("SELECT data FROM call_types WHERE name = 'show'").fetchone()
        stored = json.loads(data)
        stored["settings"]["backstage"] = {"enabled": "yes", "join_ahead_time_seconds": "abc"}
        stored["settings"]["broadcasting"]["hls"] = 5
        stored["settings"]["recording"] = []
        db.execute("UPDATE call_types SET data = ? WHERE name = 'show'", (json.dumps(stored),))
    again = Engine(engine.path)
    try:
        again.get_call_type("show")
        created = again.get_or_create_call("show", "c1", _creator())
        assert created["call"]["join_ahead_time_seconds"] == 0
        again.go_live("show", "c1", {"start_hls": True})
        again.join_call("show", "c1", user_id="alice", body={})
        again.stop_live("show", "c1")
        again.query_calls({})
        again.update_call_type("show", {"settings": {"backstage": {"join_ahead_time_seconds": 5}}})
    finally:
        again.close()


# --- go-live and stop-live options, query bodies ----------------------------------------------


@pytest.mark.parametrize(
    ("op", "body"),
    [
        ("go_live", {"start_hls": "yes"}),
        ("go_live", {"recording_storage_name": 5}),
        ("stop_live", {"continue_hls": 1}),
        ("delete_call", {"hard": "true"}),
    ],
)
def test_live_options_of_the_wrong_type_are_refused(engine: Engine, op: str, body: Json) -> None:
    engine.get_or_create_call("default", "c1", _creator())
    _refused(getattr(engine, op), "default", "c1", body)
    assert engine.get_call("default", "c1")["call"]["backstage"] is False or op != "go_live"


@pytest.mark.parametrize(
    "body",
    [
        {"users": {"bob": {}}, "limit": 10, "offset": 2**70},
        {"offset": 2**70},
        {"offset": 1e3},
    ],
)
def test_query_users_offsets_stream_would_refuse_are_refused(engine: Engine, body: Json) -> None:
    body.pop("users", None)
    _refused(engine.query_users, body)


def test_a_cursor_with_a_huge_offset_is_refused(engine: Engine) -> None:
    import base64

    token = base64.urlsafe_b64encode(json.dumps({"o": 2**70}).encode()).decode()
    _refused(engine.query_calls, {"sort": [{"field": "id"}], "next": token})


def test_sort_fields_and_directions_of_the_wrong_type_are_refused(engine: Engine) -> None:
    _refused(engine.query_calls, {"sort": [{"field": ["id"]}]})
    _refused(engine.query_calls, {"sort": [{"field": "id", "direction": 1.0}]})


# --- problem 11: ids with a trailing newline --------------------------------------------------


@pytest.mark.parametrize("name", ["abc\n", "abc\r\n", "\nabc", "a b"])
def test_call_type_names_must_match_in_full(engine: Engine, name: str) -> None:
    _refused(engine.create_call_type, {"name": name})
    assert name not in engine.list_call_types()["call_types"]


@pytest.mark.parametrize("call_id", ["abc\n", "abc\r\n", "x" * 65, ""])
def test_call_ids_must_match_in_full(engine: Engine, call_id: str) -> None:
    _refused(engine.get_or_create_call, "default", call_id, _creator())
    assert _call_ids(engine) == set()
    _refused(engine.join_call, "default", call_id, user_id="alice", body={"create": True})
    assert _call_ids(engine) == set()


@pytest.mark.parametrize("user", ["bob", 5, ["bob"]])
def test_a_string_where_a_user_object_belongs_is_refused(engine: Engine, user: Any) -> None:
    _refused(engine.upsert_users, {"users": {"bob": user}})
    _refused(engine.query_users, {"user": user})
    assert engine.query_users({})["users"] == []
