"""A hostile Stream on loopback: `plan`, `apply` and `export` through the CLI must fail cleanly.

Each test starts a real HTTP server on 127.0.0.1 (http.server in a thread) that answers one
endpoint badly: malformed JSON, an HTML page, ``{}``, wrong types, NaN, a redirect, a body that
drips or never ends, a rate limit far in the future, a paging that never ends. The CLI must exit
1 with one line naming the operation, print no traceback, and end (the bounds on wall time are
generous on purpose: they prove the run ends, not that it is fast).
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stagecfg.backends import batches
from stagecfg.cli import main

SECRET = "hostile-server-secret-0123456789abcdef"
ENDS_WITHIN = 60.0  # seconds; a run that hangs would take hours


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between single bytes of the body
    endless: bool = False  # keep sending body bytes until the client goes away


def ok(body: object, **headers: str) -> Reply:
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})


Route = Callable[[str, str, int], Reply]  # (method, path, n-th request to it) -> reply

EMPTY_READS: dict[str, object] = {
    "GET /api/v2/video/calltypes": {"call_types": {}},
    "POST /api/v2/video/calls": {"calls": []},
    "GET /api/v2/users": {"users": []},
}


class Server:
    """A loopback HTTP server; ``overrides`` answers chosen endpoints, the rest read as empty."""

    def __init__(self, overrides: dict[str, Callable[[int], Reply]] | None = None) -> None:
        self.overrides = overrides or {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                key = f"{self.command} {path}"
                server.requests.append((self.command, path, dict(self.headers.items())))
                count = sum(1 for m, p, _ in server.requests if f"{m} {p}" == key)
                reply = server.reply(key, count)
                # A Date in the reply stands for the server's clock: it replaces http.server's.
                self._date = reply.headers.get("Date")
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        if name != "Date":
                            self.send_header(name, value)
                    if not reply.endless:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.endless:
                        chunk = b" " * 65536
                        while not server.stopping.is_set():
                            self.wfile.write(chunk)
                    elif reply.drip:
                        for byte in reply.body:
                            if server.stopping.wait(reply.drip):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    else:
                        self.wfile.write(reply.body)
                except OSError:
                    pass  # the client hung up, as it should on a hostile answer

            def date_time_string(self, timestamp: float | None = None) -> str:
                return getattr(self, "_date", None) or super().date_time_string(timestamp)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, key: str, count: int) -> Reply:
        if key in self.overrides:
            return self.overrides[key](count)
        if key in EMPTY_READS:
            return ok(EMPTY_READS[key])
        return Reply(404, b'{"code": 16, "message": "not found"}')

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(overrides: dict[str, Callable[[int], Reply]] | None = None) -> Server:
        started.append(Server(overrides))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAM_API_KEY", "hostile-key")
    monkeypatch.setenv("STREAM_API_SECRET", SECRET)
    for name in ("STREAM_BASE_URL", "STAGECFG_DEADLINE", "STAGECFG_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "stagecfg.yaml").write_text(
        "version: 1\n"
        "users:\n"
        "  john: {role: user, name: John}\n"
        "call_types:\n"
        "  stage:\n"
        "    settings:\n"
        "      backstage: {enabled: true, join_ahead_time_seconds: 300}\n"
    )
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err, elapsed


def stream(server: Server, *extra: str) -> tuple[str, ...]:
    return ("--backend", "stream", "--base-url", server.url, "--timeout", "2", *extra)


def assert_one_line_failure(code: int, err: str, elapsed: float, *needles: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err and "Internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], err
    assert SECRET not in err
    assert elapsed < ENDS_WITHIN


LIST = "GET /api/v2/video/calltypes"
QUERY = "POST /api/v2/video/calls"
USERS = "GET /api/v2/users"
UPSERT = "POST /api/v2/users"

MALFORMED = {
    "truncated-JSON": Reply(200, b'{"call_types": {"stage": {"name": "st'),
    "an-HTML-page": Reply(200, b"<html><body>Gateway</body></html>", {"Content-Type": "text/html"}),
    "an-empty-object": ok({}),
    "an-array": ok([1, 2]),
    "call_types-as-an-array": ok({"call_types": []}),
    "settings-as-a-string": ok({"call_types": {"stage": {"name": "stage", "settings": "x"}}}),
    "grants-of-numbers": ok({"call_types": {"stage": {"name": "stage", "grants": {"host": [1]}}}}),
    "NaN": Reply(200, b'{"call_types": {"stage": {"name": "stage", "settings": {"x": NaN}}}}'),
    "an-empty-body": Reply(200, b""),
}


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
def test_plan_refuses_a_malformed_list_of_call_types(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server], answer: Reply
) -> None:
    server = servers({LIST: lambda n: answer})
    code, out, err, elapsed = run(capsys, "plan", "m", *stream(server))
    assert_one_line_failure(code, err, elapsed, "list call_types")
    assert "create" not in out  # never a plan that proposes to create what may exist


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_an_error_naming_its_target_and_never_followed(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server], status: int
) -> None:
    elsewhere = servers()
    target = f"{elsewhere.url}/api/v2/video/calltypes"
    server = servers({LIST: lambda n: Reply(status, b"", {"Location": target})})
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server))
    assert_one_line_failure(code, err, elapsed, "list call_types", str(status), target)
    assert elsewhere.requests == []  # not contacted, so no credentials went there


def test_user_upserts_answered_with_a_redirect_are_failed_not_done(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    elsewhere = servers()
    server = servers(
        {UPSERT: lambda n: Reply(301, b"", {"Location": f"{elsewhere.url}/api/v2/users"})}
    )
    code, out, err, elapsed = run(
        capsys, "apply", "m", *stream(server), "--auto-approve", "--target", "user:john"
    )
    assert code == 1, out + err
    assert "Traceback" not in out + err
    assert "failed: create user john" in out + err
    assert "done:   + user john" not in out + err
    assert "redirect" in out + err
    assert elsewhere.requests == []
    assert elapsed < ENDS_WITHIN


def test_user_upsert_answer_without_the_user_is_not_done(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers({UPSERT: lambda n: ok({})})
    code, out, err, _ = run(
        capsys, "apply", "m", *stream(server), "--auto-approve", "--target", "user:john"
    )
    assert code == 1, out + err
    assert "failed: create user john" in out + err


def test_plan_refuses_a_users_answer_of_the_wrong_type(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers({USERS: lambda n: ok({"users": [{"id": 7, "role": "user"}]})})
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server))
    assert_one_line_failure(code, err, elapsed, "read users")


def test_a_dripping_answer_is_bounded_by_the_timeout(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    body = json.dumps({"call_types": {}, "padding": "x" * 200}).encode()
    server = servers({LIST: lambda n: Reply(200, body, drip=0.05)})
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server, "--timeout", "0.5"))
    assert_one_line_failure(code, err, elapsed, "list call_types", "Timeout")


def test_the_run_deadline_stops_the_run(
    work: Path,
    capsys: pytest.CaptureFixture[str],
    servers: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = json.dumps({"call_types": {}, "padding": "x" * 200}).encode()
    server = servers({LIST: lambda n: Reply(200, body, drip=0.05)})
    monkeypatch.setenv("STAGECFG_DEADLINE", "1.5")
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server, "--timeout", "1"))
    assert_one_line_failure(code, err, elapsed, "list call_types", "deadline")
    assert elapsed < 30  # one 1 s timeout and no retries past 1.5 s (generous)


def test_an_oversized_answer_is_refused_while_reading(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers({LIST: lambda n: Reply(200, b"", endless=True)})
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server, "--timeout", "30"))
    assert_one_line_failure(code, err, elapsed, "list call_types", "bytes")


def _exhausted(reset: str, date: float | None = None) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset,
    }
    if date is not None:
        headers["Date"] = email.utils.formatdate(date, usegmt=True)
    return headers


def _two_pages(first_headers: dict[str, str]) -> Callable[[int], Reply]:
    def answer(n: int) -> Reply:
        if n == 1:
            return ok({"calls": [_call("default:a")], "next": "page-2"}, **first_headers)
        return ok({"calls": [_call("default:b")]})

    return answer


def _call(cid: str) -> dict[str, object]:
    return {"call": {"cid": cid, "created_by": {"id": "john"}}, "members": []}


def test_a_server_clock_an_hour_ahead_does_not_stall_the_pacer(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    ahead = time.time() + 3600
    headers = _exhausted(str(int(ahead) + 1), date=ahead)
    server = servers({QUERY: _two_pages(headers)})
    code, out, err, elapsed = run(capsys, "export", *stream(server))
    assert code == 0, err
    assert "default:b" in out or "b:" in out
    assert elapsed < ENDS_WITHIN


@pytest.mark.parametrize("reset", ["99999999999", "1e400", "inf"])
def test_a_rate_limit_reset_far_ahead_fails_instead_of_sleeping(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server], reset: str
) -> None:
    server = servers({QUERY: _two_pages(_exhausted(reset))})
    code, _, err, elapsed = run(capsys, "export", *stream(server))
    if reset == "99999999999":
        assert_one_line_failure(code, err, elapsed, "query calls", "rate limit")
    else:  # not a finite time: ignored, the export completes
        assert code == 0, err
        assert elapsed < ENDS_WITHIN


def test_a_huge_retry_after_fails_instead_of_sleeping(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    throttled = Reply(429, b'{"code": 9, "message": "Too many requests"}', {"Retry-After": "1e12"})
    server = servers({LIST: lambda n: throttled})
    code, _, err, elapsed = run(capsys, "plan", "m", *stream(server))
    assert_one_line_failure(code, err, elapsed, "list call_types", "Too many requests")


def test_export_refuses_a_broken_second_page(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    def answer(n: int) -> Reply:
        if n == 1:
            return ok({"calls": [_call("default:a")], "next": "page-2"})
        return Reply(200, b'{"calls": [{"call": {"cid": "def')

    server = servers({QUERY: answer})
    code, out, err, elapsed = run(capsys, "export", *stream(server))
    assert_one_line_failure(code, err, elapsed, "query calls")
    assert out == ""  # nothing half-written


def test_export_stops_at_a_repeated_cursor(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers({QUERY: lambda n: ok({"calls": [_call(f"default:c{n}")], "next": "same"})})
    code, _, err, elapsed = run(capsys, "export", *stream(server))
    assert_one_line_failure(code, err, elapsed, "query calls", "cursor")
    assert sum(1 for m, p, _ in server.requests if f"{m} {p}" == QUERY) == 2


def test_export_stops_at_the_page_limit_of_a_cursor_forever(
    work: Path,
    capsys: pytest.CaptureFixture[str],
    servers: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batches, "MAX_PAGES", 5, raising=False)  # 1000 pages would be slow
    server = servers(
        {QUERY: lambda n: ok({"calls": [_call(f"default:c{n}")], "next": f"cursor-{n}"})}
    )
    code, _, err, elapsed = run(capsys, "export", *stream(server))
    assert_one_line_failure(code, err, elapsed, "query calls", "pages")
    assert sum(1 for m, p, _ in server.requests if f"{m} {p}" == QUERY) == 5


def _users(first: int, count: int) -> Reply:
    return ok({"users": [{"id": f"u{i:04d}"} for i in range(first, first + count)]})


def test_export_of_every_user_stops_when_a_page_repeats(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    # A full page, then the same page again whatever the filter says: the paging must stop.
    server = servers({USERS: lambda n: _users(0, 100)})
    code, out, err, elapsed = run(capsys, "export", *stream(server), "--users", "all")
    assert_one_line_failure(code, err, elapsed, "read users", "repeats user")
    assert out == ""
    assert sum(1 for m, p, _ in server.requests if f"{m} {p}" == USERS) == 2


def test_export_of_every_user_refuses_a_user_of_the_wrong_shape(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers({USERS: lambda n: ok({"users": [{"id": "u1", "teams_role": {"red": 3}}]})})
    code, out, err, elapsed = run(capsys, "export", *stream(server), "--users", "all")
    assert_one_line_failure(code, err, elapsed, "read users", "teams_role")
    assert out == ""


def test_a_base_url_with_userinfo_is_refused_without_printing_it(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    server = servers()
    url = server.url.replace("http://", "http://admin:hunter2-password@")
    code, _, err, elapsed = run(capsys, "plan", "m", "--backend", "stream", "--base-url", url)
    assert_one_line_failure(code, err, elapsed, "user name or password")
    assert "hunter2" not in err and "admin" not in err
    assert server.requests == []


def test_apply_past_its_deadline_says_what_finished(
    work: Path, capsys: pytest.CaptureFixture[str], servers: Callable[..., Server]
) -> None:
    created = json.dumps({"name": "stage"}).encode()
    server = servers(
        {
            UPSERT: lambda n: ok({"users": {"john": {"id": "john", "role": "user"}}}),
            "POST /api/v2/video/calltypes": lambda n: Reply(200, created, drip=0.5),
        }
    )
    code, out, err, elapsed = run(
        capsys,
        "apply",
        "m",
        *stream(server, "--timeout", "30", "--deadline", "2"),
        "--auto-approve",
    )
    text = out + err
    assert code == 1, text
    assert "Traceback" not in text
    assert "done:   + user john" in text
    assert "failed: create call_type stage" in text and "deadline" in text
    assert elapsed < ENDS_WITHIN
