"""Egress through the sandbox engine: HLS, recordings, RTMP, transcription, captions, stop-live.

Every control changes the call state GetCall and QueryCalls answer with, in Stream's fields, and
that state is checked against the OpenAPI spec.
"""

from __future__ import annotations

from typing import Any

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import Clock, api_error, clock, engine, make_call  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError

CID = ("livestream", "show")


def live(engine: Engine) -> None:  # noqa: F811
    make_call(engine, "livestream:show")
    engine.go_live(*CID, {})


def call_of(engine: Engine) -> dict[str, Any]:  # noqa: F811
    call: dict[str, Any] = engine.get_call(*CID)["call"]
    assert_matches("CallResponse", call)
    listed = engine.query_calls({"filter_conditions": {"cid": "livestream:show"}})["calls"]
    assert listed[0]["call"] == call  # QueryCalls answers the same state
    return call


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args, **kwargs)
    return api_error(excinfo)


def test_hls_starts_and_stops_in_the_call_state(engine: Engine) -> None:  # noqa: F811
    live(engine)
    answer = engine.start_hls_broadcasting(*CID)
    assert_matches("StartHLSBroadcastingResponse", answer)
    egress = call_of(engine)["egress"]
    assert egress["broadcasting"] is True
    assert egress["hls"] == {"playlist_url": answer["playlist_url"], "status": "running"}
    assert engine.stop_hls_broadcasting(*CID) == {}
    egress = call_of(engine)["egress"]
    # Stream sends ``hls: null`` while no HLS broadcast runs (sandbox/nulls.py).
    assert egress["broadcasting"] is False and egress["hls"] is None


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("composite", "composite_recording"),
        ("individual", "individual_recording"),
        ("raw", "raw_recording"),
    ],
)
def test_each_recording_kind_runs_in_its_own_egress_field(
    engine: Engine,  # noqa: F811
    kind: str,
    field: str,
) -> None:
    live(engine)
    engine.start_recording(*CID, kind, {"recording_external_storage": "s3"})
    call = call_of(engine)
    assert call["egress"][field] == {"status": "running"}
    assert call["recording"] is True
    engine.stop_recording(*CID, kind, {})
    call = call_of(engine)
    assert field not in call["egress"]
    assert call["recording"] is False


def test_recording_stays_on_while_any_kind_runs(engine: Engine) -> None:  # noqa: F811
    live(engine)
    engine.start_recording(*CID, "composite", {})
    engine.start_recording(*CID, "raw", {})
    engine.stop_recording(*CID, "composite", {})
    assert call_of(engine)["recording"] is True
    engine.stop_recording(*CID, "raw", {})
    assert call_of(engine)["recording"] is False


def test_streams_own_messages_without_a_session_and_when_not_running(
    engine: Engine,  # noqa: F811
) -> None:
    make_call(engine, "livestream:show")
    assert refused(engine.start_recording, *CID, "composite", {}) == (
        400,
        4,
        'StartRecording failed with error: "there is no active session"',
    )
    assert refused(engine.stop_recording, *CID, "composite", {}) == (
        400,
        4,
        'StopRecording failed with error: "call egress is not running"',
    )
    for start in (engine.start_hls_broadcasting, engine.stop_hls_broadcasting):
        assert refused(start, *CID)[:2] == (400, 4)


def test_starting_what_already_runs_is_refused_and_changes_nothing(
    engine: Engine,  # noqa: F811
) -> None:
    live(engine)
    engine.start_recording(*CID, "individual", {})
    before = call_of(engine)
    assert refused(engine.start_recording, *CID, "individual", {})[:2] == (400, 4)
    engine.start_hls_broadcasting(*CID)
    assert "already running" in refused(engine.start_hls_broadcasting, *CID)[2]
    after = call_of(engine)
    assert after["egress"]["individual_recording"] == before["egress"]["individual_recording"]


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("all", {}),
        ("composite", {"recording_external_storage": 7}),
        ("composite", {"storage": "s3"}),
        ("composite", []),
    ],
    ids=["unknown-kind", "wrong-type", "unknown-field", "not-an-object"],
)
def test_bad_recording_requests_are_400(engine: Engine, kind: str, body: Any) -> None:  # noqa: F811
    live(engine)
    assert refused(engine.start_recording, *CID, kind, body)[:2] == (400, 4)
    assert call_of(engine)["recording"] is False


