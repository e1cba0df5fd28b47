"""The sandbox engine: Stream's semantics over a real SQLite file in a temp directory."""

from __future__ import annotations

import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from openapi_check import assert_matches, problems

from stagecfg import timestamps
from stagecfg.rules.permissions import OWN_CAPABILITIES
from stagecfg.sandbox import Engine, StreamAPIError

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    eng = Engine(tmp_path / "sandbox" / "app.db", clock=clock)
    eng.upsert_users({"users": {"alice": {"id": "alice"}, "bob": {"id": "bob"}}})
    yield eng
    eng.close()


def api_error(excinfo: pytest.ExceptionInfo[StreamAPIError]) -> tuple[int, int, str]:
    err = excinfo.value
    return err.status, err.code, err.message


def make_call(engine: Engine, cid: str = "livestream:show", **data: Any) -> dict[str, Any]:
    call_type, call_id = cid.split(":")
    body = {"data": {"created_by_id": "alice", **data}}
    return engine.get_or_create_call(call_type, call_id, body)


# --- storage -----------------------------------------------------------------------------------


def test_file_is_created_private_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    Engine(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Engine(path).close()
    os.chmod(path, 0o644)
    Engine(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Engine(path)
    first.create_call_type({"name": "stage"})
    first.close()
    second = Engine(path)
    assert "stage" in second.list_call_types()["call_types"]
    second.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    engines = [Engine(path) for _ in range(4)]
    engines[0].upsert_users({"users": {"alice": {"id": "alice"}}})
    errors: list[BaseException] = []

    def work(eng: Engine, worker: int) -> None:
        try:
            for i in range(25):
                eng.get_or_create_call(
                    "default", f"w{worker}-{i}", {"data": {"created_by_id": "alice"}}
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e, n)) for n, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seen = set()
    page: dict[str, Any] = {"limit": 100}
    while True:
        result = engines[0].query_calls(page)
        seen.update(c["call"]["cid"] for c in result["calls"])
        if "next" not in result:
            break
        page = {"limit": 100, "next": result["next"]}
    assert len(seen) == 100
    for e in engines:
        e.close()


# --- call types --------------------------------------------------------------------------------


def test_builtin_call_types_are_seeded_and_match_the_spec(engine: Engine) -> None:
    types = engine.list_call_types()["call_types"]
    assert sorted(types) == ["audio_room", "default", "development", "livestream"]
    for name, body in types.items():
        assert body["name"] == name
        assert_matches("CallTypeResponse", body)
        assert_matches("GetCallTypeResponse", body)
    assert types["livestream"]["settings"]["backstage"]["enabled"] is True
    assert types["audio_room"]["settings"]["backstage"]["enabled"] is True
    assert types["default"]["settings"]["backstage"]["enabled"] is False
    assert "join-backstage" not in types["default"]["grants"]["user"]
    assert "join-backstage" in types["livestream"]["grants"]["admin"]
    assert "join-backstage-owner" in types["livestream"]["grants"]["user"]
    # Documented 0 is below the spec's minimum; clamped to 5000.
    assert types["livestream"]["settings"]["ring"]["incoming_call_timeout_ms"] == 5000


def test_create_call_type_fills_defaults_and_merges(engine: Engine, clock: Clock) -> None:
    body = engine.create_call_type(
        {
            "name": "stage",
            "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}},
            "grants": {"host": ["join-backstage"]},
        }
    )
    assert_matches("CreateCallTypeResponse", body)
    assert body["settings"]["backstage"] == {"enabled": True, "join_ahead_time_seconds": 300}
    default = engine.get_call_type("default")
    assert body["settings"]["audio"] == default["settings"]["audio"]
    assert body["grants"]["host"] == ["join-backstage"]
    assert body["grants"]["user"] == default["grants"]["user"]
    assert body["created_at"] == timestamps.to_nanos(T0)
    assert engine.get_call_type("stage") == body


def test_create_existing_call_type_is_input_error(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.create_call_type({"name": "livestream"})
    status, code, message = api_error(excinfo)
    assert (status, code) == (400, 4)
    assert message.startswith('CreateCallType failed with error: "')


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "colour": "red"},
        {"name": "x", "settings": {"audiox": {}}},
        {"name": "x", "settings": {"audio": True}},
        {"name": "x", "grants": {"user": "join-call"}},
        {"name": ""},
        {"name": "has space"},
    ],
)
def test_create_call_type_rejects_bad_shapes(engine: Engine, body: dict[str, Any]) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.create_call_type(body)
    assert api_error(excinfo)[:2] == (400, 4)


