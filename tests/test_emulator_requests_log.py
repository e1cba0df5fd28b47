"""``GET /_emulator/requests``: the log of what the emulator served, for tests to assert on.

Run against a real emulator on 127.0.0.1 with Stream's Python SDK and raw HTTP; the bounds and
the masking are also checked on :class:`~stagecfg.emulator.history.RequestHistory` itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import MakeEmulator, client, emulator, make_emulator  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import CallRequest, UserRequest

from stagecfg import timestamps
from stagecfg.emulator.history import RequestHistory
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.httpclient import server_token

LOG = "/_emulator/requests"


def _log(handle: EmulatorHandle, **params: Any) -> dict[str, Any]:
    with client(handle) as http:
        response = http.get(LOG, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sdk(handle: EmulatorHandle) -> Stream:
    return Stream(api_key=handle.api_key, api_secret=handle.api_secret, base_url=handle.url)


def test_the_log_shows_what_the_sdk_sent_in_order(emulator: EmulatorHandle) -> None:  # noqa: F811
    before = timestamps.to_nanos(datetime.now(timezone.utc))
    sdk = _sdk(emulator)
    sdk.upsert_users(UserRequest(id="alice", name="Alice"))
    call = sdk.video.call("livestream", "show-1")
    call.get_or_create(data=CallRequest(created_by_id="alice", custom={"title": "Launch"}))
    call.go_live(start_hls=True)
    call.end()

    log = _log(emulator)
    entries = log["requests"]
    assert [e["operation"] for e in entries] == [
        "UpdateUsers",
        "GetOrCreateCall",
        "GoLive",
        "EndCall",
    ]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert log["last_seq"] == entries[-1]["seq"]
    assert log["dropped"] == 0
    create = entries[1]
    assert create["method"] == "POST"
    assert create["path"] == "/api/v2/video/call/livestream/show-1"
    assert create["query"] == {"api_key": emulator.api_key}
    assert create["body"] == {"data": {"created_by_id": "alice", "custom": {"title": "Launch"}}}
    assert create["status"] == 201
    assert entries[2]["body"] == {"start_hls": True}
    # POST mark_ended goes out with no body at all.
    assert entries[3]["body"] is None
    for entry in entries:
        assert timestamps.to_nanos(entry["time"]) >= before - 1000
        assert set(entry) == {
            "seq",
            "time",
            "method",
            "path",
            "operation",
            "query",
            "body",
            "status",
        }


def test_the_log_filters_by_operation_and_since(emulator: EmulatorHandle) -> None:  # noqa: F811
    sdk = _sdk(emulator)
    sdk.upsert_users(UserRequest(id="alice"))
    call = sdk.video.call("default", "c1")
    call.get_or_create(data=CallRequest(created_by_id="alice"))
    mark = _log(emulator)["last_seq"]
    call.get()
    call.get()
    only_gets = _log(emulator, operation="GetCall")["requests"]
    assert [e["operation"] for e in only_gets] == ["GetCall", "GetCall"]
    both = _log(emulator, operation=["GetCall", "UpdateUsers"])["requests"]
    assert [e["operation"] for e in both] == ["UpdateUsers", "GetCall", "GetCall"]
    after = _log(emulator, since=str(mark))["requests"]
    assert [e["seq"] for e in after] == [mark + 1, mark + 2]
    # A time: requests at or after it.
    second_get = after[1]
    by_time = _log(emulator, since=second_get["time"])["requests"]
    assert by_time[0]["seq"] <= second_get["seq"]
    assert all(
        timestamps.to_nanos(e["time"]) >= timestamps.to_nanos(second_get["time"]) for e in by_time
    )
    future = _log(emulator, since="2999-01-01T00:00:00Z")["requests"]
    assert future == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"operation": "GoLiv"}, "did you mean GoLive?"),
        ({"operation": "Nothing"}, "is not an operation the emulator serves"),
        ({"since": "yesterday"}, "neither a sequence number nor an RFC 3339 time"),
        ({"since": "2030-01-01 12:00:00"}, "neither a sequence number"),
        ({"since": ["1", "2"]}, "give since once"),
        ({"limit": "5"}, "unknown parameter 'limit'"),
    ],
)
def test_a_bad_filter_is_stream_400_code_4(
    emulator: EmulatorHandle,  # noqa: F811
    params: dict[str, Any],
    message: str,
) -> None:
    with client(emulator) as http:
        response = http.get(LOG, params=params)
    body = response.json()
    assert response.status_code == 400, body
    assert body["code"] == 4
    assert message in body["message"]


def test_refused_requests_and_unknown_endpoints_are_logged_with_their_status(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    sdk = _sdk(emulator)
    with pytest.raises(StreamApiException):
        sdk.video.call("default", "missing").get()
    with client(emulator) as http:
        assert http.get("/api/v2/video/no/such/endpoint").status_code == 404
        assert http.post("/api/v2/video/calltypes", content=b"{not json").status_code == 400
        refused = http.post("/api/v2/video/calltypes", json={"name": "x", "grants": 3})
        assert refused.status_code == 400
    assert httpx.get(emulator.url + "/api/v2/video/calltypes", timeout=10).status_code == 401
    entries = _log(emulator)["requests"]
    summary = [(e["operation"], e["method"], e["status"]) for e in entries]
    assert summary == [
        ("GetCall", "GET", 404),
        (None, "GET", 404),
        ("CreateCallType", "POST", 400),
        ("CreateCallType", "POST", 400),
        ("ListCallTypes", "GET", 401),
    ]
    assert entries[1]["path"] == "/api/v2/video/no/such/endpoint"
    assert entries[2]["body"] is None  # not JSON: nothing to show
    assert entries[3]["body"] == {"name": "x", "grants": 3}  # refused, but shown as sent
    assert entries[4]["query"] == {}


def test_control_routes_are_not_logged(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as http:
        http.get("/_emulator/stats")
        http.get(LOG)
        http.get("/_emulator/health")
    assert _log(emulator)["requests"] == []


def test_reset_empties_the_log_and_sequence_numbers_go_on(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    sdk = _sdk(emulator)
    sdk.video.list_call_types()
    sdk.video.list_call_types()
    with client(emulator) as http:
        reset = http.post(LOG + "/reset")
    assert reset.status_code == 200
    assert reset.json()["requests"] == []
    assert _log(emulator)["requests"] == []
    sdk.video.list_call_types()
    (entry,) = _log(emulator)["requests"]
    assert entry["seq"] == 3
    # The stats are their own: resetting the log leaves them.
    assert emulator.stats()["total"] == 3


def test_tokens_and_the_secret_never_appear_in_the_log(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    user_token = jwt.encode({"user_id": "alice"}, emulator.api_secret, algorithm="HS256")
    server = server_token(emulator.api_secret)
    with client(emulator) as http:
        http.post(
            "/api/v2/users",
            json={"users": {"alice": {"id": "alice", "custom": {"note": user_token}}}},
        )
        http.post(
            "/api/v2/users",
            json={"users": {"bob": {"id": "bob", "custom": {emulator.api_secret: "x"}}}},
        )
        http.get("/api/v2/video/calltypes", params={"token": user_token})
        text = http.get(LOG).text
    for secret in (user_token, server, emulator.api_secret):
        assert secret not in text
    entries = json.loads(text)["requests"]
    assert entries[0]["body"]["users"]["alice"]["custom"]["note"] == "***"
    assert entries[1]["body"]["users"]["bob"]["custom"] == {"***": "x"}
    assert entries[2]["query"]["token"] == "***"
    assert "Authorization" not in text and "authorization" not in text


def test_the_log_keeps_the_last_requests(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(request_history=5)
    sdk = _sdk(handle)
    for _ in range(8):
        sdk.video.list_call_types()
    log = _log(handle)
    assert [e["seq"] for e in log["requests"]] == [4, 5, 6, 7, 8]
    assert log["dropped"] == 3
    assert log["max_requests"] == 5


def test_no_log_when_its_size_is_zero(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(request_history=0)
    _sdk(handle).video.list_call_types()
    assert _log(handle)["requests"] == []


def test_bodies_are_bounded_by_bytes() -> None:
    history = RequestHistory(max_requests=100, max_bytes=1000)
    for n in range(5):
        history.add(
            "POST",
            "/x",
            "CreateCallType",
            b"",
            json.dumps({"n": n, "pad": "a" * 280}).encode(),
            201,
        )
    body = history.body()
    kept = [e["body"]["n"] for e in body["requests"]]
    assert kept == [2, 3, 4]  # 3 bodies of ~300 bytes fit in 1,000
    assert body["dropped"] == 2
    # One body larger than the whole budget keeps its line, not its body.
    history.add("POST", "/x", "CreateCallType", b"", b'{"big": "' + b"b" * 2000 + b'"}', 201)
    last = history.body()["requests"][-1]
    assert last["body"] is None and last["status"] == 201


def test_the_sdk_reads_nothing_different_while_the_log_is_on(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    # The log keeps the bytes as received: the engine cannot change what it shows.
    sdk = _sdk(emulator)
    sdk.upsert_users(UserRequest(id="alice", custom={"tags": ["a"]}))
    sdk.video.call("default", "c").get_or_create(
        data=CallRequest(created_by_id="alice", custom={"nested": {"k": [1, 2]}})
    )
    got = sdk.video.call("default", "c").get().data.call.custom
    assert got == {"nested": {"k": [1, 2]}}
    entries = _log(emulator, operation="GetOrCreateCall")["requests"]
    assert entries[0]["body"]["data"]["custom"] == {"nested": {"k": [1, 2]}}
