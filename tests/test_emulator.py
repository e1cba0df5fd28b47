"""The emulator on a real socket: wire format per the OpenAPI spec, auth, limits, faults, stats."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from emulator_fixture import MakeEmulator, client, emulator, make_emulator  # noqa: F401
from openapi_check import (
    CHECKED,
    SPEC_FILE,
    assert_api_error,
    assert_join_answer,
    check,
    spec_response,
)
from test_emulator_app import drive_app_level_operations
from test_emulator_controls import drive_controls

from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stagecfg.emulator.app import OPERATIONS
from stagecfg.emulator.server import EmulatorHandle, check_host
from stagecfg.errors import UsageError
from stagecfg.httpclient import server_token


@pytest.fixture
def api(emulator: EmulatorHandle) -> Iterator[httpx.Client]:  # noqa: F811
    with client(emulator) as c:
        yield c


# --- every endpoint against the spec ------------------------------------------------------------


def test_every_endpoint_answers_with_the_spec_status_and_schema(
    api: httpx.Client,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    CHECKED.clear()
    drive_calls_and_call_types(api)
    drive_controls(api, emulator)
    drive_users_roles_and_permissions(api)
    drive_app_level_operations(api)
    check_join(api, emulator)
    # Every operation the emulator serves was answered as the spec says: a row added to the
    # route table needs its endpoint driven above.
    assert sorted({op.operation_id for op in OPERATIONS} - CHECKED) == []


def check_join(api: httpx.Client, handle: EmulatorHandle) -> None:
    """JoinCall is in Stream's client-side spec (not in ../shared): see assert_join_answer."""
    api.post("/api/v2/users", json={"users": {"jo": {"id": "jo"}}}).raise_for_status()
    base = "/api/v2/video/call/default/joined"
    api.post(base, json={"data": {"created_by_id": "jo"}}).raise_for_status()
    with client(handle, token=jwt.encode({"user_id": "jo"}, handle.api_secret, "HS256")) as c:
        r = c.post(base + "/join", json={"location": "AMS"})
    assert r.status_code == 201, r.text
    assert_join_answer(r.json())
    CHECKED.add("JoinCall")


def drive_users_roles_and_permissions(api: httpx.Client) -> None:
    users = "/api/v2/users"
    api.post(users, json={"users": {u: {"id": u} for u in ("ann", "ben", "cat")}})
    patched = check(
        api.patch(users, json={"users": [{"id": "ann", "set": {"name": "Ann"}}]}), users, "PATCH"
    )
    assert patched["users"]["ann"]["name"] == "Ann"
    one = "/api/v2/users/{user_id}"
    gone = check(api.post(users + "/ann/deactivate", json={}), one + "/deactivate", "POST")
    assert isinstance(gone["user"]["deactivated_at"], int)
    back = check(api.post(users + "/ann/reactivate", json={}), one + "/reactivate", "POST")
    assert "deactivated_at" not in back["user"]
    many = {"user_ids": ["ben", "cat"]}
    check(api.post(users + "/deactivate", json=many), users + "/deactivate", "POST")
    check(api.post(users + "/reactivate", json=many), users + "/reactivate", "POST")
    check(api.post(users + "/delete", json=many), users + "/delete", "POST")
    check(api.post(users + "/restore", json=many), users + "/restore", "POST")
    assert_api_error(api.post(users + "/restore", json=many), 400, 4)
    payload = json.dumps({"filter_conditions": {"name": {"$autocomplete": "an"}}})
    found = check(api.get(users, params={"payload": payload}), users, "GET")
    assert [u["id"] for u in found["users"]] == ["ann"]
    listed = check(api.get("/api/v2/permissions"), "/api/v2/permissions", "GET")
    assert "join-backstage" in {p["id"] for p in listed["permissions"]}
    permission = "/api/v2/permissions/{id}"
    check(api.get("/api/v2/permissions/join-backstage"), permission, "GET")
    assert_api_error(api.get("/api/v2/permissions/nope"), 404, 16)
    check(api.get("/api/v2/roles"), "/api/v2/roles", "GET")
    made = check(api.post("/api/v2/roles", json={"name": "crew"}), "/api/v2/roles", "POST")
    assert made["role"]["custom"] is True
    check(api.delete("/api/v2/roles/crew"), "/api/v2/roles/{name}", "DELETE")
    assert_api_error(api.delete("/api/v2/roles/admin"), 400, 4)


