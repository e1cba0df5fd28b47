"""The event log: the events Stream would send for each change, written in the change's own
transaction, so a refused request (rolled back) emits nothing and every event describes a
change that is in the file.

Each event body is Stream's (``WHEvent``'s members in the spec: ``type``, ``created_at``,
``call_cid`` and the event's own fields, the call rendered as GetCall renders it). The log is
the ``events`` table: ids only grow (``AUTOINCREMENT``, so neither a reset nor trimming ever
hands an id out twice), and it keeps the newest :data:`MAX_EVENTS`, dropping the oldest.

A change to a call is saved through :func:`save_call`, which emits the operation's own events
(``call.updated``, ``call.live_started``, ...) and then those of what changed in the call's
state, found by comparing it before and after (:func:`_changes`), in this order: the session
started, users blocked and unblocked, participants that left, participants that joined, egress
that stopped and started (HLS, the composite / individual / raw recordings, RTMP broadcasts by
name, transcription, closed captions), the session ended. So every path that starts a recording
(StartRecording, GoLive with ``start_recording``, the call type's ``auto-on``) or stops one
(StopRecording, StopLive, EndCall) emits the same event, from one place.

Choices where Stream's behaviour is not documented:

* An operation that changes nothing emits nothing (unblocking a user who is not blocked, kicking
  one who is not in the call), except SendCallEvent, RingCall and UpdateCall, which always do.
* ``egress_id`` of a recording or transcription is a fresh UUID when it starts, and its stop
  carries the same one (kept in the call's state, which no response shows).
* Call types, roles and RestoreUsers emit nothing: the spec defines no event for them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from stagecfg.model import Json
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.call_rows import save, stored_state
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.responses import call_state, users_by_id
from stagecfg.sandbox.store import Transaction

#: Events the log keeps; older ones are dropped as new ones are written.
MAX_EVENTS = 10_000
#: Events one read of the log answers with, unless it asks for fewer (at most MAX_READ).
DEFAULT_READ = 100
MAX_READ = 1000
#: Event types one read may filter on.
MAX_TYPES = 100

#: Event types whose body carries the call (``call``: a CallResponse), per the spec's schemas.
CARRIES_CALL = frozenset(
    {
        "call.created",
        "call.deleted",
        "call.ended",
        "call.hls_broadcasting_started",
        "call.live_started",
        "call.member_added",
        "call.member_removed",
        "call.member_updated",
        "call.member_updated_permission",
        "call.notification",
        "call.ring",
        "call.session_ended",
        "call.session_started",
        "call.updated",
    }
)
#: UserResponse fields the user of a ``user.*`` event does not have: ``user.updated`` carries a
#: UserResponsePrivacyFields, the others a UserResponseCommonFields.
_NOT_PRIVACY_FIELDS = ("shadow_banned",)
_NOT_COMMON_FIELDS = ("shadow_banned", "invisible", "privacy_settings")
#: The recordings and their ``recording_type``, in the order their events are emitted.
_RECORDINGS = (
    ("composite_recording", "composite"),
    ("individual_recording", "individual"),
    ("raw_recording", "raw"),
)
#: Where a running egress keeps its id in the call's stored state (no response renders it).
_EGRESS_IDS = "egress_ids"
_NS = 1_000_000_000


def emit(tx: Transaction, body: Json, *, keep: int = MAX_EVENTS) -> int:
    """Append one event body to the log; its id. The log then holds at most ``keep`` events."""
    cursor = tx.execute(
        "INSERT INTO events (type, call_cid, created_at, body) VALUES (?, ?, ?, ?)",
        (body["type"], body.get("call_cid"), body["created_at"], json.dumps(body)),
    )
    event_id = cursor.lastrowid
    assert event_id is not None
    tx.execute("DELETE FROM events WHERE id <= ?", (event_id - keep,))
    return event_id


def user_event(kind: str, now: int, user: Json, **fields: Any) -> Json:
    """A ``user.*`` event about ``user`` (a UserResponse), with its schema's user fields."""
    dropped = _NOT_PRIVACY_FIELDS if kind == "user.updated" else _NOT_COMMON_FIELDS
    shown = {k: v for k, v in user.items() if k not in dropped}
    return {"type": kind, "created_at": now, "custom": {}, "user": shown, **fields}


def emit_users(ctx: Context, tx: Transaction, kind: str, ids: Iterable[str], **fields: Any) -> None:
    """One ``kind`` event per user of ``ids`` (in that order) as they are now."""
    wanted = list(dict.fromkeys(ids))
    now = ctx.now()
    users = users_by_id(tx, wanted)
    for uid in wanted:
        if uid in users:
            emit(tx, user_event(kind, now, users[uid], **fields))