def test_update_call_type_replaces_grants_per_role_and_merges_settings(
    engine: Engine, clock: Clock
) -> None:
    engine.create_call_type({"name": "stage", "grants": {"host": ["join-backstage"]}})
    before = engine.get_call_type("stage")
    clock.advance(seconds=5)
    body = engine.update_call_type(
        "stage",
        {
            "grants": {"user": ["read-call", "join-call"], "guest": []},
            "settings": {"audio": {"default_device": "speaker"}},
            "notification_settings": {"call_ring": {"enabled": False}},
        },
    )
    assert_matches("UpdateCallTypeResponse", body)
    assert body["grants"]["user"] == ["read-call", "join-call"]
    assert body["grants"]["guest"] == []
    assert body["grants"]["host"] == ["join-backstage"]
    assert body["grants"]["admin"] == before["grants"]["admin"]
    audio = body["settings"]["audio"]
    assert audio["default_device"] == "speaker"
    assert audio["mic_default_on"] == before["settings"]["audio"]["mic_default_on"]
    assert body["notification_settings"]["call_ring"]["enabled"] is False
    assert body["notification_settings"]["call_ring"]["apns"] == {"title": "", "body": ""}
    assert body["created_at"] == before["created_at"]
    assert body["updated_at"] == before["updated_at"] + 5 * 10**9


def test_settings_lists_replace(engine: Engine) -> None:
    body = engine.update_call_type(
        "default", {"settings": {"broadcasting": {"hls": {"quality_tracks": ["1080p", "360p"]}}}}
    )
    assert body["settings"]["broadcasting"]["hls"]["quality_tracks"] == ["1080p", "360p"]
    assert body["settings"]["broadcasting"]["hls"]["layout"]["name"] == "spotlight"


