"""Locks for the sandbox file: the apply lock on the file itself, the creation lock on its folder.

The apply lock is a write lock on one byte of the database file far past anything SQLite locks
(SQLite's own locks sit at 1 GiB, on the 512 bytes after 0x40000000). Being on the file, it
covers every name of it (a symlink or a hard link opens the same inode), nobody can delete it
from under its holder, and the kernel drops it when the holder dies. A byte-range lock rather
than ``flock``: on macOS and the BSDs ``flock`` and SQLite's record locks are one mechanism, so a
whole-file ``flock`` would block SQLite itself. On Linux it is an open-file-description lock,
which two backends in one process also contend for; elsewhere a classic record lock, which the
process owns, so ``_held`` keeps two backends of one process apart.

One hazard shapes the code: closing *any* descriptor of a file drops every classic record lock
the process holds on it, SQLite's included. So a lock descriptor is only closed once no
:class:`~stagecfg.sandbox.store.Store` of this process has the file open (``register``).
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stagecfg.errors import BackendError, ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, applies are not excluded
    fcntl = None  # type: ignore[assignment]

WAIT_S = 30.0  # as long as SQLite's busy timeout: how long a creation may keep others waiting
_LOCK_OFFSET = 1 << 62  # far past SQLite's lock bytes and any real file (locks may pass EOF)
_OFD_SETLK: int | None = getattr(fcntl, "F_OFD_SETLK", None) if fcntl else None

Inode = tuple[int, int]  # (st_dev, st_ino): the file, whatever name it was reached by

_registry = threading.Lock()
_stores: dict[Inode, int] = {}  # open Stores per file in this process
_parked: dict[Inode, list[int]] = {}  # released lock descriptors waiting for the last Store
_held: set[Inode] = set()  # files this process holds the apply lock on


def inode_of(stat: os.stat_result) -> Inode:
    return (stat.st_dev, stat.st_ino)


def register(inode: Inode) -> None:
    """A Store of this process opened the file."""
    with _registry:
        _stores[inode] = _stores.get(inode, 0) + 1


def unregister(inode: Inode) -> None:
    """A Store of this process closed the file; close lock descriptors nobody needs now."""
    with _registry:
        left = _stores.get(inode, 0) - 1
        if left > 0:
            _stores[inode] = left
            return
        _stores.pop(inode, None)
        for fd in _parked.pop(inode, []):
            os.close(fd)


def hard_link_problem(path: Path, names: int) -> ConfigError:
    return ConfigError(
        f"sandbox {path} has {names} names (hard links); SQLite keeps a write-ahead log per name, "
        "so stagecfg using two names at once would corrupt it: remove the other names, or copy "
        "the file (cp) instead of linking it"
    )


def _set_lock(fd: int, lock_type: int) -> None:
    if _OFD_SETLK is not None:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for open-file-description locks)
        request = struct.pack("hhqqi", lock_type, os.SEEK_SET, _LOCK_OFFSET, 1, 0)
        fcntl.fcntl(fd, _OFD_SETLK, request)
    else:  # pragma: no cover - macOS and the BSDs
        operation = fcntl.LOCK_EX | fcntl.LOCK_NB if lock_type == fcntl.F_WRLCK else fcntl.LOCK_UN
        fcntl.lockf(fd, operation, 1, _LOCK_OFFSET, os.SEEK_SET)


class ApplyLock:
    """The apply lock on one sandbox file, held until :meth:`release` or the process ends."""

    def __init__(self, inode: Inode, fd: int) -> None:
        self._inode = inode
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _set_lock(fd, fcntl.F_UNLCK)
        with _registry:
            _held.discard(self._inode)
            if self._inode in _stores:
                _parked.setdefault(self._inode, []).append(fd)
                return
        os.close(fd)


def lock_for_apply(path: Path) -> ApplyLock | None:
    """The apply lock on the file at ``path``; None when another apply (in any process) holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError(
            f"cannot lock sandbox {path} for apply: {exc.strerror or exc}; check that you can "
            "read and write it"
        ) from None
    stat = os.fstat(fd)
    inode = inode_of(stat)
    with _registry:
        if stat.st_nlink > 1 or inode in _held:
            _close_or_park(inode, fd)
            if stat.st_nlink > 1:
                raise hard_link_problem(path, stat.st_nlink)
            raise _in_use(path)
        try:
            _set_lock(fd, fcntl.F_WRLCK)
        except OSError:
            _close_or_park(inode, fd)
            raise _in_use(path) from None
        _held.add(inode)
    return ApplyLock(inode, fd)


def _close_or_park(inode: Inode, fd: int) -> None:
    # The caller holds _registry.
    if inode in _stores:
        _parked.setdefault(inode, []).append(fd)
    else:
        os.close(fd)


def _in_use(path: Path) -> BackendError:
    return BackendError(
        f"sandbox {path} is in use by another stagecfg apply; nothing was changed: run apply "
        "again when it has finished"
    )


@contextmanager
def creation_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Held (exclusive) while a new sandbox file is made and given its tables, and (shared) by an
    opener that found a file without them, so it waits for a creation in progress instead of
    calling a half-made sandbox empty. A ``flock`` on the folder: SQLite never locks folders."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        # A folder one may write but not list: only the race this guards is left unguarded.
        yield
        return
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"another stagecfg has been creating a sandbox in {directory} for "
                        f"{WAIT_S:.0f} s; run again when it has finished"
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # a folder's descriptor: closing it drops no lock SQLite holds
