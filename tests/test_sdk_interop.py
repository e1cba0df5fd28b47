"""Stream's own Python SDK (getstream 7.0.0) against the emulator, and stagecfg reading it back.

If the SDK can drive the backstage flow against the emulator and stagecfg sees exactly what the
SDK did (and the other way round), the emulator speaks Stream's wire protocol well enough for
stagecfg's results against it to mean something for a real app.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from emulator_fixture import emulator, make_emulator, stream_backend_for  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import (
    BackstageSettingsRequest,
    CallRequest,
    CallSettingsRequest,
    MemberRequest,
    QueryUsersPayload,
    ScreensharingSettingsRequest,
    UserRequest,
)

from stagecfg.emulator.server import EmulatorHandle
from stagecfg.model import PROJECT_MARKER_KEY
from stagecfg.timestamps import same_instant

STARTS = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


def sdk(handle: EmulatorHandle) -> Stream:
    return Stream(api_key=handle.api_key, api_secret=handle.api_secret, base_url=handle.url)


def drive_backstage_flow(client: Stream) -> None:
    client.video.update_call_type(
        name="livestream",
        settings=CallSettingsRequest(
            backstage=BackstageSettingsRequest(enabled=True, join_ahead_time_seconds=300)
        ),
        grants={"host": ["join-backstage", "join-call"], "user": ["read-call", "join-call"]},
    )
    client.upsert_users(UserRequest(id="alice", name="Alice"), UserRequest(id="bob"))
    call = client.video.call("livestream", "show-1")
    created = call.get_or_create(
        data=CallRequest(
            created_by_id="alice",
            starts_at=STARTS,
            members=[MemberRequest(user_id="bob", role="host")],
            custom={"title": "Launch", PROJECT_MARKER_KEY: "sdk-interop"},
            settings_override=CallSettingsRequest(
                screensharing=ScreensharingSettingsRequest(enabled=False)
            ),
        )
    )
    assert created.data.created is True
    assert created.data.call.backstage is True
    assert created.data.call.starts_at == STARTS
    updated = call.update(starts_at=STARTS + timedelta(hours=1))
    assert updated.data.call.starts_at == STARTS + timedelta(hours=1)
    live = call.go_live(start_hls=True, start_recording=True)
    assert live.data.call.backstage is False
    assert live.data.call.recording is True
    assert live.data.call.egress.broadcasting is True


def test_sdk_backstage_flow_reads_back_through_stagecfg(emulator: EmulatorHandle) -> None:  # noqa: F811
    client = sdk(emulator)
    drive_backstage_flow(client)
    backend = stream_backend_for(emulator)
    try:
        state = backend.read(cids=["livestream:show-1"], users=["alice", "bob"])
        livestream = state.call_types["livestream"]
        assert livestream.grants["host"] == ["join-backstage", "join-call"]
        assert livestream.grants["user"] == ["read-call", "join-call"]
        assert livestream.settings["backstage"] == {
            "enabled": True,
            "join_ahead_time_seconds": 300,
        }
        call = state.calls["livestream:show-1"]
        assert call.created_by_id == "alice"
        assert same_instant(call.starts_at, "2030-01-01T13:00:00Z")
        assert call.members == {"bob": "host"}
        assert call.backstage is False
        assert call.live_started_at is not None
        assert call.settings["screensharing"]["enabled"] is False
        assert call.custom["title"] == "Launch"
        assert state.users["alice"].name == "Alice"

        client.video.call("livestream", "show-1").stop_live()
        again = backend.read(cids=["livestream:show-1"]).calls["livestream:show-1"]
        assert again.backstage is True
        assert again.live_ended_at is not None
    finally:
        backend.close()


def test_what_stagecfg_writes_reads_back_through_the_sdk(emulator: EmulatorHandle) -> None:  # noqa: F811
    backend = stream_backend_for(emulator)
    try:
        backend.create_call_type(
            "stage",
            {
                "grants": {"host": ["join-backstage"]},
                "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 120}},
            },
        )
        backend.upsert_users({"carol": {"role": "admin"}})
        backend.create_call(
            "stage:s1",
            {
                "created_by_id": "carol",
                "starts_at": "2030-06-01T20:00:00+02:00",
                "members": [{"user_id": "carol", "role": "host"}],
                "custom": {"k": "v"},
            },
        )
        backend.go_live("stage:s1", {"start_hls": True})
    finally:
        backend.close()
    client = sdk(emulator)
    ct = client.video.get_call_type(name="stage").data
    assert ct.grants["host"] == ["join-backstage"]
    assert ct.settings.backstage.enabled is True
    assert ct.settings.backstage.join_ahead_time_seconds == 120
    got = client.video.call("stage", "s1").get().data
    assert got.call.starts_at == datetime(2030, 6, 1, 18, 0, tzinfo=timezone.utc)
    assert got.call.custom == {"k": "v"}
    assert got.call.backstage is False
    assert got.call.created_by.id == "carol"
    assert [(m.user_id, m.role) for m in got.members] == [("carol", "host")]
    page = client.video.query_calls(filter_conditions={"type": {"$eq": "stage"}}, limit=10).data
    assert [c.call.cid for c in page.calls] == ["stage:s1"]
    with pytest.raises(StreamApiException) as info:
        client.video.get_call_type(name="nope")
    assert (info.value.status_code, info.value.code) == (404, 16)


MANIFEST = f"""\
version: 1
project: sdk-interop
users:
  alice: {{role: user, name: Alice}}
  bob: {{role: user}}