def test_missing_call_type_errors(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.get_call_type("nope")
    status, code, message = api_error(excinfo)
    assert (status, code) == (404, 16)
    assert "call type does not exist" in message
    with pytest.raises(StreamAPIError) as excinfo:
        engine.update_call_type("nope", {})
    assert api_error(excinfo)[:2] == (404, 16)
    with pytest.raises(StreamAPIError) as excinfo:
        engine.delete_call_type("nope")
    assert api_error(excinfo)[:2] == (404, 16)


def test_delete_call_type(engine: Engine) -> None:
    engine.create_call_type({"name": "stage"})
    assert engine.delete_call_type("stage") == {}
    assert "stage" not in engine.list_call_types()["call_types"]


def test_builtin_call_types_cannot_be_deleted(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.delete_call_type("livestream")
    assert api_error(excinfo)[:2] == (400, 4)
    assert "livestream" in engine.list_call_types()["call_types"]


# --- calls -------------------------------------------------------------------------------------


def test_get_or_create_makes_a_spec_shaped_call(engine: Engine) -> None:
    result = make_call(
        engine,
        starts_at="2030-01-01T13:00:00+01:00",
        custom={"title": "Show"},
        team="blue",
        members=[{"user_id": "bob", "role": "host", "custom": {"k": 1}}],
        settings_override={"backstage": {"join_ahead_time_seconds": 120}},
    )
    assert result["created"] is True
    assert_matches("GetOrCreateCallResponse", result)
    call = result["call"]
    assert_matches("CallResponse", call)
    assert call["cid"] == "livestream:show"
    assert call["backstage"] is True
    assert call["starts_at"] == timestamps.to_nanos("2030-01-01T12:00:00Z")
    assert call["custom"] == {"title": "Show"}
    assert call["team"] == "blue"
    assert call["join_ahead_time_seconds"] == 120
    assert call["created_by"]["id"] == "alice"
    assert result["own_capabilities"] == list(OWN_CAPABILITIES)
    (member,) = result["members"]
    assert_matches("MemberResponse", member)
    assert (member["user_id"], member["role"], member["custom"]) == ("bob", "host", {"k": 1})


def test_get_or_create_returns_the_existing_call(engine: Engine) -> None:
    make_call(engine, custom={"v": 1})
    again = make_call(engine, custom={"v": 2})
    assert again["created"] is False
    assert again["call"]["custom"] == {"v": 1}


def test_backstage_follows_effective_settings(engine: Engine) -> None:
    off = make_call(engine, "livestream:a", settings_override={"backstage": {"enabled": False}})
    assert off["call"]["backstage"] is False
    on = make_call(engine, "default:b", settings_override={"backstage": {"enabled": True}})
    assert on["call"]["backstage"] is True
    assert make_call(engine, "default:c")["call"]["backstage"] is False


def test_call_settings_are_a_snapshot(engine: Engine) -> None:
    make_call(engine, "default:snap", settings_override={"video": {"camera_default_on": False}})
    engine.update_call_type("default", {"settings": {"audio": {"default_device": "speaker"}}})
    settings = engine.get_call("default", "snap")["call"]["settings"]
    assert settings["audio"]["default_device"] == "earpiece"
    assert settings["video"]["camera_default_on"] is False
    assert settings["video"]["enabled"] is True
    fresh = make_call(engine, "default:fresh")["call"]["settings"]
    assert fresh["audio"]["default_device"] == "speaker"


def test_creator_is_required_and_auto_created(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.get_or_create_call("default", "x", {"data": {}})
    assert api_error(excinfo)[:2] == (400, 4)
    result = engine.get_or_create_call("default", "y", {"data": {"created_by_id": "carol"}})
    assert result["call"]["created_by"]["id"] == "carol"
    assert result["call"]["created_by"]["role"] == "user"
    result = engine.get_or_create_call(
        "default", "z", {"data": {"created_by": {"id": "dave", "role": "admin", "name": "D"}}}
    )
    assert result["call"]["created_by"]["role"] == "admin"
    assert result["call"]["created_by"]["name"] == "D"


def test_unknown_call_type_and_unknown_member(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        make_call(engine, "nope:x")
    status, code, message = api_error(excinfo)
    assert (status, code) == (404, 16)
    assert "call type does not exist" in message
    with pytest.raises(StreamAPIError) as excinfo:
        make_call(engine, "default:x", members=[{"user_id": "ghost"}])
    status, code, message = api_error(excinfo)
    assert (status, code) == (400, 4)
    assert "ghost" in message
    with pytest.raises(StreamAPIError):
        engine.get_call("default", "x")


def test_get_missing_call_message(engine: Engine) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.get_call("default", "x")
    assert api_error(excinfo) == (
        404,
        16,
        'GetCall failed with error: "Can\'t find call with id default:x"',
    )
    body = excinfo.value.to_body()
    assert body["StatusCode"] == 404
    assert not problems("APIError", body)


def test_update_call(engine: Engine, clock: Clock) -> None:
    make_call(engine, custom={"a": 1, "b": 2})
    clock.advance(minutes=1)
    result = engine.update_call(
        "livestream",
        "show",
        {
            "starts_at": "2030-02-01T00:00:00Z",
            "custom": {"c": 3},
            "settings_override": {"backstage": {"enabled": False}},
        },
    )
    assert_matches("UpdateCallResponse", result)
    call = result["call"]
    assert call["custom"] == {"c": 3}
    assert call["starts_at"] == timestamps.to_nanos("2030-02-01T00:00:00Z")
    assert call["settings"]["backstage"]["enabled"] is False
    # Documented choice: only go_live / stop_live move the backstage flag.
    assert call["backstage"] is True
    assert call["updated_at"] == timestamps.to_nanos(clock.now)


def test_go_live_and_stop_live_cycles(engine: Engine, clock: Clock) -> None:
    make_call(engine)
    clock.advance(minutes=1)
    live = engine.go_live("livestream", "show", {"start_hls": True, "start_recording": True})
    assert_matches("GoLiveResponse", live)
    call = live["call"]
    assert call["backstage"] is False
    assert call["recording"] is True
    assert call["egress"]["broadcasting"] is True
    assert call["egress"]["hls"]["playlist_url"]
    assert call["session"]["live_started_at"] == timestamps.to_nanos(clock.now)
    assert call["current_session_id"] == call["session"]["id"]
    clock.advance(minutes=1)
    stopped = engine.stop_live("livestream", "show", {"continue_recording": True})
    assert_matches("StopLiveResponse", stopped)
    call = stopped["call"]
    assert call["backstage"] is True
    assert call["recording"] is True
    assert call["egress"]["broadcasting"] is False
    assert call["egress"]["hls"] is None  # Stream sends null while no HLS runs
    assert call["session"]["live_ended_at"] == timestamps.to_nanos(clock.now)
    clock.advance(minutes=1)
    call = engine.go_live("livestream", "show", {})["call"]
    assert call["backstage"] is False
    assert call["session"]["live_started_at"] == timestamps.to_nanos(clock.now)
    # Already live: allowed, stays live.
    assert engine.go_live("livestream", "show", {})["call"]["backstage"] is False


def test_mark_ended(engine: Engine, clock: Clock) -> None:
    make_call(engine)
    assert engine.mark_ended("livestream", "show") == {}
    call = engine.get_call("livestream", "show")["call"]
    assert call["ended_at"] == timestamps.to_nanos(clock.now)


def test_soft_delete_hides_and_allows_recreation(engine: Engine, tmp_path: Path) -> None:
    make_call(engine, custom={"gen": 1})
    result = engine.delete_call("livestream", "show", {"hard": False})
    assert_matches("DeleteCallResponse", result)
    with pytest.raises(StreamAPIError) as excinfo:
        engine.get_call("livestream", "show")
    assert "Can't find call with id livestream:show" in excinfo.value.message
    assert engine.query_calls({"filter_conditions": {"cid": "livestream:show"}})["calls"] == []
    again = make_call(engine, custom={"gen": 2})
    assert again["created"] is True
    assert again["call"]["custom"] == {"gen": 2}
    conn = sqlite3.connect(tmp_path / "sandbox" / "app.db")
    rows = conn.execute(
        "SELECT deleted_at IS NOT NULL FROM calls WHERE cid = 'livestream:show' ORDER BY seq"
    ).fetchall()
    conn.close()
    assert rows == [(1,), (0,)]


def test_hard_delete_removes_the_row(engine: Engine, tmp_path: Path) -> None:
    make_call(engine)
    result = engine.delete_call("livestream", "show", {"hard": True})
    assert result["task_id"]
    conn = sqlite3.connect(tmp_path / "sandbox" / "app.db")
    assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0
    conn.close()


def test_operations_on_missing_calls_are_not_found(engine: Engine) -> None:
    ops = [
        lambda: engine.update_call("default", "x", {}),
        lambda: engine.delete_call("default", "x", {}),
        lambda: engine.mark_ended("default", "x"),
        lambda: engine.go_live("default", "x", {}),
        lambda: engine.stop_live("default", "x", {}),
        lambda: engine.update_call_members("default", "x", {}),
    ]
    for op in ops:
        with pytest.raises(StreamAPIError) as excinfo:
            op()
        assert api_error(excinfo)[:2] == (404, 16)


# --- members and users -------------------------------------------------------------------------


def test_update_call_members(engine: Engine) -> None:
    make_call(engine, members=[{"user_id": "bob"}])
    result = engine.update_call_members(
        "livestream",
        "show",
        {"update_members": [{"user_id": "alice", "role": "host"}], "remove_members": ["bob"]},
    )
    assert_matches("UpdateCallMembersResponse", result)
    assert [(m["user_id"], m["role"]) for m in result["members"]] == [("alice", "host")]
    members = engine.get_call("livestream", "show")["members"]
    assert [(m["user_id"], m["role"]) for m in members] == [("alice", "host")]
    with pytest.raises(StreamAPIError) as excinfo:
        engine.update_call_members("livestream", "show", {"update_members": [{"user_id": "zed"}]})
    assert api_error(excinfo)[:2] == (400, 4)
    too_many = [{"user_id": "alice"}] * 101
    with pytest.raises(StreamAPIError):
        engine.update_call_members("livestream", "show", {"update_members": too_many})


def test_query_call_members(engine: Engine) -> None:
    users = {f"u{i:02}": {"id": f"u{i:02}"} for i in range(30)}
    engine.upsert_users({"users": users})
    make_call(engine, members=[{"user_id": u, "role": "viewer"} for u in users])
    engine.update_call_members(
        "livestream", "show", {"update_members": [{"user_id": "u03", "role": "host"}]}
    )
    page = engine.query_call_members({"type": "livestream", "id": "show", "limit": 20})
    assert len(page["members"]) == 20
    rest = engine.query_call_members(
        {"type": "livestream", "id": "show", "limit": 20, "next": page["next"]}
    )
    assert len(rest["members"]) == 10 and "next" not in rest
    hosts = engine.query_call_members(
        {"type": "livestream", "id": "show", "filter_conditions": {"role": "host"}}
    )
    assert [m["user_id"] for m in hosts["members"]] == ["u03"]


def test_upsert_users_replaces(engine: Engine) -> None:
    result = engine.upsert_users(
        {"users": {"zoe": {"id": "zoe", "role": "admin", "name": "Zoe", "custom": {"x": 1}}}}
    )
    assert_matches("UpdateUsersResponse", result)
    assert result["users"]["zoe"]["role"] == "admin"
    result = engine.upsert_users({"users": {"zoe": {"id": "zoe"}}})
    user = result["users"]["zoe"]
    assert user["role"] == "user" and "name" not in user and user["custom"] == {}
    found = engine.query_users(
        {"filter_conditions": {"id": {"$in": ["zoe", "alice", "nope"]}}, "sort": [{"field": "id"}]}
    )
    assert [u["id"] for u in found["users"]] == ["alice", "zoe"]
    for user in found["users"]:
        assert_matches("UserResponse", user)


ZOE = {
    "id": "zoe",
    "role": "admin",
    "name": "Zoe",
    "image": "https://img.example/zoe.png",
    "teams": ["red"],
    "custom": {"x": 1},
    "language": "de",
    "invisible": True,
    "privacy_settings": {"typing_indicators": {"enabled": False}},
    "teams_role": {"red": "admin"},
}


def test_update_users_partial_sets_and_unsets_only_what_it_names(engine: Engine) -> None:
    engine.upsert_users({"users": {"zoe": ZOE}})
    result = engine.update_users_partial(
        {"users": [{"id": "zoe", "set": {"name": "Zoe Z", "teams": ["blue"]}, "unset": ["image"]}]}
    )
    assert_matches("UpdateUsersResponse", result)
    (user,) = engine.query_users({"filter_conditions": {"id": "zoe"}})["users"]
    assert_matches("UserResponse", user)
    kept = {k: user.get(k) for k in ZOE}
    assert kept == {**ZOE, "name": "Zoe Z", "teams": ["blue"], "image": None}
    engine.update_users_partial({"users": [{"id": "zoe", "unset": ["role"]}]})
    (user,) = engine.query_users({"filter_conditions": {"id": "zoe"}})["users"]
    assert user["role"] == "user" and user["name"] == "Zoe Z"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"users": []}, "non-empty list"),
        ({"users": {"zoe": {}}}, "non-empty list"),
        ({"users": [{"set": {"name": "x"}}]}, "users[].id is required"),
        ({"users": [{"id": "zoe", "set": {"nick": "x"}}]}, "nick"),
        ({"users": [{"id": "zoe", "set": {"teams": "red"}}]}, "teams must be a list of strings"),
        ({"users": [{"id": "zoe", "set": {"role": 1}}]}, "role must be a string"),
        ({"users": [{"id": "zoe", "unset": ["nick"]}]}, "unknown field nick"),
        ({"users": [{"id": "zoe", "unset": "name"}]}, "unset must be a list"),
        ({"users": [{"id": "zoe", "set": {"name": "x"}, "unset": ["name"]}]}, "both set and unset"),
        ({"users": [{"id": "zoe"}, {"id": "zoe"}]}, "one user twice"),
        ({"users": [{"id": "nobody", "set": {"name": "x"}}]}, "don't exist: nobody"),
        ({"users": [{"id": f"u{i}"} for i in range(101)]}, "at most 100"),
        (
            {"users": [{"id": "zoe", "set": {"privacy_settings": {"typing": {"enabled": True}}}}]},
            "typing",
        ),
        (
            {"users": [{"id": "zoe", "set": {"privacy_settings": {"read_receipts": {}}}}]},
            "enabled must be true or false",
        ),
    ],
)
def test_update_users_partial_refuses_a_bad_body_and_writes_nothing(
    engine: Engine, body: Any, message: str
) -> None:
    engine.upsert_users({"users": {"zoe": ZOE}})
    with pytest.raises(StreamAPIError) as info:
        engine.update_users_partial(body)
    assert info.value.status == 400 and message in info.value.message
    (user,) = engine.query_users({"filter_conditions": {"id": "zoe"}})["users"]
    assert {k: user.get(k) for k in ZOE} == ZOE