def drive_calls_and_call_types(api: httpx.Client) -> None:
    call = "/api/v2/video/call/{type}/{id}"
    ct = "/api/v2/video/calltypes/{name}"
    check(api.get("/api/v2/video/calltypes"), "/api/v2/video/calltypes", "GET")
    created = check(
        api.post(
            "/api/v2/video/calltypes",
            json={"name": "stage", "grants": {"host": ["join-backstage"]},
                  "settings": {"backstage": {"enabled": True}}},
        ),
        "/api/v2/video/calltypes", "POST",
    )  # fmt: skip
    assert created["grants"]["host"] == ["join-backstage"]
    check(api.get("/api/v2/video/calltypes/stage"), ct, "GET")
    updated = check(
        api.put("/api/v2/video/calltypes/stage", json={"grants": {"user": ["read-call"]}}),
        ct,
        "PUT",
    )
    assert updated["grants"]["host"] == ["join-backstage"]
    assert updated["grants"]["user"] == ["read-call"]
    users = check(
        api.post("/api/v2/users", json={"users": {"alice": {"id": "alice"}, "bob": {"id": "bob"}}}),
        "/api/v2/users",
        "POST",
    )
    assert sorted(users["users"]) == ["alice", "bob"]
    payload = json.dumps({"filter_conditions": {"id": {"$in": ["alice", "zed"]}}})
    found = check(api.get("/api/v2/users", params={"payload": payload}), "/api/v2/users", "GET")
    assert [u["id"] for u in found["users"]] == ["alice"]
    base = "/api/v2/video/call/stage/show-1"
    made = check(
        api.post(base, json={"data": {"created_by_id": "alice",
                                      "starts_at": "2030-01-01T12:00:00+00:00",
                                      "members": [{"user_id": "bob", "role": "host"}]}}),
        call, "POST",
    )  # fmt: skip
    assert made["created"] is True
    assert made["call"]["backstage"] is True
    assert isinstance(made["call"]["starts_at"], int)  # nanoseconds on the wire
    check(api.get(base), call, "GET")
    patched = check(api.patch(base, json={"custom": {"title": "x"}}), call, "PATCH")
    assert patched["call"]["custom"] == {"title": "x"}
    live = check(api.post(base + "/go_live", json={"start_hls": True}), call + "/go_live", "POST")
    assert live["call"]["backstage"] is False
    back = check(api.post(base + "/stop_live", json={}), call + "/stop_live", "POST")
    assert back["call"]["backstage"] is True
    check(
        api.post(base + "/members", json={"update_members": [{"user_id": "alice"}],
                                          "remove_members": ["bob"]}),
        call + "/members", "POST",
    )  # fmt: skip
    members = check(
        api.post("/api/v2/video/call/members", json={"type": "stage", "id": "show-1"}),
        "/api/v2/video/call/members",
        "POST",
    )
    assert [m["user_id"] for m in members["members"]] == ["alice"]
    calls = check(
        api.post("/api/v2/video/calls", json={"filter_conditions": {"cid": "stage:show-1"}}),
        "/api/v2/video/calls",
        "POST",
    )
    assert [c["call"]["cid"] for c in calls["calls"]] == ["stage:show-1"]
    # POST /mark_ended goes out with no body and no Content-Type from Stream's SDK.
    check(
        api.post(base + "/mark_ended", headers={"content-type": ""}), call + "/mark_ended", "POST"
    )
    check(api.post(base + "/delete", json={"hard": False}), call + "/delete", "POST")
    assert_api_error(api.get(base), 404, 16)
    check(api.delete("/api/v2/video/calltypes/stage"), ct, "DELETE")
    assert (
        "call type does not exist"
        in assert_api_error(api.get("/api/v2/video/calltypes/stage"), 404, 16)["message"]
    )


#: Operations only Stream's client-side spec has (the server-side one is checked here).
CLIENT_SIDE_ONLY = {"JoinCall"}


def test_operation_table_matches_the_spec() -> None:
    spec = json.loads(SPEC_FILE.read_text("utf-8"))
    for op in OPERATIONS:
        if op.operation_id in CLIENT_SIDE_ONLY:
            assert op.client_side and op.path not in spec["paths"]
            continue
        entry = spec["paths"][op.path][op.method.lower()]
        assert entry["operationId"] == op.operation_id
        assert spec_response(op.path, op.method)[0] == op.status
        queries = {p["name"] for p in entry.get("parameters", []) if p["in"] == "query"}
        assert set(op.query_params) <= queries, op.operation_id
        if not op.has_body and not op.query_payload and op.method == "POST":
            assert "requestBody" not in entry, op.operation_id  # a body the spec has is read


def test_unknown_route_is_an_api_error(api: httpx.Client) -> None:
    assert_api_error(api.get("/api/v2/video/nope"), 404, 16)


# --- auth ---------------------------------------------------------------------------------------


def test_wrong_or_missing_api_key_is_401_code_2(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as c:
        assert_api_error(c.get("/api/v2/video/calltypes", params={"api_key": "other"}), 401, 2)
    token = server_token(emulator.api_secret)
    r = httpx.get(
        emulator.url + "/api/v2/video/calltypes",
        headers={"Authorization": token, "stream-auth-type": "jwt"},
    )
    assert_api_error(r, 401, 2)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", 5),
        ("not-a-jwt", 5),
        (jwt.encode({"server": True}, "some-other-secret-of-enough-length!", "HS256"), 43),
        (jwt.encode({"server": True, "exp": int(time.time()) - 60}, DEFAULT_API_SECRET), 40),
    ],
    ids=["missing", "garbage", "bad-signature", "expired"],
)
def test_bad_tokens_are_401_with_streams_codes(
    emulator: EmulatorHandle,  # noqa: F811
    token: str,
    code: int,
) -> None:
    with client(emulator, token=token) as c:
        assert_api_error(c.get("/api/v2/video/calltypes"), 401, code)


def test_auth_type_header_is_required(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator, **{"stream-auth-type": "anonymous"}) as c:
        assert_api_error(c.get("/api/v2/video/calltypes"), 401, 5)


def test_user_token_on_server_endpoint_is_403_code_17(emulator: EmulatorHandle) -> None:  # noqa: F811
    user_token = jwt.encode({"user_id": "alice"}, emulator.api_secret, "HS256")
    with client(emulator, token=user_token) as c:
        assert_api_error(c.get("/api/v2/video/calltypes"), 403, 17)


