"""Background tasks: what a hard DeleteCall and the batch user operations (DeactivateUsers,
ReactivateUsers, DeleteUsers) start, and GetTask, which reports on them.

The sandbox does a task's work at once, inside the request that starts it, so a task is stored
already ``completed`` with its result; GetTask answers the same on every poll. The result of a
hard delete is keyed by the call's cid, as Stream's is (``{"<cid>": {"status": "ok"}}``).
"""

from __future__ import annotations

import json
import uuid

from stagecfg.model import Json
from stagecfg.sandbox.apierror import not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.store import Transaction

COMPLETED = "completed"


def record_task(tx: Transaction, now: int, result: Json) -> str:
    """Store a task that has finished with ``result``; its id."""
    task_id = str(uuid.uuid4())
    tx.execute(
        "INSERT INTO tasks (id, status, result, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (task_id, COMPLETED, json.dumps(result), now, now),
    )
    return task_id


def get_task(ctx: Context, task_id: str) -> Json:
    """GetTask: the task's status and result; 404 code 16 for an id no task has."""
    with ctx.store.read() as tx:
        row = tx.execute(
            "SELECT id, status, result, created_at, updated_at FROM tasks WHERE id = ?",
            (task_id,),
        ).fetchone()
    if row is None:
        raise not_found("GetTask", f"Can't find task with id {task_id[:80]}")
    found_id, status, result, created_at, updated_at = row
    return {
        "task_id": found_id,
        "status": status,
        "result": json.loads(result),
        "created_at": created_at,
        "updated_at": updated_at,
    }
