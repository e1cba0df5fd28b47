"""A file given as the sandbox is a stagecfg sandbox, or it is refused before anything touches it.

Every case runs stagecfg as a real process through the CLI: a missing file becomes a new empty
sandbox (with a notice); an empty file, a text file, a foreign SQLite database, a sandbox with
corrupted pages, a second hard link to a sandbox and a path that is not a regular file are
refused with one line on stderr that names the file, says what is wrong and what to do (exit 1,
no traceback), and the file is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_fixture import MakeEmulator, make_emulator  # noqa: F401
from test_faults import assert_sandbox_matches, write_manifests

from stagecfg.sandbox.store import GITIGNORE


def _stagecfg(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
    return subprocess.run(
        [sys.executable, "-m", "stagecfg", *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _apply(cwd: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return _stagecfg(cwd, "apply", "m", "--sandbox", str(db), "--auto-approve")


def _files(directory: Path) -> list[str]:
    """What is in ``directory``, but the HOME conftest gives each test there."""
    return sorted(p.name for p in directory.iterdir() if p.name != "home")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(proc: subprocess.CompletedProcess[str], db: Path, *phrases: str) -> str:
    """Exit 1, one line on stderr naming ``db`` and containing every phrase, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    assert "bug in stagecfg" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(db) in lines[0], lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    write_manifests(tmp_path / "m", types=2, calls=5)
    return tmp_path


def test_a_missing_file_becomes_a_new_sandbox_with_a_notice(work: Path) -> None:
    db = work / "new" / "sandbox.db"
    proc = _apply(work, db)
    assert proc.returncode == 0, proc.stderr
    assert f"created a new, empty sandbox at {db}" in proc.stderr
    assert_sandbox_matches(db, types=2, calls=5)


def test_an_empty_file_is_refused_not_made_an_empty_app(work: Path) -> None:
    db = work / "sandbox.db"
    db.touch()
    for command in ("plan", "apply"):
        extra = ("--auto-approve",) if command == "apply" else ()
        proc = _stagecfg(work, command, "m", "--sandbox", str(db), *extra)
        line = assert_refused(proc, db, "is an empty file", "not a stagecfg sandbox")
        assert "remove it" in line
        assert db.stat().st_size == 0, "the empty file was written to"
    assert _files(work) == ["m", "sandbox.db"]


def test_a_text_file_is_refused_and_left_alone(work: Path) -> None:
    db = work / "notes.txt"
    db.write_text("call types to add next week:\n- livestream\n" * 50, encoding="utf-8")
    before = _digest(db)
    line = assert_refused(_apply(work, db), db, "not a stagecfg sandbox", "not an SQLite database")
    assert "--sandbox" in line
    assert _digest(db) == before
    assert _files(work) == ["m", "notes.txt"]


def test_a_foreign_sqlite_database_is_refused_and_left_alone(work: Path) -> None:
    db = work / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    before = _digest(db)
    assert_refused(_apply(work, db), db, "SQLite database", "not a stagecfg sandbox")
    assert _digest(db) == before
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        conn.close()
    assert tables == ["invoices"], "stagecfg added its tables to someone else's database"


def _corrupt_middle_pages(db: Path) -> None:
    """Overwrite a run of pages in the middle of the file with garbage, as a bad disk would."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    pages = db.stat().st_size // page_size
    assert pages >= 8, pages
    with db.open("r+b") as f:
        for page in range(pages // 2 - 2, pages // 2 + 2):
            f.seek(page * page_size)
            f.write(bytes(range(256)) * (page_size // 256))


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_sandbox_with_corrupted_pages_is_refused_and_not_written(
    tmp_path: Path, command: str
) -> None:
    write_manifests(tmp_path / "m", types=4, calls=200)
    db = tmp_path / "sandbox.db"
    assert _apply(tmp_path, db).returncode == 0
    write_manifests(tmp_path / "m", types=4, calls=200, revision=1)
    _corrupt_middle_pages(db)
    before = _digest(db)
    extra = ("--auto-approve",) if command == "apply" else ()
    proc = _stagecfg(tmp_path, command, "m", "--sandbox", str(db), *extra)
    line = assert_refused(proc, db, "not a valid stagecfg sandbox", "malformed")
    assert "restore it" in line
    assert _digest(db) == before


def test_a_second_hard_link_is_refused_through_either_name(work: Path) -> None:
    # SQLite keeps the write-ahead log next to the name it was opened by, so two names of one
    # file would each have their own log: two writers, or a reader and a writer, would not see
    # each other and corrupt the file. Refused outright, through both names.
    db = work / "sandbox.db"
    assert _apply(work, db).returncode == 0
    other = work / "other.db"
    os.link(db, other)
    write_manifests(work / "m", types=2, calls=5, revision=1)
    for name in (other, db):
        line = assert_refused(_apply(work, name), name, "2 names (hard links)")
        assert "remove the other" in line
    os.unlink(other)
    assert_sandbox_matches(db, types=2, calls=5, revision=0)
    assert _apply(work, db).returncode == 0
    assert_sandbox_matches(db, types=2, calls=5, revision=1)


def test_a_symlink_opens_the_file_it_points_to(work: Path) -> None:
    db = work / "real" / "sandbox.db"
    assert _apply(work, db).returncode == 0
    link = work / "link.db"
    link.symlink_to(db)
    write_manifests(work / "m", types=2, calls=5, revision=1)
    proc = _apply(work, link)
    assert proc.returncode == 0, proc.stderr
    # One file, one write-ahead log: the one next to the real name.
    assert sorted(p.name for p in work.iterdir() if p.name.startswith("link")) == ["link.db"]
    assert f"local sandbox {db}" in proc.stdout
    assert_sandbox_matches(db, types=2, calls=5, revision=1)


def test_a_path_that_is_not_a_regular_file_is_refused_without_waiting(work: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes; stagecfg must not wait for one.
    db = work / "sandbox.db"
    os.mkfifo(db)
    assert_refused(_apply(work, db), db, "not a regular file")


# --- the .stagecfg folder ignores itself -------------------------------------------------------


def _git(repo: Path, *argv: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *argv],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_default_sandbox_folder_is_never_committed(work: Path) -> None:
    _git(work, "init", "-q")
    _git(work, "add", "m")
    _git(work, "commit", "-q", "-m", "manifests")
    # The Quick start, as a user runs it: the default sandbox, .stagecfg/sandbox.db.
    proc = _stagecfg(work, "apply", "m", "--auto-approve")
    assert proc.returncode == 0, proc.stderr
    assert (work / ".stagecfg" / ".gitignore").read_text("utf-8") == GITIGNORE
    assert GITIGNORE.splitlines()[-1] == "*"
    assert (work / ".stagecfg" / "sandbox.db").is_file()
    # `home` is the HOME conftest gives each test; it is not the sandbox's.
    assert _git(work, "status", "--porcelain", "--untracked-files=all", ":!home") == ""
    _git(work, "add", ".")
    assert not [
        f for f in _git(work, "diff", "--cached", "--name-only").split() if ".stagecfg" in f
    ]
    # A later run leaves it as it is.
    assert _stagecfg(work, "plan", "m").returncode == 0
    assert (work / ".stagecfg" / ".gitignore").read_text("utf-8") == GITIGNORE


def test_a_stagecfg_folder_that_exists_is_left_as_it_is(work: Path) -> None:
    folder = work / ".stagecfg"
    folder.mkdir()
    assert _stagecfg(work, "apply", "m", "--auto-approve").returncode == 0
    assert not (folder / ".gitignore").exists()  # made by someone else: not ours to change
    (folder / ".gitignore").write_text("sandbox.db\n")
    (folder / "sandbox.db").unlink()
    assert _stagecfg(work, "apply", "m", "--auto-approve").returncode == 0
    assert (folder / ".gitignore").read_text() == "sandbox.db\n"


def test_a_gitignore_written_while_the_folder_is_made_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagecfg.sandbox import store

    real_mkdir = Path.mkdir

    def mkdir_then_someone_writes(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.name == ".stagecfg":
            (self / ".gitignore").write_text("theirs\n")

    monkeypatch.setattr(Path, "mkdir", mkdir_then_someone_writes)
    store.Store(tmp_path / ".stagecfg" / "sandbox.db").close()
    assert (tmp_path / ".stagecfg" / ".gitignore").read_text() == "theirs\n"


@pytest.mark.parametrize(
    ("sandbox", "ignored"),
    [
        ("state/app.db", None),  # a custom path elsewhere gets nothing
        ("a/b/sandbox.db", None),
        (".stagecfg/other.db", ".stagecfg"),  # the same folder as the default's
        ("nested/deeper/.stagecfg/s.db", "nested/deeper/.stagecfg"),
    ],
)
def test_only_a_stagecfg_folder_gets_a_gitignore(
    work: Path, sandbox: str, ignored: str | None
) -> None:
    proc = _stagecfg(work, "plan", "m", "--sandbox", sandbox)
    assert proc.returncode == 0, proc.stderr
    assert (work / sandbox).is_file()
    gitignores = sorted(str(p.parent.relative_to(work)) for p in work.rglob(".gitignore"))
    assert gitignores == ([ignored] if ignored else [])


def test_the_emulator_and_the_default_path_share_the_rule(
    tmp_path: Path,
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    from stagecfg.cli.options import DEFAULT_SANDBOX
    from stagecfg.sandbox.store import STATE_DIRECTORY

    assert Path(DEFAULT_SANDBOX).parent.name == STATE_DIRECTORY
    make_emulator(sandbox_path=tmp_path / STATE_DIRECTORY / "emulator.db")
    assert (tmp_path / STATE_DIRECTORY / ".gitignore").read_text("utf-8") == GITIGNORE