call_types:
  livestream:
    settings:
      backstage: {{enabled: true, join_ahead_time_seconds: 300}}
    grants:
      host: [join-backstage, join-call]
      user: [read-call, join-call]
calls:
  livestream:show-1:
    created_by_id: alice
    starts_at: "2030-01-01T14:00:00+01:00"
    custom: {{title: Launch, {PROJECT_MARKER_KEY}: sdk-interop}}
    settings_override:
      screensharing: {{enabled: false}}
    members: {{bob: host}}
    live: true
"""


def test_stagecfg_plan_sees_no_changes_after_the_sdk_did_the_same(
    emulator: EmulatorHandle,  # noqa: F811
    tmp_path: Path,
) -> None:
    drive_backstage_flow(sdk(emulator))
    manifest = tmp_path / "stagecfg.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    env = {
        **os.environ,
        "STREAM_API_KEY": emulator.api_key,
        "STREAM_API_SECRET": emulator.api_secret,
        "STREAM_BASE_URL": emulator.url,
    }
    argv = [sys.executable, "-m", "stagecfg", "plan", "--backend", "stream", "--detailed-exitcode"]
    result = subprocess.run(
        [*argv, str(manifest)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert emulator.api_secret not in result.stdout + result.stderr
    # ... and a real difference does show.
    manifest.write_text(MANIFEST.replace("title: Launch", "title: Relaunch"), encoding="utf-8")
    changed = subprocess.run(
        [*argv, str(manifest)], capture_output=True, text=True, env=env, timeout=120
    )
    assert changed.returncode == 2, changed.stdout + changed.stderr
    assert "livestream:show-1" in changed.stdout


APPLIED = """\
version: 1
project: applied
users:
  carol: {role: admin, name: Carol}
  dave: {role: user}
call_types:
  stage:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 120}
    grants:
      host: [join-backstage, join-call]
      user: [read-call]
calls:
  stage:s1:
    created_by_id: carol
    starts_at: "2030-06-01T20:00:00+02:00"
    custom: {title: Premiere}
    settings_override:
      screensharing: {enabled: false}
      backstage: {join_ahead_time_seconds: 600}
    members: {carol: host, dave: user}
    live: true
    go_live: {start_hls: true, start_recording: true}
"""


def test_what_stagecfg_apply_writes_reads_back_through_the_sdk(
    emulator: EmulatorHandle,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stagecfg.cli import main

    manifest = tmp_path / "stagecfg.yaml"
    manifest.write_text(APPLIED, encoding="utf-8")
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)
    flags = ["--backend", "stream", "--base-url", emulator.url, "--api-key", emulator.api_key]
    with pytest.raises(SystemExit) as info:
        main(["apply", str(manifest), "--auto-approve", *flags])
    out, err = capsys.readouterr()
    assert info.value.code == 0, out + err
    assert "Apply complete" in out

    client = sdk(emulator)
    ct = client.video.get_call_type(name="stage").data
    assert ct.grants["host"] == ["join-backstage", "join-call"]
    assert ct.grants["user"] == ["read-call"]
    assert (ct.settings.backstage.enabled, ct.settings.backstage.join_ahead_time_seconds) == (
        True,
        120,
    )
    users = client.query_users(
        QueryUsersPayload(filter_conditions={"id": {"$in": ["carol", "dave"]}})
    ).data.users
    assert sorted((u.id, u.role, u.name) for u in users) == [
        ("carol", "admin", "Carol"),
        ("dave", "user", None),
    ]
    got = client.video.call("stage", "s1").get().data
    assert got.call.starts_at == datetime(2030, 6, 1, 18, 0, tzinfo=timezone.utc)
    assert got.call.created_by.id == "carol"
    assert got.call.custom == {"title": "Premiere", PROJECT_MARKER_KEY: "applied"}
    assert got.call.settings.screensharing.enabled is False
    assert got.call.settings.backstage.join_ahead_time_seconds == 600
    assert got.call.backstage is False  # live: true went live
    assert got.call.recording is True  # go_live start_recording reached the call
    assert got.call.egress.hls is not None  # ... and start_hls
    assert sorted((m.user_id, m.role) for m in got.members) == [
        ("carol", "host"),
        ("dave", "user"),
    ]
