"""The route table: each Stream endpoint the emulator serves and the Engine method behind it.

To serve a new Stream endpoint, add one :class:`Operation` to :data:`OPERATIONS`: Stream's
operation id, HTTP method and path exactly as in Stream's OpenAPI spec (tests/test_emulator.py
checks server-side ids and success statuses against it), and a call that maps the path
parameters and JSON body onto a public Engine method. Auth, quota, faults, body parsing, stats
and error responses are applied to every operation by :mod:`stagecfg.emulator.app`; the
emulator needs no other change. A call that needs more than a one-line lambda (checking the
caller, reshaping the answer) gets a named function here, next to the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stagecfg.model import Json
from stagecfg.sandbox.apierror import CODE_INPUT, CODE_INTERNAL, StreamAPIError, failed_message

#: ``call(engine, path_params, body, claims)``: the success body, or a StreamAPIError.
Call = Callable[[Any, dict[str, str], Json, Json], Json]


@dataclass(frozen=True)
class Operation:
    """One endpoint: Stream's operation id, method, path, success status and engine call."""

    operation_id: str
    method: str
    path: str
    status: int
    call: Call
    has_body: bool = True  # False: the request body is not read, and the call gets {}
    client_side: bool = False  # True: user tokens are accepted, not only server-side ones
    query_payload: bool = False  # True: the call's body is the ``payload`` query parameter
    #: Query parameters handed to the call with the path parameters, when the request has them.
    query_params: tuple[str, ...] = ()


