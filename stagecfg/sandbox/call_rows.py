"""The ``calls`` table: its column order, and finding, decoding and saving one call row.

A call row's state lives in two JSON columns: ``data`` (custom, egress, session, flags) and
``settings`` (the effective settings, kept apart so a page of calls from one call type decodes
each distinct settings text once; see :func:`stagecfg.sandbox.responses.render_calls`). Every
resource that reads or changes a call goes through these helpers so the row layout is known in
one place (with :func:`~stagecfg.sandbox.responses.call_response`, which unpacks it). A
soft-deleted row (``deleted_at`` set) is invisible to all of them; see :mod:`.calls`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.sandbox.apierror import not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.store import Transaction

#: The columns every call SELECT reads, in the order the row tuples are indexed by.
CALL_COLUMNS = (
    "seq, cid, type, id, created_by_id, backstage, ongoing, team, starts_at, ended_at,"
    " created_at, updated_at, data, settings"
)


def stored_state(row: Sequence[Any]) -> Json:
    """A call row's JSON state with its settings, decoded."""
    stored: Json = json.loads(row[12])
    # Files from before settings had their own column keep them inside ``data``.
    stored["settings"] = json.loads(row[13]) if row[13] is not None else stored.get("settings")
    return stored


def find_call(tx: Transaction, call_type: str, call_id: str) -> Any:
    """The call's row, or None when there is no such call (or it was deleted)."""
    return tx.execute(
        f"SELECT {CALL_COLUMNS} FROM calls WHERE cid = ? AND deleted_at IS NULL",
        (f"{call_type}:{call_id}",),
    ).fetchone()


def live_call(tx: Transaction, op: str, call_type: str, call_id: str) -> Any:
    """The call's row; 404 code 16 when there is no such call."""
    row = find_call(tx, call_type, call_id)
    if row is None:
        raise not_found(op, f"Can't find call with id {call_type}:{call_id}")
    return row


def reload(tx: Transaction, seq: int) -> Any:
    """The row of call ``seq`` as it is now in this transaction."""
    return tx.execute(f"SELECT {CALL_COLUMNS} FROM calls WHERE seq = ?", (seq,)).fetchone()


def save(ctx: Context, tx: Transaction, row: Any, stored: Json, **columns: object) -> Any:
    """Write the call's state (and any ``columns``), stamp ``updated_at``; the new row."""
    stored = dict(stored)
    settings = stored.pop("settings")
    columns = {
        **columns,
        "updated_at": ctx.now(),
        "data": json.dumps(stored),
        "settings": json.dumps(settings),
    }
    sets = ", ".join(f"{name} = ?" for name in columns)
    tx.execute(f"UPDATE calls SET {sets} WHERE seq = ?", [*columns.values(), row[0]])
    return reload(tx, row[0])