# --- query calls -------------------------------------------------------------------------------


@pytest.fixture
def populated(engine: Engine, clock: Clock) -> Engine:
    engine.upsert_users({"users": {"carol": {"id": "carol"}}})
    for i in range(12):
        clock.advance(seconds=1)
        call_type = "livestream" if i % 2 else "default"
        engine.get_or_create_call(
            call_type,
            f"c{i:02}",
            {
                "data": {
                    "created_by_id": "carol" if i % 3 == 0 else "alice",
                    "starts_at": (T0 + timedelta(hours=i)).isoformat(),
                    "team": "red" if i < 6 else "blue",
                    "members": [{"user_id": "bob"}] if i == 7 else [],
                }
            },
        )
    engine.go_live("livestream", "c01", {})
    engine.mark_ended("default", "c02")
    return engine


def cids(result: dict[str, Any]) -> list[str]:
    return [c["call"]["cid"] for c in result["calls"]]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            {"cid": {"$in": ["default:c00", "livestream:c03", "default:zz"]}},
            ["default:c00", "livestream:c03"],
        ),
        ({"cid": "default:c04"}, ["default:c04"]),
        ({"id": {"$eq": "c05"}}, ["livestream:c05"]),
        (
            {"type": "livestream", "team": "red"},
            ["livestream:c01", "livestream:c03", "livestream:c05"],
        ),
        ({"created_by_user_id": "carol", "type": "default"}, ["default:c00", "default:c06"]),
        ({"backstage": False, "type": "livestream"}, ["livestream:c01"]),
        ({"ended_at": {"$exists": True}}, ["default:c02"]),
        ({"ended_at": None, "team": "red", "type": "default"}, ["default:c00", "default:c04"]),
        (
            {"starts_at": {"$gte": "2030-01-01T20:00:00Z"}},
            ["default:c08", "livestream:c09", "default:c10", "livestream:c11"],
        ),
        (
            {"starts_at": {"$gt": "2030-01-01T12:00:00Z", "$lt": "2030-01-01T15:00:00+00:00"}},
            ["livestream:c01", "default:c02"],
        ),
        ({"starts_at": {"$lte": "2030-01-01T13:00:00Z"}, "id": {"$ne": "c00"}}, ["livestream:c01"]),
        ({"$or": [{"id": "c00"}, {"id": "c11"}]}, ["default:c00", "livestream:c11"]),
        (
            {"$and": [{"team": "blue"}, {"type": "default"}]},
            ["default:c06", "default:c08", "default:c10"],
        ),
        ({"members": {"$in": ["bob"]}}, ["livestream:c07"]),
        ({"ongoing": True}, []),
    ],
)
def test_query_calls_filters(
    populated: Engine, conditions: dict[str, Any], expected: list[str]
) -> None:
    assert cids(populated.query_calls({"filter_conditions": conditions})) == expected


