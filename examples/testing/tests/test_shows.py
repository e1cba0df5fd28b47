"""Your app against Stream, offline: the stream_emulator fixture comes with stagecfg."""

from datetime import datetime, timezone

from shows_app import open_doors, schedule_show

STARTS = datetime(2030, 1, 1, 18, 0, tzinfo=timezone.utc)


def test_a_scheduled_show_waits_in_backstage(stream_emulator):
    client = stream_emulator.client()

    schedule_show(client, "launch-party", host="presenter", starts_at=STARTS)

    call = client.video.call("shows", "launch-party").get().data.call
    assert call.backstage is True
    assert call.custom == {"title": "Launch Party"}
    assert call.settings.backstage.join_ahead_time_seconds == 300  # from shows.yaml


def test_opening_the_doors_goes_live_and_sends_exactly_that(stream_emulator):
    client = stream_emulator.client()
    schedule_show(client, "launch-party", host="presenter", starts_at=STARTS)

    open_doors(client, "launch-party")

    # The state Stream now holds...
    call = client.video.call("shows", "launch-party").get().data.call
    assert call.backstage is False
    assert call.session.live_started_at is not None
    # ...and what the app sent to get there.
    sent = stream_emulator.requests(operation=["GetOrCreateCall", "GoLive"])
    assert [(r["method"], r["operation"], r["status"]) for r in sent] == [
        ("POST", "GetOrCreateCall", 201),
        ("POST", "GoLive", 201),
    ]
    assert sent[0]["body"]["data"]["members"] == [{"user_id": "presenter", "role": "host"}]
    assert sent[1]["path"] == "/api/v2/video/call/shows/launch-party/go_live"
    assert sent[1]["body"] == {"start_hls": True}
    # ...and the event Stream would have sent your webhook.
    (live,) = stream_emulator.events("call.live_started")
    assert live["event"]["call_cid"] == "shows:launch-party"


def test_every_test_starts_from_the_manifests(stream_emulator):
    client = stream_emulator.client()

    # The call the tests above created is gone; what shows.yaml declares is there.
    assert client.video.query_calls().data.calls == []
    shows = client.video.get_call_type(name="shows").data
    assert shows.settings.backstage.enabled is True
    # The request log starts empty for each test, too.
    assert [r["operation"] for r in stream_emulator.requests()] == ["QueryCalls", "GetCallType"]
