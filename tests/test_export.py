"""`stagecfg export`: diff-clean, idempotent and minimal, run as a user runs it.

The headline promises on both backends a user exports from: the sandbox file, and the emulator
after live changes made through Stream's Python SDK as a product's code makes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from emulator_fixture import emulator, make_emulator  # noqa: F401
from export_round_trip import (
    assert_fresh_apply_exports_the_same,
    assert_round_trip,
    export,
    run,
)
from getstream import Stream
from getstream.models import (
    AudioSettingsRequest,
    BackstageSettingsRequest,
    CallRequest,
    CallSettingsRequest,
    LimitsSettingsRequest,
    MemberRequest,
    PrivacySettingsResponse,
    ScreensharingSettingsRequest,
    TypingIndicatorsResponse,
    UserRequest,
)

from stagecfg.cli.export_command import _USER_CHOICES
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.export import USER_CHOICES, fit_to_schema

REPO = Path(__file__).resolve().parent.parent
SB = ("--sandbox", "sb.db")

SHOWS = """\
version: 1
project: demo
users:
  john: {role: user, name: John, custom: {tier: gold}}
  amy: {role: admin}
call_types:
  stage:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 300}
      audio: {default_device: speaker, mic_default_on: false}
    grants:
      host: [join-backstage, join-call, read-call, send-audio, send-video]
calls:
  stage:waiting:
    created_by_id: john
    starts_at: "2027-03-01T19:00:00+01:00"
    custom: {title: Waiting}
    members: {john: host, amy: user}
    live: false
  stage:on-air:
    created_by_id: john
    team: red
    settings_override:
      audio: {default_device: speaker, mic_default_on: true}
    live: true
  default:plain:
    created_by_id: amy
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], path: str, sandbox: str = "sb.db") -> None:
    code, out, err = run(capsys, "apply", path, "--sandbox", sandbox, "--auto-approve")
    assert code == 0, out + err


def test_export_of_an_applied_manifest_is_that_manifest(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    text = assert_round_trip(capsys, SB, work, "--project", "demo")
    assert text.startswith("# yaml-language-server: $schema=stagecfg.schema.json\n")
    # Minimal: exactly what the manifest set, nothing Stream filled in.
    assert yaml.safe_load(text) == {
        "version": 1,
        "project": "demo",
        "users": {
            "john": {"role": "user", "name": "John", "custom": {"tier": "gold"}},
            "amy": {"role": "admin"},
        },
        "call_types": {
            "stage": {
                "settings": {
                    "backstage": {"enabled": True, "join_ahead_time_seconds": 300},
                    "audio": {"default_device": "speaker", "mic_default_on": False},
                },
                "grants": {
                    "host": ["join-backstage", "join-call", "read-call", "send-audio", "send-video"]
                },
            }
        },
        "calls": {
            "stage:waiting": {
                "created_by_id": "john",
                "starts_at": "2027-03-01T18:00:00Z",
                "custom": {"title": "Waiting"},
                "members": {"amy": "user", "john": "host"},
                "live": False,
            },
            "stage:on-air": {
                "created_by_id": "john",
                "team": "red",
                # default_device comes along because the schema requires it next to the change
                "settings_override": {
                    "audio": {"default_device": "speaker", "mic_default_on": True}
                },
                "live": True,
            },
            # default's backstage is off, so the call is live from creation
            "default:plain": {"created_by_id": "amy", "live": True},
        },
    }
    assert_fresh_apply_exports_the_same(capsys, text, work, "--project", "demo")


def test_round_trip_after_example_is_applied(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "examples" / "backstage", work / "backstage")
    apply(capsys, "backstage")
    code, _, _ = run(capsys, "export", *SB, "--out", "export.yaml")
    assert code == 0
    data = yaml.safe_load((work / "export.yaml").read_text())
    assert data["calls"]["livestream:launch-show"]["live"] is False
    # The example changes the built-in livestream type, so it is exported, with only the change.
    assert data["call_types"]["livestream"]["settings"] == {
        "backstage": {"join_ahead_time_seconds": 300}
    }
    assert set(data["call_types"]) == {"livestream"}  # unchanged built-ins only on request
    text = assert_round_trip(capsys, SB, work)
    assert_fresh_apply_exports_the_same(capsys, text, work)
    listed = assert_round_trip(capsys, SB, work, "--include-builtin")
    call_types = yaml.safe_load(listed)["call_types"]
    assert set(call_types) == {"audio_room", "default", "development", "livestream"}
    assert call_types["default"] == {}  # Stream's defaults throughout
    assert_fresh_apply_exports_the_same(capsys, listed, work, "--include-builtin")


def test_calls_that_kept_old_type_settings_re_plan_empty(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    # Edit the call type after the calls exist: calls that opt out keep the old settings.
    (work / "shows.yaml").write_text(
        SHOWS.replace("join_ahead_time_seconds: 300", "join_ahead_time_seconds: 900")
        .replace("  stage:waiting:\n", "  stage:waiting:\n    follow_call_type: false\n")
        .replace("  stage:on-air:\n", "  stage:on-air:\n    follow_call_type: false\n")
    )
    apply(capsys, "shows.yaml")
    text = assert_round_trip(capsys, SB, work)
    calls = yaml.safe_load(text)["calls"]
    # The calls' snapshot still says 300; the type now says 900.
    assert calls["stage:waiting"]["settings_override"] == {
        "backstage": {"join_ahead_time_seconds": 300}
    }
    assert calls["stage:on-air"]["settings_override"] == {
        "audio": {"default_device": "speaker", "mic_default_on": True},
        "backstage": {"join_ahead_time_seconds": 300},
    }
    # Overrides say all the difference, so following the type changes nothing: not written.
    assert "follow_call_type" not in calls["stage:waiting"]
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_export_project_filters_calls_and_drops_marker(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    (work / "other.yaml").write_text(
        "version: 1\nproject: other\ncalls:\n  default:theirs:\n    created_by_id: amy\n"
    )
    apply(capsys, "other.yaml")
    data = yaml.safe_load(export(capsys, SB, "--project", "demo"))
    assert data["project"] == "demo"
    assert set(data["calls"]) == {"default:plain", "stage:on-air", "stage:waiting"}
    assert data["calls"]["stage:waiting"]["custom"] == {"title": "Waiting"}
    everything = yaml.safe_load(assert_round_trip(capsys, SB, work))
    assert everything["calls"]["default:theirs"]["custom"] == {"stagecfg_project": "other"}


def test_export_of_empty_sandbox(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert yaml.safe_load(export(capsys, SB)) == {"version": 1}
    assert yaml.safe_load(export(capsys, SB, "--users", "all")) == {"version": 1}


def test_the_cli_lists_the_export_packages_user_choices() -> None:
    assert _USER_CHOICES == USER_CHOICES


def test_fit_to_schema_drops_nulls_and_unknown_keys() -> None:
    root = {
        "$defs": {
            "S": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"a": {"$ref": "#/$defs/T"}, "b": {"type": "integer"}},
            },
            "T": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"x": {"type": "boolean"}},
            },
        }
    }
    value = {"a": {"x": True, "response_only": 1}, "b": None, "c": 3}
    assert fit_to_schema(value, {"$ref": "#/$defs/S"}, root) == {"a": {"x": True}}