def test_query_calls_sort_and_pages(populated: Engine) -> None:
    result = populated.query_calls({"sort": [{"field": "starts_at", "direction": -1}], "limit": 5})
    assert cids(result) == [
        "livestream:c11",
        "default:c10",
        "livestream:c09",
        "default:c08",
        "livestream:c07",
    ]
    assert "prev" not in result
    second = populated.query_calls(
        {"sort": [{"field": "starts_at", "direction": -1}], "limit": 5, "next": result["next"]}
    )
    assert cids(second)[0] == "default:c06"
    back = populated.query_calls(
        {"sort": [{"field": "starts_at", "direction": -1}], "limit": 5, "prev": second["prev"]}
    )
    assert cids(back) == cids(result)
    all_cids: list[str] = []
    body: dict[str, Any] = {"limit": 5}
    while True:
        page = populated.query_calls(body)
        for state in page["calls"]:
            assert_matches("CallStateResponseFields", state)
        all_cids += cids(page)
        if "next" not in page:
            break
        body = {"limit": 5, "next": page["next"]}
    assert all_cids == [f"{'livestream' if i % 2 else 'default'}:c{i:02}" for i in range(12)]
    assert len(populated.query_calls({})["calls"]) == 12


@pytest.mark.parametrize(
    "body",
    [
        {"filter_conditions": {"id": {"$regex": "c"}}},
        {"filter_conditions": {"colour": "red"}},
        {"filter_conditions": {"backstage": "yes"}},
        {"filter_conditions": {"starts_at": {"$gt": "tomorrow"}}},
        {"filter_conditions": {"$nor": []}},
        {"sort": [{"field": "custom"}]},
        {"sort": [{"field": "id"}, {"field": "cid"}, {"field": "type"}]},
        {"limit": 101},
        {"next": "not-a-cursor"},
    ],
)
def test_query_calls_rejects_bad_queries(engine: Engine, body: dict[str, Any]) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.query_calls(body)
    status, code, message = api_error(excinfo)
    assert (status, code) == (400, 4)
    assert message.startswith("QueryCalls failed with error:")


