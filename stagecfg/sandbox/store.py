"""The sandbox's SQLite file: schema, connections and transactions.

One file, WAL journal, a generous busy timeout, and every write inside ``BEGIN IMMEDIATE`` so
two processes applying at the same time queue up instead of corrupting or losing each other's
writes. Each thread gets its own connection.

An existing file is opened only if it is a whole stagecfg sandbox, checked before anything is
written to it: an empty file, a text file, someone else's SQLite database, a file with corrupted
pages or a second hard link is refused with a :class:`ConfigError` that says what to do.

A ``.stagecfg`` folder (the default sandbox's, ``.stagecfg/sandbox.db``) that the store creates
gets a ``.gitignore`` of ``*``, so ``git add .`` never commits the sandbox.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from stagecfg.errors import ConfigError
from stagecfg.sandbox import filelock

BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS call_types (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deactivated_at INTEGER,
    deleted_at INTEGER
);
CREATE TABLE IF NOT EXISTS roles (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cid TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    backstage INTEGER NOT NULL,
    ongoing INTEGER NOT NULL DEFAULT 0,
    team TEXT,
    starts_at INTEGER,
    ended_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    data TEXT NOT NULL,
    settings TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS calls_live_cid ON calls (cid) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS calls_order ON calls (created_at, cid) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS calls_type_order ON calls (type, created_at, cid)
    WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS members (
    call_seq INTEGER NOT NULL REFERENCES calls (seq) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    custom TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (call_seq, user_id)
);
CREATE INDEX IF NOT EXISTS members_user ON members (user_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    call_cid TEXT,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS external_storages (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    bucket TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_blocks (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_user_id)
);
CREATE INDEX IF NOT EXISTS user_blocks_blocked ON user_blocks (blocked_user_id);
"""


#: Tables every sandbox file has. Tables added later (``tasks``, ``external_storages``,
#: ``user_blocks``, ``events``) are created on open, so a file from before them is still a sandbox.
_TABLES = frozenset({"meta", "call_types", "users", "calls", "members"})

#: The folder of the default sandbox (cli/options.py DEFAULT_SANDBOX; a test holds them equal).
STATE_DIRECTORY = ".stagecfg"

GITIGNORE = "# Created by stagecfg: the sandbox is local state, never committed.\n*\n"


def _make_directory(directory: Path) -> None:
    """Create the sandbox's folder if missing; a ``.stagecfg`` folder this call creates gets a
    ``.gitignore`` of ``*``. A folder that existed, or any other name, is left as it is."""
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir()
    except FileExistsError:
        return  # made by a concurrent stagecfg (or not a folder: opening the file says so)
    if directory.name != STATE_DIRECTORY:
        return
    try:
        # O_EXCL: never replace a .gitignore, even one written between mkdir and here.
        fd = os.open(directory / ".gitignore", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(GITIGNORE)


def _create_private(path: Path) -> bool:
    """Create the file with mode 0600; True when this call created it."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _tighten(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)


def _check_kind(path: Path) -> os.stat_result:
    """The file's stat, refusing what SQLite must not open: not a regular file (a FIFO would
    block the open forever), or a second name of the file (see ``filelock.hard_link_problem``)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot open sandbox {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"sandbox {path} is not a regular file; give the path of a stagecfg sandbox file, "
            "or of one to create"
        )
    if info.st_nlink > 1:
        raise filelock.hard_link_problem(path, info.st_nlink)
    return info


def _not_a_sandbox(path: Path, what: str, advice: str) -> ConfigError:
    return ConfigError(f"sandbox {path} {what}; {advice}")


_CHECK_NAME = "check --sandbox / STAGECFG_SANDBOX"
_MALFORMED = "is not a valid stagecfg sandbox (database disk image is malformed)"
_RESTORE = "restore it from a backup, or remove it to start an empty sandbox"


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent, so only a new file needs it).

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once instead of
    waiting in the busy handler when another process holds the file, e.g. a second apply opening
    a brand-new sandbox at the same moment. So wait here, as the busy timeout would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        if time.monotonic() > deadline:
            return  # still correct in rollback-journal mode, only slower
        time.sleep(0.01)


