"""Live state: GoLive, StopLive, and the call's current session.

A call's session (its participants and when it started, went live, stopped and ended) is kept in
the call row's JSON state; a session that has ended is replaced by a fresh one the next time the
call is joined or goes live. Egress (HLS, recordings, RTMP) and transcription / captioning flags
move with going live and stopping live.

Choices where Stream's behaviour is not documented:

* go_live on a live call is allowed and restarts the live window (``live_started_at``).
* go_live also starts HLS when ``broadcasting.hls.auto_on`` and recording when
  ``recording.mode`` is ``auto-on``; stop_live stops each egress unless its ``continue_*`` flag
  says to continue (``continue_recording`` keeps the composite recording, as
  ``continue_composite_recording`` does). The state moves through :mod:`.egress`'s helpers.
* ``ongoing`` is true while the current session has participants and the call has not ended.
"""

from __future__ import annotations

import uuid
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.join import admitting_grant
from stagecfg.sandbox.call_rows import live_call, stored_state
from stagecfg.sandbox.call_types import call_type_grants, call_type_notifications
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.egress import (
    set_recording_state,
    start_hls_state,
    stop_hls_state,
    stop_rtmp_state,
)
from stagecfg.sandbox.events import save_call
from stagecfg.sandbox.grants import overrides_of, updated_event
from stagecfg.sandbox.members import roles
from stagecfg.sandbox.requests import check_typed_request
from stagecfg.sandbox.responses import call_state
from stagecfg.sandbox.store import Transaction

#: GoLiveRequest and StopLiveRequest: each field and its type.
_GO_LIVE_KEYS = {
    "start_hls": "boolean",
    "start_recording": "boolean",
    "start_composite_recording": "boolean",
    "start_individual_recording": "boolean",
    "start_raw_recording": "boolean",
    "start_transcription": "boolean",
    "start_closed_caption": "boolean",
    "recording_storage_name": "string",
    "transcription_storage_name": "string",
}
_STOP_LIVE_KEYS = {
    "continue_hls": "boolean",
    "continue_recording": "boolean",
    "continue_composite_recording": "boolean",
    "continue_individual_recording": "boolean",
    "continue_raw_recording": "boolean",
    "continue_rtmp_broadcasts": "boolean",
    "continue_transcription": "boolean",
    "continue_closed_caption": "boolean",
}


def stored_setting(settings: Any, *path: str) -> Any:
    """The stored setting at ``path``, or None where any step is not an object."""
    node = settings
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def session(stored: Json, now: int) -> Json:
    """The call's current session, started at ``now`` if there is none or it has ended."""
    current = stored.get("session")
    if not current or current.get("ended_at") is not None:
        current = {"id": str(uuid.uuid4()), "participants": [], "started_at": now}
        stored["session"] = current
    return current


def go_live(ctx: Context, call_type: str, call_id: str, body: Json | None = None) -> Json:
    op = "GoLive"
    body = check_typed_request(op, body, _GO_LIVE_KEYS)
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        now = ctx.now()
        stored = stored_state(row)
        current = session(stored, now)
        current["live_started_at"] = now
        current.pop("live_ended_at", None)
        settings = stored["settings"]
        # Stored settings are read defensively: rows written before requests were checked may
        # hold any shape, and must not make going live fail.
        if body.get("start_hls") or stored_setting(settings, "broadcasting", "hls", "auto_on"):
            start_hls_state(stored, call_type, call_id)
        recording_auto = stored_setting(settings, "recording", "mode") == "auto-on"
        if body.get("start_recording") or body.get("start_composite_recording"):
            recording_auto = True
        if recording_auto:
            set_recording_state(stored, "composite", True)
        if body.get("start_individual_recording"):
            set_recording_state(stored, "individual", True)
        if body.get("start_raw_recording"):
            set_recording_state(stored, "raw", True)
        if body.get("start_transcription"):
            stored["transcribing"] = True
        if body.get("start_closed_caption"):
            stored["captioning"] = True
        row = save_call(ctx, tx, row, stored, [live_started_event(tx, call_type)], backstage=0)
        return {"call": call_state(tx, row)["call"]}


def live_started_event(tx: Transaction, call_type: str) -> Json:
    """``call.live_started``, with the call type's ``notification_settings.call_live_started``
    (and the master switch ``enabled``): the push notification Stream sends the call's members
    when it goes live. Stream's event has no field for it (the spec allows more fields); the
    sandbox adds ``notification_settings`` so a test can see what would be pushed."""
    event: Json = {"type": "call.live_started"}
    settings = call_type_notifications(tx, call_type)
    if settings is not None and isinstance(settings.get("call_live_started"), dict):
        event["notification_settings"] = {
            "enabled": bool(settings.get("enabled")),
            "call_live_started": settings["call_live_started"],
        }
    return event


def stop_live(ctx: Context, call_type: str, call_id: str, body: Json | None = None) -> Json:
    op = "StopLive"
    body = check_typed_request(op, body, _STOP_LIVE_KEYS)
    with ctx.store.write() as tx:
        row = live_call(tx, op, call_type, call_id)
        now = ctx.now()
        stored = stored_state(row)
        current = session(stored, now)
        current["live_ended_at"] = now
        if not body.get("continue_hls"):
            stop_hls_state(stored)
        if not body.get("continue_rtmp_broadcasts"):
            stop_rtmp_state(stored)
        keep_composite = body.get("continue_recording") or body.get("continue_composite_recording")
        if not keep_composite:
            set_recording_state(stored, "composite", False)
        if not body.get("continue_individual_recording"):
            set_recording_state(stored, "individual", False)
        if not body.get("continue_raw_recording"):
            set_recording_state(stored, "raw", False)
        if not body.get("continue_transcription"):
            stored["transcribing"] = False
        if not body.get("continue_closed_caption"):
            stored["captioning"] = False
        grants = call_type_grants(tx, call_type)
        kept = []
        for p in current.get("participants", []):
            # Back in backstage: whoever the backstage stage would not admit is removed.
            held = roles(tx, row[0], p["user_id"])
            owner = p["user_id"] == row[4]
            extra = overrides_of(stored, p["user_id"])
            if admitting_grant(grants, held, is_creator=owner, stage="backstage", overrides=extra):
                kept.append(p)
        current["participants"] = kept
        own = [updated_event(tx, call_type)]
        row = save_call(ctx, tx, row, stored, own, backstage=1, ongoing=int(bool(kept)))
        return {"call": call_state(tx, row)["call"]}
