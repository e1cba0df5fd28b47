"""Two applies on one sandbox: the second refuses cleanly while the first holds the sandbox, and
many threads on one backend never corrupt or duplicate anything.

The lock is what keeps two racing applies from each failing half of the other's creates (both
would then exit 1 and leave the sandbox half-applied); these tests hold it deterministically
instead of hoping two processes overlap.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from test_faults import assert_sandbox_matches, run_cli, write_manifests

from stagecfg.backends.local import open_backend
from stagecfg.errors import BackendError


def _apply_subprocess(cwd: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stagecfg", "apply", "m", "--sandbox", str(db), "--auto-approve"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _snapshot(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = ("call_types", "calls", "users", "members")
        return [row for t in tables for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]
    finally:
        conn.close()


@pytest.mark.timeout(60)
def test_apply_refuses_cleanly_while_another_holds_the_sandbox(tmp_path: Path) -> None:
    write_manifests(tmp_path / "m", types=3, calls=20)
    db = tmp_path / "sandbox.db"
    holder = open_backend(sandbox_path=str(db))
    holder.lock_for_apply()
    try:
        before = _snapshot(db)
        proc = _apply_subprocess(tmp_path, db)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "another stagecfg apply" in proc.stderr
        assert "run apply again" in proc.stderr
        assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1
        assert _snapshot(db) == before
    finally:
        holder.close()
    # close() released the lock: the next apply runs.
    proc = _apply_subprocess(tmp_path, db)
    assert proc.returncode == 0, proc.stderr
    assert_sandbox_matches(db, types=3, calls=20)


@pytest.mark.timeout(60)
def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    code = (
        "import os, sys\n"
        "from stagecfg.backends.local import open_backend\n"
        f"open_backend(sandbox_path={str(db)!r}).lock_for_apply()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    proc = _apply_subprocess(tmp_path, db)
    assert proc.returncode == 0, proc.stderr


def test_lock_is_exclusive_within_one_process(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    first, second = open_backend(sandbox_path=str(db)), open_backend(sandbox_path=str(db))
    try:
        first.lock_for_apply()
        with pytest.raises(BackendError, match="another stagecfg apply"):
            second.lock_for_apply()
        first.close()
        second.lock_for_apply()
    finally:
        first.close()
        second.close()


@pytest.mark.timeout(60)
def test_threads_sharing_one_backend_create_each_call_once(tmp_path: Path) -> None:
    # apply runs one stage's changes on many threads over one backend; hammer that directly,
    # with every thread asking for the same calls (get-or-create must stay one row per cid).
    db = tmp_path / "sandbox.db"
    backend = open_backend(sandbox_path=str(db))
    errors: list[BaseException] = []
    cids = [f"default:race-{i}" for i in range(40)]

    def work(offset: int) -> None:
        try:
            for i in range(len(cids)):
                cid = cids[(i + offset) % len(cids)]
                backend.create_call(cid, {"created_by_id": "racer", "custom": {"n": i}})
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    backend.upsert_users({"racer": {"id": "racer", "role": "user"}})
    threads = [threading.Thread(target=work, args=(n * 5,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    backend.close()
    assert not errors, errors[:3]
    conn = sqlite3.connect(db)
    try:
        counts = Counter(r[0] for r in conn.execute("SELECT cid FROM calls"))
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    assert counts == Counter(dict.fromkeys(cids, 1))


@pytest.mark.timeout(60)
def test_plan_does_not_take_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reviewing a plan while an apply runs is fine; only writers exclude each other.
    write_manifests(tmp_path / "m", types=2, calls=4)
    db = tmp_path / "sandbox.db"
    monkeypatch.chdir(tmp_path)
    holder = open_backend(sandbox_path=str(db))
    holder.lock_for_apply()
    try:
        code, out, err = run_cli("plan", "m", "--sandbox", str(db))
        assert code == 0, err
        assert "to create" in out
    finally:
        holder.close()
