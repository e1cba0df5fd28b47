"""The sandbox's SQLite file: schema, connections and transactions.

One file, WAL journal, a generous busy timeout, and every write inside ``BEGIN IMMEDIATE`` so
two processes applying at the same time queue up instead of corrupting or losing each other's
writes. Each thread gets its own connection.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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
"""


def _secure_file(path: Path) -> bool:
    """Create the file with mode 0600 (or tighten it); True when it did not exist before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
        return path.stat().st_size == 0
    os.close(fd)
    return True


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
    """Thread-local SQLite connections to one sandbox file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        _secure_file(self.path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        _use_wal(self.connection())
        with self.write() as tx:
            tx.executescript_in_tx(_SCHEMA)
            columns = {r[1] for r in tx.execute("PRAGMA table_info(calls)").fetchall()}
            if "settings" not in columns:
                # Files from before settings had their own column keep them inside ``data``.
                tx.execute("ALTER TABLE calls ADD COLUMN settings TEXT")

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
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

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


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
