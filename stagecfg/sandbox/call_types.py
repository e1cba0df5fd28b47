"""Call types: seeding the built-ins, and list / get / create / update / delete.

How a call type request changes a call type (the template new ones start from, the settings
merge, grants replacing grants per role) is Stream's rule and lives in
:mod:`stagecfg.rules.builtins`; this module checks the request and stores the result.

Choices where Stream's behaviour is not documented:

* Built-in call types cannot be deleted: 400 code 4.
* New call types start from the built-in ``default`` type's settings, grants and notification
  settings; the request's settings merge into them and its grant roles replace theirs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.builtins import (
    BUILTIN_CALL_TYPES,
    BUILTIN_ROLES_REVISION,
    builtin_call_types,
    changed_call_type,
    missing_builtin_roles,
    template_call_type,
)
from stagecfg.rules.roles import capabilities_by_role
from stagecfg.sandbox.apierror import input_error, not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.requests import (
    check_grants,
    check_notifications,
    check_settings,
    check_typed_request,
    is_id,
)
from stagecfg.sandbox.responses import call_type_response
from stagecfg.sandbox.store import Transaction

_CREATE_KEYS = {"name", "settings", "grants", "notification_settings", "external_storage"}
_UPDATE_KEYS = _CREATE_KEYS - {"name"}


def seed(ctx: Context) -> None:
    """Store the built-in call types once, when the file is new; give a file seeded before a
    built-in type gained a role that role's defaults, once."""
    with ctx.store.write() as tx:
        row = tx.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
        if row is not None:
            _add_builtin_roles(tx)
            return
        now = ctx.now()
        for name, data in builtin_call_types().items():
            tx.execute(
                "INSERT OR IGNORE INTO call_types VALUES (?, ?, ?, ?)",
                (name, json.dumps(data), now, now),
            )
        tx.execute(
            "INSERT INTO meta VALUES ('seeded', ?), ('schema', ?), ('builtin_roles', ?)",
            (str(now), "1", BUILTIN_ROLES_REVISION),
        )


def _add_builtin_roles(tx: Transaction) -> None:
    # Only roles a type lacks are added (see missing_builtin_roles): grants a user changed stay.
    row = tx.execute("SELECT value FROM meta WHERE key = 'builtin_roles'").fetchone()
    if row is not None and row[0] == BUILTIN_ROLES_REVISION:
        return
    marks = ", ".join("?" for _ in BUILTIN_CALL_TYPES)
    rows = tx.execute(
        f"SELECT name, data FROM call_types WHERE name IN ({marks}) ORDER BY name",
        BUILTIN_CALL_TYPES,
    ).fetchall()
    for name, text in rows:
        data = json.loads(text)
        missing = missing_builtin_roles(name, data["grants"])
        if missing:
            data["grants"] = {**data["grants"], **missing}
            tx.execute("UPDATE call_types SET data = ? WHERE name = ?", (json.dumps(data), name))
    tx.execute("INSERT OR REPLACE INTO meta VALUES ('builtin_roles', ?)", (BUILTIN_ROLES_REVISION,))


def call_type_row(tx: Transaction, name: str, op: str) -> Sequence[Any]:
    """The call type's row; 404 code 16 when there is no such call type."""
    row = tx.execute(
        "SELECT name, data, created_at, updated_at FROM call_types WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise not_found(op, "call type does not exist")
    return tuple(row)


def call_type_notifications(tx: Transaction, call_type: str) -> Json | None:
    """The call type's current notification settings; None if it is gone."""
    row = tx.execute("SELECT data FROM call_types WHERE name = ?", (call_type,)).fetchone()
    if row is None:
        return None
    settings = json.loads(row[0]).get("notification_settings")
    return settings if isinstance(settings, dict) else None


def call_type_capabilities(tx: Transaction, call_type: str) -> dict[str, list[str]]:
    """What each role of the call type's current grants may do (events carry this)."""
    return capabilities_by_role(call_type_grants(tx, call_type))


def call_type_grants(tx: Transaction, call_type: str) -> Json:
    """The call type's current grants (role -> permissions); empty if it is gone."""
    row = tx.execute("SELECT data FROM call_types WHERE name = ?", (call_type,)).fetchone()
    if row is None:
        return {}
    grants: Json = json.loads(row[0])["grants"]
    return grants


def list_call_types(ctx: Context) -> Json:
    with ctx.store.read() as tx:
        rows = tx.execute(
            "SELECT name, data, created_at, updated_at FROM call_types ORDER BY name"
        ).fetchall()
    return {"call_types": {row[0]: call_type_response(row) for row in rows}}


def get_call_type(ctx: Context, name: str) -> Json:
    with ctx.store.read() as tx:
        return call_type_response(call_type_row(tx, name, "GetCallType"))


def create_call_type(ctx: Context, body: Json) -> Json:
    op = "CreateCallType"
    body = check_typed_request(op, body, {"external_storage": "string"}, keys=_CREATE_KEYS)
    name = body.get("name")
    if not is_id(name):
        raise input_error(op, "name is required: 1-64 letters, digits, underscores or dashes")
    settings = check_settings(op, "settings", body.get("settings"))
    grants = check_grants(op, body.get("grants"))
    notifications = check_notifications(op, body.get("notification_settings"))
    data = changed_call_type(
        template_call_type(),
        settings=settings,
        grants=grants,
        notification_settings=notifications,
    )
    storage = body.get("external_storage")
    if storage:
        data["external_storage"] = str(storage)
    with ctx.store.write() as tx:
        exists = tx.execute("SELECT 1 FROM call_types WHERE name = ?", (name,)).fetchone()
        if exists:
            raise input_error(op, f"call type {name} already exists")
        now = ctx.now()
        tx.execute("INSERT INTO call_types VALUES (?, ?, ?, ?)", (name, json.dumps(data), now, now))
        return call_type_response(call_type_row(tx, name, op))


def update_call_type(ctx: Context, name: str, body: Json) -> Json:
    op = "UpdateCallType"
    body = check_typed_request(op, body, {"external_storage": "string"}, keys=_UPDATE_KEYS)
    settings = check_settings(op, "settings", body.get("settings"))
    grants = check_grants(op, body.get("grants"))
    notifications = check_notifications(op, body.get("notification_settings"))
    with ctx.store.write() as tx:
        row = call_type_row(tx, name, op)
        data = json.loads(row[1])
        data.update(
            changed_call_type(
                data, settings=settings, grants=grants, notification_settings=notifications
            )
        )
        if "external_storage" in body:
            if body["external_storage"]:
                data["external_storage"] = str(body["external_storage"])
            else:
                data.pop("external_storage", None)
        tx.execute(
            "UPDATE call_types SET data = ?, updated_at = ? WHERE name = ?",
            (json.dumps(data), ctx.now(), name),
        )
        return call_type_response(call_type_row(tx, name, op))


def delete_call_type(ctx: Context, name: str) -> Json:
    op = "DeleteCallType"
    with ctx.store.write() as tx:
        call_type_row(tx, name, op)
        if name in BUILTIN_CALL_TYPES:
            raise input_error(op, f"built-in call type {name} cannot be deleted")
        tx.execute("DELETE FROM call_types WHERE name = ?", (name,))
    return {}