def emit_call_events(
    tx: Transaction, now: int, row: Any, partials: Sequence[Json], call: Json | None = None
) -> None:
    """Emit ``partials`` (each an event's ``type`` and own fields) about the call of ``row``,
    completed with ``created_at``, ``call_cid`` and, where the event carries it, the call
    (``call``, or rendered from ``row``)."""
    if not partials:
        return
    if call is None and any(p["type"] in CARRIES_CALL for p in partials):
        call = call_state(tx, row)["call"]
    for partial in partials:
        body: Json = {"type": partial["type"], "created_at": now, "call_cid": row[1]}
        if call is not None and partial["type"] in CARRIES_CALL:
            body["call"] = call
        body.update({k: v for k, v in partial.items() if k != "type"})
        emit(tx, body)


def save_call(
    ctx: Context,
    tx: Transaction,
    row: Any,
    stored: Json,
    own: Sequence[Json] = (),
    **columns: object,
) -> Any:
    """Save the call's new state (:func:`stagecfg.sandbox.call_rows.save`) and emit ``own``
    events, then those of what changed; the new row."""
    before = stored_state(row)
    _track_egress_ids(before, stored)
    saved = save(ctx, tx, row, stored, **columns)
    now = ctx.now()
    emit_call_events(tx, now, saved, [*own, *_changes(tx, now, before, stored)])
    return saved


# --- what changed in a call's state -------------------------------------------------------------


def _egress(stored: Json) -> Json:
    egress = stored.get("egress")
    return egress if isinstance(egress, dict) else {}


def _running(stored: Json) -> dict[str, bool]:
    """Which egress with an id runs: each recording kind, and transcription."""
    egress = _egress(stored)
    running = {kind: field in egress for field, kind in _RECORDINGS}
    running["transcription"] = bool(stored.get("transcribing"))
    return running


def _track_egress_ids(before: Json, after: Json) -> None:
    """Give each egress that starts now a fresh id, and forget the ids of those that stop."""
    was, now = _running(before), _running(after)
    ids = dict(after.get(_EGRESS_IDS) or {})
    for kind, on in now.items():
        if on and not was[kind]:
            ids[kind] = str(uuid.uuid4())
        elif not on:
            ids.pop(kind, None)
    after[_EGRESS_IDS] = ids


def _egress_id(before: Json, after: Json, kind: str) -> str:
    found = (after.get(_EGRESS_IDS) or {}).get(kind) or (before.get(_EGRESS_IDS) or {}).get(kind)
    # A call stored before the log existed has no id for what already ran.
    return str(found or uuid.uuid5(uuid.NAMESPACE_URL, f"stagecfg-egress:{kind}"))


def _session(stored: Json) -> Json:
    session = stored.get("session")
    return session if isinstance(session, dict) else {}


def _participants(session: Json) -> dict[str, Json]:
    return {p["user_session_id"]: p for p in session.get("participants") or []}


def _participant(p: Json, users: dict[str, Json]) -> Json:
    """CallParticipantResponse of a stored participant."""
    uid = p["user_id"]
    user = users.get(uid) or {"id": uid}
    return {
        "user": user,
        "user_session_id": p["user_session_id"],
        "role": p["role"],
        "joined_at": p["joined_at"],
    }


