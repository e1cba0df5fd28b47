"""Egress and live media: HLS, recordings, RTMP broadcasts, transcription and closed captions.

Each control changes the call state GetCall and QueryCalls return, in Stream's fields:
``egress.broadcasting`` and ``egress.hls`` (HLS), ``egress.composite_recording`` /
``individual_recording`` / ``raw_recording`` and ``recording`` (true while any recording runs),
``egress.rtmps``, ``transcribing`` and ``captioning``. GoLive and StopLive (:mod:`.live`) and
EndCall (:mod:`.calls`) move the same state through the ``*_state`` helpers here, so each change
is written once. There is no media: the playlist URL points nowhere, and ListRecordings and
ListTranscriptions are always empty.

Stream's own messages, as its SDK tests record them: starting a recording on a call without an
active session is 400 ``there is no active session``, and stopping one that is not running is
400 ``call egress is not running``.

Choices where Stream's behaviour is not documented:

* Every start needs an active session (a current session that has not ended: someone joined,
  or the call went live), as recordings do; every stop of something not running is refused.
* Starting something already running is refused (400), like an RTMP name already in use.
* Starting transcription with ``enable_closed_captions`` starts captions too, and stopping it
  with ``stop_closed_captions`` stops them; the closed-caption controls mirror that.
* An RTMP broadcast not found by name is 404 code 16; stopping all of none is fine.
* ``language`` is ``auto`` or a two-letter code (the spec's list, which grows, is not copied).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stagecfg.model import Json
from stagecfg.sandbox.apierror import input_error, not_found
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.grants import control
from stagecfg.sandbox.requests import (
    check_definition,
    check_keys,
    check_request,
    check_typed_request,
    check_types,
)

#: StartRecording's ``recording_type`` and the egress field each kind runs in.
RECORDINGS: Mapping[str, str] = {
    "composite": "composite_recording",
    "individual": "individual_recording",
    "raw": "raw_recording",
}
RUNNING = {"status": "running"}
_LANGUAGE = re.compile(r"auto|[a-z]{2}")
#: The request fields of each control and their types (tests/test_request_rules.py holds them
#: to Stream's spec).
START_RECORDING_TYPES = {"recording_external_storage": "string"}
START_TRANSCRIPTION_TYPES = {
    "enable_closed_captions": "boolean",
    "language": "string",
    "transcription_external_storage": "string",
}
STOP_TRANSCRIPTION_TYPES = {"stop_closed_captions": "boolean"}
#: StartClosedCaptionsRequest (with ``speech_segment_config``, a SpeechSegmentConfig).
START_CAPTIONS_TYPES = {
    "enable_transcription": "boolean",
    "external_storage": "string",
    "language": "string",
}
START_CAPTIONS_KEYS = {*START_CAPTIONS_TYPES, "speech_segment_config"}
STOP_CAPTIONS_TYPES = {"stop_transcription": "boolean"}
#: RTMPBroadcastRequest (``quality`` and ``layout`` are RTMPSettingsRequest's own).
RTMP_BROADCAST_TYPES = {"name": "string", "stream_url": "string", "stream_key": "string"}
RTMP_BROADCAST_KEYS = {*RTMP_BROADCAST_TYPES, "quality", "layout"}
#: RTMPBroadcastRequest: ``name`` and ``stream_url`` are at most this long (spec maxLength).
MAX_RTMP_TEXT = 255


# --- the state transitions (also used by go-live, stop-live and ending a call) ----------------


def egress_of(stored: Json) -> Json:
    """The call's EgressResponse state, made whole if an older row lacks a part of it."""
    egress: Json = stored.setdefault("egress", {})
    egress.setdefault("broadcasting", False)
    egress.setdefault("rtmps", [])
    return egress


def playlist_url(call_type: str, call_id: str) -> str:
    return f"https://hls.sandbox.invalid/{call_type}/{call_id}/playlist.m3u8"


def start_hls_state(stored: Json, call_type: str, call_id: str) -> str:
    egress = egress_of(stored)
    url = playlist_url(call_type, call_id)
    egress["broadcasting"] = True
    egress["hls"] = {"playlist_url": url, "status": "running"}
    return url


def stop_hls_state(stored: Json) -> None:
    egress = egress_of(stored)
    egress.pop("hls", None)
    egress["broadcasting"] = False


def recording_running(stored: Json, kind: str) -> bool:
    return RECORDINGS[kind] in egress_of(stored)


