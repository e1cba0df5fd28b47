"""The livestream controls on a real emulator socket: spec status and schema, auth, errors.

Every control of the route table is called over HTTP and its answer checked against Stream's
OpenAPI spec (status, schema, ``duration``, rate-limit headers), with the call state GetCall then
answers; errors are Stream's APIError: 404 code 16 for an unknown call, 403 code 17 for a user
token without the permission, 400 code 4 for a bad body.
"""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import client, emulator, make_emulator  # noqa: F401
from openapi_check import assert_api_error, check

from stagecfg.emulator.app import OPERATIONS
from stagecfg.emulator.server import EmulatorHandle

CALL = "/api/v2/video/call/{type}/{id}"
BASE = "/api/v2/video/call/livestream/show"

#: The operations the livestream controls added to the route table.
CONTROL_OPERATIONS = {
    "BlockUser",
    "GetActiveCallsStatus",
    "GetTask",
    "KickUser",
    "ListRecordings",
    "ListTranscriptions",
    "MuteUsers",
    "QueryCallParticipants",
    "RingCall",
    "SendCallEvent",
    "StartClosedCaptions",
    "StartHLSBroadcasting",
    "StartRTMPBroadcasts",
    "StartRecording",
    "StartTranscription",
    "StopAllRTMPBroadcasts",
    "StopClosedCaptions",
    "StopHLSBroadcasting",
    "StopRTMPBroadcast",
    "StopRecording",
    "StopTranscription",
    "UnblockUser",
    "UpdateUserPermissions",
    "VideoPin",
    "VideoUnpin",
}
#: Call-scoped controls, each with a body that would succeed on a live call.
CALL_CONTROLS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("StartHLSBroadcasting", "POST", "/start_broadcasting", None),
    ("StopHLSBroadcasting", "POST", "/stop_broadcasting", None),
    ("StartRecording", "POST", "/recordings/composite/start", {}),
    ("StopRecording", "POST", "/recordings/composite/stop", {}),
    ("ListRecordings", "GET", "/recordings", None),
    ("StartTranscription", "POST", "/start_transcription", {}),
    ("StopTranscription", "POST", "/stop_transcription", {}),
    ("ListTranscriptions", "GET", "/transcriptions", None),
    ("StartClosedCaptions", "POST", "/start_closed_captions", {}),
    ("StopClosedCaptions", "POST", "/stop_closed_captions", {}),
    (
        "StartRTMPBroadcasts",
        "POST",
        "/rtmp_broadcasts",
        {"broadcasts": [{"name": "yt", "stream_url": "rtmps://yt.invalid/live"}]},
    ),
    ("StopRTMPBroadcast", "POST", "/rtmp_broadcasts/yt/stop", {}),
    ("StopAllRTMPBroadcasts", "POST", "/rtmp_broadcasts/stop", None),
    ("MuteUsers", "POST", "/mute_users", {"mute_all_users": True, "audio": True}),
    ("BlockUser", "POST", "/block", {"user_id": "carol"}),
    ("UnblockUser", "POST", "/unblock", {"user_id": "carol"}),
    ("KickUser", "POST", "/kick", {"user_id": "carol"}),
    ("VideoPin", "POST", "/pin", {"user_id": "bob", "session_id": "s"}),
    ("VideoUnpin", "POST", "/unpin", {"user_id": "bob", "session_id": "s"}),
    ("UpdateUserPermissions", "POST", "/user_permissions", {"user_id": "carol"}),
    ("SendCallEvent", "POST", "/event", {"user_id": "alice", "custom": {"k": 1}}),
    ("RingCall", "POST", "/ring", {}),
    ("QueryCallParticipants", "POST", "/participants", {}),
]
CONTROL_IDS = [c[0] for c in CALL_CONTROLS]


def user_token(handle: EmulatorHandle, user_id: str) -> str:
    return jwt.encode({"user_id": user_id}, handle.api_secret, "HS256")


def setup_live_call(api: httpx.Client, handle: EmulatorHandle) -> None:
    """livestream:show by alice with host bob and member carol, live, bob joined."""
    users = {u: {"id": u} for u in ("alice", "bob", "carol", "dave")}
    users["nobody"] = {"id": "nobody", "role": "nobody"}  # a role without any grant
    api.post("/api/v2/users", json={"users": users}).raise_for_status()
    members = [{"user_id": "bob", "role": "host"}, {"user_id": "carol"}]
    data = {"created_by_id": "alice", "members": members}
    api.post(BASE, json={"data": data}).raise_for_status()
    api.post(BASE + "/go_live", json={}).raise_for_status()
    with client(handle, token=user_token(handle, "bob")) as bob:
        bob.post(BASE + "/join", json={}).raise_for_status()


