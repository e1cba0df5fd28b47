"""The HTTP session: retries, backoff, Retry-After, pacing and re-read-before-retry of creates.

Faults the emulator cannot produce on cue (a timeout after the server handled the request, an
exact sequence of statuses) are injected with httpx.MockTransport; everything the emulator can
do is tested against it in test_backends_stream.py.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import jwt
import pytest

from stagecfg.errors import BackendError
from stagecfg.httpclient import (
    ApiSession,
    Pacer,
    RetryPolicy,
    Target,
    retry_after_seconds,
    server_token,
)
from stagecfg.redact import redact

SECRET = "s3cr3t-for-httpclient-tests"
NOW = 1_900_000_000.0


@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    now: float = NOW
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now


Handler = Callable[[httpx.Request], httpx.Response]


def script(*steps: Handler | httpx.Response | type[Exception]) -> tuple[Handler, list[str]]:
    """A transport handler that answers with ``steps`` in order and logs each request."""
    seen: list[str] = []
    queue: Iterator[Handler | httpx.Response | type[Exception]] = iter(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        step = next(queue)
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("injected", request=request)  # type: ignore[call-arg]
        if isinstance(step, httpx.Response):
            return step
        return step(request)  # type: ignore[operator]

    return handler, seen


def api_error(
    status: int, code: int, *, unrecoverable: bool = False, **headers: str
) -> httpx.Response:
    body = {
        "code": code,
        "message": f'Op failed with error: "status {status}"',
        "StatusCode": status,
        "duration": "0.10ms",
        "more_info": "",
        "details": [],
        "unrecoverable": unrecoverable,
    }
    return httpx.Response(
        status, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def ok(body: dict[str, object] | None = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={**(body or {}), "duration": "0.10ms"})


def session(handler: Handler, clock: FakeTime, **policy: float) -> ApiSession:
    return ApiSession(
        api_key="key",
        api_secret=SECRET,
        base_url="http://127.0.0.1:9",
        retry=RetryPolicy(**policy),  # type: ignore[arg-type]
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall=clock.wall,
        transport=httpx.MockTransport(handler),
    )


T = Target("create", "call_type", "stage")


def test_server_token_is_hs256_over_server_claim() -> None:
    token = server_token(SECRET)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"server": True}


def test_429_with_retry_after_seconds_waits_that_long_then_succeeds() -> None:
    clock = FakeTime()
    handler, seen = script(api_error(429, 9, Retry_After="3"), ok({"name": "x"}))
    body = session(handler, clock).request("GET", "/api/v2/video/calltypes/x", T)
    assert body["name"] == "x"
    assert seen == ["GET /api/v2/video/calltypes/x"] * 2
    assert clock.sleeps == [3.0]


def test_retry_after_as_http_date() -> None:
    clock = FakeTime()
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    handler, _ = script(api_error(429, 9, Retry_After=date), ok())
    session(handler, clock).request("GET", "/x", T)
    assert clock.sleeps == [pytest.approx(7.0, abs=1.0)]


def test_429_without_retry_after_waits_for_ratelimit_reset() -> None:
    clock = FakeTime()
    handler, _ = script(
        api_error(
            429,
            9,
            X_RateLimit_Limit="10",
            X_RateLimit_Remaining="0",
            X_RateLimit_Reset=str(int(NOW) + 12),
        ),
        ok(),
    )
    session(handler, clock).request("GET", "/x", T)
    assert clock.sleeps == [pytest.approx(12.0)]


def test_5xx_is_retried_with_full_jitter_exponential_backoff() -> None:
    clock = FakeTime()
    handler, seen = script(api_error(500, -1), api_error(502, -1), api_error(503, -1), ok())
    session(handler, clock, base_delay=1.0, max_delay=100.0).request("GET", "/x", T)
    assert len(seen) == 4
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 0.0 <= slept <= 2 ** (attempt - 1)


def test_unrecoverable_error_is_not_retried() -> None:
    clock = FakeTime()
    handler, seen = script(api_error(500, -1, unrecoverable=True), ok())
    with pytest.raises(BackendError) as info:
        session(handler, clock).request("GET", "/x", T)
    assert len(seen) == 1
    assert info.value.failure.unrecoverable
    assert not info.value.retryable


def test_input_error_is_not_retried_and_names_the_operation() -> None:
    clock = FakeTime()
    handler, seen = script(api_error(400, 4))
    with pytest.raises(BackendError) as info:
        session(handler, clock).request("POST", "/x", T, json_body={})
    assert len(seen) == 1
    assert str(info.value).startswith("create call_type stage: ")
    assert "Stream code 4, HTTP 400" in str(info.value)
    assert info.value.failure.code == 4


def test_attempts_are_capped() -> None:
    clock = FakeTime()
    handler, seen = script(*[api_error(503, -1)] * 10)
    with pytest.raises(BackendError) as info:
        session(handler, clock, max_attempts=4).request("GET", "/x", T)
    assert len(seen) == 4
    assert "after 4 attempts" in str(info.value)
    assert info.value.failure.status == 503


def test_total_time_is_capped() -> None:
    clock = FakeTime()
    handler, seen = script(*[api_error(429, 9, Retry_After="30")] * 10)
    with pytest.raises(BackendError):
        session(handler, clock, max_total=45.0).request("GET", "/x", T)
    assert clock.sleeps == [30.0]
    assert len(seen) == 2


def test_transport_errors_are_retried() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ConnectError, httpx.ReadError, ok({"v": 1}))
    assert session(handler, clock).request("GET", "/x", T)["v"] == 1
    assert len(seen) == 3


def test_create_that_timed_out_is_reread_and_not_sent_again() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ReadTimeout)
    recovered: list[str] = []

    def recover() -> dict[str, object] | None:
        recovered.append("GET")
        return {"name": "stage", "created": "by the first attempt"}

    body = session(handler, clock).request(
        "POST", "/api/v2/video/calltypes", T, json_body={"name": "stage"},
        idempotent=False, recover=recover,
    )  # fmt: skip
    assert body["created"] == "by the first attempt"
    assert seen == ["POST /api/v2/video/calltypes"]
    assert recovered == ["GET"]


def test_create_that_timed_out_before_landing_is_sent_again() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ReadTimeout, ok({"name": "stage"}, 201))
    body = session(handler, clock).request(
        "POST", "/api/v2/video/calltypes", T, json_body={"name": "stage"},
        idempotent=False, recover=lambda: None,
    )  # fmt: skip
    assert body["name"] == "stage"
    assert seen == ["POST /api/v2/video/calltypes"] * 2


def test_create_that_could_not_connect_is_retried_without_reread() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ConnectError, ok({"name": "stage"}, 201))
    calls: list[int] = []
    session(handler, clock).request(
        "POST", "/x", T, json_body={}, idempotent=False,
        recover=lambda: calls.append(1) or None,  # type: ignore[func-returns-value]
    )  # fmt: skip
    assert calls == []
    assert len(seen) == 2


def test_delete_whose_first_attempt_landed_counts_404_as_done() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ReadTimeout, api_error(404, 16))
    assert session(handler, clock).request("DELETE", "/x", T, gone_ok=True) == {}
    assert len(seen) == 2


def test_first_attempt_404_is_an_error_even_when_gone_ok() -> None:
    clock = FakeTime()
    handler, _ = script(api_error(404, 16))
    with pytest.raises(BackendError) as info:
        session(handler, clock).request("DELETE", "/x", T, gone_ok=True)
    assert info.value.failure.code == 16


def test_pacer_spreads_requests_when_remaining_runs_low() -> None:
    pacer = Pacer(low_water=0.1)
    reset = NOW + 30
    headers = {
        "x-ratelimit-limit": "100",
        "x-ratelimit-remaining": "50",
        "x-ratelimit-reset": str(reset),
    }
    pacer.observe("GET /x", headers)
    assert pacer.delay("GET /x", NOW) == 0.0
    pacer.observe("GET /x", {**headers, "x-ratelimit-remaining": "5"})
    assert pacer.delay("GET /x", NOW) == pytest.approx(30 / 6)
    pacer.observe("GET /x", {**headers, "x-ratelimit-remaining": "0"})
    assert pacer.delay("GET /x", NOW) == pytest.approx(30)
    # Every sender waits for the reset, not only the first (the rest would just collect 429s).
    assert pacer.delay("GET /x", NOW + 10) == pytest.approx(20)
    # Once the window has passed, nothing is held back.
    pacer.observe("GET /x", {**headers, "x-ratelimit-remaining": "0"})
    assert pacer.delay("GET /x", reset + 1) == 0.0
    assert pacer.delay("GET /other", NOW) == 0.0


def test_session_sleeps_before_sending_when_quota_is_exhausted() -> None:
    clock = FakeTime()
    exhausted = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 20),
    }
    handler, seen = script(httpx.Response(200, json={}, headers=exhausted), ok())
    s = session(handler, clock)
    s.request("GET", "/api/v2/video/calltypes/a", T)
    s.request("GET", "/api/v2/video/calltypes/b", T)  # same endpoint window
    assert clock.sleeps == [pytest.approx(20)]
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0.5", 0.5), ("", None), ("soon", None), ("-3", None), (None, None)],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


def test_secret_and_token_never_show_in_repr_or_errors() -> None:
    clock = FakeTime()
    token = server_token(SECRET)

    def echo_secret(request: httpx.Request) -> httpx.Response:
        # A hostile or buggy server echoing credentials back must not leak them via our error.
        return httpx.Response(
            400, json={"code": 4, "message": f"bad {SECRET} {request.headers['authorization']}"}
        )

    s = session(echo_secret, clock)
    with pytest.raises(BackendError) as info:
        s.request("GET", "/x", T)
    for text in (str(info.value), repr(info.value.failure), repr(s)):
        assert SECRET not in text
        assert token not in text
    assert SECRET not in redact(f"x {SECRET} y")


def test_request_body_is_json_with_content_type() -> None:
    clock = FakeTime()
    bodies: list[tuple[str | None, object]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        bodies.append((request.headers.get("content-type"), json.loads(request.content)))
        return ok({}, 201)

    session(capture, clock).request("POST", "/x", T, json_body={"a": [1, 2]})
    assert bodies == [("application/json", {"a": [1, 2]})]


def test_create_whose_last_attempt_was_lost_is_still_reread() -> None:
    clock = FakeTime()
    handler, seen = script(httpx.ReadTimeout)
    body = session(handler, clock, max_attempts=1).request(
        "POST", "/api/v2/video/calltypes", T, json_body={"name": "stage"},
        idempotent=False, recover=lambda: {"name": "stage"},
    )  # fmt: skip
    assert body == {"name": "stage"}
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("steps", "hint"),
    [
        ((api_error(401, 43),), "check that STREAM_API_KEY and STREAM_API_SECRET"),
        ((api_error(401, 2),), "belong to the app at http://127.0.0.1:9"),
        ((httpx.ConnectError,) * 2, "check that http://127.0.0.1:9 is the right base URL"),
        ((api_error(429, 9, Retry_After="1"),) * 2, "lower --parallelism"),
    ],
    ids=["bad-signature", "bad-key", "unreachable", "rate-limited"],
)
def test_failures_a_user_can_fix_end_with_a_suggestion(
    steps: tuple[httpx.Response | type[Exception], ...], hint: str
) -> None:
    handler, _ = script(*steps)
    with pytest.raises(BackendError) as info:
        session(handler, FakeTime(), max_attempts=2).request("GET", "/x", T)
    text = str(info.value)
    assert text.startswith("create call_type stage: ")
    assert hint in text
    assert "\n" not in text


def test_input_errors_carry_no_credentials_hint() -> None:
    handler, _ = script(api_error(400, 4))
    with pytest.raises(BackendError) as info:
        session(handler, FakeTime()).request("POST", "/x", T, json_body={})
    assert "STREAM_API" not in str(info.value)
    assert str(info.value).endswith("(Stream code 4, HTTP 400)")


def test_pacer_reads_the_reset_off_the_servers_clock() -> None:
    """A server clock an hour ahead: its reset is 10 s after *its* now, not an hour from ours."""
    pacer = Pacer()
    ahead = NOW + 3600
    pacer.observe(
        "GET /x",
        {
            "x-ratelimit-limit": "100",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(ahead + 10),
            "date": email.utils.formatdate(ahead, usegmt=True),
        },
        NOW,
    )
    assert pacer.delay("GET /x", NOW) == pytest.approx(10, abs=1)


def test_a_pacer_wait_beyond_the_cap_fails_without_sleeping() -> None:
    clock = FakeTime()
    far = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "99999999999",
    }
    handler, seen = script(httpx.Response(200, json={}, headers=far), ok())
    s = session(handler, clock)
    s.request("GET", "/api/v2/video/calltypes/a", T)
    with pytest.raises(BackendError, match="rate limit asks to wait"):
        s.request("GET", "/api/v2/video/calltypes/b", T)
    assert clock.sleeps == []
    assert len(seen) == 1


def test_the_run_deadline_refuses_a_sleep_that_would_cross_it() -> None:
    clock = FakeTime()
    handler, seen = script(api_error(503, -1, **{"Retry-After": "10"}), ok())
    s = ApiSession(
        api_key="key",
        api_secret=SECRET,
        base_url="http://127.0.0.1:9",
        deadline=5.0,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall=clock.wall,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(BackendError, match="deadline of 5 s passed") as info:
        s.request("GET", "/x", T)
    assert "--deadline" in str(info.value)
    assert clock.sleeps == []
    assert len(seen) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b'{"x": NaN}'),
        httpx.Response(200, content=b'{"x": 1e999}'),
        httpx.Response(200, content=b"[]"),
        httpx.Response(200, content=b"<html>"),
        httpx.Response(204),
    ],
    ids=["nan", "overflow", "array", "html", "empty"],
)
def test_only_a_json_object_is_a_successful_answer(answer: httpx.Response) -> None:
    handler, seen = script(answer)
    with pytest.raises(BackendError) as info:
        session(handler, FakeTime()).request("GET", "/x", T)
    assert str(info.value).startswith("create call_type stage: the answer is")
    assert len(seen) == 1  # not retried


def test_a_redirect_is_an_error_and_not_retried() -> None:
    handler, seen = script(httpx.Response(308, headers={"Location": "http://127.0.0.1:1/x"}))
    with pytest.raises(BackendError, match=r"HTTP 308, a redirect to http://127.0.0.1:1/x"):
        session(handler, FakeTime()).request("GET", "/x", T)
    assert len(seen) == 1
