"""The ``stream`` backend against a real emulator: auth, request bodies per the spec, faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import MakeEmulator, emulator, make_emulator, stream_backend_for  # noqa: F401
from openapi_check import assert_matches, assert_request_matches

from stagecfg import __version__
from stagecfg.backends import open_backend as open_named_backend
from stagecfg.backends.stream import StreamBackend, open_backend
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.errors import BackendError, ConfigError
from stagecfg.httpclient import ApiSession, RetryPolicy, server_token
from stagecfg.redact import redact

FAST_RETRY = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01, max_total=30)


class Sleeps:
    """Records sleeps instead of waiting, so retry tests take no wall time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def backend(emulator: EmulatorHandle) -> Iterator[StreamBackend]:  # noqa: F811
    b = stream_backend_for(emulator)
    yield b
    b.close()


# --- settings and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({}, "API key"),
        ({"api_key": "k"}, "API secret"),
        ({"api_secret": "only-the-secret-here"}, "API key"),
    ],
)
def test_missing_credentials_fail_before_any_request(
    settings: dict[str, str], missing: str
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a request was sent")

    with pytest.raises(ConfigError, match=missing) as info:
        open_named_backend(
            "stream", base_url="http://127.0.0.1:9", transport=httpx.MockTransport(refuse),
            parallelism=2, timeout=1.0, sandbox_path="ignored.db", **settings,
        )  # fmt: skip
    assert "only-the-secret-here" not in str(info.value)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http"):
        open_backend(api_key="k", api_secret="s" * 32, base_url="ftp://example.org")


def test_default_base_url_is_streams() -> None:
    b = open_backend(api_key="k", api_secret="s" * 32)
    try:
        assert b.describe() == "stream app k at https://chat.stream-io-api.com"
        assert b.identity() == "stream:k@https://chat.stream-io-api.com"
    finally:
        b.close()


def test_requests_carry_streams_auth(emulator: EmulatorHandle, backend: StreamBackend) -> None:  # noqa: F811
    seen: list[httpx.Request] = []
    backend.session.client.event_hooks["request"].append(seen.append)
    backend.read(cids=["default:x"], users=["u"])
    assert len(seen) == 3
    for request in seen:
        assert request.url.params["api_key"] == emulator.api_key
        token = request.headers["authorization"]
        assert not token.lower().startswith("bearer")
        assert jwt.decode(token, emulator.api_secret, algorithms=["HS256"]) == {"server": True}
        assert request.headers["stream-auth-type"] == "jwt"
        assert request.headers["x-stream-client"] == f"stagecfg-{__version__}"
    users_request = next(r for r in seen if r.url.path == "/api/v2/users")
    payload = json.loads(users_request.url.params["payload"])
    assert_matches("QueryUsersPayload", payload)
    assert payload["filter_conditions"] == {"id": {"$in": ["u"]}}


def test_secret_and_token_never_appear_in_output(make_emulator: MakeEmulator) -> None:  # noqa: F811
    secret = "contract-secret-value-0123456789abcdef"
    handle = make_emulator(api_key="key1", api_secret=secret)
    b = stream_backend_for(handle)
    token = server_token(secret)
    try:
        with pytest.raises(BackendError) as info:
            b.delete_call_type("does-not-exist")
        texts = [repr(b), b.describe(), b.identity(), str(info.value), repr(info.value.failure)]
        texts.append(repr(b.session))
        for text in texts:
            assert secret not in text
            assert token not in text
        assert redact(f"token={token} secret={secret}") == "token=*** secret=***"
    finally:
        b.close()


# --- request bodies against the spec ------------------------------------------------------------

REQUEST_SCHEMAS = {
    "CreateCallType": "CreateCallTypeRequest",
    "UpdateCallType": "UpdateCallTypeRequest",
    "GetOrCreateCall": "GetOrCreateCallRequest",
    "UpdateCall": "UpdateCallRequest",
    "DeleteCall": "DeleteCallRequest",
    "GoLive": "GoLiveRequest",
    "StopLive": "StopLiveRequest",
    "UpdateCallMembers": "UpdateCallMembersRequest",
    "QueryCalls": "QueryCallsRequest",
    "UpdateUsers": "UpdateUsersRequest",
}


def test_request_bodies_match_the_spec(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(record_bodies=True)
    b = stream_backend_for(handle)
    try:
        b.create_call_type(
            "stage",
            {
                "grants": {"host": ["join-backstage"]},
                "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 120}},
                "notification_settings": {"enabled": True},
            },
        )
        b.update_call_type("stage", {"settings": {"audio": {"default_device": "speaker"}}})
        b.upsert_users({"alice": {"role": "user", "name": "Alice"}, "bob": {}})
        b.create_call(
            "stage:s1",
            {
                "created_by_id": "alice",
                "starts_at": "2030-01-01T12:00:00Z",
                "members": [{"user_id": "bob", "role": "host"}],
                "settings_override": {"backstage": {"enabled": True}},
                "custom": {"stagecfg_project": "demo"},
            },
        )
        b.update_call("stage:s1", {"starts_at": "2030-01-01T13:00:00Z", "custom": {"a": 1}})
        b.go_live("stage:s1", {"start_hls": True, "start_recording": True})
        b.stop_live("stage:s1", {"continue_hls": False})
        b.update_members("stage:s1", [{"user_id": "alice", "role": "host"}], ["bob"])
        b.read(cids=["stage:s1"])
        b.delete_call("stage:s1")
    finally:
        b.close()
    recorded = handle.recorded()
    seen = {r["operation"] for r in recorded}
    assert set(REQUEST_SCHEMAS) <= seen
    for r in recorded:
        if r["operation"] in REQUEST_SCHEMAS:
            assert_request_matches(REQUEST_SCHEMAS[r["operation"]], r["body"])
    query = next(r["body"] for r in recorded if r["operation"] == "QueryCalls")
    assert query == {"filter_conditions": {"cid": {"$in": ["stage:s1"]}}, "limit": 100}


# --- retries and faults through the real emulator -----------------------------------------------


def test_workflow_succeeds_through_500s_and_429s(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(error_rate=0.1, throttle_rate=0.1, retry_after=0.01, seed=11)
    b = stream_backend_for(handle, retry=FAST_RETRY)
    try:
        b.create_call_type("stage", {"settings": {"backstage": {"enabled": True}}})
        b.upsert_users({f"u{i}": {} for i in range(5)})
        cids = [f"stage:c{i}" for i in range(30)]
        for cid in cids:
            b.create_call(cid, {"created_by_id": "u0"})
            b.update_call(cid, {"custom": {"cid": cid}})
        b.go_live(cids[0], {})
        state = b.read(cids=cids, users=["u0", "u4"])
    finally:
        b.close()
    assert sorted(state.calls) == sorted(cids)
    assert all(call.custom == {"cid": cid} for cid, call in state.calls.items())
    assert state.calls[cids[0]].backstage is False
    assert sorted(state.users) == ["u0", "u4"]
    stats = handle.stats()
    # 67 requests without faults; about one in five was refused and retried.
    assert stats["total"] > 75
    assert list(handle.emulator.engine.list_call_types()["call_types"]).count("stage") == 1


def test_retry_after_from_the_emulator_is_honoured(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(throttle_rate=0.5, retry_after=0.25, seed=5)
    sleeps = Sleeps()
    b = stream_backend_for(handle, retry=FAST_RETRY, sleep=sleeps)
    try:
        for _ in range(10):
            b.read()
    finally:
        b.close()
    throttled = handle.stats()["total"] - 10
    assert throttled > 0
    assert sleeps.calls == [0.25] * throttled


def test_errors_are_reported_after_the_retry_budget(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(error_rate=1.0)
    sleeps = Sleeps()
    b = stream_backend_for(handle, retry=RetryPolicy(max_attempts=3), sleep=sleeps)
    try:
        with pytest.raises(BackendError) as info:
            b.update_call_type("default", {"grants": {"user": []}})
    finally:
        b.close()
    error = info.value
    assert (error.operation, error.kind, error.name) == ("update", "call_type", "default")
    assert (error.failure.status, error.failure.code) == (500, -1)
    assert "after 3 attempts" in str(error)
    assert handle.stats()["requests"]["UpdateCallType"]["PUT"] == 3
    assert len(sleeps.calls) == 2


def test_input_errors_are_not_retried(backend: StreamBackend, emulator: EmulatorHandle) -> None:  # noqa: F811
    with pytest.raises(BackendError) as info:
        backend.create_call("default:x", {})  # server-side creation needs a creator
    assert info.value.failure.code == 4
    assert emulator.stats()["requests"]["GetOrCreateCall"]["POST"] == 1


def test_pacing_slows_down_when_the_quota_runs_low(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(rate_limit=3)
    sleeps = Sleeps()
    b = stream_backend_for(handle, sleep=sleeps)
    try:
        b.read()
        b.read()
        assert sleeps.calls == []
        b.read()  # the previous answer said 1 left: spread the rest of the window
    finally:
        b.close()
    assert len(sleeps.calls) == 1
    assert 0 < sleeps.calls[0] <= 30
    assert handle.stats()["requests"] == {"ListCallTypes": {"GET": 3}}


class LoseResponse(httpx.BaseTransport):
    """Forwards to the real emulator, then drops the first matching answer as a read timeout:
    the server did the work but the client never heard back. The emulator cannot do this."""

    def __init__(self, method: str, path_suffix: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.method = method
        self.suffix = path_suffix
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        hit = request.method == self.method and request.url.path.endswith(self.suffix)
        if hit and not self.dropped:
            response.read()
            response.close()
            self.dropped += 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def lossy_backend(handle: EmulatorHandle, method: str, suffix: str) -> StreamBackend:
    return stream_backend_for(
        handle, transport=LoseResponse(method, suffix), retry=FAST_RETRY, sleep=Sleeps()
    )


def test_create_call_type_that_timed_out_is_reread_not_repeated(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    b = lossy_backend(emulator, "POST", "/calltypes")
    try:
        created = b.create_call_type("stage", {"grants": {"host": ["join-backstage"]}})
    finally:
        b.close()
    assert created.name == "stage"
    assert created.grants["host"] == ["join-backstage"]
    requests: dict[str, Any] = emulator.stats()["requests"]
    assert requests["CreateCallType"] == {"POST": 1}
    assert requests["GetCallType"] == {"GET": 1}


def test_get_or_create_that_timed_out_returns_the_same_call(emulator: EmulatorHandle) -> None:  # noqa: F811
    b = lossy_backend(emulator, "POST", "/default/once")
    try:
        call = b.create_call("default:once", {"created_by_id": "alice", "custom": {"n": 1}})
        calls = b.query_calls({"id": "once"})
    finally:
        b.close()
    assert call.custom == {"n": 1}
    assert [c.cid for c in calls] == ["default:once"]
    assert calls[0].created_at == call.created_at


def test_delete_whose_answer_was_lost_still_succeeds(emulator: EmulatorHandle) -> None:  # noqa: F811
    setup = stream_backend_for(emulator)
    setup.create_call("default:bye", {"created_by_id": "alice"})
    setup.close()
    b = lossy_backend(emulator, "POST", "/bye/delete")
    try:
        b.delete_call("default:bye")
        assert b.read(cids=["default:bye"]).calls == {}
    finally:
        b.close()
    assert emulator.stats()["requests"]["DeleteCall"] == {"POST": 2}


BACKSTAGE = {"settings": {"backstage": {"enabled": True}}}


def _calls_in_backstage(emulator: EmulatorHandle, cids: list[str]) -> None:  # noqa: F811
    setup = stream_backend_for(emulator)
    try:
        setup.create_call_type("stage", BACKSTAGE)
        setup.upsert_users({"alice": {"role": "user"}, "bob": {"role": "user"}})
        for cid in cids:
            setup.create_call(cid, {"created_by_id": "alice"})
    finally:
        setup.close()
    emulator.reset_stats()


def test_go_live_whose_answer_was_lost_is_reread_not_repeated(emulator: EmulatorHandle) -> None:  # noqa: F811
    cids = [f"stage:show-{n}" for n in range(4)]
    _calls_in_backstage(emulator, cids)
    for cid in cids:
        b = lossy_backend(emulator, "POST", "/go_live")
        try:
            assert b.go_live(cid, {}).backstage is False
        finally:
            b.close()
    # One GoLive per change: a second one would restart the live window.
    assert emulator.stats()["requests"]["GoLive"] == {"POST": 4}


def test_stop_live_whose_answer_was_lost_is_reread_not_repeated(emulator: EmulatorHandle) -> None:  # noqa: F811
    _calls_in_backstage(emulator, ["stage:show"])
    live = stream_backend_for(emulator)
    live.go_live("stage:show", {})
    live.close()
    b = lossy_backend(emulator, "POST", "/stop_live")
    try:
        assert b.stop_live("stage:show", {}).backstage is True
    finally:
        b.close()
    assert emulator.stats()["requests"]["StopLive"] == {"POST": 1}


def test_member_update_whose_answer_was_lost_is_reread_not_repeated(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    _calls_in_backstage(emulator, ["stage:show"])
    b = lossy_backend(emulator, "POST", "/members")
    try:
        b.update_members("stage:show", [{"user_id": "bob", "role": "host"}], [])
        assert b.read(cids=["stage:show"]).calls["stage:show"].members == {"bob": "host"}
    finally:
        b.close()
    assert emulator.stats()["requests"]["UpdateCallMembers"] == {"POST": 1}


def test_two_applies_of_one_manifest_converge(make_emulator: MakeEmulator, tmp_path: Path) -> None:  # noqa: F811
    """Both plan against the empty app, both create: the loser's "already exists" is done."""
    from stagecfg.pipeline import apply_planned, plan_manifests
    from stagecfg.validation import load_desired

    handle = make_emulator()
    (tmp_path / "stagecfg.yaml").write_text(
        "version: 1\n"
        "call_types:\n"
        "  stage:\n"
        "    settings:\n"
        "      backstage: {enabled: true, join_ahead_time_seconds: 300}\n"
        "    grants:\n"
        "      host: [join-backstage, join-call, read-call]\n"
    )
    desired, _ = load_desired([str(tmp_path)])
    first, second = stream_backend_for(handle), stream_backend_for(handle)
    try:
        planned = [plan_manifests(b, desired) for b in (first, second)]
        assert all(p.plan.changes for p in planned)
        apply_planned(first, planned[0], parallelism=2)
        report = apply_planned(second, planned[1], parallelism=2)
        assert report.ok
        assert not report.failed
    finally:
        first.close()
        second.close()


def test_a_racing_create_with_other_settings_still_fails(emulator: EmulatorHandle) -> None:  # noqa: F811
    b = stream_backend_for(emulator)
    try:
        b.create_call_type("stage", {"grants": {"host": ["join-call"]}})
        assert b.create_call_type("stage", {"grants": {"host": ["join-call"]}}).name == "stage"
        with pytest.raises(BackendError, match="already exists"):
            b.create_call_type("stage", {"grants": {"host": ["join-backstage"]}})
    finally:
        b.close()


def test_nan_in_a_request_is_refused_before_sending(emulator: EmulatorHandle) -> None:  # noqa: F811
    b = stream_backend_for(emulator)
    try:
        with pytest.raises(BackendError, match="NaN or Infinity") as info:
            b.create_call("default:nan", {"created_by_id": "alice", "custom": {"x": float("nan")}})
        assert (info.value.operation, info.value.name) == ("create", "default:nan")
    finally:
        b.close()
    assert emulator.stats()["total"] == 0


@pytest.mark.parametrize(
    "url", ["http://user:pw-secret@127.0.0.1:9", "https://:pw-secret@example.org", "http://[::1"]
)
def test_base_url_with_userinfo_is_refused_without_echo(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend(api_key="k", api_secret="s" * 32, base_url=url)
    assert "pw-secret" not in str(info.value)


# --- concurrency and timeouts -------------------------------------------------------------------


def test_cli_defaults_8_requests_in_flight_over_one_pool_with_timeouts(
    make_emulator: MakeEmulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import stagecfg.backends.stream as stream_module
    from stagecfg.cli import main

    sessions: list[ApiSession] = []
    lock = threading.Lock()
    inflight = [0, 0]  # now, most

    def started(request: httpx.Request) -> None:
        with lock:
            inflight[0] += 1
            inflight[1] = max(inflight[1], inflight[0])

    def answered(response: httpx.Response) -> None:
        with lock:
            inflight[0] -= 1

    class Observed(ApiSession):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.client.event_hooks = {"request": [started], "response": [answered]}
            sessions.append(self)

    monkeypatch.setattr(stream_module, "ApiSession", Observed)
    handle = make_emulator(latency_ms=20)
    calls = "".join(f"  default:c{i:02d}: {{created_by_id: john}}\n" for i in range(40))
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"version: 1\nusers:\n  john: {{}}\ncalls:\n{calls}", encoding="utf-8")
    monkeypatch.setenv("STREAM_API_SECRET", handle.api_secret)
    with pytest.raises(SystemExit) as info:
        main(["apply", str(manifest), "--auto-approve", "--backend", "stream",
              "--base-url", handle.url, "--api-key", handle.api_key])  # fmt: skip
    out, err = capsys.readouterr()
    assert info.value.code == 0, out + err
    assert handle.stats()["requests"]["GetOrCreateCall"] == {"POST": 40}
    # One session (one connection pool) for the whole run, shared by every worker thread.
    assert len(sessions) == 1
    assert 1 < inflight[1] <= 8
    timeout = sessions[0].client.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (30.0, 30.0, 30.0, 30.0)


def test_a_request_that_hangs_times_out_and_names_the_operation(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator(latency_ms=3000)
    b = stream_backend_for(
        handle, timeout=0.2, retry=RetryPolicy(max_attempts=2, base_delay=0.001), sleep=Sleeps()
    )
    try:
        with pytest.raises(BackendError) as info:
            b.update_call("default:x", {"custom": {}})
    finally:
        b.close()
    error = info.value
    assert (error.operation, error.kind, error.name) == ("update", "call", "default:x")
    assert error.failure.status is None
    assert "ReadTimeout" in str(error)
    assert "after 2 attempts" in str(error)