def get_call(api: httpx.Client) -> dict[str, Any]:
    call: dict[str, Any] = check(api.get(BASE), CALL, "GET")["call"]
    return call


def test_every_control_answers_with_the_spec_status_and_schema(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        drive_controls(api, emulator)
    served = set(emulator.stats()["requests"])
    assert served >= CONTROL_OPERATIONS
    assert {op.operation_id for op in OPERATIONS} >= CONTROL_OPERATIONS


def drive_controls(api: httpx.Client, handle: EmulatorHandle) -> None:
    """Every livestream control on livestream:show, each answer checked against the spec and
    the call state GetCall then answers (tests/test_emulator.py's conformance walk runs it too)."""
    setup_live_call(api, handle)
    url = check(api.post(BASE + "/start_broadcasting"), CALL + "/start_broadcasting", "POST")
    assert get_call(api)["egress"]["hls"]["playlist_url"] == url["playlist_url"]
    check(api.post(BASE + "/stop_broadcasting"), CALL + "/stop_broadcasting", "POST")
    assert get_call(api)["egress"]["hls"] is None
    recordings = CALL + "/recordings/{recording_type}"
    for kind in ("composite", "individual", "raw"):
        check(api.post(f"{BASE}/recordings/{kind}/start", json={}), recordings + "/start", "POST")
        assert get_call(api)["egress"][f"{kind}_recording"] == {"status": "running"}
        check(api.post(f"{BASE}/recordings/{kind}/stop", json={}), recordings + "/stop", "POST")
    assert get_call(api)["recording"] is False
    assert check(api.get(BASE + "/recordings"), CALL + "/recordings", "GET")["recordings"] == []
    listed = check(api.get(BASE + "/transcriptions"), CALL + "/transcriptions", "GET")
    assert listed["transcriptions"] == []
    body = {"language": "en", "enable_closed_captions": True}
    check(
        api.post(BASE + "/start_transcription", json=body),
        CALL + "/start_transcription",
        "POST",
    )
    assert (get_call(api)["transcribing"], get_call(api)["captioning"]) == (True, True)
    check(api.post(BASE + "/stop_transcription", json={}), CALL + "/stop_transcription", "POST")
    check(
        api.post(BASE + "/stop_closed_captions", json={}),
        CALL + "/stop_closed_captions",
        "POST",
    )
    check(
        api.post(BASE + "/start_closed_captions", json={"language": "auto"}),
        CALL + "/start_closed_captions", "POST",
    )  # fmt: skip
    assert get_call(api)["captioning"] is True
    rtmp = {"broadcasts": [{"name": "yt", "stream_url": "rtmps://yt.invalid/live"}]}
    check(api.post(BASE + "/rtmp_broadcasts", json=rtmp), CALL + "/rtmp_broadcasts", "POST")
    assert [r["name"] for r in get_call(api)["egress"]["rtmps"]] == ["yt"]
    check(
        api.post(BASE + "/rtmp_broadcasts/yt/stop", json={}),
        CALL + "/rtmp_broadcasts/{name}/stop", "POST",
    )  # fmt: skip
    check(api.post(BASE + "/rtmp_broadcasts/stop"), CALL + "/rtmp_broadcasts/stop", "POST")
    assert get_call(api)["egress"]["rtmps"] == []
    mute = {"user_ids": ["bob"], "audio": True, "muted_by_id": "alice"}
    check(api.post(BASE + "/mute_users", json=mute), CALL + "/mute_users", "POST")
    check(api.post(BASE + "/block", json={"user_id": "carol"}), CALL + "/block", "POST")
    assert get_call(api)["blocked_user_ids"] == ["carol"]
    check(api.post(BASE + "/unblock", json={"user_id": "carol"}), CALL + "/unblock", "POST")
    assert get_call(api)["blocked_user_ids"] == []
    session_id = get_call(api)["session"]["participants"][0]["user_session_id"]
    pin = {"user_id": "bob", "session_id": session_id}
    check(api.post(BASE + "/pin", json=pin), CALL + "/pin", "POST")
    check(api.post(BASE + "/unpin", json=pin), CALL + "/unpin", "POST")
    grant = {"user_id": "carol", "grant_permissions": ["join-backstage"]}
    check(api.post(BASE + "/user_permissions", json=grant), CALL + "/user_permissions", "POST")
    event = {"user_id": "alice", "custom": {"reaction": "wave"}}
    check(api.post(BASE + "/event", json=event), CALL + "/event", "POST")
    rung = check(api.post(BASE + "/ring", json={"video": True}), CALL + "/ring", "POST")
    assert rung["members_ids"] == ["carol"]  # bob is in the call, alice rings
    found = check(api.post(BASE + "/participants", json={}), CALL + "/participants", "POST")
    assert [p["user"]["id"] for p in found["participants"]] == ["bob"]
    assert found["total_participants"] == 1
    status = check(
        api.get("/api/v2/video/active_calls_status"), "/api/v2/video/active_calls_status", "GET"
    )
    assert status["summary"]["active_calls"] == 1 and status["summary"]["participants"] == 1
    check(api.post(BASE + "/kick", json={"user_id": "bob"}), CALL + "/kick", "POST")
    assert get_call(api)["session"]["participants"] == []
    deleted = check(api.post(BASE + "/delete", json={"hard": True}), CALL + "/delete", "POST")
    task = check(api.get(f"/api/v2/tasks/{deleted['task_id']}"), "/api/v2/tasks/{id}", "GET")
    assert task["status"] == "completed"
    assert task["result"] == {"livestream:show": {"status": "ok"}}


@pytest.mark.parametrize(("op", "method", "path", "body"), CALL_CONTROLS, ids=CONTROL_IDS)
def test_an_unknown_call_is_404_code_16(
    emulator: EmulatorHandle,  # noqa: F811
    op: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        r = api.request(method, "/api/v2/video/call/livestream/nope" + path, json=body)
    error = assert_api_error(r, 404, 16)
    assert error["message"].startswith(f"{op} failed with error: ")
    assert "Can't find call with id livestream:nope" in error["message"]


@pytest.mark.parametrize(("op", "method", "path", "body"), CALL_CONTROLS, ids=CONTROL_IDS)
def test_a_user_token_without_the_permission_is_403_code_17_and_changes_nothing(
    emulator: EmulatorHandle,  # noqa: F811
    op: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        before = api.get(BASE).json()["call"]
        with client(emulator, token=user_token(emulator, "nobody")) as nobody:
            r = nobody.request(method, BASE + path, json=body)
        after = api.get(BASE).json()["call"]
    error = assert_api_error(r, 403, 17)
    assert error["message"].startswith(f"{op} failed with error: ")
    assert "user nobody with roles [nobody]" in error["message"]
    assert after == before


def test_a_user_token_with_the_permission_may_and_a_per_call_grant_moves_it(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        with client(emulator, token=user_token(emulator, "bob")) as bob:
            # bob's host role on livestream holds start-broadcasting.
            check(bob.post(BASE + "/start_broadcasting"), CALL + "/start_broadcasting", "POST")
            revoke = {"user_id": "bob", "revoke_permissions": ["stop-broadcasting"]}
            api.post(BASE + "/user_permissions", json=revoke).raise_for_status()
            assert_api_error(bob.post(BASE + "/stop_broadcasting"), 403, 17)
        with client(emulator, token=user_token(emulator, "carol")) as carol:
            assert_api_error(carol.post(BASE + "/stop_broadcasting"), 403, 17)
            grant = {"user_id": "carol", "grant_permissions": ["stop-broadcast-call"]}
            api.post(BASE + "/user_permissions", json=grant).raise_for_status()
            check(carol.post(BASE + "/stop_broadcasting"), CALL + "/stop_broadcasting", "POST")
        assert get_call(api)["egress"]["broadcasting"] is False


def test_per_call_grants_decide_the_join_and_own_capabilities(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        api.post(BASE + "/stop_live", json={}).raise_for_status()  # back in backstage
        with client(emulator, token=user_token(emulator, "dave")) as dave:
            assert_api_error(dave.post(BASE + "/join", json={}), 403, 17)
            grant = {"user_id": "dave", "grant_permissions": ["join-backstage", "screenshare"]}
            api.post(BASE + "/user_permissions", json=grant).raise_for_status()
            joined = dave.post(BASE + "/join", json={})
            assert joined.status_code == 201, joined.text
            capabilities = joined.json()["own_capabilities"]
            assert {"join-backstage", "screenshare"} <= set(capabilities)
            # GetCall with dave's token answers with the same capabilities as his join.
            read = check(dave.get(BASE), CALL, "GET")
            assert read["own_capabilities"] == capabilities
            revoke = {"user_id": "dave", "revoke_permissions": ["join-backstage", "read-call"]}
            api.post(BASE + "/user_permissions", json=revoke).raise_for_status()
            assert_api_error(dave.post(BASE + "/join", json={}), 403, 17)


def test_a_blocked_user_may_not_join_read_or_control_until_unblocked(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        with client(emulator, token=user_token(emulator, "carol")) as carol:
            carol.post(BASE + "/join", json={}).raise_for_status()
            api.post(BASE + "/kick", json={"user_id": "carol", "block": True}).raise_for_status()
            people = [p["user"]["id"] for p in get_call(api)["session"]["participants"]]
            assert people == ["bob"]
            refused = assert_api_error(carol.post(BASE + "/join", json={}), 403, 17)
            assert "user carol is blocked from this call" in refused["message"]
            # Nor may she read the call or run a control her grants allow (read-call here).
            for r in (carol.get(BASE), carol.post(BASE + "/participants", json={})):
                assert "is blocked" in assert_api_error(r, 403, 17)["message"]
            api.post(BASE + "/unblock", json={"user_id": "carol"}).raise_for_status()
            assert carol.post(BASE + "/join", json={}).status_code == 201
            assert carol.get(BASE).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/recordings/all/start", {}),
        ("/recordings/composite/start", {"recording_external_storage": 1}),
        ("/start_transcription", {"language": "klingon"}),
        ("/start_closed_captions", {"speech_segment_config": []}),
        ("/rtmp_broadcasts", {"broadcasts": []}),
        ("/mute_users", {"audio": True}),
        ("/block", {}),
        ("/kick", {"user_id": "carol", "block": "yes"}),
        ("/pin", {"user_id": "bob"}),
        ("/user_permissions", {"user_id": "carol", "grant_permissions": ["fly"]}),
        ("/user_permissions", {"user_id": "ghost", "grant_permissions": ["send-audio"]}),
        ("/event", {"custom": {"k": 1}}),
        ("/ring", {"members_ids": ["dave"]}),
        ("/participants", {"filter_conditions": {"mood": "happy"}}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_bodies_are_400_code_4_and_change_nothing(
    emulator: EmulatorHandle,  # noqa: F811
    path: str,
    body: dict[str, Any],
) -> None:
    with client(emulator) as api:
        setup_live_call(api, emulator)
        before = api.get(BASE).json()["call"]
        r = api.post(BASE + path, json=body)
        after = api.get(BASE).json()["call"]
    assert_api_error(r, 400, 4)
    assert after == before


def test_participants_page_by_the_limit_query_parameter(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as api:
        setup_live_call(api, emulator)
        with client(emulator, token=user_token(emulator, "carol")) as carol:
            carol.post(BASE + "/join", json={}).raise_for_status()
            mine = check(
                carol.post(BASE + "/participants", params={"limit": 1}, json={}),
                CALL + "/participants", "POST",
            )  # fmt: skip
        assert [p["user"]["id"] for p in mine["participants"]] == ["bob"]
        assert mine["total_participants"] == 2
        # A user token gets its own capabilities, not a server's.
        assert "start-broadcast-call" not in mine["own_capabilities"]
        assert "read-call" in mine["own_capabilities"]
        where = {"filter_conditions": {"user_id": {"$in": ["carol"]}}}
        found = api.post(BASE + "/participants", json=where).json()
        assert [p["user"]["id"] for p in found["participants"]] == ["carol"]
        for bad in ("x", "-1", "101"):
            assert_api_error(
                api.post(BASE + "/participants", params={"limit": bad}, json={}), 400, 4
            )


@pytest.mark.parametrize("path", ["/api/v2/video/active_calls_status", "/api/v2/tasks/whatever"])
def test_app_level_controls_refuse_user_tokens(emulator: EmulatorHandle, path: str) -> None:  # noqa: F811
    with client(emulator, token=user_token(emulator, "alice")) as alice:
        assert_api_error(alice.get(path), 403, 17)


def test_an_unknown_task_is_404_code_16(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as api:
        error = assert_api_error(api.get("/api/v2/tasks/no-such-task"), 404, 16)
    assert error["message"].startswith("GetTask failed with error: ")