class Store:
    """Thread-local SQLite connections to one sandbox file.

    ``path`` is the file's canonical name (symlinks resolved): SQLite names the write-ahead log
    after the name it opens, so every process must open the file by the same one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._inode: filelock.Inode | None = None
        _make_directory(self.path.parent)
        try:
            if not self.path.exists():
                with filelock.creation_lock(self.path.parent, exclusive=True):
                    if _create_private(self.path):
                        self._open(_check_kind(self.path))
                        self._initialize()
                        return
            self._open(_check_kind(self.path))
            self._check_is_sandbox()
            _tighten(self.path)
            self._initialize()
        except BaseException:
            self.close()
            raise

    def _open(self, info: os.stat_result) -> None:
        self._inode = filelock.inode_of(info)
        filelock.register(self._inode)

    def _check_is_sandbox(self) -> None:
        """Refuse, before writing a byte, a file that is not a whole stagecfg sandbox."""
        try:
            tables = self._tables()
            if not tables:
                # Maybe another stagecfg is creating it this moment: wait for that, then look again.
                with filelock.creation_lock(self.path.parent, exclusive=False):
                    tables = self._tables()
            if not tables:
                size = self.path.stat().st_size
                what = "is an empty file" if size == 0 else "is an empty SQLite database"
                raise _not_a_sandbox(
                    self.path,
                    f"{what}, not a stagecfg sandbox",
                    f"remove it to start a new, empty sandbox there, or {_CHECK_NAME}",
                )
            if not _TABLES.issubset(tables):
                raise _not_a_sandbox(
                    self.path,
                    "is an SQLite database but not a stagecfg sandbox (it lacks the sandbox's "
                    "tables); stagecfg leaves it alone",
                    _CHECK_NAME,
                )
            problems = self.connection().execute("PRAGMA quick_check(1)").fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise ConfigError(f"cannot open sandbox {self.path}: {exc}") from None
            if "not a database" in str(exc):
                raise _not_a_sandbox(
                    self.path,
                    f"is not a stagecfg sandbox (not an SQLite database: {exc})",
                    f"{_CHECK_NAME}: give a sandbox file, or a path where none exists yet",
                ) from None
            raise _not_a_sandbox(self.path, _MALFORMED, _RESTORE) from None
        if problems != [("ok",)]:
            raise _not_a_sandbox(self.path, _MALFORMED, _RESTORE)

    def _tables(self) -> set[str]:
        rows = self.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}

    def _initialize(self) -> None:
        _use_wal(self.connection())
        with self.write() as tx:
            tx.executescript_in_tx(_SCHEMA)
            columns = {r[1] for r in tx.execute("PRAGMA table_info(calls)").fetchall()}
            if "settings" not in columns:
                # Files from before settings had their own column keep them inside ``data``.
                tx.execute("ALTER TABLE calls ADD COLUMN settings TEXT")
            user_columns = {r[1] for r in tx.execute("PRAGMA table_info(users)").fetchall()}
            for column in ("deactivated_at", "deleted_at"):
                if column not in user_columns:
                    # Files from before users could be deactivated or deleted: all are active.
                    tx.execute(f"ALTER TABLE users ADD COLUMN {column} INTEGER")

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                # mode=rw: never create the file again, e.g. after someone deleted it.
                f"file:{urllib.parse.quote(str(self.path))}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # explicit BEGIN/COMMIT below
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One write transaction: BEGIN IMMEDIATE, commit on success, roll back on error."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A consistent snapshot for several SELECTs."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield Transaction(conn)
        finally:
            conn.execute("COMMIT")

    def copy_to(self, target: str | os.PathLike[str]) -> None:
        """Write a consistent copy of the whole file to ``target`` (a new file), with SQLite's
        backup API: writers running meanwhile are either wholly in the copy or not at all."""
        copy = sqlite3.connect(os.fspath(target))
        try:
            self.connection().backup(copy)
            # A plain file: opening it read-only later needs no -wal or -shm beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()

    def restore_from(self, source: str | os.PathLike[str]) -> None:
        """Replace the whole content of the file with ``source``'s (a file :meth:`copy_to`
        wrote), in one step under SQLite's locks: every connection, in any thread or process,
        then reads the restored content."""
        path = urllib.parse.quote(os.fspath(Path(source).resolve()))
        original = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            original.backup(self.connection())
        finally:
            original.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        inode, self._inode = self._inode, None
        if inode is not None:
            filelock.unregister(inode)


class Transaction:
    """A thin wrapper so callers cannot commit or roll back by accident."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement to stay in the tx.
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)
