"""External storage through the sandbox engine: create, list, update and delete, every answer
held to Stream's spec, every refusal Stream's 400 code 4 or 404 code 16 with nothing stored, and
no credential ever kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import OPENAPI_DIR
from openapi_check import assert_matches
from test_sandbox_engine import Clock, api_error, clock, engine  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError, storage

S3 = {"s3_region": "us-east-1", "s3_api_key": "key-id", "s3_secret": "secret-value"}
AZURE = {
    "abs_account_name": "acct",
    "abs_client_id": "client",
    "abs_client_secret": "azure-secret-value",
    "abs_tenant_id": "tenant",
}


def s3(name: str = "rec", **extra: Any) -> dict[str, Any]:
    return {"name": name, "storage_type": "s3", "bucket": "bucket-1", "aws_s3": S3, **extra}


def test_created_storage_is_listed_by_name(engine: Engine) -> None:  # noqa: F811
    assert engine.list_external_storage() == {"external_storages": {}}
    assert engine.create_external_storage(s3("b-second", path="calls/")) == {}
    gcs = {"name": "a-first", "storage_type": "gcs", "bucket": "g", "gcs_credentials": "{}"}
    engine.create_external_storage(gcs)
    listed = engine.list_external_storage()
    assert_matches("ListExternalStorageResponse", listed)
    assert list(listed["external_storages"]) == ["a-first", "b-second"]
    assert listed["external_storages"]["b-second"] == {
        "name": "b-second",
        "type": "s3",
        "bucket": "bucket-1",
        "path": "calls/",
    }
    assert listed["external_storages"]["a-first"]["path"] == ""


def test_update_replaces_kind_bucket_and_path(engine: Engine, clock: Clock) -> None:  # noqa: F811
    engine.create_external_storage(s3(path="old/"))
    clock.advance(seconds=1)
    body = {"storage_type": "abs", "bucket": "container", "azure_blob": AZURE}
    updated = engine.update_external_storage("rec", body)
    assert_matches("UpdateExternalStorageResponse", updated)
    assert updated == {"name": "rec", "type": "abs", "bucket": "container", "path": ""}
    assert engine.list_external_storage()["external_storages"]["rec"] == updated


def test_delete_removes_it_and_the_name_is_free_again(engine: Engine) -> None:  # noqa: F811
    engine.create_external_storage(s3())
    assert engine.delete_external_storage("rec") == {}
    assert engine.list_external_storage() == {"external_storages": {}}
    engine.create_external_storage(s3())
    assert list(engine.list_external_storage()["external_storages"]) == ["rec"]


@pytest.mark.parametrize(
    "op", ["update", "delete"], ids=["UpdateExternalStorage", "DeleteExternalStorage"]
)
def test_an_unknown_storage_is_404_code_16(engine: Engine, op: str) -> None:  # noqa: F811
    with pytest.raises(StreamAPIError) as excinfo:
        if op == "update":
            engine.update_external_storage("nope", {"storage_type": "gcs", "bucket": "b",
                                                    "gcs_credentials": "{}"})  # fmt: skip
        else:
            engine.delete_external_storage("nope")
    status, code, message = api_error(excinfo)
    assert (status, code) == (404, 16)
    assert "external storage nope does not exist" in message


def test_the_reserved_name_is_refused_with_streams_message(engine: Engine) -> None:  # noqa: F811
    with pytest.raises(StreamAPIError) as excinfo:
        engine.create_external_storage(s3("stream-s3"))
    assert api_error(excinfo) == (
        400,
        4,
        'CreateExternalStorage failed with error: "stream-s3 name reserved for internal use"',
    )


BAD_BODIES: list[tuple[str, Any]] = [
    ("not an object", ["rec"]),
    ("unknown field", {**s3(), "region": "x"}),
    ("no name", {k: v for k, v in s3().items() if k != "name"}),
    ("name too long", s3("x" * 65)),
    ("name with a slash", s3("a/b")),
    ("name with a newline", s3("rec\n")),
    ("unknown kind", {**s3(), "storage_type": "ftp"}),
    ("kind not a string", {**s3(), "storage_type": ["s3"]}),
    ("kind an object", {**s3(), "storage_type": {"s3": 1}}),
    ("no bucket", {**s3(), "bucket": ""}),
    ("bucket not a string", {**s3(), "bucket": 7}),
    ("path not a string", {**s3(), "path": ["p"]}),
    ("s3 without aws_s3", {k: v for k, v in s3().items() if k != "aws_s3"}),
    ("s3 without a region", {**s3(), "aws_s3": {"s3_api_key": "k"}}),
    ("s3 with an unknown credential", {**s3(), "aws_s3": {**S3, "token": "t"}}),
    ("s3 credential not a string", {**s3(), "aws_s3": {**S3, "s3_secret": 5}}),
    ("s3 with gcs credentials too", {**s3(), "gcs_credentials": "{}"}),
    ("custom endpoint without a secret", {**s3(), "aws_s3": {
        "s3_region": "r", "s3_api_key": "k", "s3_custom_endpoint_url": "https://s3.invalid"}}),
    ("gcs without credentials", {"name": "g", "storage_type": "gcs", "bucket": "b"}),
    ("gcs credentials not a string", {"name": "g", "storage_type": "gcs", "bucket": "b",
                                      "gcs_credentials": {"k": 1}}),
    ("abs missing a field", {"name": "a", "storage_type": "abs", "bucket": "b",
                             "azure_blob": {**AZURE, "abs_tenant_id": ""}}),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_are_400_code_4_and_store_nothing(
    engine: Engine,  # noqa: F811
    why: str,
    body: Any,
) -> None:
    with pytest.raises(StreamAPIError) as excinfo:
        engine.create_external_storage(body)
    status, code, message = api_error(excinfo)
    assert (status, code) == (400, 4), why
    assert message.startswith("CreateExternalStorage failed with error: ")
    assert len(message) < 300
    assert engine.list_external_storage() == {"external_storages": {}}


def test_an_iam_role_or_a_custom_endpoint_with_keys_is_accepted(engine: Engine) -> None:  # noqa: F811
    engine.create_external_storage(s3("role", aws_s3={"s3_region": "eu-west-1"}))
    custom = {**S3, "s3_custom_endpoint_url": "https://minio.invalid"}
    engine.create_external_storage(s3("minio", aws_s3=custom))
    assert sorted(engine.list_external_storage()["external_storages"]) == ["minio", "role"]


def test_a_name_in_use_is_refused_and_the_first_is_kept(engine: Engine) -> None:  # noqa: F811
    engine.create_external_storage(s3(path="first/"))
    with pytest.raises(StreamAPIError) as excinfo:
        engine.create_external_storage(s3(path="second/"))
    assert api_error(excinfo)[:2] == (400, 4)
    assert engine.list_external_storage()["external_storages"]["rec"]["path"] == "first/"


def test_a_bad_update_changes_nothing(engine: Engine) -> None:  # noqa: F811
    engine.create_external_storage(s3())
    before = engine.list_external_storage()
    for body in ({"storage_type": "s3", "bucket": "b"}, {"bucket": "b"}, {"name": "x"}, None):
        with pytest.raises(StreamAPIError) as excinfo:
            engine.update_external_storage("rec", body)  # type: ignore[arg-type]
        assert api_error(excinfo)[:2] == (400, 4)
    assert engine.list_external_storage() == before


def test_credentials_are_never_kept(engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    engine.create_external_storage(s3())
    engine.create_external_storage(
        {"name": "az", "storage_type": "abs", "bucket": "c", "azure_blob": AZURE}
    )
    engine.close()
    with sqlite3.connect(engine.path) as db:
        rows = db.execute("SELECT * FROM external_storages").fetchall()
    text = json.dumps(rows)
    for secret in (S3["s3_secret"], S3["s3_api_key"], AZURE["abs_client_secret"]):
        assert secret not in text
    for path in Path(engine.path).parent.iterdir():
        assert S3["s3_secret"].encode() not in path.read_bytes()


def test_the_storage_kinds_and_required_credentials_are_the_specs() -> None:
    schemas = json.loads((OPENAPI_DIR / "video-serverside-api.json").read_text("utf-8"))
    schemas = schemas["components"]["schemas"]
    kinds = schemas["CreateExternalStorageRequest"]["properties"]["storage_type"]["enum"]
    assert sorted(storage.CREDENTIALS) == sorted(kinds)
    assert set(storage._S3_REQUIRED) == set(schemas["S3Request"]["required"])
    assert set(storage._AZURE_REQUIRED) == set(schemas["AzureRequest"]["required"])
    for request in ("CreateExternalStorageRequest", "UpdateExternalStorageRequest"):
        assert {"storage_type", "bucket"} <= set(schemas[request]["required"])
