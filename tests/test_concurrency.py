"""Two applies on one sandbox: the second refuses cleanly while the first holds the sandbox, and
many threads on one backend never corrupt or duplicate anything.

The lock is what keeps two racing applies from each failing half of the other's creates (both
would then exit 1 and leave the sandbox half-applied); these tests hold it deterministically
instead of hoping two processes overlap.
"""

from __future__ import annotations

import os
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


# --- every name of the sandbox file is covered by one lock ----------------------------------------


class _Holder:
    """Another process that opens the sandbox through ``name``, takes the apply lock and keeps it
    until its stdin closes: a real second stagecfg, held deterministically."""

    def __init__(self, name: Path) -> None:
        code = (
            "import sys\n"
            "from stagecfg.backends.local import open_backend\n"
            f"backend = open_backend(sandbox_path={str(name)!r})\n"
            "backend.lock_for_apply()\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "backend.close()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "locked\n"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def _assert_refused_as_in_use(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "another stagecfg apply" in lines[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("holder_name", ["link", "real"])
def test_a_symlink_to_the_sandbox_is_covered_by_the_lock(tmp_path: Path, holder_name: str) -> None:
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "real" / "sandbox.db"
    assert _apply_subprocess(tmp_path, db).returncode == 0
    link = tmp_path / "link.db"
    link.symlink_to(db)
    write_manifests(tmp_path / "m", types=2, calls=5, revision=1)
    holder, applier = (link, db) if holder_name == "link" else (db, link)
    held = _Holder(holder)
    try:
        before = _snapshot(db)
        _assert_refused_as_in_use(_apply_subprocess(tmp_path, applier))
        assert _snapshot(db) == before
    finally:
        held.release()
    assert _apply_subprocess(tmp_path, applier).returncode == 0
    assert_sandbox_matches(db, types=2, calls=5, revision=1)


@pytest.mark.timeout(60)
def test_a_hard_link_made_while_an_apply_holds_the_sandbox_does_not_let_a_second_in(
    tmp_path: Path,
) -> None:
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    assert _apply_subprocess(tmp_path, db).returncode == 0
    write_manifests(tmp_path / "m", types=2, calls=5, revision=1)
    held = _Holder(db)
    try:
        other = tmp_path / "other.db"
        os.link(db, other)
        before = _snapshot(db)
        proc = _apply_subprocess(tmp_path, other)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1
        assert _snapshot(db) == before
        other.unlink()
    finally:
        held.release()
    assert_sandbox_matches(db, types=2, calls=5, revision=0)


@pytest.mark.timeout(60)
def test_deleting_the_lock_file_while_held_does_not_let_a_second_apply_in(tmp_path: Path) -> None:
    # The lock is on the sandbox file itself; older versions locked ``<sandbox>.lock``, which
    # anyone (a cleanup script, ``rm *.lock``) could delete under a running apply.
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    held = _Holder(db)
    try:
        for stale in tmp_path.glob("*.lock"):
            stale.unlink()
        before = _snapshot(db)
        _assert_refused_as_in_use(_apply_subprocess(tmp_path, db))
        assert _snapshot(db) == before
    finally:
        held.release()
    assert _apply_subprocess(tmp_path, db).returncode == 0


@pytest.mark.timeout(60)
def test_a_lock_path_that_cannot_be_opened_does_not_stop_apply(tmp_path: Path) -> None:
    # A directory where older versions kept their lock file (not openable as a file, even by
    # root): the lock no longer lives there, so apply neither crashes nor touches it.
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    (tmp_path / "sandbox.db.lock").mkdir()
    proc = _apply_subprocess(tmp_path, db)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "sandbox.db.lock").is_dir()
    assert_sandbox_matches(db, types=2, calls=5)


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root opens a file whatever its mode, so chmod 000 denies nothing to test",
)
def test_an_unreadable_lock_file_or_sandbox_is_one_line(tmp_path: Path) -> None:
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    assert _apply_subprocess(tmp_path, db).returncode == 0
    lock = tmp_path / "sandbox.db.lock"
    lock.touch()
    lock.chmod(0)  # another user's leftover lock file: ignored, the lock is the sandbox itself
    proc = _apply_subprocess(tmp_path, db)
    assert proc.returncode == 0, proc.stderr
    db.chmod(0)
    try:
        proc = _apply_subprocess(tmp_path, db)
    finally:
        db.chmod(0o600)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(db) in lines[0]
    assert_sandbox_matches(db, types=2, calls=5)


@pytest.mark.timeout(60)
def test_the_lock_outlives_other_uses_of_the_file_in_the_same_process(tmp_path: Path) -> None:
    # Closing any descriptor of a file drops the process's classic record locks on it; a plan
    # (or any other backend) opened and closed beside a held lock must not release it.
    write_manifests(tmp_path / "m", types=2, calls=5)
    db = tmp_path / "sandbox.db"
    holder = open_backend(sandbox_path=str(db))
    holder.lock_for_apply()
    try:
        for _ in range(3):
            other = open_backend(sandbox_path=str(db))
            other.read()
            other.close()
        _assert_refused_as_in_use(_apply_subprocess(tmp_path, db))
    finally:
        holder.close()
    assert _apply_subprocess(tmp_path, db).returncode == 0