def test_query_calls_by_many_cids_is_one_page(engine: Engine) -> None:
    for i in range(150):
        make_call(engine, f"default:m{i:03}")
    wanted = [f"default:m{i:03}" for i in range(0, 150, 1)] + ["default:absent"]
    result = engine.query_calls({"filter_conditions": {"cid": {"$in": wanted[:100]}}, "limit": 100})
    assert len(result["calls"]) == 100 and "next" not in result
    result = engine.query_calls({"filter_conditions": {"cid": {"$in": wanted}}, "limit": 100})
    assert len(result["calls"]) == 100 and "next" in result


# --- client-side join (grants decide) ----------------------------------------------------------


@pytest.fixture
def stage(engine: Engine) -> Engine:
    """A livestream created by alice, with carol as host; bob is a plain user, root an admin."""
    engine.upsert_users(
        {"users": {"carol": {"id": "carol"}, "root": {"id": "root", "role": "admin"}}}
    )
    make_call(
        engine,
        starts_at=(T0 + timedelta(hours=1)).isoformat(),
        members=[{"user_id": "carol", "role": "host"}],
        settings_override={"backstage": {"join_ahead_time_seconds": 600}},
    )
    return engine


def join(engine: Engine, user: str, cid: str = "livestream:show", **body: Any) -> dict[str, Any]:
    call_type, call_id = cid.split(":")
    return engine.join_call(call_type, call_id, user_id=user, body=body)


