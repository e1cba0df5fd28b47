"""Emulator security beyond the auth-code table of test_emulator.py: forged tokens, user tokens
on writes, hostile bodies, and the sandbox file the emulator creates.

The basic 401/403/413/400 codes and the bind-address refusal are covered in test_emulator.py;
these tests add the attacks that those do not try.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import MakeEmulator, emulator, make_emulator  # noqa: F401

from stagecfg.emulator.server import EmulatorHandle
from stagecfg.httpclient import server_token

CALL_TYPES = "/api/v2/video/calltypes"


def _client(handle: EmulatorHandle, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=handle.url,
        headers={"Authorization": token, "stream-auth-type": "jwt"},
        params={"api_key": handle.api_key},
        timeout=30,
    )


@pytest.fixture
def server(emulator: EmulatorHandle) -> Iterator[httpx.Client]:  # noqa: F811
    with _client(emulator, server_token(emulator.api_secret)) as c:
        yield c


def _error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    return body


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _call_type_names(handle: EmulatorHandle) -> set[str]:
    return set(handle.emulator.engine.list_call_types()["call_types"])


@pytest.mark.parametrize(
    "forge",
    ["alg-none", "hs512-with-secret", "signature-stripped", "claims-swapped"],
)
def test_forged_tokens_are_refused_and_write_nothing(
    emulator: EmulatorHandle,  # noqa: F811
    forge: str,
) -> None:
    genuine = jwt.encode({"user_id": "mallory"}, emulator.api_secret, "HS256")
    header, _claims, signature = genuine.split(".")
    tokens = {
        "alg-none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({}) + ".",
        "hs512-with-secret": jwt.encode({}, emulator.api_secret, "HS512"),
        "signature-stripped": f"{header}.{_b64({})}.",
        # The user token's signature on server claims: must not verify.
        "claims-swapped": f"{header}.{_b64({})}.{signature}",
    }
    with _client(emulator, tokens[forge]) as c:
        r = c.post(CALL_TYPES, json={"name": "forged"})
    assert r.status_code == 401, r.text
    assert r.json()["code"] in (5, 43)
    assert "forged" not in _call_type_names(emulator)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", CALL_TYPES, {"name": "by-user"}),
        ("PUT", CALL_TYPES + "/default", {"grants": {"user": []}}),
        ("DELETE", CALL_TYPES + "/livestream", None),
        ("POST", "/api/v2/video/call/default/by-user", {"data": {"created_by_id": "mallory"}}),
        ("POST", "/api/v2/users", {"users": {"mallory": {"id": "mallory", "role": "admin"}}}),
    ],
    ids=["create-type", "update-grants", "delete-type", "create-call", "upsert-users"],
)
def test_user_tokens_cannot_write(
    emulator: EmulatorHandle,  # noqa: F811
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = emulator.emulator.engine.get_call_type("default")
    user_token = jwt.encode({"user_id": "mallory", "role": "admin"}, emulator.api_secret)
    with _client(emulator, user_token) as c:
        r = c.request(method, path, json=body)
    _error(r, 403, 17)
    names = _call_type_names(emulator)
    assert "by-user" not in names
    assert "livestream" in names
    assert emulator.emulator.engine.get_call_type("default") == before


def test_token_expiring_after_it_was_cached_is_refused(emulator: EmulatorHandle) -> None:  # noqa: F811

    # exp has whole-second resolution: give the token at least 2 s of life, so the first
    # request is never already late, then wait until just past the expiry.
    expires = int(time.time()) + 3
    token = jwt.encode({"exp": expires}, emulator.api_secret, "HS256")
    with _client(emulator, token) as c:
        assert c.get(CALL_TYPES).status_code == 200
        time.sleep(max(0.0, expires - time.time()) + 0.2)
        _error(c.get(CALL_TYPES), 401, 40)


def test_chunked_body_over_the_cap_is_413(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(200):
            yield b"x" * 1000
        yield b'"}'

    with _client(handle, server_token(handle.api_secret)) as c:
        r = c.post(CALL_TYPES, content=chunks(), headers={"content-type": "application/json"})
    _error(r, 413, 22)
    assert not any(name.startswith("xxx") for name in _call_type_names(handle))


def test_lying_content_length_is_refused_before_reading(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator(max_body_bytes=1000)
    host, port = handle.url.removeprefix("http://").rsplit(":", 1)
    token = server_token(handle.api_secret)
    head = (
        f"POST {CALL_TYPES}?api_key={handle.api_key} HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: {token}\r\nstream-auth-type: jwt\r\n"
        f"Content-Type: application/json\r\nContent-Length: {10**12}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode() + b'{"name": "a"}')
        # The answer must come without the terabyte ever being sent.
        reply = sock.recv(65536).decode("latin-1")
    status_line, _, rest = reply.partition("\r\n")
    assert " 413 " in status_line, reply[:500]
    assert '"code":22' in rest.replace(" ", "")


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"name": "\xff\xfe"}',
        b'{"name": "\\ud800"}',
        b'{"name": 1e999999}',
        b"\x00\x01\x02",
    ],
    ids=["deep-list", "deep-object", "bad-utf8", "lone-surrogate", "huge-float", "binary"],
)
def test_hostile_json_bodies_are_400_never_500(server: httpx.Client, payload: bytes) -> None:
    r = server.post(CALL_TYPES, content=payload, headers={"content-type": "application/json"})
    body = r.json()
    assert r.status_code in (400, 413), body
    assert body["code"] in (4, 22), body
    assert "Traceback" not in r.text


def test_hostile_query_payload_is_400(server: httpx.Client) -> None:
    deep = "[" * 2_000 + "]" * 2_000
    for payload in (deep, "{nope", "[1]"):
        _error(server.get("/api/v2/users", params={"payload": payload}), 400, 4)


def test_error_bodies_never_echo_the_token_or_secret(emulator: EmulatorHandle) -> None:  # noqa: F811
    wrong = jwt.encode({}, "not-the-secret-but-long-enough-for-hs256", "HS256")
    good = server_token(emulator.api_secret)
    for token in (wrong, good + "x", "Bearer " + wrong):
        with _client(emulator, token) as c:
            r = c.post(CALL_TYPES, json={"name": "x"})
        assert r.status_code == 401
        assert token not in r.text
        assert emulator.api_secret not in r.text
        assert "eyJ" not in r.text


def test_emulator_creates_the_sandbox_file_private(
    make_emulator: MakeEmulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh" / "sandbox.db"
    path.parent.mkdir()
    make_emulator(sandbox_path=path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- the HTTP edge: header size, header-read time, the test-only routes ----------------------


def test_headers_over_the_limit_are_refused(emulator: EmulatorHandle) -> None:  # noqa: F811
    host, port = emulator.url.removeprefix("http://").split(":")
    big = b"x" * (128 * 1024)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
    # 431 or a closed connection: either way nothing was served.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]


def test_many_small_headers_over_the_limit_are_refused(emulator: EmulatorHandle) -> None:  # noqa: F811
    host, port = emulator.url.removeprefix("http://").split(":")
    lines = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(2000))
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]


def test_headers_under_the_limit_and_keep_alive_are_served(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(header_timeout_seconds=HEADER_TIMEOUT_SECONDS)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        for _ in range(3):
            # A kept-alive connection idle past the header timeout is still usable.
            r = client.get("/_emulator/health", headers={"X-Pad": "p" * 4000})
            assert r.status_code == 200
            time.sleep(HEADER_TIMEOUT_SECONDS * 1.5)


HEADER_TIMEOUT_SECONDS = 1.0


def test_a_client_that_never_finishes_its_headers_is_cut_off(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(header_timeout_seconds=HEADER_TIMEOUT_SECONDS)
    host, port = handle.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT_SECONDS + 10) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n")
        closed = False
        while time.monotonic() - started < HEADER_TIMEOUT_SECONDS + 8:
            sock.sendall(b"X-Drip: 1\r\n")  # a slow client keeps sending, never finishing
            try:
                sock.settimeout(0.5)
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
    assert closed
    assert time.monotonic() - started <= HEADER_TIMEOUT_SECONDS + 3


def test_a_silent_client_is_cut_off(make_emulator: MakeEmulator) -> None:  # noqa: F811
    handle = make_emulator(header_timeout_seconds=HEADER_TIMEOUT_SECONDS)
    host, port = handle.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with (
        socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT_SECONDS + 10) as sock,
        contextlib.suppress(ConnectionResetError),
    ):
        assert sock.recv(1024) == b""
    assert time.monotonic() - started <= HEADER_TIMEOUT_SECONDS + 3


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_emulator/stats"),
        ("POST", "/_emulator/stats/reset"),
        ("GET", "/_emulator/requests"),
        ("POST", "/_emulator/requests/reset"),
    ],
)
def test_test_only_routes_need_credentials(
    emulator: EmulatorHandle,  # noqa: F811
    method: str,
    path: str,
) -> None:
    bare = httpx.request(method, emulator.url + path, timeout=10)
    _error(bare, 401, 2)
    wrong = httpx.request(
        method,
        emulator.url + path,
        params={"api_key": emulator.api_key},
        headers={"Authorization": server_token("not-the-secret"), "stream-auth-type": "jwt"},
        timeout=10,
    )
    assert wrong.status_code == 401
    user = jwt.encode({"user_id": "mallory"}, emulator.api_secret, algorithm="HS256")
    with _client(emulator, user) as client:
        _error(client.request(method, path), 403, 17)
    with _client(emulator, server_token(emulator.api_secret)) as client:
        assert client.request(method, path).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": NaN}',
        b'{"name": "x", "settings": {"limits": {"max_participants": Infinity}}}',
        b'{"name": "x", "settings": {"limits": {"max_participants": -Infinity}}}',
        b'{"name": "x", "settings": {"limits": {"max_participants": 1e400}}}',
        b'{"name": "x", "grants": {"a": [' + b"9" * 5000 + b"]}}",
    ],
)
def test_non_json_numbers_are_400_and_store_nothing(
    server: httpx.Client,
    emulator: EmulatorHandle,  # noqa: F811
    raw: bytes,
) -> None:
    before = _call_type_names(emulator)
    r = server.post(CALL_TYPES, content=raw, headers={"content-type": "application/json"})
    _error(r, 400, 4)
    assert _call_type_names(emulator) == before
