"""The app-level operations on a real emulator socket (GetApp, external storage, users blocking
users): each answer is held to Stream's OpenAPI spec (status, schema, ``duration``, rate-limit
headers), and the state it changed is read back; user tokens act only for their own user; errors
are Stream's APIError.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from emulator_fixture import client, emulator, make_emulator  # noqa: F401
from openapi_check import assert_api_error, check

from stagecfg.emulator.app import OPERATIONS
from stagecfg.emulator.server import EmulatorHandle

STORAGE = "/api/v2/external_storage"
ONE_STORAGE = STORAGE + "/{name}"
BLOCK = "/api/v2/users/block"
UNBLOCK = "/api/v2/users/unblock"
GCS = {"storage_type": "gcs", "bucket": "b", "gcs_credentials": "{}"}
S3 = {"s3_region": "eu-west-1", "s3_api_key": "AKIA-EXAMPLE", "s3_secret": "not-a-real-secret"}

#: The operations this module drives.
APP_OPERATIONS = {
    "BlockUsers",
    "CreateExternalStorage",
    "DeleteExternalStorage",
    "GetApp",
    "GetBlockedUsers",
    "ListExternalStorage",
    "UnblockUsers",
    "UpdateExternalStorage",
}


def user_token(handle: EmulatorHandle, user_id: str) -> str:
    return jwt.encode({"user_id": user_id}, handle.api_secret, "HS256")


def drive_app_level_operations(api: httpx.Client) -> None:
    """Every operation of :data:`APP_OPERATIONS`, each answer checked against the spec and the
    state the next read answers (tests/test_emulator.py's conformance walk runs it too)."""
    app = check(api.get("/api/v2/app"), "/api/v2/app", "GET")["app"]
    assert {"default", "livestream", "audio_room", "development"} <= set(app["call_types"])
    assert check(api.get(STORAGE), STORAGE, "GET")["external_storages"] == {}
    made = {"name": "archive", "storage_type": "s3", "bucket": "b1", "aws_s3": S3}
    check(api.post(STORAGE, json=made), STORAGE, "POST")
    listed = check(api.get(STORAGE), STORAGE, "GET")["external_storages"]
    assert listed == {"archive": {"name": "archive", "type": "s3", "bucket": "b1", "path": ""}}
    moved = {"storage_type": "gcs", "bucket": "b2", "path": "calls/", "gcs_credentials": "{}"}
    updated = check(api.put(STORAGE + "/archive", json=moved), ONE_STORAGE, "PUT")
    assert (updated["type"], updated["bucket"], updated["path"]) == ("gcs", "b2", "calls/")
    check(api.delete(STORAGE + "/archive"), ONE_STORAGE, "DELETE")
    assert check(api.get(STORAGE), STORAGE, "GET")["external_storages"] == {}
    users = {u: {"id": u} for u in ("ann", "bea")}
    api.post("/api/v2/users", json={"users": users}).raise_for_status()
    block = {"user_id": "ann", "blocked_user_id": "bea"}
    blocked = check(api.post(BLOCK, json=block), BLOCK, "POST")
    assert (blocked["blocked_by_user_id"], blocked["blocked_user_id"]) == ("ann", "bea")
    blocks = check(api.get(BLOCK, params={"user_id": "ann"}), BLOCK, "GET")["blocks"]
    assert [(b["user_id"], b["blocked_user_id"]) for b in blocks] == [("ann", "bea")]
    assert blocks[0]["user"]["blocked_user_ids"] == ["bea"]
    check(api.post(UNBLOCK, json=block), UNBLOCK, "POST")
    assert check(api.get(BLOCK, params={"user_id": "ann"}), BLOCK, "GET")["blocks"] == []


def test_every_operation_answers_with_the_spec_status_and_schema(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        drive_app_level_operations(api)
    assert set(emulator.stats()["requests"]) >= APP_OPERATIONS
    assert {op.operation_id for op in OPERATIONS} >= APP_OPERATIONS


def test_get_app_shows_the_call_types_as_they_are_now(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        body = {"name": "stage", "settings": {"session": {"inactivity_timeout_seconds": 300}}}
        api.post("/api/v2/video/calltypes", json=body).raise_for_status()
        app = check(api.get("/api/v2/app"), "/api/v2/app", "GET")["app"]
        assert app["call_types"]["stage"]["settings"]["session"] == {
            "inactivity_timeout_seconds": 300
        }
        api.delete("/api/v2/video/calltypes/stage").raise_for_status()
        assert (
            "stage" not in check(api.get("/api/v2/app"), "/api/v2/app", "GET")["app"]["call_types"]
        )


def test_the_reserved_storage_name_is_refused_and_nothing_is_stored(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        body = {"name": "stream-s3", "storage_type": "s3", "bucket": "b", "aws_s3": S3}
        error = assert_api_error(api.post(STORAGE, json=body), 400, 4)
        assert error["message"] == (
            'CreateExternalStorage failed with error: "stream-s3 name reserved for internal use"'
        )
        assert api.get(STORAGE).json()["external_storages"] == {}


def test_storage_credentials_never_come_back(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as api:
        body = {"name": "vault", "storage_type": "s3", "bucket": "b", "aws_s3": S3}
        api.post(STORAGE, json=body).raise_for_status()
        answers = [api.get(STORAGE).text, api.get("/api/v2/app").text]
        update = {key: value for key, value in body.items() if key != "name"}
        answers.append(api.put(STORAGE + "/vault", json=update).text)
    for text in answers:
        assert S3["s3_secret"] not in text and S3["s3_api_key"] not in text
    # Nor are they kept: not in the sandbox file, nor in its write-ahead log.
    for path in Path(emulator.sandbox_path).parent.glob(Path(emulator.sandbox_path).name + "*"):
        assert S3["s3_secret"].encode() not in path.read_bytes()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v2/app", None),
        ("GET", STORAGE, None),
        ("POST", STORAGE, {"name": "x", **GCS}),
        ("PUT", STORAGE + "/x", GCS),
        ("DELETE", STORAGE + "/x", None),
    ],
)  # fmt: skip
def test_app_and_storage_are_server_side_only(
    emulator: EmulatorHandle,  # noqa: F811
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    with client(emulator, token=user_token(emulator, "ann")) as ann:
        assert_api_error(ann.request(method, path, json=body), 403, 17)


def test_a_user_token_blocks_as_its_own_user_only(emulator: EmulatorHandle) -> None:  # noqa: F811
    with client(emulator) as api:
        users = {u: {"id": u} for u in ("ann", "bea", "cy")}
        api.post("/api/v2/users", json={"users": users}).raise_for_status()
        with client(emulator, token=user_token(emulator, "ann")) as ann:
            check(ann.post(BLOCK, json={"blocked_user_id": "bea"}), BLOCK, "POST")
            forged = {"user_id": "cy", "blocked_user_id": "bea"}
            assert_api_error(ann.post(BLOCK, json=forged), 403, 17)
            assert_api_error(ann.get(BLOCK, params={"user_id": "cy"}), 403, 17)
            mine = check(ann.get(BLOCK), BLOCK, "GET")["blocks"]
            assert [b["blocked_user_id"] for b in mine] == ["bea"]
        assert api.get(BLOCK, params={"user_id": "cy"}).json()["blocks"] == []
        with client(emulator, token=user_token(emulator, "ann")) as ann:
            check(ann.post(UNBLOCK, json={"blocked_user_id": "bea"}), UNBLOCK, "POST")
        assert api.get(BLOCK, params={"user_id": "ann"}).json()["blocks"] == []


def test_server_side_block_requests_must_name_the_blocking_user(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with client(emulator) as api:
        api.post("/api/v2/users", json={"users": {"bea": {"id": "bea"}}}).raise_for_status()
        assert_api_error(api.post(BLOCK, json={"blocked_user_id": "bea"}), 400, 4)
        assert_api_error(api.get(BLOCK), 400, 4)
        ghost = {"user_id": "ghost", "blocked_user_id": "bea"}
        assert_api_error(api.post(BLOCK, json=ghost), 400, 4)
