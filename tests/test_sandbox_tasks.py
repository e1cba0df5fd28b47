"""Tasks through the sandbox engine: the task a hard DeleteCall starts, read with GetTask; and
sandbox files from before tasks (or the livestream controls) still open and work."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import T0, Clock, api_error, clock, engine, make_call  # noqa: F401

from stagecfg import timestamps
from stagecfg.sandbox import Engine, StreamAPIError


def test_a_hard_delete_leaves_a_completed_task_keyed_by_cid(engine: Engine) -> None:  # noqa: F811
    make_call(engine, "default:gone")
    deleted = engine.delete_call("default", "gone", {"hard": True})
    task = engine.get_task(deleted["task_id"])
    assert_matches("GetTaskResponse", task)
    assert task == {
        "task_id": deleted["task_id"],
        "status": "completed",
        "result": {"default:gone": {"status": "ok"}},
        "created_at": timestamps.to_nanos(T0),
        "updated_at": timestamps.to_nanos(T0),
    }
    assert engine.get_task(deleted["task_id"]) == task  # every poll answers the same


def test_a_soft_delete_has_no_task(engine: Engine) -> None:  # noqa: F811
    make_call(engine, "default:soft")
    assert "task_id" not in engine.delete_call("default", "soft", {})


@pytest.mark.parametrize("task_id", ["no-such-task", "", "x" * 5000, "'; DROP TABLE tasks; --"])
def test_an_unknown_task_is_404(engine: Engine, task_id: str) -> None:  # noqa: F811
    with pytest.raises(StreamAPIError) as excinfo:
        engine.get_task(task_id)
    status, code, message = api_error(excinfo)
    assert (status, code) == (404, 16)
    assert len(message) < 200


def test_a_file_from_before_tasks_and_controls_opens_and_works(
    tmp_path: Path,
    clock: Clock,  # noqa: F811
) -> None:
    path = tmp_path / "old.db"
    first = Engine(path, clock=clock)
    first.upsert_users({"users": {"alice": {"id": "alice"}, "bob": {"id": "bob"}}})
    make_call(first, "livestream:old")
    first.close()
    # As an older stagecfg left it: no tasks table, and call state without the egress parts,
    # blocks or per-call grants the controls keep.
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE tasks")
        db.execute("UPDATE calls SET data = ?", (json.dumps({"custom": {}}),))
    db.close()
    again = Engine(path, clock=clock)
    try:
        again.go_live("livestream", "old", {})
        again.start_recording("livestream", "old", "composite", {})
        again.block_user("livestream", "old", {"user_id": "bob"})
        call = again.get_call("livestream", "old")["call"]
        assert_matches("CallResponse", call)
        assert call["egress"]["composite_recording"] == {"status": "running"}
        assert call["blocked_user_ids"] == ["bob"]
        task_id = again.delete_call("livestream", "old", {"hard": True})["task_id"]
        assert again.get_task(task_id)["status"] == "completed"
    finally:
        again.close()


def test_the_batch_user_operations_leave_completed_tasks(engine: Engine) -> None:  # noqa: F811
    engine.upsert_users({"users": {"ann": {"id": "ann"}, "bob": {"id": "bob"}}})
    both = {"user_ids": ["bob", "ann", "bob"]}
    for started in (
        engine.deactivate_users(both),
        engine.reactivate_users(both),
        engine.delete_users(both),
    ):
        task = engine.get_task(started["task_id"])
        assert_matches("GetTaskResponse", task)
        assert task["status"] == "completed"
        assert task["result"] == {"ann": {"status": "ok"}, "bob": {"status": "ok"}}


def test_a_refused_batch_user_operation_leaves_no_task(engine: Engine) -> None:  # noqa: F811
    with pytest.raises(StreamAPIError):
        engine.deactivate_users({"user_ids": ["nobody"]})
    with sqlite3.connect(engine.path) as db:
        assert db.execute("SELECT COUNT(*) FROM tasks").fetchone() == (0,)