def set_recording_state(stored: Json, kind: str, on: bool) -> None:
    egress = egress_of(stored)
    if on:
        egress[RECORDINGS[kind]] = dict(RUNNING)
    else:
        egress.pop(RECORDINGS[kind], None)
    stored["recording"] = any(field in egress for field in RECORDINGS.values())


def stop_rtmp_state(stored: Json) -> None:
    egress_of(stored)["rtmps"] = []


def stop_everything_state(stored: Json) -> None:
    """Nothing runs once the call has ended."""
    stop_hls_state(stored)
    stop_rtmp_state(stored)
    for kind in RECORDINGS:
        set_recording_state(stored, kind, False)
    stored["transcribing"] = False
    stored["captioning"] = False


def has_active_session(stored: Json) -> bool:
    session = stored.get("session")
    return isinstance(session, dict) and session.get("ended_at") is None


def _need_session(op: str, stored: Json) -> None:
    if not has_active_session(stored):
        raise input_error(op, "there is no active session")


# --- HLS ---------------------------------------------------------------------------------------


def start_hls(ctx: Context, call_type: str, call_id: str, caller: str | None = None) -> Json:
    op = "StartHLSBroadcasting"
    with control(ctx, op, call_type, call_id, caller) as c:
        _need_session(op, c.stored)
        if "hls" in egress_of(c.stored):
            raise input_error(op, "HLS broadcasting is already running")
        url = start_hls_state(c.stored, call_type, call_id)
        c.changed = True
    return {"playlist_url": url}


def stop_hls(ctx: Context, call_type: str, call_id: str, caller: str | None = None) -> Json:
    op = "StopHLSBroadcasting"
    with control(ctx, op, call_type, call_id, caller) as c:
        if "hls" not in egress_of(c.stored):
            raise input_error(op, "call egress is not running")
        stop_hls_state(c.stored)
        c.changed = True
    return {}


# --- recordings --------------------------------------------------------------------------------


def _recording_kind(op: str, recording_type: str) -> str:
    if recording_type not in RECORDINGS:
        kinds = ", ".join(RECORDINGS)
        raise input_error(op, f"recording_type must be one of {kinds}, got {recording_type[:80]!r}")
    return recording_type


def start_recording(
    ctx: Context,
    call_type: str,
    call_id: str,
    recording_type: str,
    body: Json,
    caller: str | None = None,
) -> Json:
    op = "StartRecording"
    kind = _recording_kind(op, recording_type)
    body = check_typed_request(op, body, START_RECORDING_TYPES)
    with control(ctx, op, call_type, call_id, caller) as c:
        _need_session(op, c.stored)
        if recording_running(c.stored, kind):
            raise input_error(op, f"{kind} recording is already running")
        set_recording_state(c.stored, kind, True)
        c.changed = True
    return {}


def stop_recording(
    ctx: Context,
    call_type: str,
    call_id: str,
    recording_type: str,
    body: Json,
    caller: str | None = None,
) -> Json:
    op = "StopRecording"
    kind = _recording_kind(op, recording_type)
    check_request(op, body, ())
    with control(ctx, op, call_type, call_id, caller) as c:
        if not recording_running(c.stored, kind):
            raise input_error(op, "call egress is not running")
        set_recording_state(c.stored, kind, False)
        c.changed = True
    return {}


def list_recordings(ctx: Context, call_type: str, call_id: str, caller: str | None = None) -> Json:
    with control(ctx, "ListRecordings", call_type, call_id, caller):
        return {"recordings": []}


def list_transcriptions(
    ctx: Context, call_type: str, call_id: str, caller: str | None = None
) -> Json:
    with control(ctx, "ListTranscriptions", call_type, call_id, caller):
        return {"transcriptions": []}


# --- transcription and closed captions ---------------------------------------------------------


def _check_language(op: str, body: Json) -> None:
    language = body.get("language")
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise input_error(op, f"language must be 'auto' or a two-letter code, got {language!r:.80}")


def _switch(op: str, stored: Json, flag: str, on: bool, what: str) -> None:
    if bool(stored.get(flag)) == on:
        state = "already running" if on else "not running"
        raise input_error(op, f"{what} {'are' if what.endswith('s') else 'is'} {state}")
    stored[flag] = on