def _join(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    user_id = claims.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise StreamAPIError(
            400, CODE_INPUT, failed_message("JoinCall", "joining a call needs a user token")
        )
    # Looked up rather than called, so the emulator still serves an engine without joins.
    join = getattr(engine, "join_call", None)
    if join is None:
        raise StreamAPIError(
            501, CODE_INTERNAL, failed_message("JoinCall", "not supported by this engine")
        )
    result: Json = join(p["type"], p["id"], user_id=user_id, body=body)
    return result


def _caller(claims: Json) -> str | None:
    """Who sends a call control or reads a call: a user token's user, or None (server-side)."""
    user_id = claims.get("user_id")
    return user_id if isinstance(user_id, str) and user_id else None


def _get_call(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    # A user token reads the call as that user (own_capabilities are theirs); a server-side
    # token as the server.
    result: Json = engine.get_call(p["type"], p["id"], caller=_caller(claims))
    return result


#: QueryUsers answers with FullUserResponse: the video sandbox has no chat state, so these are
#: the values of a user who has none.
_CHAT_FIELDS: Json = {
    "channel_mutes": [],
    "devices": [],
    "mutes": [],
    "total_unread_count": 0,
    "unread_channels": 0,
    "unread_count": 0,
    "unread_threads": 0,
}


def _query_users(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    result: Json = engine.query_users(body)
    result["users"] = [{**_CHAT_FIELDS, **user} for user in result.get("users") or ()]
    return result


def _participants(engine: Any, p: dict[str, str], body: Json, claims: Json) -> Json:
    result: Json = engine.query_call_participants(
        p["type"], p["id"], body, limit=p.get("limit"), caller=_caller(claims)
    )
    return result


CALL = "/api/v2/video/call/{type}/{id}"
# One line per endpoint reads as a table; ruff format would spread each over six.
OPERATIONS: tuple[Operation, ...] = (
    Operation("ListCallTypes", "GET", "/api/v2/video/calltypes", 200,
              lambda e, p, b, c: e.list_call_types(), has_body=False),
    Operation("CreateCallType", "POST", "/api/v2/video/calltypes", 201,
              lambda e, p, b, c: e.create_call_type(b)),
    Operation("GetCallType", "GET", "/api/v2/video/calltypes/{name}", 200,
              lambda e, p, b, c: e.get_call_type(p["name"]), has_body=False),
    Operation("UpdateCallType", "PUT", "/api/v2/video/calltypes/{name}", 201,
              lambda e, p, b, c: e.update_call_type(p["name"], b)),
    Operation("DeleteCallType", "DELETE", "/api/v2/video/calltypes/{name}", 200,
              lambda e, p, b, c: e.delete_call_type(p["name"]), has_body=False),
    Operation("GetCall", "GET", CALL, 200, _get_call, has_body=False, client_side=True),
    Operation("GetOrCreateCall", "POST", CALL, 201,
              lambda e, p, b, c: e.get_or_create_call(p["type"], p["id"], b)),
    Operation("UpdateCall", "PATCH", CALL, 200,
              lambda e, p, b, c: e.update_call(p["type"], p["id"], b)),
    Operation("DeleteCall", "POST", CALL + "/delete", 201,
              lambda e, p, b, c: e.delete_call(p["type"], p["id"], b)),
    Operation("EndCall", "POST", CALL + "/mark_ended", 201,
              lambda e, p, b, c: e.mark_ended(p["type"], p["id"])),
    Operation("GoLive", "POST", CALL + "/go_live", 201,
              lambda e, p, b, c: e.go_live(p["type"], p["id"], b)),
    Operation("StopLive", "POST", CALL + "/stop_live", 201,
              lambda e, p, b, c: e.stop_live(p["type"], p["id"], b)),
    Operation("UpdateCallMembers", "POST", CALL + "/members", 201,
              lambda e, p, b, c: e.update_call_members(p["type"], p["id"], b)),
    Operation("JoinCall", "POST", CALL + "/join", 201, _join, client_side=True),
    Operation("QueryCalls", "POST", "/api/v2/video/calls", 201,
              lambda e, p, b, c: e.query_calls(b)),
    Operation("QueryCallMembers", "POST", "/api/v2/video/call/members", 201,
              lambda e, p, b, c: e.query_call_members(b)),
    Operation("UpdateUsers", "POST", "/api/v2/users", 201,
              lambda e, p, b, c: e.upsert_users(b)),
    Operation("UpdateUsersPartial", "PATCH", "/api/v2/users", 200,
              lambda e, p, b, c: e.update_users_partial(b)),
    Operation("QueryUsers", "GET", "/api/v2/users", 200, _query_users, has_body=False,
              query_payload=True),
    Operation("DeactivateUser", "POST", "/api/v2/users/{user_id}/deactivate", 201,
              lambda e, p, b, c: e.deactivate_user(p["user_id"], b)),
    Operation("DeactivateUsers", "POST", "/api/v2/users/deactivate", 201,
              lambda e, p, b, c: e.deactivate_users(b)),
    Operation("ReactivateUser", "POST", "/api/v2/users/{user_id}/reactivate", 201,
              lambda e, p, b, c: e.reactivate_user(p["user_id"], b)),
    Operation("ReactivateUsers", "POST", "/api/v2/users/reactivate", 201,
              lambda e, p, b, c: e.reactivate_users(b)),
    Operation("DeleteUsers", "POST", "/api/v2/users/delete", 201,
              lambda e, p, b, c: e.delete_users(b)),
    Operation("RestoreUsers", "POST", "/api/v2/users/restore", 201,
              lambda e, p, b, c: e.restore_users(b)),
    Operation("ListPermissions", "GET", "/api/v2/permissions", 200,
              lambda e, p, b, c: e.list_permissions(), has_body=False),
    Operation("GetPermission", "GET", "/api/v2/permissions/{id}", 200,
              lambda e, p, b, c: e.get_permission(p["id"]), has_body=False),
    Operation("ListRoles", "GET", "/api/v2/roles", 200,
              lambda e, p, b, c: e.list_roles(), has_body=False),
    Operation("CreateRole", "POST", "/api/v2/roles", 201,
              lambda e, p, b, c: e.create_role(b)),
    Operation("DeleteRole", "DELETE", "/api/v2/roles/{name}", 200,
              lambda e, p, b, c: e.delete_role(p["name"]), has_body=False),
    # Livestream controls: user tokens are accepted, and need the permission Stream's rules name.
    Operation("UpdateUserPermissions", "POST", CALL + "/user_permissions", 201,
              lambda e, p, b, c: e.update_user_permissions(p["type"], p["id"], b,
                                                           caller=_caller(c)), client_side=True),
    Operation("StartHLSBroadcasting", "POST", CALL + "/start_broadcasting", 201,
              lambda e, p, b, c: e.start_hls_broadcasting(p["type"], p["id"], caller=_caller(c)),
              has_body=False, client_side=True),
    Operation("StopHLSBroadcasting", "POST", CALL + "/stop_broadcasting", 201,
              lambda e, p, b, c: e.stop_hls_broadcasting(p["type"], p["id"], caller=_caller(c)),
              has_body=False, client_side=True),
    Operation("StartRecording", "POST", CALL + "/recordings/{recording_type}/start", 201,
              lambda e, p, b, c: e.start_recording(p["type"], p["id"], p["recording_type"], b,
                                                   caller=_caller(c)), client_side=True),
    Operation("StopRecording", "POST", CALL + "/recordings/{recording_type}/stop", 201,
              lambda e, p, b, c: e.stop_recording(p["type"], p["id"], p["recording_type"], b,
                                                  caller=_caller(c)), client_side=True),
    Operation("ListRecordings", "GET", CALL + "/recordings", 200,
              lambda e, p, b, c: e.list_recordings(p["type"], p["id"], caller=_caller(c)),
              has_body=False, client_side=True),
    Operation("StartTranscription", "POST", CALL + "/start_transcription", 201,
              lambda e, p, b, c: e.start_transcription(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("StopTranscription", "POST", CALL + "/stop_transcription", 201,
              lambda e, p, b, c: e.stop_transcription(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("ListTranscriptions", "GET", CALL + "/transcriptions", 200,
              lambda e, p, b, c: e.list_transcriptions(p["type"], p["id"], caller=_caller(c)),
              has_body=False, client_side=True),
    Operation("StartClosedCaptions", "POST", CALL + "/start_closed_captions", 201,
              lambda e, p, b, c: e.start_closed_captions(p["type"], p["id"], b,
                                                         caller=_caller(c)), client_side=True),
    Operation("StopClosedCaptions", "POST", CALL + "/stop_closed_captions", 201,
              lambda e, p, b, c: e.stop_closed_captions(p["type"], p["id"], b,
                                                        caller=_caller(c)), client_side=True),
    Operation("StartRTMPBroadcasts", "POST", CALL + "/rtmp_broadcasts", 201,
              lambda e, p, b, c: e.start_rtmp_broadcasts(p["type"], p["id"], b,
                                                         caller=_caller(c)), client_side=True),
    Operation("StopRTMPBroadcast", "POST", CALL + "/rtmp_broadcasts/{name}/stop", 201,
              lambda e, p, b, c: e.stop_rtmp_broadcast(p["type"], p["id"], p["name"], b,
                                                       caller=_caller(c)), client_side=True),
    Operation("StopAllRTMPBroadcasts", "POST", CALL + "/rtmp_broadcasts/stop", 201,
              lambda e, p, b, c: e.stop_all_rtmp_broadcasts(p["type"], p["id"], caller=_caller(c)),
              has_body=False, client_side=True),
    Operation("MuteUsers", "POST", CALL + "/mute_users", 201,
              lambda e, p, b, c: e.mute_users(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("BlockUser", "POST", CALL + "/block", 201,
              lambda e, p, b, c: e.block_user(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("UnblockUser", "POST", CALL + "/unblock", 201,
              lambda e, p, b, c: e.unblock_user(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("KickUser", "POST", CALL + "/kick", 201,
              lambda e, p, b, c: e.kick_user(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("VideoPin", "POST", CALL + "/pin", 201,
              lambda e, p, b, c: e.pin(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("VideoUnpin", "POST", CALL + "/unpin", 201,
              lambda e, p, b, c: e.unpin(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("SendCallEvent", "POST", CALL + "/event", 201,
              lambda e, p, b, c: e.send_call_event(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("RingCall", "POST", CALL + "/ring", 201,
              lambda e, p, b, c: e.ring_call(p["type"], p["id"], b, caller=_caller(c)),
              client_side=True),
    Operation("QueryCallParticipants", "POST", CALL + "/participants", 201, _participants,
              client_side=True, query_params=("limit",)),
    Operation("GetActiveCallsStatus", "GET", "/api/v2/video/active_calls_status", 200,
              lambda e, p, b, c: e.active_calls_status(), has_body=False),
    Operation("GetTask", "GET", "/api/v2/tasks/{id}", 200,
              lambda e, p, b, c: e.get_task(p["id"]), has_body=False),
    # The app's external storage (where recordings and transcriptions go).
    Operation("CreateExternalStorage", "POST", "/api/v2/external_storage", 201,
              lambda e, p, b, c: e.create_external_storage(b)),
    Operation("ListExternalStorage", "GET", "/api/v2/external_storage", 200,
              lambda e, p, b, c: e.list_external_storage(), has_body=False),
    Operation("UpdateExternalStorage", "PUT", "/api/v2/external_storage/{name}", 201,
              lambda e, p, b, c: e.update_external_storage(p["name"], b)),
    Operation("DeleteExternalStorage", "DELETE", "/api/v2/external_storage/{name}", 200,
              lambda e, p, b, c: e.delete_external_storage(p["name"]), has_body=False),
    # Users blocking users across the app: a user token blocks as its own user.
    Operation("BlockUsers", "POST", "/api/v2/users/block", 201,
              lambda e, p, b, c: e.block_users(b, caller=_caller(c)), client_side=True),
    Operation("GetBlockedUsers", "GET", "/api/v2/users/block", 200,
              lambda e, p, b, c: e.get_blocked_users(p.get("user_id"), caller=_caller(c)),
              has_body=False, client_side=True, query_params=("user_id",)),
    Operation("UnblockUsers", "POST", "/api/v2/users/unblock", 201,
              lambda e, p, b, c: e.unblock_users(b, caller=_caller(c)), client_side=True),
    # The app: its settings and every call type, in GetApp's shape.
    Operation("GetApp", "GET", "/api/v2/app", 200,
              lambda e, p, b, c: e.get_app(), has_body=False),
)  # fmt: skip
