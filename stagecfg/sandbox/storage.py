"""External storage: ListExternalStorage, CreateExternalStorage, UpdateExternalStorage and
DeleteExternalStorage, the app's named buckets that recordings and transcriptions go to.

A storage is a name, a kind (``s3``, ``gcs`` or ``abs``), a bucket and a path inside it, kept
in the ``external_storages`` table. The request's credentials are checked for the shape Stream's
spec gives each kind and then dropped: the sandbox never writes to a bucket, so it keeps no
secret it would have to protect.

Choices where Stream's behaviour is not documented:

* ``stream-s3`` names Stream's own storage and is refused (400 code 4), with the message Stream
  answers; ListExternalStorage lists only the app's own storages.
* A storage name follows the call type name rule (``[A-Za-z0-9_-]``, 1 to 64 characters); a
  name in use is refused (400 code 4); an unknown one is 404 code 16.
* ``s3`` needs ``aws_s3`` (with ``s3_region``; without ``s3_api_key`` Stream uses an IAM role,
  and a custom endpoint needs the key and the secret), ``gcs`` needs ``gcs_credentials`` and
  ``abs`` needs ``azure_blob``; credentials of another kind are refused. ``path`` defaults to
  ``""``.
* UpdateExternalStorage replaces the kind, bucket and path (``path`` left out becomes ``""``);
  DeleteExternalStorage leaves call types that name the storage as they are.
"""

from __future__ import annotations

from typing import Any

from stagecfg.model import Json
from stagecfg.sandbox.apierror import input_error, not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.requests import check_keys, check_request, check_types, is_id
from stagecfg.sandbox.store import Transaction

#: The kinds of storage Stream's spec names, and the credentials field each one needs.
CREDENTIALS = {"s3": "aws_s3", "gcs": "gcs_credentials", "abs": "azure_blob"}
#: The name Stream keeps for its own storage.
RESERVED_NAME = "stream-s3"
_UPDATE_KEYS = {"storage_type", "bucket", "path", *CREDENTIALS.values()}
_CREATE_KEYS = {"name", *_UPDATE_KEYS}
#: S3Request and AzureRequest: their fields, and the ones the spec requires.
_S3_KEYS = {"s3_region", "s3_api_key", "s3_secret", "s3_custom_endpoint_url"}
_S3_REQUIRED = ("s3_region",)
_AZURE_KEYS = {"abs_account_name", "abs_tenant_id", "abs_client_id", "abs_client_secret"}
_AZURE_REQUIRED = tuple(sorted(_AZURE_KEYS))
_COLUMNS = "name, type, bucket, path"


def _check_credentials(op: str, kind: str, body: Json) -> None:
    """The credentials field ``kind`` needs is there with its required fields; no other is."""
    wanted = CREDENTIALS[kind]
    for other in CREDENTIALS.values():
        if other != wanted and body.get(other) is not None:
            raise input_error(op, f"{other} does not go with storage_type {kind}")
    value = body.get(wanted)
    if value is None:
        raise input_error(op, f"storage_type {kind} needs {wanted}")
    if kind == "gcs":
        if not isinstance(value, str) or not value:
            raise input_error(op, "gcs_credentials must be a non-empty string")
        return
    keys, required = (_S3_KEYS, _S3_REQUIRED) if kind == "s3" else (_AZURE_KEYS, _AZURE_REQUIRED)
    value = check_keys(op, wanted, value, keys)
    check_types(op, wanted, value, dict.fromkeys(keys, "string"))
    for key in required:
        if not value.get(key):
            raise input_error(op, f"{wanted}.{key} is required")
    # Stream's spec: a custom S3 endpoint is reached with an API key and secret, not a role.
    if value.get("s3_custom_endpoint_url") and not (
        value.get("s3_api_key") and value.get("s3_secret")
    ):
        raise input_error(op, "aws_s3.s3_custom_endpoint_url needs s3_api_key and s3_secret")


def _check_storage(op: str, body: Json) -> tuple[str, str, str]:
    """The kind, bucket and path of a Create or Update request, every field checked."""
    check_types(op, "request", body, {"bucket": "string", "path": "string"})
    kind = body.get("storage_type")
    if not isinstance(kind, str) or kind not in CREDENTIALS:
        raise input_error(op, f"storage_type must be one of {', '.join(sorted(CREDENTIALS))}")
    bucket = body.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise input_error(op, "bucket is required")
    _check_credentials(op, kind, body)
    return kind, bucket, body.get("path") or ""


def storage_response(row: Any) -> Json:
    """ExternalStorageResponse from an ``external_storages`` row (the :data:`_COLUMNS`)."""
    name, kind, bucket, path = row
    return {"name": name, "type": kind, "bucket": bucket, "path": path}


def _row(tx: Transaction, op: str, name: str) -> Any:
    row = tx.execute(f"SELECT {_COLUMNS} FROM external_storages WHERE name = ?", (name,))
    found = row.fetchone()
    if found is None:
        raise not_found(op, f"external storage {name[:80]} does not exist")
    return found


def list_external_storage(ctx: Context) -> Json:
    """ListExternalStorage: every storage, keyed by name."""
    with ctx.store.read() as tx:
        rows = tx.execute(f"SELECT {_COLUMNS} FROM external_storages ORDER BY name").fetchall()
    return {"external_storages": {row[0]: storage_response(row) for row in rows}}


def create_external_storage(ctx: Context, body: Json | None) -> Json:
    op = "CreateExternalStorage"
    body = check_request(op, body, _CREATE_KEYS)
    name = body.get("name")
    if name == RESERVED_NAME:
        raise input_error(op, f"{RESERVED_NAME} name reserved for internal use")
    if not is_id(name):
        raise input_error(op, "name must be 1 to 64 letters, digits, '_' or '-'")
    kind, bucket, path = _check_storage(op, body)
    with ctx.store.write() as tx:
        if tx.execute("SELECT 1 FROM external_storages WHERE name = ?", (name,)).fetchone():
            raise input_error(op, f"external storage {name} already exists")
        now = ctx.now()
        tx.execute(
            "INSERT INTO external_storages (name, type, bucket, path, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, kind, bucket, path, now, now),
        )
    return {}


def update_external_storage(ctx: Context, name: str, body: Json | None) -> Json:
    op = "UpdateExternalStorage"
    body = check_request(op, body, _UPDATE_KEYS)
    kind, bucket, path = _check_storage(op, body)
    with ctx.store.write() as tx:
        _row(tx, op, name)
        tx.execute(
            "UPDATE external_storages SET type = ?, bucket = ?, path = ?, updated_at = ?"
            " WHERE name = ?",
            (kind, bucket, path, ctx.now(), name),
        )
        return storage_response(_row(tx, op, name))


def delete_external_storage(ctx: Context, name: str) -> Json:
    op = "DeleteExternalStorage"
    with ctx.store.write() as tx:
        _row(tx, op, name)
        tx.execute("DELETE FROM external_storages WHERE name = ?", (name,))
    return {}