# --- the emulator, changed live through Stream's Python SDK ---------------------------------

STARTS = datetime(2031, 5, 1, 18, 30, tzinfo=timezone.utc)


def change_the_app_like_product_code(handle: EmulatorHandle, *, late_limit: bool = True) -> None:
    """A dashboard-and-SDK history: a type made and edited, users, calls, members, go-live;
    with ``late_limit`` the type gains a setting after a call of it exists."""
    sdk = Stream(api_key=handle.api_key, api_secret=handle.api_secret, base_url=handle.url)
    sdk.video.create_call_type(
        name="town_hall",
        settings=CallSettingsRequest(
            backstage=BackstageSettingsRequest(enabled=True, join_ahead_time_seconds=120),
            audio=AudioSettingsRequest(default_device="speaker", mic_default_on=False),
        ),
        grants={"host": ["join-backstage", "join-call", "read-call", "send-audio"]},
        external_storage="recordings",
    )
    sdk.video.update_call_type(
        name="livestream",
        settings=CallSettingsRequest(
            screensharing=ScreensharingSettingsRequest(enabled=False, access_request_enabled=False)
        ),
    )
    sdk.upsert_users(
        UserRequest(
            id="pia",
            name="Pia",
            image="https://example.invalid/pia.png",
            language="it",
            invisible=True,
            teams=["red"],
            teams_role={"red": "admin"},
            custom={"plan": "pro"},
            privacy_settings=PrivacySettingsResponse(
                typing_indicators=TypingIndicatorsResponse(enabled=False)
            ),
        ),
        UserRequest(id="bo", role="admin"),
        UserRequest(id="lurker", name="Not in any call"),
    )
    hall = sdk.video.call("town_hall", "q3")
    hall.get_or_create(
        data=CallRequest(
            created_by_id="pia",
            starts_at=STARTS,
            team="red",
            custom={"agenda": ["results", "q&a"]},
            members=[MemberRequest(user_id="bo", role="host")],
            settings_override=CallSettingsRequest(
                limits=LimitsSettingsRequest(max_participants=50)
            ),
        )
    )
    hall.update_call_members(update_members=[MemberRequest(user_id="pia", role="host")])
    hall.go_live()
    # The type gains a limit after q3 exists: q3 lacks it, a new call has it.
    if late_limit:
        sdk.video.update_call_type(
            name="town_hall",
            settings=CallSettingsRequest(limits=LimitsSettingsRequest(max_duration_seconds=7200)),
        )
    sdk.video.call("town_hall", "q4").get_or_create(data=CallRequest(created_by_id="bo"))
    sdk.video.call("livestream", "launch").get_or_create(data=CallRequest(created_by_id="bo"))


