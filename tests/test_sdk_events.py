"""Stream's Python SDK (getstream 7.0.0) drives the backstage flow against the emulator; the
event log and the webhooks a receiver on 127.0.0.1 gets say what Stream would have sent, each
body held to its schema in the spec and parsed by the SDK's own webhook helpers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_fixture import MakeEmulator, client, make_emulator  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import (
    APNSPayload,
    CallRequest,
    EventNotificationSettingsRequest,
    MemberRequest,
    NotificationSettingsRequest,
    UserRequest,
)
from getstream.webhook import verify_and_parse_webhook
from openapi_check import assert_event_matches
from webhook_receiver import MakeReceiver, receivers  # noqa: F401

from stagecfg.emulator.server import EmulatorHandle
from stagecfg.emulator.webhooks import WebhookSettings

#: The flow's events, in the order Stream's rules (as the sandbox implements them) send them.
FLOW = [
    "user.updated",
    "user.updated",
    "call.created",
    "call.member_added",
    "call.live_started",
    "call.session_started",
    "call.hls_broadcasting_started",
    "call.updated",
    "call.hls_broadcasting_stopped",
    "call.ended",
    "call.session_ended",
]
#: The SDK's event class for each type (getstream.webhook.parse_event).
SDK_CLASSES = {
    "call.created": "CallCreatedEvent",
    "call.ended": "CallEndedEvent",
    "call.hls_broadcasting_started": "CallHLSBroadcastingStartedEvent",
    "call.hls_broadcasting_stopped": "CallHLSBroadcastingStoppedEvent",
    "call.live_started": "CallLiveStartedEvent",
    "call.member_added": "CallMemberAddedEvent",
    "call.session_ended": "CallSessionEndedEvent",
    "call.session_started": "CallSessionStartedEvent",
    "call.updated": "CallUpdatedEvent",
    "user.updated": "UserUpdatedEvent",
}


def sdk(handle: EmulatorHandle) -> Stream:
    return Stream(api_key=handle.api_key, api_secret=handle.api_secret, base_url=handle.url)


def drive_flow(stream: Stream) -> None:
    """Announce lives by push, then a show: created, a host added, live, back, ended."""
    stream.video.update_call_type(
        name="livestream",
        notification_settings=NotificationSettingsRequest(
            enabled=True,
            call_live_started=EventNotificationSettingsRequest(
                enabled=True, apns=APNSPayload(title="{{ call.display_name }} is live")
            ),
        ),
    )
    stream.upsert_users(UserRequest(id="alice", name="Alice"), UserRequest(id="bob"))
    call = stream.video.call("livestream", "launch")
    call.get_or_create(data=CallRequest(created_by_id="alice"))
    call.update_call_members(update_members=[MemberRequest(user_id="bob", role="host")])
    call.go_live(start_hls=True)
    call.stop_live()
    call.end()


def test_the_sdk_s_backstage_flow_is_logged_and_delivered_as_stream_sends_it(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    secret = "stagecfg-emulator-dev-secret-not-for-production"
    hook = receivers(secret)
    handle = make_emulator(webhook=WebhookSettings(url=hook.url, poll_seconds=0.05))
    drive_flow(sdk(handle))
    with client(handle) as http:
        served = http.get("/_emulator/events").json()
    bodies = [entry["event"] for entry in served["events"]]
    assert [b["type"] for b in bodies] == FLOW
    for body in bodies:
        assert_event_matches(body)
    hook.wait_for(lambda r: len(r.delivered) == len(FLOW))
    attempts = hook.snapshot()
    assert [a.event for a in attempts] == bodies
    for attempt in attempts:
        parsed = verify_and_parse_webhook(attempt.body, attempt.headers["x-signature"], secret)
        assert type(parsed).__name__ == SDK_CLASSES[attempt.event["type"]]
    created, added = bodies[2], bodies[3]
    assert created["call"]["cid"] == "livestream:launch" and created["members"] == []
    assert [m["user_id"] for m in added["members"]] == ["bob"]
    assert added["members"][0]["role"] == "host"


def test_a_call_type_s_live_started_push_setting_is_in_the_delivered_event(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    secret = "stagecfg-emulator-dev-secret-not-for-production"
    hook = receivers(secret)
    handle = make_emulator(webhook=WebhookSettings(url=hook.url, poll_seconds=0.05))
    drive_flow(sdk(handle))
    hook.wait_for(lambda r: len(r.delivered) == len(FLOW))
    (live,) = [e for e in hook.delivered if e["type"] == "call.live_started"]
    pushed: dict[str, Any] = live["notification_settings"]
    assert pushed["enabled"] is True
    assert pushed["call_live_started"]["enabled"] is True
    assert pushed["call_live_started"]["apns"]["title"] == "{{ call.display_name }} is live"
    # The same as the call type says through the SDK.
    settings = sdk(handle).video.get_call_type(name="livestream").data.notification_settings
    assert settings.call_live_started.apns.title == "{{ call.display_name }} is live"


def test_a_refused_sdk_request_is_neither_logged_nor_delivered(
    make_emulator: MakeEmulator,  # noqa: F811
    receivers: MakeReceiver,  # noqa: F811
) -> None:
    hook = receivers("stagecfg-emulator-dev-secret-not-for-production")
    handle = make_emulator(webhook=WebhookSettings(url=hook.url, poll_seconds=0.05))
    stream = sdk(handle)
    stream.upsert_users(UserRequest(id="alice"))
    hook.wait_for(lambda r: len(r.delivered) == 1)
    before = handle.events()
    call = stream.video.call("livestream", "launch")
    refused = (
        lambda: call.get_or_create(
            data=CallRequest(created_by_id="alice", members=[MemberRequest(user_id="ghost")])
        ),
        call.go_live,  # no such call yet
        lambda: stream.video.call("nope", "x").get_or_create(
            data=CallRequest(created_by_id="alice")
        ),
    )
    for attempt in refused:
        with pytest.raises(StreamApiException) as excinfo:
            attempt()
        assert excinfo.value.status_code in (400, 404)
    assert handle.events() == before
    # A later change is delivered next: nothing was queued for the refused ones.
    call.get_or_create(data=CallRequest(created_by_id="alice"))
    hook.wait_for(lambda r: len(r.delivered) == 2)
    assert [e["type"] for e in hook.delivered] == ["user.updated", "call.created"]
    stats = handle.webhook_stats()
    assert stats is not None and stats["attempts"] == 2


def test_events_are_served_to_anyone_with_server_credentials_only(
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    handle = make_emulator()
    drive_flow(sdk(handle))
    answer = httpx.get(handle.url + "/_emulator/events", params={"api_key": handle.api_key})
    assert answer.status_code == 401
    assert [e["event"]["type"] for e in handle.events()["events"]] == FLOW
