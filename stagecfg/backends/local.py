"""The ``local`` backend: the sandbox engine in-process, on one SQLite file.

It speaks to :class:`~stagecfg.sandbox.Engine` with the same wire bodies the ``stream`` backend
sends over HTTP and converts the answers with :mod:`stagecfg.wire`, so both backends agree on
what a call type or call looks like. Engine refusals become :class:`BackendError`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from stagecfg import wire
from stagecfg.backends import batches
from stagecfg.backends.base import Backend
from stagecfg.errors import BackendError, BackendFailure, ConfigError
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    ActualState,
    AppVocabulary,
    CallState,
    CallTypeState,
    Json,
    UserState,
    split_cid,
)
from stagecfg.sandbox import Engine, StreamAPIError, filelock


class LocalBackend(Backend):
    """A sandbox file; safe to use from several threads (the engine keeps one connection each)."""

    name = "local"

    def __init__(self, engine: Engine, *, created: bool = False) -> None:
        self.engine = engine
        self.created = created  # the file did not exist before this backend opened it
        self._lock: filelock.ApplyLock | None = None

    def notices(self) -> list[str]:
        if not self.created:
            return []
        # A mistyped --sandbox silently meaning "an empty app" would show everything as new.
        return [
            f"note: created a new, empty sandbox at {self.engine.path}; if you meant an existing "
            "one, check --sandbox / STAGECFG_SANDBOX"
        ]

    def __repr__(self) -> str:
        return f"LocalBackend({self.engine.path!r})"

    def describe(self) -> str:
        return f"local sandbox {self.engine.path}"

    def identity(self) -> str:
        return f"local:{self.engine.path}"

    def lock_for_apply(self) -> None:
        """An exclusive lock on the sandbox file itself, whatever name it was opened by, held
        until close (or until the process dies). See :mod:`stagecfg.sandbox.filelock`."""
        if self._lock is None:
            self._lock = filelock.lock_for_apply(Path(self.engine.path))

    def close(self) -> None:
        self.engine.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _call(self, operation: str, kind: str, name: str, action: Callable[[], Json]) -> Json:
        try:
            return action()
        except StreamAPIError as exc:
            raise BackendError(
                exc.message,
                operation=operation,
                kind=kind,
                name=name,
                failure=BackendFailure(status=exc.status, code=exc.code, message=exc.message),
            ) from None
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, ...
            raise BackendError(
                f"sandbox {self.engine.path}: {exc}", operation=operation, kind=kind, name=name
            ) from None
        except sqlite3.DatabaseError:
            # Pages that went bad after the check on opening (see Store._check_is_sandbox).
            raise BackendError(
                f"sandbox {self.engine.path} is not a valid stagecfg sandbox (database disk "
                "image is malformed); restore it from a backup, or remove it to start an empty "
                "sandbox"
            ) from None

    # --- reads ----------------------------------------------------------------------------------

    def read(
        self,
        *,
        cids: Collection[str] = (),
        users: Collection[str] = (),
        all_calls: bool = False,
        all_users: bool = False,
    ) -> ActualState:
        body = self._call("read", KIND_CALL_TYPE, "*", self.engine.list_call_types)
        calls: dict[str, CallState] = {}
        for conditions in batches.call_filters(cids, all_calls=all_calls):
            calls.update((c.cid, c) for c in self.query_calls(conditions))
        found: dict[str, UserState] = {}
        for request in batches.user_queries(users):
            found.update(batches.users_from_wire(self._query_users(request)))
        if all_users:
            found.update(batches.query_every_user(self._query_users))
        return batches.actual_state(batches.call_types_from_wire(body), calls, found)

    def _query_users(self, request: Json) -> Json:
        return self._call(
            "read", KIND_USER, "", functools.partial(self.engine.query_users, request)
        )

    def read_vocabulary(self) -> AppVocabulary:
        permissions = self._call("read", "permissions", "*", self.engine.list_permissions)
        roles = self._call("read", "roles", "*", self.engine.list_roles)
        try:
            return AppVocabulary(
                permissions=wire.permission_ids_from_wire(permissions),
                roles=wire.role_names_from_wire(roles),
                source=self.describe(),
            )
        except wire.WireError as exc:  # a sandbox bug, not bad input
            raise BackendError(f"unexpected answer: {exc}", operation="read") from None

    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        def fetch(request: Json) -> Json:
            return self._call(
                "query", KIND_CALL, "", functools.partial(self.engine.query_calls, request)
            )

        return batches.query_all_calls(fetch, filter_conditions)

    # --- call types -----------------------------------------------------------------------------

    def create_call_type(self, name: str, body: Json) -> CallTypeState:
        result = self._call(
            "create",
            KIND_CALL_TYPE,
            name,
            lambda: self.engine.create_call_type({**body, "name": name}),
        )
        return wire.call_type_from_wire(result)

    def update_call_type(self, name: str, body: Json) -> CallTypeState:
        result = self._call(
            "update", KIND_CALL_TYPE, name, lambda: self.engine.update_call_type(name, body)
        )
        return wire.call_type_from_wire(result)

    def delete_call_type(self, name: str) -> None:
        self._call("delete", KIND_CALL_TYPE, name, lambda: self.engine.delete_call_type(name))

    # --- calls ----------------------------------------------------------------------------------

    def _get_call(self, cid: str, operation: str) -> CallState:
        call_type, call_id = split_cid(cid)
        body = self._call(
            operation, KIND_CALL, cid, lambda: self.engine.get_call(call_type, call_id)
        )
        return wire.call_from_wire(body)

    def create_call(self, cid: str, data: Json) -> CallState:
        call_type, call_id = split_cid(cid)
        body = self._call(
            "create",
            KIND_CALL,
            cid,
            lambda: self.engine.get_or_create_call(call_type, call_id, {"data": data}),
        )
        return wire.call_from_wire(body)

    def update_call(self, cid: str, body: Json) -> CallState:
        call_type, call_id = split_cid(cid)
        result = self._call(
            "update", KIND_CALL, cid, lambda: self.engine.update_call(call_type, call_id, body)
        )
        return wire.call_from_wire(result)

    def delete_call(self, cid: str) -> None:
        call_type, call_id = split_cid(cid)
        self._call(
            "delete",
            KIND_CALL,
            cid,
            lambda: self.engine.delete_call(call_type, call_id, {"hard": False}),
        )

    def go_live(self, cid: str, options: Json) -> CallState:
        call_type, call_id = split_cid(cid)
        self._call(
            "go_live", KIND_CALL, cid, lambda: self.engine.go_live(call_type, call_id, options)
        )
        # GoLive answers with the call but not its members; read both back.
        return self._get_call(cid, "go_live")

    def stop_live(self, cid: str, options: Json) -> CallState:
        call_type, call_id = split_cid(cid)
        self._call(
            "stop_live", KIND_CALL, cid, lambda: self.engine.stop_live(call_type, call_id, options)
        )
        return self._get_call(cid, "stop_live")

    # --- users and members ----------------------------------------------------------------------

    def upsert_users(self, users: Mapping[str, Json]) -> None:
        for name, body in batches.user_upserts(users):
            self._call("upsert", KIND_USER, name, functools.partial(self.engine.upsert_users, body))

    def update_users_partial(self, users: Mapping[str, Json]) -> None:
        for name, body in batches.user_partial_updates(users):
            self._call(
                "update", KIND_USER, name, functools.partial(self.engine.update_users_partial, body)
            )

    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        call_type, call_id = split_cid(cid)
        for body in batches.member_updates(update, remove):
            self._call(
                "update-members",
                KIND_CALL,
                cid,
                functools.partial(self.engine.update_call_members, call_type, call_id, body),
            )


def open_backend(*, sandbox_path: str | None = None, **_ignored: Any) -> LocalBackend:
    """The sandbox at ``sandbox_path`` (created, with its parent directory, if missing)."""
    if not sandbox_path:
        raise ConfigError("the local backend needs a sandbox path (--sandbox or STAGECFG_SANDBOX)")
    path = Path(sandbox_path).expanduser().absolute()
    if path.is_dir():
        raise ConfigError(f"sandbox path {path} is a directory; give a file such as {path}/app.db")
    created = not path.exists()
    try:
        engine = Engine(path)
    except ConfigError:
        raise  # the store's own, naming the file and what to do
    except OSError as exc:
        raise ConfigError(f"cannot open sandbox {path}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:  # locked beyond the busy timeout, read-only folder, ...
        raise ConfigError(f"cannot open sandbox {path}: {exc}") from None
    return LocalBackend(engine, created=created)