def refused(engine: Engine, user: str, cid: str = "livestream:show") -> str:
    with pytest.raises(StreamAPIError) as excinfo:
        join(engine, user, cid)
    status, code, message = api_error(excinfo)
    assert (status, code) == (403, 17)
    return message


def participants(engine: Engine, cid: str = "livestream:show") -> list[tuple[str, str]]:
    call_type, call_id = cid.split(":")
    session = engine.get_call(call_type, call_id)["call"].get("session") or {}
    return [(p["user"]["id"], p["role"]) for p in session.get("participants", [])]


def test_backstage_admits_only_backstage_grants(stage: Engine, clock: Clock) -> None:
    message = refused(stage, "bob")
    assert message == (
        'JoinCall failed with error: "call is not live: user bob with roles [user]'
        ' lacks join-backstage"'
    )
    owner = join(stage, "alice")  # join-backstage-owner, as the creator
    assert owner["created"] is False
    assert_matches("CallResponse", owner["call"])
    assert "join-backstage" in owner["own_capabilities"]
    join(stage, "carol")  # member role host holds join-backstage
    join(stage, "root")  # app role admin holds join-backstage
    assert participants(stage) == [("alice", "user"), ("carol", "host"), ("root", "admin")]
    first = stage.get_call("livestream", "show")["call"]["session"]["participants"][0]
    assert first["joined_at"] == timestamps.to_nanos(clock.now)
    counts = stage.get_call("livestream", "show")["call"]["session"]["participants_count_by_role"]
    assert counts == {"admin": 1, "host": 1, "user": 1}


def test_join_ahead_window_opens_for_join_call(stage: Engine, clock: Clock) -> None:
    clock.advance(minutes=49, seconds=59)  # starts_at - 600 s is 50 minutes after T0
    refused(stage, "bob")
    clock.advance(seconds=1)
    result = join(stage, "bob")
    assert "join-call" in result["own_capabilities"]
    assert "join-backstage" not in result["own_capabilities"]
    assert stage.get_call("livestream", "show")["call"]["backstage"] is True


def test_no_join_ahead_without_starts_at_or_window(engine: Engine, clock: Clock) -> None:
    make_call(
        engine, "livestream:a", settings_override={"backstage": {"join_ahead_time_seconds": 600}}
    )
    make_call(engine, "livestream:b", starts_at=T0.isoformat())
    clock.advance(hours=2)
    refused(engine, "bob", "livestream:a")
    refused(engine, "bob", "livestream:b")


def test_live_admits_join_call_and_stop_live_removes_viewers(stage: Engine) -> None:
    join(stage, "alice")
    join(stage, "carol")
    stage.go_live("livestream", "show", {})
    viewer = join(stage, "bob")
    capabilities = viewer["own_capabilities"]
    assert {"join-call", "read-call", "create-reaction"} <= set(capabilities)
    assert not {"join-backstage", "send-video", "send-audio"} & set(capabilities)
    assert ("bob", "user") in participants(stage)
    assert (
        stage.query_calls({"filter_conditions": {"ongoing": True}})["calls"][0]["call"]["cid"]
        == "livestream:show"
    )
    stage.stop_live("livestream", "show", {})
    assert participants(stage) == [("alice", "user"), ("carol", "host")]
    refused(stage, "bob")


def test_ended_call_admits_only_join_ended_call(engine: Engine) -> None:
    make_call(engine, "livestream:old")
    make_call(engine, "default:old")
    engine.go_live("livestream", "old", {})
    engine.mark_ended("livestream", "old")
    engine.mark_ended("default", "old")
    message = refused(engine, "bob", "livestream:old")
    assert "lacks join-ended-call" in message
    join(engine, "bob", "default:old")  # default's user role holds join-ended-call


