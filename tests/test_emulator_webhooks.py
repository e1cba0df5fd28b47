"""Webhooks: the emulator POSTs each logged event to a real receiver on 127.0.0.1 as Stream
does (body, X-Signature checked with Stream's SDK, X-Webhook-Id, X-Webhook-Attempt,
X-Api-Key), in order, with Stream's retries, bounded waits and a bounded queue; and the
``/_emulator/events`` routes that show and reset the log."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import MakeEmulator, client, make_emulator  # noqa: F401
from getstream.webhook import parse_event
from openapi_check import assert_api_error, assert_event_matches
from webhook_receiver import MakeReceiver, Receiver, receivers  # noqa: F401

from stagecfg.emulator.server import EmulatorHandle
from stagecfg.emulator.webhooks import WebhookSettings, check_url, signature
from stagecfg.errors import UsageError
from stagecfg.httpclient import server_token
from stagecfg.sandbox import events as event_log
from stagecfg.sandbox.store import Store

CALL = "/api/v2/video/call/livestream/show"
#: Short backoffs so retries take a fraction of a second in tests. The per-attempt timeout is
#: generous: on a loaded CI machine a 0.5 s timeout expired on answers the receiver had sent,
#: and the (correct, at-least-once) retry broke the exact attempt lists asserted below. Tests
#: about timeouts set their own.
QUICK = {"timeout_seconds": 5.0, "budget_seconds": 30.0, "backoff_seconds": 0.01}


def start(make_emulator: MakeEmulator, url: str, **settings: Any) -> EmulatorHandle:  # noqa: F811
    options = {**QUICK, "poll_seconds": 0.05, **settings}
    return make_emulator(webhook=WebhookSettings(url=url, **options))


def create_call(handle: EmulatorHandle) -> None:
    with client(handle) as http:
        users = {"users": {"alice": {"id": "alice"}, "bob": {"id": "bob"}}}
        assert http.post("/api/v2/users", json=users).status_code == 201
        body = {"data": {"created_by_id": "alice", "members": [{"user_id": "bob"}]}}
        assert http.post(CALL, json=body).status_code == 201


def logged(handle: EmulatorHandle) -> list[dict[str, Any]]:
    return [entry["event"] for entry in handle.events(limit=1000)["events"]]


def settled(handle: EmulatorHandle, done: int) -> None:
    """Wait (bounded) until the sender has handled ``done`` events, delivered or not."""
    stats: dict[str, Any] = {}

    def finished(_: Receiver) -> bool:
        stats.update(handle.webhook_stats() or {})
        return stats["delivered"] + stats["failed"] + stats["dropped"] >= done

    Receiver("").wait_for(finished, f"{done} events handled, have {stats}")


def test_each_event_is_posted_with_stream_s_body_and_headers(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers("a-webhook-test-secret-of-some-length")
    handle = make_emulator(
        api_key="key-1",
        api_secret="a-webhook-test-secret-of-some-length",
        webhook=WebhookSettings(url=hook.url, poll_seconds=0.05, **QUICK),
    )
    create_call(handle)
    expected = logged(handle)
    assert [e["type"] for e in expected] == ["user.updated", "user.updated", "call.created"]
    hook.wait_for(lambda r: len(r.delivered) == 3)
    attempts = hook.snapshot()
    assert [a.event for a in attempts] == expected  # in the log's order, bodies unchanged
    for attempt in attempts:
        assert attempt.signed, attempt.headers
        headers = attempt.headers
        assert headers["x-signature"] == signature(attempt.body, handle.api_secret)
        assert headers["x-api-key"] == "key-1"
        assert headers["x-webhook-attempt"] == "1"
        assert headers["content-type"] == "application/json"
        assert_event_matches(attempt.event)
        assert type(parse_event(attempt.body)).__name__ in {"UserUpdatedEvent", "CallCreatedEvent"}
    assert len({a.headers["x-webhook-id"] for a in attempts}) == 3
    settled(handle, 3)  # the receiver answered; the sender counts once it has read the answer
    assert handle.webhook_stats() == {
        "url": hook.url,
        "delivered": 3,
        "failed": 0,
        "dropped": 0,
        "attempts": 3,
        "pending": 0,
    }


def test_failed_attempts_are_retried_with_the_same_id_until_delivered(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers(
        "stagecfg-emulator-dev-secret-not-for-production", fail_first=2, fail_status=503
    )
    handle = start(make_emulator, hook.url)
    with client(handle) as http:
        http.post("/api/v2/users", json={"users": {"alice": {"id": "alice"}}})
    hook.wait_for(lambda r: len(r.delivered) == 1)
    attempts = hook.snapshot()
    assert [a.headers["x-webhook-attempt"] for a in attempts] == ["1", "2", "3"]
    assert [a.status for a in attempts] == [503, 503, 200]
    assert len({a.headers["x-webhook-id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    settled(handle, 1)
    stats = handle.webhook_stats()
    assert stats is not None and (stats["delivered"], stats["attempts"]) == (1, 3)


@pytest.mark.parametrize("status", [408, 429, 500])
def test_retried_answers_give_up_after_three_attempts_and_say_so(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    hook = receivers(
        "stagecfg-emulator-dev-secret-not-for-production", fail_first=3, fail_status=status
    )
    handle = start(make_emulator, hook.url)
    with caplog.at_level(logging.WARNING, "stagecfg.emulator.webhooks"):
        create_call(handle)
        settled(handle, 3)
    # The first event failed three times; the next ones still went out, in order.
    assert [a.status for a in hook.snapshot()] == [status] * 3 + [200, 200]
    assert [e["type"] for e in hook.delivered] == ["user.updated", "call.created"]
    stats = handle.webhook_stats()
    assert stats is not None and (stats["failed"], stats["delivered"]) == (1, 2)
    assert f"after 3 attempts: HTTP {status}" in caplog.text
    assert handle.api_secret not in caplog.text


def test_a_refusal_is_not_retried(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = receivers(
        "stagecfg-emulator-dev-secret-not-for-production", fail_first=1, fail_status=400
    )
    handle = start(make_emulator, hook.url)
    with caplog.at_level(logging.WARNING, "stagecfg.emulator.webhooks"):
        create_call(handle)
        settled(handle, 3)
    assert [a.status for a in hook.snapshot()] == [400, 200, 200]
    assert "after 1 attempt: HTTP 400 (a refusal: not retried)" in caplog.text


def test_order_is_kept_when_every_event_needs_a_retry(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    class EveryOther(Receiver):
        def _answer(self, headers: dict[str, str], body: bytes) -> int:
            # Each event's first attempt fails, its second succeeds.
            self.fail_first = len(self.attempts) + 1 if headers["x-webhook-attempt"] == "1" else 0
            return super()._answer(headers, body)

    hook = EveryOther("stagecfg-emulator-dev-secret-not-for-production").start()
    try:
        handle = start(make_emulator, hook.url)
        create_call(handle)
        with client(handle) as http:
            http.post(CALL + "/go_live", json={"start_hls": True})
            http.post(CALL + "/mark_ended")
        expected = logged(handle)
        hook.wait_for(lambda r: len(r.delivered) == len(expected))
        assert hook.delivered == expected
        assert [a.headers["x-webhook-attempt"] for a in hook.snapshot()] == ["1", "2"] * len(
            expected
        )
    finally:
        hook.stop()


def test_a_receiver_that_hangs_is_timed_out_and_the_next_event_goes_out(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production", hang_first=3)
    handle = start(make_emulator, hook.url, timeout_seconds=1.0)
    with caplog.at_level(logging.WARNING, "stagecfg.emulator.webhooks"):
        create_call(handle)
        settled(handle, 3)
    assert [a.headers["x-webhook-attempt"] for a in hook.snapshot()[:3]] == ["1", "2", "3"]
    assert [e["type"] for e in hook.delivered] == ["user.updated", "call.created"]
    assert "after 3 attempts: no answer within 1 s" in caplog.text


def test_requests_are_answered_while_the_receiver_hangs(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production", hang_first=1)
    handle = start(make_emulator, hook.url, timeout_seconds=30.0, budget_seconds=30.0)
    create_call(handle)
    hook.wait_for(lambda r: len(r.attempts) == 1, "the first (hung) attempt")
    with client(handle) as http:
        for _ in range(20):
            assert http.get(CALL).status_code == 200
            assert http.post(CALL + "/go_live", json={}).status_code == 201
    # All of that was served while the first delivery is still waiting for its answer.
    assert [a.status for a in hook.snapshot()] == [0]
    stats = handle.webhook_stats()
    assert stats is not None and stats["delivered"] == 0 and stats["pending"] >= 1
    hook.release()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_receiver_that_is_down_is_tried_twice_then_given_up(
    make_emulator: MakeEmulator,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = start(make_emulator, f"http://127.0.0.1:{_closed_port()}/hook")
    with caplog.at_level(logging.WARNING, "stagecfg.emulator.webhooks"):
        with client(handle) as http:
            http.post("/api/v2/users", json={"users": {"alice": {"id": "alice"}}})
        settled(handle, 1)
    stats = handle.webhook_stats()
    assert stats is not None and (stats["failed"], stats["attempts"]) == (1, 2)
    assert "not delivered to http://127.0.0.1:" in caplog.text
    assert "after 2 attempts: cannot connect" in caplog.text


def test_events_that_leave_the_log_before_their_turn_are_counted_as_dropped(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production", hang_first=1)
    path = tmp_path / "shared.db"
    handle = make_emulator(
        sandbox_path=path,
        webhook=WebhookSettings(url=hook.url, timeout_seconds=30.0, poll_seconds=0.05),
    )
    with client(handle) as http:
        http.post("/api/v2/users", json={"users": {"alice": {"id": "alice"}}})
    hook.wait_for(lambda r: len(r.attempts) == 1, "the first (hung) attempt")
    # Another writer of the same file logs five events into a log that keeps two.
    store = Store(path)
    try:
        with store.write() as tx:
            for n in range(5):
                event_log.emit(tx, {"type": "custom", "created_at": n, "call_cid": "x:y"}, keep=2)
    finally:
        store.close()
    with caplog.at_level(logging.WARNING, "stagecfg.emulator.webhooks"):
        hook.release()
        settled(handle, 6)
    stats = handle.webhook_stats()
    assert stats is not None
    # The hung first delivery is cut off at its release and retried; events 2 to 4 are gone.
    assert (stats["delivered"], stats["failed"], stats["dropped"]) == (3, 0, 3)
    delivered = hook.delivered
    assert [e["type"] for e in delivered] == ["user.updated", "custom", "custom"]
    assert [e["created_at"] for e in delivered[1:]] == [3, 4]
    assert "3 event(s) after event 1 left the log before they were delivered" in caplog.text


def test_stopping_delivers_what_is_waiting_then_stops(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production")
    handle = start(make_emulator, hook.url, poll_seconds=5.0)
    create_call(handle)
    with client(handle) as http:
        for _ in range(10):
            http.post(CALL + "/event", json={"user_id": "alice", "custom": {}})
    expected = logged(handle)
    handle.stop()
    assert hook.delivered == expected
    assert not handle.emulator.webhooks_running()


def test_no_webhook_url_means_no_delivery_and_no_stats(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator()
    create_call(handle)
    assert handle.webhook_stats() is None
    with client(handle) as http:
        assert "webhook" not in http.get("/_emulator/events").json()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://127.0.0.1/hook", "http:// or https://"),
        ("http:///hook", "with a host"),
        ("127.0.0.1:9000/hook", "http:// or https://"),
        ("http://user:pass@127.0.0.1:9000/hook", "must not carry a user or password"),
        ("http://127.0.0.1:99999/hook", "not a valid URL"),
        ("http://127.0.0.1:0/hook", "port 0"),
        ("http://10.0.0.7:9000/hook", "refusing to send webhooks to 10.0.0.7"),
        ("https://hooks.example.com/stream", "--allow-remote"),
    ],
)
def test_webhook_urls_are_checked(url: str, words: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        check_url(url)
    assert words in str(excinfo.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/hook", "http://localhost:9000", "https://[::1]:8443/x"]
)
def test_loopback_webhook_urls_are_accepted(url: str) -> None:
    assert check_url(url) == url


def test_allow_remote_accepts_another_host() -> None:
    url = "https://hooks.example.com/stream"
    assert check_url(url, allow_remote=True) == url


# --- /_emulator/events ------------------------------------------------------------------------


def test_the_event_log_is_served_with_filters(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production")
    handle = start(make_emulator, hook.url)
    create_call(handle)
    with client(handle) as http:
        http.post(CALL + "/go_live", json={})
        everything = http.get("/_emulator/events").json()
        assert [e["event"]["type"] for e in everything["events"]] == [
            "user.updated",
            "user.updated",
            "call.created",
            "call.live_started",
            "call.session_started",
        ]
        assert everything["last_id"] == everything["events"][-1]["id"]
        assert set(everything["webhook"]) == {
            "url",
            "delivered",
            "failed",
            "dropped",
            "attempts",
            "pending",
        }
        for entry in everything["events"]:
            assert_event_matches(entry["event"])
        calls = http.get(
            "/_emulator/events",
            params={"type": "call.created,call.live_started", "call_cid": "livestream:show"},
        ).json()["events"]
        assert [e["event"]["type"] for e in calls] == ["call.created", "call.live_started"]
        repeated = http.get(
            "/_emulator/events", params=[("type", "call.created"), ("type", "call.live_started")]
        ).json()["events"]
        assert repeated == calls
        first_id = everything["events"][0]["id"]
        page = http.get("/_emulator/events", params={"since": first_id, "limit": 2}).json()
        assert page["events"] == everything["events"][1:3]
        reset = http.post("/_emulator/events/reset")
        assert reset.json() == {"events": [], "last_id": everything["last_id"]}
        assert http.get("/_emulator/events").json()["events"] == []


@pytest.mark.parametrize(
    "params",
    [{"since": "-1"}, {"since": "x"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "1e3"},
     {"type": ","}, {"call_cid": ""}, {"since": "9" * 30}],
)  # fmt: skip
def test_bad_event_filters_are_stream_input_errors(
    make_emulator: MakeEmulator,  # noqa: F811
    params: dict[str, str],
) -> None:
    handle = make_emulator()
    with client(handle) as http:
        assert_api_error(http.get("/_emulator/events", params=params), 400, 4)


def test_the_event_routes_need_server_credentials(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator()
    create_call(handle)
    user_token = jwt.encode({"user_id": "alice"}, handle.api_secret, algorithm="HS256")
    for method, path in (("GET", "/_emulator/events"), ("POST", "/_emulator/events/reset")):
        bare = httpx.request(method, handle.url + path, timeout=10)
        assert bare.status_code == 401
        with client(handle, token=user_token) as http:
            assert http.request(method, path).status_code == 403
    assert len(logged(handle)) == 3  # nothing was reset


# --- stagecfg emulator --webhook-url ------------------------------------------------------------


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stagecfg", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_the_command_delivers_to_its_webhook_url_and_stops_cleanly(
    tmp_path: Path,
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    secret = "a-user-secret-never-printed-anywhere"
    hook = receivers(secret)
    proc = _command(
        "--port", "0", "--sandbox", str(tmp_path / "s.db"), "--webhook-url", hook.url,
        env={"STREAM_API_SECRET": secret, "STREAM_API_KEY": "k"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split(" at ")[-1].strip()
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert f"webhooks: each event is POSTed to {hook.url}" in lines[1]
        with httpx.Client(
            base_url=url,
            params={"api_key": "k"},
            headers={"Authorization": server_token(secret), "stream-auth-type": "jwt"},
            timeout=10,
        ) as http:
            answer = http.post("/api/v2/users", json={"users": {"alice": {"id": "alice"}}})
            assert answer.status_code == 201
        hook.wait_for(lambda r: len(r.delivered) == 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    (attempt,) = hook.snapshot()
    assert attempt.signed and attempt.headers["x-api-key"] == "k"
    assert attempt.event["type"] == "user.updated"
    assert secret not in first + "".join(lines) + out + err
    assert attempt.headers["x-signature"] not in out + err


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.7/hook", "refusing to send webhooks to 10.0.0.7"),
        ("file:///etc/passwd", "must be an http:// or https:// URL"),
    ],
)
def test_the_command_refuses_a_webhook_url_in_one_line(
    tmp_path: Path, url: str, words: str
) -> None:
    proc = _command("--port", "0", "--sandbox", str(tmp_path / "s.db"), "--webhook-url", url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened
