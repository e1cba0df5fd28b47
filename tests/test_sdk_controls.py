"""The livestream controls through Stream's own Python SDK (getstream 7.0.0) and the emulator.

Each control the SDK offers is called the way an app's backend would call it, and the call state
the SDK then reads (its typed models) shows what changed. Joining is client-side and not in the
server SDK, so viewers join over HTTP with their own user token.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest
from emulator_fixture import client, emulator, make_emulator  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import (
    CallRequest,
    MemberRequest,
    OwnCapability,
    RTMPBroadcastRequest,
    UserRequest,
)
from getstream.video.call import Call

from stagecfg.emulator.server import EmulatorHandle

CID = "livestream:show"


@pytest.fixture
def sdk(emulator: EmulatorHandle) -> Stream:  # noqa: F811
    return Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)


@pytest.fixture
def show(sdk: Stream) -> Call:
    """livestream:show by alice, with bob as host and carol as a member; not live yet."""
    sdk.upsert_users(*(UserRequest(id=u) for u in ("alice", "bob", "carol", "dave")))
    call = sdk.video.call("livestream", "show")
    members = [MemberRequest(user_id="bob", role="host"), MemberRequest(user_id="carol")]
    call.get_or_create(data=CallRequest(created_by_id="alice", members=members))
    return call


def join(handle: EmulatorHandle, user_id: str) -> httpx.Response:
    token = jwt.encode({"user_id": user_id}, handle.api_secret, "HS256")
    with client(handle, token=token) as viewer:
        return viewer.post("/api/v2/video/call/livestream/show/join", json={})


@pytest.fixture
def live_show(show: Call, emulator: EmulatorHandle) -> Iterator[Call]:  # noqa: F811
    show.go_live()
    assert join(emulator, "bob").status_code == 201
    yield show


def test_hls_through_the_sdk(live_show: Call) -> None:
    started = live_show.start_hls_broadcasting()
    egress = live_show.get().data.call.egress
    assert egress.broadcasting is True
    assert egress.hls is not None and egress.hls.playlist_url == started.data.playlist_url
    live_show.stop_hls_broadcasting()
    egress = live_show.get().data.call.egress
    assert egress.broadcasting is False and egress.hls is None


def test_every_recording_kind_through_the_sdk(live_show: Call) -> None:
    for kind in ("composite", "individual", "raw"):
        live_show.start_recording(recording_type=kind, recording_external_storage="my-s3")
    call = live_show.get().data.call
    assert call.recording is True
    assert call.egress.composite_recording is not None
    assert call.egress.individual_recording is not None
    assert call.egress.raw_recording is not None
    assert call.egress.raw_recording.status == "running"
    assert live_show.list_recordings().data.recordings == []
    for kind in ("composite", "individual", "raw"):
        live_show.stop_recording(recording_type=kind)
    call = live_show.get().data.call
    assert call.recording is False and call.egress.composite_recording is None


def test_streams_recorded_refusals_reach_the_sdk(show: Call) -> None:
    with pytest.raises(StreamApiException) as started:
        show.start_recording(recording_type="composite")
    assert started.value.status_code == 400
    assert started.value.message == 'StartRecording failed with error: "there is no active session"'
    with pytest.raises(StreamApiException) as stopped:
        show.stop_recording(recording_type="composite")
    assert stopped.value.status_code == 400
    assert stopped.value.message == 'StopRecording failed with error: "call egress is not running"'


def test_transcription_and_captions_through_the_sdk(live_show: Call) -> None:
    live_show.start_transcription(language="en", enable_closed_captions=True)
    call = live_show.get().data.call
    assert (call.transcribing, call.captioning) == (True, True)
    assert live_show.list_transcriptions().data.transcriptions == []
    live_show.stop_transcription(stop_closed_captions=True)
    call = live_show.get().data.call
    assert (call.transcribing, call.captioning) == (False, False)
    live_show.start_closed_captions(language="auto")
    assert live_show.get().data.call.captioning is True
    live_show.stop_closed_captions()
    assert live_show.get().data.call.captioning is False


def test_rtmp_broadcasts_through_the_sdk(live_show: Call) -> None:
    for name in ("youtube", "twitch"):
        live_show.start_rtmp_broadcasts(
            broadcasts=[
                RTMPBroadcastRequest(
                    name=name, stream_url=f"rtmps://{name}.invalid/live", stream_key="k"
                )
            ]
        )
    rtmps = live_show.get().data.call.egress.rtmps
    assert [r.name for r in rtmps] == ["youtube", "twitch"]
    assert rtmps[0].started_at is not None
    live_show.stop_rtmp_broadcast(name="youtube")
    assert [r.name for r in live_show.get().data.call.egress.rtmps] == ["twitch"]
    live_show.stop_all_rtmp_broadcasts()
    assert live_show.get().data.call.egress.rtmps == []


def test_stop_live_continues_what_its_flags_name_through_the_sdk(live_show: Call) -> None:
    live_show.start_hls_broadcasting()
    live_show.start_recording(recording_type="composite")
    live_show.start_transcription()
    live_show.start_closed_captions()
    live_show.start_rtmp_broadcasts(
        broadcasts=[RTMPBroadcastRequest(name="yt", stream_url="rtmps://yt.invalid/live")]
    )
    stopped = live_show.stop_live(
        continue_hls=True, continue_transcription=True, continue_rtmp_broadcasts=True
    )
    call = stopped.data.call
    assert call.backstage is True
    assert call.egress.hls is not None and call.egress.broadcasting is True
    assert [r.name for r in call.egress.rtmps] == ["yt"]
    assert call.transcribing is True
    assert call.recording is False and call.captioning is False
    assert live_show.get().data.call.egress.hls is not None


def test_block_kick_mute_pin_through_the_sdk(
    live_show: Call,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    assert join(emulator, "carol").status_code == 201
    live_show.block_user(user_id="dave")
    assert live_show.get().data.call.blocked_user_ids == ["dave"]
    assert join(emulator, "dave").status_code == 403
    live_show.unblock_user(user_id="dave")
    assert live_show.get().data.call.blocked_user_ids == []
    assert join(emulator, "dave").status_code == 201
    live_show.kick_user(user_id="dave", kicked_by_id="alice")
    participants = live_show.get().data.call.session.participants
    assert sorted(p.user.id for p in participants) == ["bob", "carol"]
    live_show.mute_users(mute_all_users=True, audio=True, muted_by_id="alice")
    live_show.mute_users(user_ids=["bob", "carol"], video=True, screenshare=True)
    bob = next(p for p in participants if p.user.id == "bob")
    live_show.video_pin(session_id=bob.user_session_id, user_id="bob")
    live_show.video_unpin(session_id=bob.user_session_id, user_id="bob")
    live_show.kick_user(user_id="carol", block=True)
    call = live_show.get().data.call
    assert call.blocked_user_ids == ["carol"]
    assert [p.user.id for p in call.session.participants] == ["bob"]


def test_user_permissions_through_the_sdk_decide_the_join(
    live_show: Call,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    live_show.stop_live()  # backstage: only join-backstage admits
    assert join(emulator, "dave").status_code == 403
    live_show.update_user_permissions(
        user_id="dave", grant_permissions=[OwnCapability.JOIN_BACKSTAGE, OwnCapability.SCREENSHARE]
    )
    joined = join(emulator, "dave")
    assert joined.status_code == 201
    assert OwnCapability.SCREENSHARE in joined.json()["own_capabilities"]
    live_show.update_user_permissions(
        user_id="dave", revoke_permissions=[OwnCapability.JOIN_BACKSTAGE]
    )
    assert join(emulator, "dave").status_code == 403


def test_events_ringing_and_participants_through_the_sdk(
    sdk: Stream,
    live_show: Call,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    live_show.send_call_event(user_id="alice", custom={"bananas": "good"})
    rung = live_show.ring(video=True)
    assert rung.data.members_ids == ["carol"]  # bob is in the call, alice rings
    assert live_show.ring(members_ids=["carol"]).data.members_ids == ["carol"]
    ring_call = sdk.video.call("default", "ring-1")
    created = ring_call.get_or_create(
        ring=True,
        video=True,
        data=CallRequest(
            created_by_id="alice",
            members=[MemberRequest(user_id="alice"), MemberRequest(user_id="carol")],
        ),
    )
    assert created.data.created is True
    assert join(emulator, "carol").status_code == 201
    everyone = live_show.query_call_participants()
    assert sorted(p.user.id for p in everyone.data.participants) == ["bob", "carol"]
    assert everyone.data.total_participants == 2
    assert everyone.data.call.cid == CID
    one = live_show.query_call_participants(
        filter_conditions={"user_id": {"$eq": "carol"}}, limit=100
    )
    assert [p.user.id for p in one.data.participants] == ["carol"]
    publishing = live_show.query_call_participants(
        filter_conditions={"published_tracks": {"$eq": "video"}}
    )
    assert publishing.data.participants == []  # no media in the sandbox
    status = sdk.video.get_active_calls_status().data
    assert status.summary is not None and status.summary.active_calls == 1
    assert status.summary.participants == 2


def test_hard_delete_task_through_the_sdk(sdk: Stream, show: Call) -> None:
    soft = sdk.video.call("default", "soft")
    soft.get_or_create(data=CallRequest(created_by_id="alice"))
    assert soft.delete().data.task_id is None
    deleted = show.delete(hard=True)
    task_id = deleted.data.task_id
    assert task_id is not None
    task = sdk.get_task(id=task_id).data
    assert task.status == "completed"
    assert task.result is not None and task.result[CID]["status"] == "ok"
    with pytest.raises(StreamApiException) as missing:
        sdk.get_task(id="no-such-task")
    assert (missing.value.status_code, missing.value.code) == (404, 16)


def test_an_unknown_call_is_404_through_the_sdk(sdk: Stream) -> None:
    with pytest.raises(StreamApiException) as missing:
        sdk.video.call("livestream", "nope").start_hls_broadcasting()
    assert (missing.value.status_code, missing.value.code) == (404, 16)