def test_transcription_and_captions_start_and_stop_each_other_when_asked(
    engine: Engine,  # noqa: F811
) -> None:
    live(engine)
    engine.start_transcription(*CID, {"language": "en", "enable_closed_captions": True})
    call = call_of(engine)
    assert (call["transcribing"], call["captioning"]) == (True, True)
    engine.stop_transcription(*CID, {})
    call = call_of(engine)
    assert (call["transcribing"], call["captioning"]) == (False, True)
    engine.stop_closed_captions(*CID, {})
    segments = {"max_speech_caption_ms": 3000, "silence_duration_ms": 500}
    body = {"enable_transcription": True, "language": "auto", "speech_segment_config": segments}
    engine.start_closed_captions(*CID, body)
    call = call_of(engine)
    assert (call["transcribing"], call["captioning"]) == (True, True)
    engine.stop_closed_captions(*CID, {"stop_transcription": True})
    call = call_of(engine)
    assert (call["transcribing"], call["captioning"]) == (False, False)


@pytest.mark.parametrize(
    "body",
    [
        {"language": "english"},
        {"language": "EN"},
        {"speech_segment_config": {"silence_duration_ms": "long"}},
        {"enable_transcription": "yes"},
    ],
)
def test_bad_caption_requests_are_400(engine: Engine, body: dict[str, Any]) -> None:  # noqa: F811
    live(engine)
    assert refused(engine.start_closed_captions, *CID, body)[:2] == (400, 4)
    assert call_of(engine)["captioning"] is False


def test_stopping_transcription_that_does_not_run_is_refused(engine: Engine) -> None:  # noqa: F811
    live(engine)
    assert refused(engine.stop_transcription, *CID, {})[:2] == (400, 4)
    assert refused(engine.stop_closed_captions, *CID, {})[:2] == (400, 4)


def broadcast(name: str, **extra: Any) -> dict[str, Any]:
    return {"broadcasts": [{"name": name, "stream_url": f"rtmps://{name}.invalid/live", **extra}]}