def _session_changes(tx: Transaction, now: int, before: Json, after: Json) -> list[Json]:
    old, new = _session(before), _session(after)
    out: list[Json] = []
    same = bool(old) and old.get("id") == new.get("id")
    if new and new.get("ended_at") is None and not same:
        out.append({"type": "call.session_started", "session_id": new["id"]})
    # A new session starts empty: the old one's participants left when it ended.
    was = _participants(old) if same else {}
    kept = _participants(new)
    left = [p for key, p in was.items() if key not in kept]
    joined = [p for key, p in kept.items() if key not in was]
    users = users_by_id(tx, [p["user_id"] for p in [*left, *joined]]) if left or joined else {}
    session_id = new.get("id") or old.get("id")
    for p in left:
        seconds = max(0, (now - int(p["joined_at"])) // _NS)
        out.append(
            {
                "type": "call.session_participant_left",
                "session_id": old.get("id") or session_id,
                "participant": _participant(p, users),
                "duration_seconds": min(seconds, 2**31 - 1),
            }
        )
    for p in joined:
        out.append(
            {
                "type": "call.session_participant_joined",
                "session_id": session_id,
                "participant": _participant(p, users),
            }
        )
    return out


def _blocks(tx: Transaction, before: Json, after: Json) -> list[Json]:
    old = list(before.get("blocked_user_ids") or [])
    new = list(after.get("blocked_user_ids") or [])
    blocked = [u for u in new if u not in old]
    unblocked = [u for u in old if u not in new]
    if not blocked and not unblocked:
        return []
    users = users_by_id(tx, [*blocked, *unblocked])
    out = [{"type": "call.blocked_user", "user": users.get(u) or {"id": u}} for u in blocked]
    out += [{"type": "call.unblocked_user", "user": users.get(u) or {"id": u}} for u in unblocked]
    return out


def _egress_changes(before: Json, after: Json) -> list[Json]:
    old, new = _egress(before), _egress(after)
    out: list[Json] = []
    if "hls" in old and "hls" not in new:
        out.append({"type": "call.hls_broadcasting_stopped"})
    if "hls" in new and "hls" not in old:
        url = new["hls"].get("playlist_url") if isinstance(new["hls"], dict) else None
        out.append({"type": "call.hls_broadcasting_started", "hls_playlist_url": str(url or "")})
    for field, kind in _RECORDINGS:
        if (field in old) != (field in new):
            state = "started" if field in new else "stopped"
            out.append(
                {
                    "type": f"call.recording_{state}",
                    "egress_id": _egress_id(before, after, kind),
                    "recording_type": kind,
                }
            )
    old_rtmp = [r.get("name") for r in old.get("rtmps") or [] if isinstance(r, dict)]
    new_rtmp = [r.get("name") for r in new.get("rtmps") or [] if isinstance(r, dict)]
    out += [
        {"type": "call.rtmp_broadcast_stopped", "name": str(name)}
        for name in old_rtmp
        if name not in new_rtmp
    ]
    out += [
        {"type": "call.rtmp_broadcast_started", "name": str(name)}
        for name in new_rtmp
        if name not in old_rtmp
    ]
    if bool(before.get("transcribing")) != bool(after.get("transcribing")):
        state = "started" if after.get("transcribing") else "stopped"
        out.append(
            {
                "type": f"call.transcription_{state}",
                "egress_id": _egress_id(before, after, "transcription"),
            }
        )
    if bool(before.get("captioning")) != bool(after.get("captioning")):
        state = "started" if after.get("captioning") else "stopped"
        out.append({"type": f"call.closed_captions_{state}"})
    return out


def _changes(tx: Transaction, now: int, before: Json, after: Json) -> list[Json]:
    """The events of how the call's stored state moved from ``before`` to ``after``."""
    sessions = _session_changes(tx, now, before, after)
    started = [e for e in sessions if e["type"] == "call.session_started"]
    people = [e for e in sessions if e["type"] != "call.session_started"]
    out = [*started, *_blocks(tx, before, after), *people, *_egress_changes(before, after)]
    old, new = _session(before), _session(after)
    ended = old.get("ended_at") is None and new.get("ended_at") is not None
    if old and ended and old.get("id") == new.get("id"):
        out.append({"type": "call.session_ended", "session_id": new["id"]})
    return out


# --- reading and resetting the log ---------------------------------------------------------------


def last_id(tx: Transaction) -> int:
    """The id of the newest event ever written (0 when none was): ids above it are new."""
    row = tx.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def read(
    tx: Transaction,
    *,
    types: Sequence[str] = (),
    call_cid: str | None = None,
    since: int = 0,
    limit: int = 100,
) -> list[Json]:
    """Logged events with an id above ``since``, oldest first: ``{"id": n, "event": body}``."""
    sql = "SELECT id, body FROM events WHERE id > ?"
    params: list[object] = [since]
    if types:
        sql += f" AND type IN ({', '.join('?' * len(types))})"
        params.extend(types)
    if call_cid is not None:
        sql += " AND call_cid = ?"
        params.append(call_cid)
    sql += " ORDER BY id LIMIT ?"
    params.append(limit)
    return [{"id": row[0], "event": json.loads(row[1])} for row in tx.execute(sql, params)]


def clear(tx: Transaction) -> None:
    """Empty the log; ids keep growing from where they were."""
    tx.execute("DELETE FROM events")


def query_events(
    ctx: Context,
    *,
    types: Sequence[str] = (),
    call_cid: str | None = None,
    since: int = 0,
    limit: int = DEFAULT_READ,
) -> Json:
    """The log's events after ``since`` (oldest first, at most ``limit``), of ``types`` and
    ``call_cid`` when given, and ``last_id``: the newest id written, to read on from."""
    op = "QueryEvents"
    if type(since) is not int or since < 0:
        raise input_error(op, "since must be an event id: an integer of at least 0")
    if type(limit) is not int or not 1 <= limit <= MAX_READ:
        raise input_error(op, f"limit must be an integer from 1 to {MAX_READ}")
    if len(types) > MAX_TYPES or not all(isinstance(t, str) and t for t in types):
        raise input_error(op, f"type must name 1 to {MAX_TYPES} event types")
    if call_cid is not None and not (isinstance(call_cid, str) and call_cid):
        raise input_error(op, "call_cid must be a call's cid, <type>:<id>")
    with ctx.store.read() as tx:
        found = read(tx, types=types, call_cid=call_cid, since=since, limit=limit)
        newest = last_id(tx)
    return {"events": found, "last_id": newest}


def reset_events(ctx: Context) -> Json:
    """Empty the log; ``last_id`` stays, so a reader's ``since`` stays valid."""
    with ctx.store.write() as tx:
        clear(tx)
        return {"events": [], "last_id": last_id(tx)}
