"""The backend interface: the small set of operations stagecfg needs from a Stream app.

Contract (every backend):

* MUST read with as few round trips as the backend allows: all call types in one read, calls by
  cid in batches (never one request per declared resource).
* MUST make each write a single operation on the backend, and raise :class:`BackendError`
  (naming operation, kind and object) when it fails. A write either happened or did not.
* MUST return the object as the backend holds it after a write.
* MUST NOT retry, reorder or decide what is safe: ordering, parallelism, retries policy and
  safety rules live in :mod:`stagecfg.apply` and the HTTP client.
* MUST NOT put secrets into ``describe()``, ``identity()``, errors or logs.
* SHOULD be usable from several threads at once (apply runs changes of one stage in parallel).
* MAY cache nothing: every ``read`` reflects the backend at the time of the call.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping

from stagecfg.model import ActualState, AppVocabulary, CallState, CallTypeState, Json


class Backend(abc.ABC):
    """A Stream app (or something that behaves like one)."""

    #: registry key: ``--backend NAME``
    name: str = ""

    @abc.abstractmethod
    def describe(self) -> str:
        """Human-readable target for plan headers, e.g. ``local sandbox .stagecfg/sandbox.db``."""

    @abc.abstractmethod
    def identity(self) -> str:
        """Stable identity recorded in saved plans; apply refuses a plan made for another."""

    @abc.abstractmethod
    def read(
        self,
        *,
        cids: Collection[str] = (),
        users: Collection[str] = (),
        all_calls: bool = False,
        all_users: bool = False,
    ) -> ActualState:
        """All call types, the named calls that exist (not deleted), and the named users.

        With ``all_calls`` every call that is not deleted is returned too (for prune and export),
        and with ``all_users`` every user, deactivated ones included (for export).
        """

    @abc.abstractmethod
    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        """Calls matching a Stream QueryCalls filter, all pages."""

    @abc.abstractmethod
    def read_vocabulary(self) -> AppVocabulary:
        """The app's permission ids and roles (ListPermissions, ListRoles)."""

    # --- call types ---
    @abc.abstractmethod
    def create_call_type(self, name: str, body: Json) -> CallTypeState:
        """``body`` is a CreateCallTypeRequest without ``name``."""

    @abc.abstractmethod
    def update_call_type(self, name: str, body: Json) -> CallTypeState:
        """``body`` is an UpdateCallTypeRequest: grants replace per role, settings merge."""

    @abc.abstractmethod
    def delete_call_type(self, name: str) -> None: ...

    # --- calls ---
    @abc.abstractmethod
    def create_call(self, cid: str, data: Json) -> CallState:
        """Get-or-create; ``data`` is a CallRequest (created_by_id, starts_at, members, ...)."""

    @abc.abstractmethod
    def update_call(self, cid: str, body: Json) -> CallState:
        """``body`` is an UpdateCallRequest: starts_at, custom, settings_override."""

    @abc.abstractmethod
    def delete_call(self, cid: str) -> None:
        """Soft delete."""

    @abc.abstractmethod
    def go_live(self, cid: str, options: Json) -> CallState:
        """``options`` is a GoLiveRequest (start_hls, start_recording, ...)."""

    @abc.abstractmethod
    def stop_live(self, cid: str, options: Json) -> CallState:
        """``options`` is a StopLiveRequest."""

    # --- users and members ---
    @abc.abstractmethod
    def upsert_users(self, users: Mapping[str, Json]) -> None:
        """``users`` maps user id -> UserRequest. Stream replaces each user whole: a field left
        out is removed, so this is for users that do not exist yet."""

    @abc.abstractmethod
    def update_users_partial(self, users: Mapping[str, Json]) -> None:
        """``users`` maps user id -> ``{"set": {field: value}, "unset": [field]}``; every other
        field of each (existing) user stays as it is."""

    @abc.abstractmethod
    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        """``update`` holds MemberRequest objects; ``remove`` holds user ids."""

    def lock_for_apply(self) -> None:  # noqa: B027 - optional hook
        """Keep other applies off this backend until :meth:`close`, or raise BackendError now.

        Two applies racing on one app would each fail the creates the other won and could both
        stop half-way; a backend that can exclude writers (a sandbox file) does it here.
        """

    def notices(self) -> list[str]:
        """Things the user should know about the target before reading a plan (may be empty)."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""
