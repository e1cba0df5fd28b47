"""The sandbox engine: Stream Video's server-side semantics over one SQLite file.

Methods take Stream wire request bodies (dicts as the REST API receives them) and return wire
response bodies (timestamps as integer nanoseconds) without ``duration``; the HTTP emulator adds
that. Refusals raise :class:`~stagecfg.sandbox.apierror.StreamAPIError` with Stream's codes.

:class:`Engine` is a thin facade: it owns the store and the clock and hands each call to the
resource module that implements it (see :mod:`stagecfg.sandbox` for the map). A new operation
is a function in its resource module plus one method here.

The call controls take ``caller``: None for a server-side request, which may do everything, or
the user id of a user token, who needs the permission Stream's rules name for the control.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime

from stagecfg import timestamps
from stagecfg.model import Json
from stagecfg.sandbox import (
    application,
    call_types,
    calls,
    egress,
    events,
    grants,
    join,
    live,
    members,
    moderation,
    participants,
    roles,
    signals,
    storage,
    tasks,
    user_blocks,
    user_status,
    users,
)
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.store import Store

__all__ = ["Engine", "Json"]

#: Who sends a call control: None (server-side) or the user id of a user token.
Caller = str | None


class Engine:
    """A Stream Video app held in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = Store(path)
        self._ctx = Context(self._store, clock or timestamps.now_utc)
        call_types.seed(self._ctx)

    @property
    def path(self) -> str:
        return str(self._store.path)

    def close(self) -> None:
        self._store.close()

    def snapshot(self, target: str | os.PathLike[str]) -> None:
        """Save the whole app to the new file ``target``, for :meth:`restore` (tests' resets)."""
        self._store.copy_to(target)

    def restore(self, source: str | os.PathLike[str]) -> None:
        """Make the app exactly what :meth:`snapshot` saved in ``source``, in one step."""
        self._store.restore_from(source)

    # --- call types (stagecfg.sandbox.call_types) -----------------------------------------

    def list_call_types(self) -> Json:
        return call_types.list_call_types(self._ctx)

    def get_call_type(self, name: str) -> Json:
        return call_types.get_call_type(self._ctx, name)

    def create_call_type(self, body: Json) -> Json:
        return call_types.create_call_type(self._ctx, body)

    def update_call_type(self, name: str, body: Json) -> Json:
        return call_types.update_call_type(self._ctx, name, body)

    def delete_call_type(self, name: str) -> Json:
        return call_types.delete_call_type(self._ctx, name)

    # --- users (stagecfg.sandbox.users) ---------------------------------------------------

    def upsert_users(self, body: Json) -> Json:
        return users.upsert_users(self._ctx, body)

    def update_users_partial(self, body: Json) -> Json:
        """UpdateUsersPartial: only the fields each user's ``set`` / ``unset`` names change."""
        return users.update_users_partial(self._ctx, body)

    def query_users(self, body: Json) -> Json:
        """QueryUsers: Stream's filters on built-in and custom fields, sort, limit / offset."""
        return users.query_users(self._ctx, body)

    # --- users' account state (stagecfg.sandbox.user_status) ------------------------------

    def deactivate_user(self, user_id: str, body: Json | None = None) -> Json:
        return user_status.deactivate_user(self._ctx, user_id, body)

    def deactivate_users(self, body: Json) -> Json:
        return user_status.deactivate_users(self._ctx, body)

    def reactivate_user(self, user_id: str, body: Json | None = None) -> Json:
        return user_status.reactivate_user(self._ctx, user_id, body)

    def reactivate_users(self, body: Json) -> Json:
        return user_status.reactivate_users(self._ctx, body)

    def delete_users(self, body: Json) -> Json:
        return user_status.delete_users(self._ctx, body)

    def restore_users(self, body: Json) -> Json:
        return user_status.restore_users(self._ctx, body)

    # --- roles and permissions (stagecfg.sandbox.roles) -----------------------------------

    def list_permissions(self) -> Json:
        return roles.list_permissions(self._ctx)

    def get_permission(self, permission_id: str) -> Json:
        return roles.get_permission(self._ctx, permission_id)

    def list_roles(self) -> Json:
        return roles.list_roles(self._ctx)

    def create_role(self, body: Json) -> Json:
        return roles.create_role(self._ctx, body)

    def delete_role(self, name: str) -> Json:
        return roles.delete_role(self._ctx, name)

    # --- calls (stagecfg.sandbox.calls) ---------------------------------------------------

    def get_call(self, call_type: str, call_id: str, *, caller: Caller = None) -> Json:
        """GetCall; a user ``caller`` needs read-call and gets their own_capabilities."""
        return calls.get_call(self._ctx, call_type, call_id, caller)

    def get_or_create_call(self, call_type: str, call_id: str, body: Json) -> Json:
        return calls.get_or_create_call(self._ctx, call_type, call_id, body)

    def update_call(self, call_type: str, call_id: str, body: Json) -> Json:
        return calls.update_call(self._ctx, call_type, call_id, body)

    def delete_call(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        return calls.delete_call(self._ctx, call_type, call_id, body)

    def mark_ended(self, call_type: str, call_id: str) -> Json:
        return calls.mark_ended(self._ctx, call_type, call_id)

    def query_calls(self, body: Json) -> Json:
        return calls.query_calls(self._ctx, body)

    # --- live state (stagecfg.sandbox.live) -----------------------------------------------

    def go_live(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        return live.go_live(self._ctx, call_type, call_id, body)

    def stop_live(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        return live.stop_live(self._ctx, call_type, call_id, body)

    # --- members (stagecfg.sandbox.members) -----------------------------------------------

    def update_call_members(self, call_type: str, call_id: str, body: Json) -> Json:
        return members.update_call_members(self._ctx, call_type, call_id, body)

    def query_call_members(self, body: Json) -> Json:
        return members.query_call_members(self._ctx, body)

    # --- client-side join (stagecfg.sandbox.join) -----------------------------------------

    def join_call(self, call_type: str, call_id: str, *, user_id: str, body: Json) -> Json:
        """A user joins (client-side): the call type's current grants decide whether they may."""
        return join.join_call(self._ctx, call_type, call_id, user_id=user_id, body=body)

    # --- egress: HLS, recordings, RTMP, transcription, captions (stagecfg.sandbox.egress) ---

    def start_hls_broadcasting(
        self, call_type: str, call_id: str, *, caller: Caller = None
    ) -> Json:
        return egress.start_hls(self._ctx, call_type, call_id, caller)

    def stop_hls_broadcasting(self, call_type: str, call_id: str, *, caller: Caller = None) -> Json:
        return egress.stop_hls(self._ctx, call_type, call_id, caller)

    def start_recording(
        self,
        call_type: str,
        call_id: str,
        recording_type: str,
        body: Json,
        *,
        caller: Caller = None,
    ) -> Json:
        """StartRecording of ``composite``, ``individual`` or ``raw``."""
        return egress.start_recording(self._ctx, call_type, call_id, recording_type, body, caller)

    def stop_recording(
        self,
        call_type: str,
        call_id: str,
        recording_type: str,
        body: Json,
        *,
        caller: Caller = None,
    ) -> Json:
        return egress.stop_recording(self._ctx, call_type, call_id, recording_type, body, caller)

    def list_recordings(self, call_type: str, call_id: str, *, caller: Caller = None) -> Json:
        return egress.list_recordings(self._ctx, call_type, call_id, caller)

    def list_transcriptions(self, call_type: str, call_id: str, *, caller: Caller = None) -> Json:
        return egress.list_transcriptions(self._ctx, call_type, call_id, caller)

    def start_transcription(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.start_transcription(self._ctx, call_type, call_id, body, caller)

    def stop_transcription(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.stop_transcription(self._ctx, call_type, call_id, body, caller)

    def start_closed_captions(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.start_closed_captions(self._ctx, call_type, call_id, body, caller)

    def stop_closed_captions(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.stop_closed_captions(self._ctx, call_type, call_id, body, caller)

    def start_rtmp_broadcasts(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.start_rtmp(self._ctx, call_type, call_id, body, caller)

    def stop_rtmp_broadcast(
        self, call_type: str, call_id: str, name: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return egress.stop_rtmp(self._ctx, call_type, call_id, name, body, caller)

    def stop_all_rtmp_broadcasts(
        self, call_type: str, call_id: str, *, caller: Caller = None
    ) -> Json:
        return egress.stop_all_rtmp(self._ctx, call_type, call_id, caller)

    # --- moderation (stagecfg.sandbox.moderation) and per-call grants (.grants) ------------

    def block_user(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return moderation.block_user(self._ctx, call_type, call_id, body, caller)

    def unblock_user(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return moderation.unblock_user(self._ctx, call_type, call_id, body, caller)

    def kick_user(self, call_type: str, call_id: str, body: Json, *, caller: Caller = None) -> Json:
        return moderation.kick_user(self._ctx, call_type, call_id, body, caller)

    def mute_users(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return moderation.mute_users(self._ctx, call_type, call_id, body, caller)

    def pin(self, call_type: str, call_id: str, body: Json, *, caller: Caller = None) -> Json:
        return moderation.pin(self._ctx, call_type, call_id, body, caller)

    def unpin(self, call_type: str, call_id: str, body: Json, *, caller: Caller = None) -> Json:
        return moderation.unpin(self._ctx, call_type, call_id, body, caller)

    def update_user_permissions(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        """Grant and revoke permissions for one user in one call."""
        return grants.update_user_permissions(self._ctx, call_type, call_id, body, caller)

    # --- events, ringing and who is in a call (.signals, .participants) --------------------

    def send_call_event(
        self, call_type: str, call_id: str, body: Json, *, caller: Caller = None
    ) -> Json:
        return signals.send_call_event(self._ctx, call_type, call_id, body, caller)

    def ring_call(self, call_type: str, call_id: str, body: Json, *, caller: Caller = None) -> Json:
        return signals.ring_call(self._ctx, call_type, call_id, body, caller)

    def query_call_participants(
        self,
        call_type: str,
        call_id: str,
        body: Json,
        *,
        limit: int | str | None = None,
        caller: Caller = None,
    ) -> Json:
        return participants.query_call_participants(
            self._ctx, call_type, call_id, body, limit, caller
        )

    def active_calls_status(self) -> Json:
        return participants.active_calls_status(self._ctx)

    # --- tasks (stagecfg.sandbox.tasks) ------------------------------------------------------

    def get_task(self, task_id: str) -> Json:
        """GetTask: the task a hard DeleteCall or a batch of user changes started (done at
        once in the sandbox)."""
        return tasks.get_task(self._ctx, task_id)

    # --- external storage (stagecfg.sandbox.storage) -------------------------------------

    def list_external_storage(self) -> Json:
        return storage.list_external_storage(self._ctx)

    def create_external_storage(self, body: Json) -> Json:
        return storage.create_external_storage(self._ctx, body)

    def update_external_storage(self, name: str, body: Json) -> Json:
        return storage.update_external_storage(self._ctx, name, body)

    def delete_external_storage(self, name: str) -> Json:
        return storage.delete_external_storage(self._ctx, name)

    # --- users blocking users (stagecfg.sandbox.user_blocks) ------------------------------

    def block_users(self, body: Json, *, caller: Caller = None) -> Json:
        """BlockUsers: one user blocks another across the app."""
        return user_blocks.block_users(self._ctx, body, caller)

    def unblock_users(self, body: Json, *, caller: Caller = None) -> Json:
        return user_blocks.unblock_users(self._ctx, body, caller)

    def get_blocked_users(self, user_id: str | None = None, *, caller: Caller = None) -> Json:
        return user_blocks.get_blocked_users(self._ctx, user_id, caller)

    # --- the app (stagecfg.sandbox.application) -------------------------------------------

    def get_app(self) -> Json:
        """GetApp: the app's settings and every call type."""
        return application.get_app(self._ctx)

    # --- the event log (stagecfg.sandbox.events) ----------------------------------------------

    def query_events(
        self,
        *,
        types: Sequence[str] = (),
        call_cid: str | None = None,
        since: int = 0,
        limit: int = events.DEFAULT_READ,
    ) -> Json:
        """The events Stream would have sent, oldest first: ``{"events": [{"id", "event"}],
        "last_id"}``; ``since`` an id (only later events), ``types`` and ``call_cid`` filters."""
        return events.query_events(
            self._ctx, types=types, call_cid=call_cid, since=since, limit=limit
        )

    def reset_events(self) -> Json:
        return events.reset_events(self._ctx)
