"""The event log of the sandbox engine: what Stream would send for each change, in order, each
body held to its schema in Stream's OpenAPI spec, written in the change's own transaction (so a
refused request emits nothing), kept bounded, and readable with filters."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from openapi_check import assert_event_matches, event_schema
from test_sandbox_engine import Clock, api_error, clock, engine, make_call  # noqa: F401

from stagecfg import timestamps
from stagecfg.sandbox import Engine, StreamAPIError
from stagecfg.sandbox import events as event_log
from stagecfg.sandbox.store import Store

CID = ("livestream", "show")


def logged(engine: Engine, **filters: Any) -> list[dict[str, Any]]:  # noqa: F811
    """Every event body logged so far (or matching ``filters``), each checked against the spec."""
    bodies = [entry["event"] for entry in engine.query_events(limit=1000, **filters)["events"]]
    for body in bodies:
        assert_event_matches(body)
    return bodies


def types_of(engine: Engine, **filters: Any) -> list[str]:  # noqa: F811
    return [body["type"] for body in logged(engine, **filters)]


def since_now(engine: Engine) -> int:  # noqa: F811
    last: int = engine.query_events()["last_id"]
    return last


def test_the_backstage_flow_emits_stream_s_events_in_order(engine: Engine) -> None:  # noqa: F811
    start = since_now(engine)
    make_call(engine, members=[{"user_id": "bob", "role": "host"}])
    engine.update_call(*CID, {"custom": {"title": "Launch"}})
    engine.update_call_members(*CID, {"update_members": [{"user_id": "alice", "role": "host"}]})
    engine.go_live(*CID, {"start_hls": True})
    engine.join_call(*CID, user_id="bob", body={})
    engine.stop_live(*CID, {"continue_hls": True})
    engine.mark_ended(*CID)
    assert types_of(engine, since=start) == [
        "call.created",
        "call.updated",
        "call.member_added",
        "call.live_started",
        "call.session_started",
        "call.hls_broadcasting_started",
        "call.session_participant_joined",
        "call.updated",
        "call.ended",
        "call.session_participant_left",
        "call.hls_broadcasting_stopped",
        "call.session_ended",
    ]
    bodies = logged(engine, since=start)
    assert all(b["call_cid"] == "livestream:show" for b in bodies)
    created = bodies[0]
    assert [m["user_id"] for m in created["members"]] == ["bob"]
    assert created["call"]["backstage"] is True
    assert bodies[3]["call"]["backstage"] is False  # the call as it is once live
    assert bodies[-1]["call"]["ended_at"] is not None
    ids = [e["id"] for e in engine.query_events(since=start)["events"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_every_event_body_names_its_call_and_time(engine: Engine, clock: Clock) -> None:  # noqa: F811
    make_call(engine)
    engine.go_live(*CID, {})
    for body in logged(engine, call_cid="livestream:show"):
        assert body["created_at"] == timestamps.to_nanos(clock.now)
        if "call" in body:
            assert body["call"]["cid"] == body["call_cid"]


def test_live_started_carries_the_call_type_s_push_settings(engine: Engine) -> None:  # noqa: F811
    push = {"enabled": True, "apns": {"title": "{{ call.display_name }} is live", "body": "Join"}}
    engine.update_call_type(
        "livestream", {"notification_settings": {"enabled": True, "call_live_started": push}}
    )
    make_call(engine)
    engine.go_live(*CID, {})
    (event,) = logged(engine, types=["call.live_started"])
    settings = event["notification_settings"]
    assert settings["enabled"] is True
    assert settings["call_live_started"]["enabled"] is True
    assert settings["call_live_started"]["apns"]["title"] == "{{ call.display_name }} is live"
    # The call type's settings as GetCallType answers them, not a copy of the request.
    stored = engine.get_call_type("livestream")["notification_settings"]["call_live_started"]
    assert settings["call_live_started"] == stored


def test_live_started_says_when_push_is_off(engine: Engine) -> None:  # noqa: F811
    engine.update_call_type(
        "livestream",
        {"notification_settings": {"enabled": False, "call_live_started": {"enabled": False}}},
    )
    make_call(engine)
    engine.go_live(*CID, {})
    (event,) = logged(engine, types=["call.live_started"])
    assert event["notification_settings"]["enabled"] is False
    assert event["notification_settings"]["call_live_started"]["enabled"] is False


def test_egress_controls_emit_started_and_stopped_with_one_egress_id(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    engine.go_live(*CID, {})
    start = since_now(engine)
    engine.start_recording(*CID, "individual", {})
    engine.start_transcription(*CID, {"enable_closed_captions": True})
    engine.start_rtmp_broadcasts(
        *CID, {"broadcasts": [{"name": "yt", "stream_url": "rtmps://example.invalid/live"}]}
    )
    engine.stop_rtmp_broadcast(*CID, "yt", {})
    engine.stop_recording(*CID, "individual", {})
    engine.stop_transcription(*CID, {"stop_closed_captions": True})
    bodies = logged(engine, since=start)
    assert [b["type"] for b in bodies] == [
        "call.recording_started",
        "call.transcription_started",
        "call.closed_captions_started",
        "call.rtmp_broadcast_started",
        "call.rtmp_broadcast_stopped",
        "call.recording_stopped",
        "call.transcription_stopped",
        "call.closed_captions_stopped",
    ]
    assert bodies[0]["recording_type"] == bodies[5]["recording_type"] == "individual"
    assert bodies[0]["egress_id"] == bodies[5]["egress_id"]
    assert bodies[1]["egress_id"] == bodies[6]["egress_id"] != bodies[0]["egress_id"]
    assert bodies[3]["name"] == bodies[4]["name"] == "yt"
    # A second recording gets a new egress id.
    engine.start_recording(*CID, "individual", {})
    (again,) = logged(engine, types=["call.recording_started"], since=start + 8)
    assert again["egress_id"] != bodies[0]["egress_id"]
    # The ids are kept out of every response.
    assert "egress_ids" not in str(engine.get_call(*CID))


def test_go_live_and_stop_live_emit_what_they_start_and_stop(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    start = since_now(engine)
    engine.go_live(*CID, {"start_hls": True, "start_recording": True, "start_transcription": True})
    engine.stop_live(*CID, {"continue_transcription": True})
    assert types_of(engine, since=start) == [
        "call.live_started",
        "call.session_started",
        "call.hls_broadcasting_started",
        "call.recording_started",
        "call.transcription_started",
        "call.updated",
        "call.hls_broadcasting_stopped",
        "call.recording_stopped",
    ]


def test_member_changes_emit_added_updated_permission_and_removed(engine: Engine) -> None:  # noqa: F811
    engine.upsert_users({"users": {"carol": {"id": "carol"}}})
    make_call(engine, members=[{"user_id": "bob"}, {"user_id": "carol"}])
    start = since_now(engine)
    engine.update_call_members(
        *CID,
        {
            "update_members": [
                {"user_id": "alice", "role": "host"},
                {"user_id": "bob", "role": "host"},
                {"user_id": "carol", "custom": {"seat": 3}},
            ],
            "remove_members": ["carol", "nobody"],
        },
    )
    engine.update_call_members(*CID, {"remove_members": ["bob"]})
    bodies = logged(engine, since=start)
    assert [b["type"] for b in bodies] == [
        "call.member_added",
        "call.member_updated",
        "call.member_updated_permission",
        "call.member_removed",
    ]
    assert [m["user_id"] for m in bodies[0]["members"]] == ["alice"]
    # carol was removed and named again: she is updated, not removed.
    assert [m["user_id"] for m in bodies[1]["members"]] == ["bob", "carol"]
    assert [m["user_id"] for m in bodies[2]["members"]] == ["bob"]
    assert "join-backstage" in bodies[2]["capabilities_by_role"]["host"]
    assert bodies[3]["members"] == ["bob"]


def test_moderation_and_permissions_emit_their_events(engine: Engine) -> None:  # noqa: F811
    make_call(engine, members=[{"user_id": "bob", "role": "host"}])
    engine.go_live(*CID, {})
    engine.join_call(*CID, user_id="bob", body={})
    start = since_now(engine)
    engine.block_user(*CID, {"user_id": "bob"})
    engine.unblock_user(*CID, {"user_id": "bob"})
    engine.unblock_user(*CID, {"user_id": "bob"})  # not blocked: a no-op, no event
    engine.update_user_permissions(*CID, {"user_id": "bob", "revoke_permissions": ["send-audio"]})
    engine.kick_user(*CID, {"user_id": "bob"})  # not in the call any more: no event
    engine.mute_users(*CID, {"user_ids": ["bob"], "audio": True})
    bodies = logged(engine, since=start)
    assert [b["type"] for b in bodies] == [
        "call.blocked_user",
        "call.session_participant_left",
        "call.unblocked_user",
        "call.permissions_updated",
        "call.user_muted",
    ]
    assert bodies[0]["user"]["id"] == bodies[2]["user"]["id"] == "bob"
    assert "send-audio" not in bodies[3]["own_capabilities"]
    assert bodies[4]["muted_user_ids"] == ["bob"]
    engine.join_call(*CID, user_id="bob", body={})
    engine.kick_user(*CID, {"user_id": "bob"})
    assert types_of(engine, types=["call.kicked_user"]) == ["call.kicked_user"]


def test_custom_events_and_rings_are_logged(engine: Engine) -> None:  # noqa: F811
    make_call(engine, members=[{"user_id": "bob"}, {"user_id": "alice"}])
    start = since_now(engine)
    engine.send_call_event(*CID, {"user_id": "alice", "custom": {"cue": "lights"}})
    engine.ring_call(*CID, {"video": True})
    engine.ring_call(*CID, {"members_ids": ["alice"]})  # the ringer herself: nobody, no event
    custom, ring = logged(engine, since=start)
    assert custom["type"] == "custom" and custom["custom"] == {"cue": "lights"}
    assert custom["user"]["id"] == "alice"
    assert ring["type"] == "call.ring" and ring["video"] is True
    assert [m["user_id"] for m in ring["members"]] == ["bob"]
    assert ring["user"]["id"] == "alice"
    start = since_now(engine)
    engine.get_or_create_call(*CID, {"ring": True, "notify": True})
    assert types_of(engine, since=start) == ["call.ring", "call.notification"]


def test_user_changes_emit_user_events(engine: Engine) -> None:  # noqa: F811
    start = since_now(engine)
    engine.upsert_users({"users": {"carol": {"id": "carol", "name": "Carol"}}})
    engine.update_users_partial({"users": [{"id": "carol", "set": {"name": "C"}}]})
    engine.deactivate_user("carol")
    engine.deactivate_user("carol")  # already deactivated: no second event
    engine.reactivate_users({"user_ids": ["carol"]})
    engine.delete_users({"user_ids": ["carol"], "user": "hard", "messages": "hard",
                         "conversations": "hard"})  # fmt: skip
    bodies = logged(engine, since=start)
    assert [b["type"] for b in bodies] == [
        "user.updated",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
    ]
    assert bodies[1]["user"]["name"] == "C"
    assert bodies[4]["hard_delete"] is True and bodies[4]["user"]["id"] == "carol"


def test_a_soft_then_a_hard_delete_each_send_user_deleted(engine: Engine) -> None:  # noqa: F811
    start = since_now(engine)
    engine.delete_users({"user_ids": ["bob"]})
    with pytest.raises(StreamAPIError):
        engine.delete_users({"user_ids": ["bob"]})  # deleted already: refused, no event
    hard = {"user": "hard", "messages": "hard", "conversations": "hard"}
    engine.delete_users({"user_ids": ["bob"], **hard})
    soft, gone = logged(engine, since=start)
    assert (soft["delete_user"], soft["hard_delete"]) == ("soft", False)
    assert soft["user"]["deleted_at"] is not None
    assert (gone["delete_user"], gone["hard_delete"]) == ("hard", True)


def test_deleting_a_call_emits_call_deleted(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    engine.delete_call(*CID, {"hard": True})
    (deleted,) = logged(engine, types=["call.deleted"])
    assert deleted["call"]["cid"] == "livestream:show"


def test_call_type_changes_emit_nothing(engine: Engine) -> None:  # noqa: F811
    start = since_now(engine)
    engine.create_call_type({"name": "stage"})
    engine.update_call_type("stage", {"grants": {"user": ["join-call"]}})
    engine.delete_call_type("stage")
    assert logged(engine, since=start) == []


def test_every_event_type_sent_has_a_schema_in_the_spec() -> None:
    for kind in event_log.CARRIES_CALL:
        assert event_schema(kind)


# --- a refused request emits nothing ------------------------------------------------------------


def _refusals(engine: Engine) -> list[tuple[Any, ...]]:  # noqa: F811
    return [
        (engine.get_or_create_call, "livestream", "x", {"data": {}}),
        (engine.get_or_create_call, "nope", "x", {"data": {"created_by_id": "alice"}}),
        (engine.get_or_create_call, *CID, {"ring": "yes"}),
        (engine.update_call, "livestream", "missing", {"custom": {}}),
        (engine.update_call, *CID, {"custom": []}),
        (engine.update_call_members, *CID, {"update_members": [{"user_id": "ghost"}]}),
        (engine.go_live, *CID, {"start_hls": "yes"}),
        (engine.stop_live, "livestream", "missing", {}),
        (engine.start_recording, *CID, "composite", {}),  # no active session
        (engine.stop_hls_broadcasting, *CID),  # not running
        (engine.block_user, *CID, {"user_id": "ghost"}),
        (engine.update_user_permissions, *CID, {"user_id": "bob", "grant_permissions": ["x"]}),
        (engine.send_call_event, *CID, {"custom": {}}),
        (engine.ring_call, *CID, {"members_ids": ["stranger"]}),
        (engine.upsert_users, {"users": {"a": {"id": "b"}}}),
        (engine.update_users_partial, {"users": [{"id": "ghost", "set": {"name": "x"}}]}),
        (engine.deactivate_user, "ghost"),
        (engine.reactivate_user, "bob"),  # not deactivated
        (engine.delete_users, {"user_ids": ["ghost"]}),
        (engine.mark_ended, "livestream", "missing"),
        (engine.delete_call, *CID, {"hard": 1}),
    ]


def test_a_refused_request_emits_nothing(engine: Engine) -> None:  # noqa: F811
    make_call(engine, members=[{"user_id": "bob"}])
    for refused, *args in _refusals(engine):
        before = engine.query_events()
        with pytest.raises(StreamAPIError) as excinfo:
            refused(*args)
        assert api_error(excinfo)[0] in (400, 403, 404), refused
        assert engine.query_events() == before, f"{refused.__name__}{tuple(args)} emitted"


def test_a_user_token_refused_a_control_emits_nothing(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    engine.go_live(*CID, {})
    before = engine.query_events()
    with pytest.raises(StreamAPIError) as excinfo:
        engine.start_hls_broadcasting(*CID, caller="bob")
    assert api_error(excinfo)[:2] == (403, 17)
    assert engine.query_events() == before


def test_events_written_before_a_refusal_are_rolled_back_with_it(engine: Engine) -> None:  # noqa: F811
    # Joining with ``create`` makes the call (and its call.created) before deciding whether the
    # user may join it; a refusal must take both back.
    engine.create_call_type(
        {
            "name": "stage",
            "settings": {"backstage": {"enabled": True}},
            "grants": {"user": ["create-call"]},
        }
    )
    before = engine.query_events()
    with pytest.raises(StreamAPIError) as excinfo:
        engine.join_call("stage", "pop-up", user_id="bob", body={"create": True})
    assert api_error(excinfo)[:2] == (403, 17)
    assert engine.query_events() == before
    with pytest.raises(StreamAPIError):
        engine.get_call("stage", "pop-up")


# --- the log itself -------------------------------------------------------------------------


def test_the_log_keeps_the_newest_events_and_ids_only_grow(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        with store.write() as tx:
            for n in range(7):
                event_log.emit(tx, {"type": "custom", "created_at": n}, keep=3)
            kept = event_log.read(tx)
            assert [e["id"] for e in kept] == [5, 6, 7]
            assert [e["event"]["created_at"] for e in kept] == [4, 5, 6]
            event_log.clear(tx)
            assert event_log.read(tx) == [] and event_log.last_id(tx) == 7
            assert event_log.emit(tx, {"type": "custom", "created_at": 9}) == 8
    finally:
        store.close()


def test_the_log_is_bounded_by_default(engine: Engine) -> None:  # noqa: F811
    assert event_log.MAX_EVENTS == 10_000
    make_call(engine)
    for _ in range(3):
        engine.send_call_event(*CID, {"user_id": "alice"})
    assert engine.query_events(types=["custom"])["events"][0]["event"]["type"] == "custom"


def test_filters_since_and_limit(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    make_call(engine, "default:other")
    engine.go_live(*CID, {})
    everything = engine.query_events()["events"]
    assert [e["id"] for e in engine.query_events(limit=2)["events"]] == [
        e["id"] for e in everything[:2]
    ]
    later = engine.query_events(since=everything[1]["id"])["events"]
    assert later == everything[2:]
    only = engine.query_events(types=["call.created"], call_cid="default:other")["events"]
    assert [e["event"]["call_cid"] for e in only] == ["default:other"]
    both = engine.query_events(types=["call.created", "call.live_started"])["events"]
    kinds = [e["event"]["type"] for e in both]
    assert kinds == ["call.created", "call.created", "call.live_started"]
    assert engine.query_events(since=everything[-1]["id"])["events"] == []
    assert engine.query_events()["last_id"] == everything[-1]["id"]


@pytest.mark.parametrize(
    "filters",
    [
        {"since": -1},
        {"since": True},
        {"limit": 0},
        {"limit": 1001},
        {"types": [""]},
        {"types": ["t"] * 101},
        {"call_cid": ""},
    ],
)
def test_bad_filters_are_input_errors(engine: Engine, filters: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(StreamAPIError) as excinfo:
        engine.query_events(**filters)
    assert api_error(excinfo)[:2] == (400, 4)


def test_reset_empties_the_log_and_ids_continue(engine: Engine) -> None:  # noqa: F811
    make_call(engine)
    last = since_now(engine)
    assert engine.reset_events() == {"events": [], "last_id": last}
    assert engine.query_events()["events"] == []
    engine.go_live(*CID, {})
    assert engine.query_events()["events"][0]["id"] == last + 1


def test_a_sandbox_from_before_the_log_opens_and_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Engine(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE events")
    reopened = Engine(path)
    try:
        reopened.upsert_users({"users": {"alice": {"id": "alice"}}})
        assert types_of(reopened) == ["user.updated"]
    finally:
        reopened.close()
