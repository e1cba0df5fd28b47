"""The sandbox: a Stream Video app simulated over SQLite (used by ``local`` and the emulator).

:class:`Engine` (:mod:`.engine`) is the facade the emulator, the ``local`` backend and the bench
call; each operation lives in the module of the resource it acts on. Stream's rules shared with
the planner and the access review (settings merge, built-ins, permissions, roles, the join
decision) are not here but in :mod:`stagecfg.rules`, which these modules call.

Modules, each importing only those above it:

* :mod:`.filelock`: the apply lock on the sandbox file itself and the lock around creating one.
* :mod:`.apierror`, :mod:`.store`, :mod:`.query`, :mod:`.nulls`: Stream's error codes; the
  SQLite file and its transactions; filters, sorts and cursors compiled to SQL; the fields
  Stream sends as ``null`` when unset.
* :mod:`.user_filters`: QueryUsers' filter operators and sort, compiled to SQL.
* :mod:`.requests`: checks on request bodies shared by all (keys, settings, grants,
  notification settings, timestamps, the id rule).
* :mod:`.context`: the store and the clock every operation works in.
* :mod:`.responses`: every wire response body, and the batched reads that render calls.
* :mod:`.call_rows`: the ``calls`` table's row layout; finding and saving a call.
* :mod:`.tasks`: the tasks a hard DeleteCall and the batch user operations record, and GetTask.
* :mod:`.events`: the event log (what Stream would send for each change, written in its
  transaction), saving a call with the events of what changed, and reading the log.
* :mod:`.call_types`: call type CRUD and the built-ins' seeding.
* :mod:`.users`: UpdateUsers, UpdateUsersPartial, QueryUsers, and user rows for other resources.
* :mod:`.roles`: ListPermissions, GetPermission, ListRoles, CreateRole, DeleteRole.
* :mod:`.storage`: ListExternalStorage, CreateExternalStorage, UpdateExternalStorage,
  DeleteExternalStorage.
* :mod:`.members`: UpdateCallMembers, QueryCallMembers, member rows and a user's call roles.
* :mod:`.user_status`: DeactivateUser(s), ReactivateUser(s), DeleteUsers, RestoreUsers (the
  batch ones record their task).
* :mod:`.user_blocks`: BlockUsers, UnblockUsers, GetBlockedUsers (users blocking users).
* :mod:`.application`: GetApp, with every call type in GetApp's shape.
* :mod:`.grants`: a user's permissions in one call, the check every call control makes
  (server-side may do everything), and UpdateUserPermissions.
* :mod:`.egress`: HLS, recordings, RTMP, transcription and closed captions, and the state
  changes GoLive, StopLive and EndCall share; ListRecordings and ListTranscriptions.
* :mod:`.moderation`: BlockUser, UnblockUser, KickUser, MuteUsers, VideoPin, VideoUnpin.
* :mod:`.calls`: GetCall, GetOrCreateCall, UpdateCall, DeleteCall, EndCall, QueryCalls.
* :mod:`.live`: GoLive, StopLive, and the call's session.
* :mod:`.participants`: QueryCallParticipants and GetActiveCallsStatus.
* :mod:`.signals`: SendCallEvent and RingCall.
* :mod:`.join`: client-side JoinCall, and creating the call on join.
* :mod:`.engine`: the :class:`Engine` facade.

Where Stream's behaviour is not documented, the choice made is listed in the docstring of the
module that makes it.
"""

from __future__ import annotations

from stagecfg.sandbox.apierror import StreamAPIError
from stagecfg.sandbox.engine import Engine

__all__ = ["Engine", "StreamAPIError"]
