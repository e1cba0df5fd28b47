"""A fake GitHub REST API on 127.0.0.1 for tests: a real HTTP server holding comments and issues
in memory.

    from github_fake import FakeGithub, fake_github  # noqa: F401

``fake_github`` starts one on a free port (stopped after the test). It serves what
``--github-comment`` uses, with GitHub's statuses and shapes:

* ``GET /repos/{o}/{r}/issues/{n}/comments?per_page=&page=`` (a ``Link: rel="next"`` header
  while more pages follow), ``POST`` the same path (201), ``PATCH
  /repos/{o}/{r}/issues/comments/{id}``, ``GET /repos/{o}/{r}/commits/{sha}/pulls``;
* ``GET /repos/{o}/{r}/issues?state=&sort=created&direction=&per_page=&page=`` (open issues
  and pull requests, as GitHub lists both; paginated the same way), ``POST`` the same path
  (201; a title is required), ``PATCH /repos/{o}/{r}/issues/{n}`` (body, title, state,
  state_reason); ``issues_enabled = False`` answers them with GitHub's 410;
* ``Authorization: Bearer <token>`` or 401; ``read_only = True`` answers writes with the 403 a
  fork pull request's token gets; a body over 65,536 characters is 422; other repositories 404.

``fail(...)`` queues a fault for the next matching requests: a status with headers and body
(5xx, 401, 403 rate limits, 429 with ``Retry-After``), ``html`` (200 text/html), ``json=...`` (a
wrong-shaped 200), ``hang`` (no answer until the client gives up), ``drop`` (connection closed
without an answer), ``oversized`` (a Content-Length far over the cap), and ``after=True`` (the
request is carried out, then the answer is the fault: a create whose answer was lost).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "ghs_fakeGithubToken0123456789abcdefXYZ"
REPOSITORY = "octo/shows"
BOT = {"login": "github-actions[bot]", "type": "Bot"}

_COMMENTS = re.compile(r"/repos/([^/]+)/([^/]+)/issues/(\d+)/comments")
_COMMENT = re.compile(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)")
_PULLS = re.compile(r"/repos/([^/]+)/([^/]+)/commits/([0-9a-fA-F]+)/pulls")
_ISSUES = re.compile(r"/repos/([^/]+)/([^/]+)/issues")
_ISSUE = re.compile(r"/repos/([^/]+)/([^/]+)/issues/(\d+)")


@dataclass
class Fault:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON to send, or bytes
    kind: str = "status"  # status | html | hang | drop | oversized
    method: str | None = None
    path: str | None = None  # a substring of the path
    times: int = 1
    after: bool = False  # carry the request out first

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path in path
        )


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorized: bool


class FakeGithub:
    def __init__(self, *, token: str = TOKEN, repository: str = REPOSITORY) -> None:
        self.token = token
        self.repository = repository
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.pulls_of: dict[str, list[dict[str, Any]]] = {}
        self.issues: list[dict[str, Any]] = []
        self.issues_enabled = True
        self.read_only = False
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._next_id = 1000
        self._next_number = 0
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_PATCH(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    # --- state the tests set up and read ------------------------------------------------------

    def add_comment(self, number: int, body: str, user: dict[str, str] | None = None) -> int:
        with self._lock:
            return self._store(number, body, user or {"login": "someone", "type": "User"})

    def add_issue(
        self,
        body: str | None,
        *,
        title: str = "an issue",
        user: dict[str, str] | None = None,
        state: str = "open",
        pull_request: bool = False,
    ) -> int:
        """An issue (or, with ``pull_request``, a pull request as the issues API lists it)."""
        with self._lock:
            number = self._store_issue(title, body, user or {"login": "someone", "type": "User"})
            issue = self.issue(number)
            issue["state"] = state
            if pull_request:
                issue["pull_request"] = {
                    "url": f"{self.url}/repos/{self.repository}/pulls/{number}"
                }
            return number

    def issue(self, number: int) -> dict[str, Any]:
        (found,) = [i for i in self.issues if i["number"] == number]
        return found

    def open_issues(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(i) for i in self.issues if i["state"] == "open" and "pull_request" not in i
            ]

    def fail(self, status: int = 500, **options: Any) -> None:
        with self._lock:
            self.faults.append(Fault(status=status, **options))

    def bodies(self, number: int) -> list[str]:
        with self._lock:
            return [c["body"] for c in self.comments.get(number, [])]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    # --- the server -----------------------------------------------------------------------------

    def _store(self, number: int, body: str, user: dict[str, str]) -> int:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": dict(user),
            "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-"
            f"{self._next_id}",
        }
        self.comments.setdefault(number, []).append(comment)
        return self._next_id

    def _store_issue(self, title: str, body: str | None, user: dict[str, str]) -> int:
        self._next_number += 1
        number = self._next_number
        self.issues.append(
            {
                "number": number,
                "id": 5000 + number,
                "title": title,
                "body": body,
                "state": "open",
                "state_reason": None,
                "user": dict(user),
                "html_url": f"https://github.com/{self.repository}/issues/{number}",
            }
        )
        return number

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        authorized = handler.headers.get("authorization") == f"Bearer {self.token}"
        with self._lock:
            self.requests.append(
                Recorded(handler.command, parts.path, parse_qs(parts.query), body, authorized)
            )
            fault = next((f for f in self.faults if f.matches(handler.command, parts.path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault is not None and not fault.after:
            self._answer_fault(handler, fault)
            return
        if not authorized:
            status, headers, answer = 401, {}, {"message": "Bad credentials"}
        else:
            status, headers, answer = self._route(handler.command, parts.path, parts.query, body)
        if fault is not None:
            self._answer_fault(handler, fault)
            return
        self._send(handler, status, json.dumps(answer).encode(), headers)

    def _route(
        self, method: str, path: str, query: str, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        not_found = (404, {}, {"message": "Not Found"})
        for pattern in (_ISSUES, _ISSUE):
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if f"{match.group(1)}/{match.group(2)}" != self.repository:
                return not_found
            if not self.issues_enabled:
                return 410, {}, {"message": "Issues are disabled for this repo"}
            if method != "GET" and self.read_only:
                return 403, {}, {"message": "Resource not accessible by integration"}
            with self._lock:
                return self._issue_resource(match, method, query, body) or not_found
        for pattern in (_COMMENTS, _COMMENT, _PULLS):
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if f"{match.group(1)}/{match.group(2)}" != self.repository:
                return not_found
            if method != "GET" and self.read_only:
                return 403, {}, {"message": "Resource not accessible by integration"}
            if method != "GET":
                text = body.get("body") if isinstance(body, dict) else None
                if not isinstance(text, str) or len(text) > 65536:
                    return 422, {}, {"message": "Validation Failed", "errors": ["body"]}
            with self._lock:
                return self._resource(pattern, match, method, query, body) or not_found
        return not_found

    def _resource(
        self, pattern: re.Pattern[str], match: re.Match[str], method: str, query: str, body: Any
    ) -> tuple[int, dict[str, str], Any] | None:
        if pattern is _COMMENTS:
            number = int(match.group(3))
            if method == "POST":
                cid = self._store(number, body["body"], BOT)
                return 201, {}, self._find(cid)
            params = parse_qs(query)
            per_page = int(params.get("per_page", ["30"])[0])
            page = int(params.get("page", ["1"])[0])
            everything = self.comments.get(number, [])
            chunk = everything[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(everything):
                headers["Link"] = f'<{self.url}{match.group(0)}?page={page + 1}>; rel="next"'
            return 200, headers, chunk
        if pattern is _COMMENT:
            comment = self._find(int(match.group(3)))
            if comment is None or method != "PATCH":
                return None
            comment["body"] = body["body"]
            return 200, {}, comment
        return 200, {}, self.pulls_of.get(match.group(3), [])

    def _issue_resource(
        self, match: re.Match[str], method: str, query: str, body: Any
    ) -> tuple[int, dict[str, str], Any] | None:
        fields = body if isinstance(body, dict) else {}
        text = fields.get("body")
        if method != "GET" and (
            (text is not None and not isinstance(text, str)) or len(text or "") > 65536
        ):
            return 422, {}, {"message": "Validation Failed", "errors": ["body"]}
        if match.re is _ISSUE:
            found = [i for i in self.issues if i["number"] == int(match.group(3))]
            if not found or method not in ("GET", "PATCH"):
                return None
            issue = found[0]
            if method == "PATCH":
                if fields.get("state", "open") not in ("open", "closed"):
                    return 422, {}, {"message": "Validation Failed", "errors": ["state"]}
                for name in ("title", "body", "state", "state_reason"):
                    if name in fields:
                        issue[name] = fields[name]
            return 200, {}, issue
        if method == "POST":
            title = fields.get("title")
            if not isinstance(title, str) or not title:
                return 422, {}, {"message": "Validation Failed", "errors": ["title"]}
            number = self._store_issue(title, text, BOT)
            return 201, {}, self.issue(number)
        if method != "GET":
            return None
        params = parse_qs(query)
        state = params.get("state", ["open"])[0]
        listed = [i for i in self.issues if state == "all" or i["state"] == state]
        if params.get("direction", ["desc"])[0] == "desc":
            listed.reverse()
        per_page = int(params.get("per_page", ["30"])[0])
        page = int(params.get("page", ["1"])[0])
        headers = {}
        if page * per_page < len(listed):
            headers["Link"] = f'<{self.url}{match.group(0)}?page={page + 1}>; rel="next"'
        return 200, headers, listed[(page - 1) * per_page : page * per_page]

    def _find(self, cid: int) -> dict[str, Any] | None:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == cid:
                    return comment
        return None

    def _answer_fault(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "hang":
            self._release.wait(30)
            handler.close_connection = True
            return
        if fault.kind == "drop":
            handler.close_connection = True
            return
        if fault.kind == "oversized":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(200 * 1024 * 1024))
            handler.end_headers()
            handler.wfile.write(b"[" * 1024)
            handler.close_connection = True
            return
        if fault.kind == "html":
            self._send(handler, 200, b"<html>Sign in</html>", {"Content-Type": "text/html"})
            return
        raw = fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body).encode()
        self._send(handler, fault.status, raw, fault.headers)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, raw: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(status)
        if "Content-Type" not in headers:
            handler.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)


@pytest.fixture
def fake_github() -> Iterator[FakeGithub]:
    server = FakeGithub()
    yield server
    server.stop()