def test_oversized_body_is_413_code_22(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(max_body_bytes=1000)
    with client(handle) as c:
        r = c.post("/api/v2/video/calltypes", json={"name": "x" * 2000})
        assert_api_error(r, 413, 22)
        assert "x" * 10 not in r.text
    assert "x" not in handle.emulator.engine.list_call_types()["call_types"]


def test_malformed_json_is_400_code_4(api: httpx.Client) -> None:
    r = api.post(
        "/api/v2/video/calltypes", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_api_error(r, 400, 4)
    assert_api_error(api.post("/api/v2/video/calltypes", json=[1, 2]), 400, 4)


def test_user_token_may_join_and_backstage_rules_apply(
    api: httpx.Client,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    api.post("/api/v2/users", json={"users": {"host1": {"id": "host1"}, "fan": {"id": "fan"}}})
    api.post(
        "/api/v2/video/call/livestream/gig",
        json={
            "data": {"created_by_id": "host1", "members": [{"user_id": "host1", "role": "host"}]}
        },
    ).raise_for_status()
    fan = jwt.encode({"user_id": "fan"}, emulator.api_secret, "HS256")
    with client(emulator, token=fan) as c:
        assert_api_error(c.post("/api/v2/video/call/livestream/gig/join", json={}), 403, 17)
    api.post("/api/v2/video/call/livestream/gig/go_live", json={}).raise_for_status()
    with client(emulator, token=fan) as c:
        r = c.post("/api/v2/video/call/livestream/gig/join", json={})
        assert r.status_code == 201, r.text
        assert r.json()["call"]["cid"] == "livestream:gig"


# --- rate limits, faults, stats -----------------------------------------------------------------


def test_rate_limit_per_endpoint_answers_429_code_9_with_retry_after(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator(rate_limit=3)
    with client(handle) as c:
        remaining = [
            int(c.get("/api/v2/video/calltypes").headers["x-ratelimit-remaining"]) for _ in range(3)
        ]
        assert remaining == [2, 1, 0]
        r = c.get("/api/v2/video/calltypes")
        assert_api_error(r, 429, 9)
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert int(r.headers["x-ratelimit-reset"]) > time.time()
        # Another endpoint has its own window.
        assert c.get("/api/v2/video/calltypes/default").status_code == 200


def test_error_rate_fault_answers_500_before_touching_the_engine(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator(error_rate=1.0)
    with client(handle) as c:
        assert_api_error(c.post("/api/v2/video/calltypes", json={"name": "ghost"}), 500, -1)
    assert "ghost" not in handle.emulator.engine.list_call_types()["call_types"]


def test_throttle_fault_answers_429_with_retry_after(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(throttle_rate=1.0, retry_after=2)
    with client(handle) as c:
        r = c.get("/api/v2/video/calltypes")
    assert_api_error(r, 429, 9)
    assert r.headers["retry-after"] == "2"


def test_faults_are_reproducible_with_a_seed(make_emulator: MakeEmulator) -> None:  # noqa: F811
    def statuses(handle: EmulatorHandle) -> list[int]:
        with client(handle) as c:
            return [c.get("/api/v2/video/calltypes").status_code for _ in range(30)]

    first = statuses(make_emulator(error_rate=0.3, throttle_rate=0.3, seed=7))
    second = statuses(make_emulator(error_rate=0.3, throttle_rate=0.3, seed=7))
    assert first == second
    assert {200, 429, 500} <= set(first)


def test_latency_fault_still_answers(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(latency_ms=5, latency_jitter_ms=5, seed=1)
    with client(handle) as c:
        assert c.get("/api/v2/video/calltypes/default").status_code == 200


def test_stats_count_requests_by_operation_and_method(api: httpx.Client) -> None:
    api.get("/api/v2/video/calltypes/default")
    api.get("/api/v2/video/calltypes/livestream")
    api.post("/api/v2/video/calls", json={})
    stats = api.get("/_emulator/stats").json()
    assert stats == {
        "requests": {"GetCallType": {"GET": 2}, "QueryCalls": {"POST": 1}},
        "total": 3,
    }
    assert api.post("/_emulator/stats/reset").status_code == 200
    assert api.get("/_emulator/stats").json() == {
        "requests": {},
        "total": 0,
    }


def test_concurrent_keep_alive_clients_are_all_served(emulator: EmulatorHandle) -> None:  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    def work(_: int) -> list[int]:
        with client(emulator) as c:
            return [c.get("/api/v2/video/calltypes/default").status_code for _ in range(20)]

    with ThreadPoolExecutor(16) as pool:
        results = [status for batch in pool.map(work, range(16)) for status in batch]
    assert results == [200] * 320
    assert emulator.stats()["requests"]["GetCallType"]["GET"] == 320


# --- binding and the command --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_non_loopback_hosts_are_refused_unless_allowed(host: str) -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        check_host(host)
    check_host(host, allow_remote=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    check_host(host)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stagecfg(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stagecfg", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_command_refuses_a_public_bind_address(tmp_path: Path) -> None:
    proc = _stagecfg("emulator", "--host", "0.0.0.0", "--sandbox", str(tmp_path / "s.db"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "refusing to listen on 0.0.0.0" in err
    assert "Traceback" not in err


def test_command_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    secret = "user-provided-secret-never-printed"
    proc = _stagecfg(
        "emulator", "--port", str(port), "--sandbox", str(tmp_path / "s.db"), "--api-key", "k",
        env={"STREAM_API_SECRET": secret},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        hint = proc.stdout.readline()
        assert "api key: k" in hint
        assert "STREAM_API_SECRET" in hint
        token = server_token(secret)
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/v2/video/calltypes/default",
            params={"api_key": "k"},
            headers={"Authorization": token, "stream-auth-type": "jwt"},
            timeout=10,
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert secret not in first + hint + out + err
    assert DEFAULT_API_KEY not in hint


def test_health_answers_without_credentials(emulator: EmulatorHandle) -> None:  # noqa: F811
    # README's CI recipe polls this to know when the emulator serves.
    r = httpx.get(emulator.url + "/_emulator/health", timeout=10)
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert emulator.stats()["total"] == 0  # not counted as API traffic


def test_command_fault_flags_take_effect_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = _free_port()
    proc = _stagecfg(
        "emulator", "--port", str(port), "--sandbox", str(tmp_path / "s.db"),
        "--rate-limit", "2", "--latency-ms", "1", "--error-rate", "1", "--seed", "4",
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert f"http://127.0.0.1:{port}" in proc.stdout.readline()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": server_token(DEFAULT_API_SECRET), "stream-auth-type": "jwt"},
            params={"api_key": DEFAULT_API_KEY},
            timeout=10,
        ) as c:
            answers = [c.get("/api/v2/video/calltypes/default") for _ in range(4)]
        # --error-rate 1 fails the two requests the --rate-limit 2 window lets through.
        assert [r.status_code for r in answers] == [500, 500, 429, 429]
        assert [r.json()["code"] for r in answers] == [-1, -1, 9, 9]
        assert answers[0].headers["x-ratelimit-limit"] == "2"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert "Traceback" not in err