def test_sdk_changes_on_the_emulator_export_diff_clean_and_idempotent(
    emulator: EmulatorHandle,  # noqa: F811
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    change_the_app_like_product_code(emulator)
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)
    app = ("--backend", "stream", "--base-url", emulator.url, "--api-key", emulator.api_key)
    data = yaml.safe_load(assert_round_trip(capsys, app, work))
    hall = data["call_types"]["town_hall"]
    assert hall["external_storage"] == "recordings"
    assert hall["settings"]["limits"] == {"max_duration_seconds": 7200}
    # access_request_enabled: false was sent too, but it is livestream's default: left out.
    assert data["call_types"]["livestream"] == {"settings": {"screensharing": {"enabled": False}}}
    q3 = data["calls"]["town_hall:q3"]
    assert q3["live"] is True and q3["team"] == "red"
    assert q3["members"] == {"bo": "host", "pia": "host"}
    assert q3["settings_override"] == {"limits": {"max_participants": 50}}
    # q3 lacks the limit the type gained, and no override can remove it: it must not follow.
    assert q3["follow_call_type"] is False
    assert data["calls"]["town_hall:q4"] == {"created_by_id": "bo", "live": False}
    assert data["users"]["pia"]["privacy_settings"]["typing_indicators"] == {"enabled": False}
    assert "lurker" not in data["users"]  # in no call: only with --users all
    everyone = yaml.safe_load(assert_round_trip(capsys, app, work, "--users", "all"))
    assert everyone["users"]["lurker"] == {"role": "user", "name": "Not in any call"}
    assert "users" not in yaml.safe_load(assert_round_trip(capsys, app, work, "--users", "none"))


def stagecfg_process(work: Path, env: dict[str, str], *argv: str) -> str:
    """``stagecfg ARGV`` as a separate process in ``work``, as a user's shell runs it; stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "stagecfg", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_export_as_a_subprocess_applies_to_a_fresh_sandbox_and_re_exports_the_same_bytes(
    emulator: EmulatorHandle,  # noqa: F811
    work: Path,
) -> None:
    change_the_app_like_product_code(emulator, late_limit=False)
    env = {**os.environ, "STREAM_API_SECRET": emulator.api_secret}
    app = ["--backend", "stream", "--base-url", emulator.url, "--api-key", emulator.api_key]
    stagecfg_process(work, env, "export", *app, "--users", "all", "--out", "app.yaml")
    assert "No changes" in stagecfg_process(work, env, "plan", "app.yaml", *app)
    stagecfg_process(work, env, "apply", "app.yaml", "--sandbox", "copy.db", "--auto-approve")
    copy = ("--sandbox", "copy.db", "--users", "all")
    stagecfg_process(work, env, "export", *copy, "--out", "copy.yaml")
    assert (work / "copy.yaml").read_bytes() == (work / "app.yaml").read_bytes()
    assert "No changes" in stagecfg_process(work, env, "plan", "app.yaml", "--sandbox", "copy.db")


def test_a_call_lacking_a_setting_its_type_gained_is_copied_with_it(
    emulator: EmulatorHandle,  # noqa: F811
    work: Path,
) -> None:
    """The one export -> apply -> export that is not byte-identical, and why.

    No request can remove a setting from a call, so a copy of q3 made from the exported file is
    created with the type's limit it never had. The copy still re-plans empty; its export just
    no longer needs ``follow_call_type: false``.
    """
    change_the_app_like_product_code(emulator)
    env = {**os.environ, "STREAM_API_SECRET": emulator.api_secret}
    app = ["--backend", "stream", "--base-url", emulator.url, "--api-key", emulator.api_key]
    original = stagecfg_process(work, env, "export", *app)
    (work / "app.yaml").write_text(original, "utf-8")
    stagecfg_process(work, env, "apply", "app.yaml", "--sandbox", "copy.db", "--auto-approve")
    assert "No changes" in stagecfg_process(work, env, "plan", "app.yaml", "--sandbox", "copy.db")
    copied = stagecfg_process(work, env, "export", "--sandbox", "copy.db")
    assert copied == original.replace("    follow_call_type: false\n", "", 1)
    assert "follow_call_type" not in copied