def start_transcription(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "StartTranscription"
    body = check_typed_request(op, body, START_TRANSCRIPTION_TYPES)
    _check_language(op, body)
    with control(ctx, op, call_type, call_id, caller) as c:
        _need_session(op, c.stored)
        _switch(op, c.stored, "transcribing", True, "transcription")
        if body.get("enable_closed_captions"):
            c.stored["captioning"] = True
        c.changed = True
    return {}


def stop_transcription(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "StopTranscription"
    body = check_typed_request(op, body, STOP_TRANSCRIPTION_TYPES)
    with control(ctx, op, call_type, call_id, caller) as c:
        _switch(op, c.stored, "transcribing", False, "transcription")
        if body.get("stop_closed_captions"):
            c.stored["captioning"] = False
        c.changed = True
    return {}


def start_closed_captions(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "StartClosedCaptions"
    body = check_typed_request(op, body, START_CAPTIONS_TYPES, keys=START_CAPTIONS_KEYS)
    _check_language(op, body)
    segments = body.get("speech_segment_config")
    check_definition(op, "speech_segment_config", segments, "SpeechSegmentConfig")
    with control(ctx, op, call_type, call_id, caller) as c:
        _need_session(op, c.stored)
        _switch(op, c.stored, "captioning", True, "closed captions")
        if body.get("enable_transcription"):
            c.stored["transcribing"] = True
        c.changed = True
    return {}


def stop_closed_captions(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "StopClosedCaptions"
    body = check_typed_request(op, body, STOP_CAPTIONS_TYPES)
    with control(ctx, op, call_type, call_id, caller) as c:
        _switch(op, c.stored, "captioning", False, "closed captions")
        if body.get("stop_transcription"):
            c.stored["transcribing"] = False
        c.changed = True
    return {}


# --- RTMP broadcasts ---------------------------------------------------------------------------


def _check_broadcast(op: str, item: object) -> Json:
    what = "broadcasts[0]"
    broadcast = check_keys(op, what, item, RTMP_BROADCAST_KEYS)
    check_types(op, what, broadcast, RTMP_BROADCAST_TYPES)
    for key in ("name", "stream_url"):
        value = broadcast.get(key)
        if not value:
            raise input_error(op, f"{what}.{key} is required")
        if len(value) > MAX_RTMP_TEXT:
            raise input_error(op, f"{what}.{key} must be at most {MAX_RTMP_TEXT} characters")
    # quality and layout are RTMPSettingsRequest's own fields, checked as the settings are.
    overrides = {k: broadcast[k] for k in ("quality", "layout") if k in broadcast}
    check_definition(op, what, overrides, "RTMPSettingsRequest")
    return broadcast


def start_rtmp(
    ctx: Context, call_type: str, call_id: str, body: Json, caller: str | None = None
) -> Json:
    op = "StartRTMPBroadcasts"
    body = check_request(op, body, {"broadcasts"})
    broadcasts = body.get("broadcasts")
    if not isinstance(broadcasts, list) or len(broadcasts) != 1:
        raise input_error(op, "broadcasts must be a list of exactly one broadcast")
    broadcast = _check_broadcast(op, broadcasts[0])
    with control(ctx, op, call_type, call_id, caller) as c:
        _need_session(op, c.stored)
        rtmps = egress_of(c.stored)["rtmps"]
        if any(r.get("name") == broadcast["name"] for r in rtmps):
            raise input_error(op, f"an RTMP broadcast named {broadcast['name']!r} already runs")
        running: Json = {
            "name": broadcast["name"],
            "stream_url": broadcast["stream_url"],
            "started_at": c.now,
        }
        if broadcast.get("stream_key"):
            running["stream_key"] = broadcast["stream_key"]
        rtmps.append(running)
        c.changed = True
    return {}


def stop_rtmp(
    ctx: Context, call_type: str, call_id: str, name: str, body: Json, caller: str | None = None
) -> Json:
    op = "StopRTMPBroadcast"
    check_request(op, body, ())
    with control(ctx, op, call_type, call_id, caller) as c:
        egress = egress_of(c.stored)
        kept = [r for r in egress["rtmps"] if r.get("name") != name]
        if len(kept) == len(egress["rtmps"]):
            raise not_found(op, f"no RTMP broadcast named {name[:80]!r} runs in this call")
        egress["rtmps"] = kept
        c.changed = True
    return {}


def stop_all_rtmp(ctx: Context, call_type: str, call_id: str, caller: str | None = None) -> Json:
    with control(ctx, "StopAllRTMPBroadcasts", call_type, call_id, caller) as c:
        if egress_of(c.stored)["rtmps"]:
            stop_rtmp_state(c.stored)
            c.changed = True
    return {}