def test_rtmp_broadcasts_start_by_name_and_stop_one_or_all(
    engine: Engine,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    live(engine)
    engine.start_rtmp_broadcasts(*CID, broadcast("yt", stream_key="k1", quality="1080p"))
    clock.advance(seconds=1)
    engine.start_rtmp_broadcasts(*CID, broadcast("tw", layout={"name": "grid"}))
    rtmps = call_of(engine)["egress"]["rtmps"]
    assert [r["name"] for r in rtmps] == ["yt", "tw"]
    assert rtmps[0]["stream_key"] == "k1" and rtmps[0]["started_at"] < rtmps[1]["started_at"]
    assert "already" in refused(engine.start_rtmp_broadcasts, *CID, broadcast("yt"))[2]
    engine.stop_rtmp_broadcast(*CID, "yt", {})
    assert [r["name"] for r in call_of(engine)["egress"]["rtmps"]] == ["tw"]
    assert refused(engine.stop_rtmp_broadcast, *CID, "yt", {})[:2] == (404, 16)
    engine.stop_all_rtmp_broadcasts(*CID)
    assert call_of(engine)["egress"]["rtmps"] == []
    engine.stop_all_rtmp_broadcasts(*CID)  # none left: still fine


@pytest.mark.parametrize(
    "body",
    [
        {"broadcasts": []},
        {"broadcasts": [broadcast("a")["broadcasts"][0], broadcast("b")["broadcasts"][0]]},
        {"broadcasts": [{"name": "a"}]},
        {"broadcasts": [{"stream_url": "rtmps://x.invalid/live"}]},
        broadcast("a" * 256),
        broadcast("a", quality="8k"),
        broadcast("a", layout={"name": "carousel"}),
        broadcast("a", colour="red"),
        {},
    ],
    ids=[
        "none",
        "two",
        "no-url",
        "no-name",
        "long-name",
        "bad-quality",
        "bad-layout",
        "unknown-field",
        "empty",
    ],
)
def test_bad_rtmp_requests_are_400(engine: Engine, body: dict[str, Any]) -> None:  # noqa: F811
    live(engine)
    assert refused(engine.start_rtmp_broadcasts, *CID, body)[:2] == (400, 4)
    assert call_of(engine)["egress"]["rtmps"] == []


def test_listings_are_empty_with_the_specs_shape(engine: Engine) -> None:  # noqa: F811
    live(engine)
    engine.start_recording(*CID, "composite", {})
    recordings = engine.list_recordings(*CID)
    transcriptions = engine.list_transcriptions(*CID)
    assert recordings == {"recordings": []} and transcriptions == {"transcriptions": []}
    assert_matches("ListRecordingsResponse", recordings)
    assert_matches("ListTranscriptionsResponse", transcriptions)


@pytest.mark.parametrize(
    "control",
    [
        lambda e: e.start_hls_broadcasting("livestream", "nope"),
        lambda e: e.start_recording("livestream", "nope", "raw", {}),
        lambda e: e.list_recordings("livestream", "nope"),
        lambda e: e.list_transcriptions("livestream", "nope"),
        lambda e: e.start_transcription("livestream", "nope", {}),
        lambda e: e.start_closed_captions("livestream", "nope", {}),
        lambda e: e.start_rtmp_broadcasts("livestream", "nope", broadcast("a")),
        lambda e: e.stop_all_rtmp_broadcasts("livestream", "nope"),
    ],
)
def test_an_unknown_call_is_404(engine: Engine, control: Any) -> None:  # noqa: F811
    status, code, message = refused(control, engine)
    assert (status, code) == (404, 16)
    assert "Can't find call with id livestream:nope" in message


def run_everything(engine: Engine) -> None:  # noqa: F811
    engine.start_hls_broadcasting(*CID)
    for kind in ("composite", "individual", "raw"):
        engine.start_recording(*CID, kind, {})
    engine.start_transcription(*CID, {"enable_closed_captions": True})
    engine.start_rtmp_broadcasts(*CID, broadcast("yt"))


def test_stop_live_stops_everything_without_continue_flags(engine: Engine) -> None:  # noqa: F811
    live(engine)
    run_everything(engine)
    call = engine.stop_live(*CID, {})["call"]
    assert call["egress"] == {"broadcasting": False, "rtmps": [], "hls": None}
    assert (call["recording"], call["transcribing"], call["captioning"]) == (False, False, False)
    assert call_of(engine) == call


@pytest.mark.parametrize(
    ("flag", "kept"),
    [
        ("continue_hls", {"hls", "broadcasting"}),
        ("continue_recording", {"composite_recording", "recording"}),
        ("continue_composite_recording", {"composite_recording", "recording"}),
        ("continue_individual_recording", {"individual_recording", "recording"}),
        ("continue_raw_recording", {"raw_recording", "recording"}),
        ("continue_rtmp_broadcasts", {"rtmps"}),
        ("continue_transcription", {"transcribing"}),
        ("continue_closed_caption", {"captioning"}),
    ],
)
def test_stop_live_keeps_on_what_a_continue_flag_names(
    engine: Engine,  # noqa: F811
    flag: str,
    kept: set[str],
) -> None:
    live(engine)
    run_everything(engine)
    engine.stop_live(*CID, {flag: True})
    call = call_of(engine)
    parts = ("hls", "composite_recording", "individual_recording", "raw_recording")
    running = {key for key in parts if call["egress"].get(key) is not None}
    running |= {k for k in ("recording", "transcribing", "captioning") if call[k]}
    if call["egress"]["broadcasting"]:
        running.add("broadcasting")
    if call["egress"]["rtmps"]:
        running.add("rtmps")
    assert running == kept
    assert call["backstage"] is True


def test_ending_a_call_stops_everything_and_nothing_starts_after(
    engine: Engine,  # noqa: F811
) -> None:
    live(engine)
    run_everything(engine)
    engine.mark_ended(*CID)
    call = call_of(engine)
    assert call["egress"] == {"broadcasting": False, "rtmps": [], "hls": None}
    assert not (call["recording"] or call["transcribing"] or call["captioning"])
    assert "no active session" in refused(engine.start_hls_broadcasting, *CID)[2]


def test_controls_persist_across_engines(tmp_path: Any, clock: Clock) -> None:  # noqa: F811
    path = tmp_path / "app.db"
    first = Engine(path, clock=clock)
    first.upsert_users({"users": {"alice": {"id": "alice"}}})
    make_call(first, "livestream:show")
    first.go_live(*CID, {})
    first.start_recording(*CID, "raw", {})
    first.close()
    second = Engine(path, clock=clock)
    try:
        assert second.get_call(*CID)["call"]["egress"]["raw_recording"] == {"status": "running"}
    finally:
        second.close()
