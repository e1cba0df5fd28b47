"""Exported calls: every field a call can declare, overrides only where the call differs from
its call type, and ``follow_call_type: false`` exactly when following would change the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from export_round_trip import (
    EVERY_SETTINGS_GROUP,
    assert_fresh_apply_exports_the_same,
    assert_round_trip,
    run,
)

from stagecfg.backends import open_backend

SB = ("--sandbox", "sb.db")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], work: Path, manifest: dict[str, Any]) -> None:
    (work / "m.yaml").write_text(yaml.safe_dump(manifest), "utf-8")
    code, out, err = run(capsys, "apply", "m.yaml", *SB, "--auto-approve")
    assert code == 0, out + err


def test_every_call_field_exports_and_re_plans_empty(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    show = {
        "created_by_id": "ann",
        "starts_at": "2031-01-02T03:04:05.678+02:00",
        "custom": {"title": "Premiere", "tags": ["a", "b"], "nested": {"count": 1}},
        "team": "blue",
        "members": {"ann": "host", "bob": "call_member", "cy": "admin"},
        "live": False,
    }
    apply(
        capsys,
        work,
        {
            "version": 1,
            "users": {"ann": {"role": "user"}, "bob": {"role": "user"}, "cy": {"role": "admin"}},
            "call_types": {"stage": {"settings": {"backstage": {"enabled": True}}}},
            "calls": {
                "stage:waiting": show,
                "stage:on-air": {**show, "live": True},
                "default:open": {"created_by_id": "bob", "live": True},
            },
        },
    )
    text = assert_round_trip(capsys, SB, work)
    calls = yaml.safe_load(text)["calls"]
    assert calls["stage:waiting"] == {**show, "starts_at": "2031-01-02T01:04:05.678000Z"}
    assert calls["stage:on-air"]["live"] is True
    assert calls["default:open"] == {"created_by_id": "bob", "live": True}
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_every_settings_group_as_a_call_override(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(
        capsys,
        work,
        {
            "version": 1,
            "users": {"ann": {"role": "user"}},
            "calls": {
                "default:all": {"created_by_id": "ann", "settings_override": EVERY_SETTINGS_GROUP},
                "default:none": {"created_by_id": "ann"},
            },
        },
    )
    text = assert_round_trip(capsys, SB, work)
    calls = yaml.safe_load(text)["calls"]
    # Backstage on: the call waits there until it goes live.
    assert calls["default:all"] == {
        "created_by_id": "ann",
        "settings_override": EVERY_SETTINGS_GROUP,
        "live": False,
    }
    assert "settings_override" not in calls["default:none"]
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_a_call_follows_a_type_change_only_when_following_changes_nothing(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base: dict[str, Any] = {
        "version": 1,
        "users": {"ann": {"role": "user"}},
        "call_types": {"club": {"settings": {"session": {"inactivity_timeout_seconds": 60}}}},
        "calls": {
            "club:old": {"created_by_id": "ann", "follow_call_type": False},
            "club:overridden": {
                "created_by_id": "ann",
                "follow_call_type": False,
                "settings_override": {"limits": {"max_participants": 9}},
            },
        },
    }
    apply(capsys, work, base)
    # The type changes a value the calls have and gains one they lack; they opt out of both.
    base["call_types"]["club"]["settings"] = {
        "session": {"inactivity_timeout_seconds": 90},
        "limits": {"max_duration_seconds": 600},
    }
    apply(capsys, work, base)
    # A call product code creates now has both.
    backend = open_backend("local", sandbox_path="sb.db")
    try:
        backend.create_call("club:new", {"created_by_id": "ann"})
    finally:
        backend.close()
    text = assert_round_trip(capsys, SB, work)
    calls = yaml.safe_load(text)["calls"]
    assert calls["club:old"] == {
        "created_by_id": "ann",
        "follow_call_type": False,
        "settings_override": {"session": {"inactivity_timeout_seconds": 60}},
        "live": True,
    }
    assert calls["club:overridden"]["settings_override"] == {
        "limits": {"max_participants": 9},
        "session": {"inactivity_timeout_seconds": 60},
    }
    assert calls["club:overridden"]["follow_call_type"] is False
    assert calls["club:new"] == {"created_by_id": "ann", "live": True}


def test_a_call_that_kept_a_value_but_has_every_key_follows(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(
        capsys,
        work,
        {
            "version": 1,
            "users": {"ann": {"role": "user"}},
            "call_types": {"club": {"settings": {"session": {"inactivity_timeout_seconds": 60}}}},
            "calls": {"club:old": {"created_by_id": "ann", "follow_call_type": False}},
        },
    )
    backend = open_backend("local", sandbox_path="sb.db")
    try:  # a dashboard edit of the type: the call keeps 60
        backend.update_call_type(
            "club", {"settings": {"session": {"inactivity_timeout_seconds": 75}}}
        )
    finally:
        backend.close()
    text = assert_round_trip(capsys, SB, work)
    old = yaml.safe_load(text)["calls"]["club:old"]
    # The override pins 60, so following the type changes nothing: no follow_call_type needed.
    assert old == {
        "created_by_id": "ann",
        "settings_override": {"session": {"inactivity_timeout_seconds": 60}},
        "live": True,
    }
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_a_waiting_call_whose_backstage_was_switched_off_is_copied_live(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other state no manifest rebuilds: a call still in backstage although its backstage
    is now off. It exports as it is (``live: false``) and re-plans empty; a copy made from the
    file is live from creation, since nothing waits in backstage when it is off."""
    backend = open_backend("local", sandbox_path="sb.db")
    try:
        backend.upsert_users({"ann": {}})
        backend.create_call("audio_room:talk", {"created_by_id": "ann"})
        backend.update_call(
            "audio_room:talk", {"settings_override": {"backstage": {"enabled": False}}}
        )
    finally:
        backend.close()
    text = assert_round_trip(capsys, SB, work)
    talk = yaml.safe_load(text)["calls"]["audio_room:talk"]
    assert talk == {
        "created_by_id": "ann",
        "settings_override": {"backstage": {"enabled": False}},
        "live": False,
    }
    assert_fresh_apply_exports_the_same(
        capsys, text, work, expected=text.replace("    live: false\n", "    live: true\n")
    )