def test_join_uses_current_grants(stage: Engine) -> None:
    join(stage, "carol")
    stage.update_call_type("livestream", {"grants": {"host": []}})
    refused(stage, "carol")
    refused(stage, "bob")
    user_grants = stage.get_call_type("livestream")["grants"]["user"]
    stage.update_call_type("livestream", {"grants": {"user": [*user_grants, "join-backstage"]}})
    join(stage, "bob")
    join(stage, "carol")


def test_join_deleted_or_missing_call(stage: Engine) -> None:
    stage.delete_call("livestream", "show", {})
    with pytest.raises(StreamAPIError) as excinfo:
        join(stage, "alice")
    assert api_error(excinfo)[:2] == (404, 16)


def test_join_with_create(engine: Engine) -> None:
    result = join(engine, "bob", "default:fresh", create=True, data={"custom": {"x": 1}})
    assert result["created"] is True
    assert result["call"]["created_by"]["id"] == "bob"
    assert result["call"]["custom"] == {"x": 1}
    engine.upsert_users({"users": {"gus": {"id": "gus", "role": "guest"}}})
    with pytest.raises(StreamAPIError) as excinfo:
        join(engine, "gus", "default:other", create=True)
    assert api_error(excinfo)[:2] == (403, 17)


def test_unknown_user_joins_as_plain_user(engine: Engine) -> None:
    make_call(engine, "default:open")
    join(engine, "newcomer", "default:open")
    assert participants(engine, "default:open") == [("newcomer", "user")]


def test_a_page_by_cids_is_one_indexed_query(engine: Engine) -> None:
    for i in range(100):
        make_call(engine, f"default:q{i:03}")
    statements: list[str] = []
    conn = engine._store.connection()
    conn.set_trace_callback(statements.append)
    try:
        wanted = [f"default:q{i:03}" for i in range(100)]
        result = engine.query_calls({"filter_conditions": {"cid": {"$in": wanted}}, "limit": 100})
    finally:
        conn.set_trace_callback(None)
    assert len(result["calls"]) == 100
    call_selects = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM calls" in s]
    assert len(call_selects) == 1
    if "?" not in call_selects[0]:  # Python >= 3.11 traces statements with values bound
        plan = conn.execute("EXPLAIN QUERY PLAN " + call_selects[0]).fetchall()
        assert any("calls_live_cid" in str(step) for step in plan)


def _open_at(path: str, start: float) -> None:
    while time.time() < start:
        pass
    engine = Engine(path)
    engine.list_call_types()
    engine.close()


def test_processes_opening_a_new_sandbox_at_once_all_succeed(tmp_path: Path) -> None:
    # Two applies started together both create the file and switch it to WAL; SQLite refuses
    # that switch at once ("database is locked") instead of waiting, so the store must wait.
    import multiprocessing

    context = multiprocessing.get_context("fork")
    failures = 0
    for round_number in range(40):
        path = str(tmp_path / f"new-{round_number}.db")
        start = time.time() + 0.05
        workers = [context.Process(target=_open_at, args=(path, start)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        failures += sum(worker.exitcode != 0 for worker in workers)
    assert failures == 0


def test_restore_brings_back_a_snapshot_for_every_connection(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "app.db")
    engine.snapshot(tmp_path / "empty.db")
    # Another thread keeps its own connection open, as the emulator's event loop does.
    jobs: queue.Queue[Any] = queue.Queue()
    answers: queue.Queue[Any] = queue.Queue()

    def worker() -> None:
        while (job := jobs.get(timeout=30)) is not None:
            answers.put(job())

    def on_worker(job: Any) -> Any:
        jobs.put(job)
        return answers.get(timeout=30)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        on_worker(lambda: engine.create_call_type({"name": "stage"}))
        on_worker(lambda: engine.upsert_users({"users": {"ann": {"id": "ann"}}}))
        assert "stage" in on_worker(lambda: set(engine.list_call_types()["call_types"]))
        engine.restore(tmp_path / "empty.db")
        assert on_worker(lambda: sorted(engine.list_call_types()["call_types"])) == [
            "audio_room",
            "default",
            "development",
            "livestream",
        ]
        assert engine.query_users({})["users"] == []
        on_worker(lambda: engine.create_call_type({"name": "after"}))
        assert "after" in engine.list_call_types()["call_types"]
    finally:
        jobs.put(None)
        thread.join(timeout=30)
    engine.close()
    # The snapshot is a plain file (no write-ahead log beside it), and the sandbox is whole.
    assert not (tmp_path / "empty.db-wal").exists()
    with sqlite3.connect(tmp_path / "app.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
