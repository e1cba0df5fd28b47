"""Exported call types: every settings group, grants, notification settings and external
storage, each exported only where it differs from Stream's defaults, and each re-planning empty."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from export_round_trip import (
    EVERY_SETTINGS_GROUP,
    assert_fresh_apply_exports_the_same,
    assert_round_trip,
    export,
    run,
)

from stagecfg.export.call_types import call_type_entry
from stagecfg.model import CallTypeState
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES, starting_call_type
from stagecfg.rules.settings import NOTIFICATION_EVENTS, SETTINGS_KEYS

SB = ("--sandbox", "sb.db")

NOTIFICATIONS: dict[str, Any] = {
    "enabled": False,
    "call_ring": {"enabled": False, "apns": {"title": "Ring", "body": "{{ user }} is calling"}},
    "session_started": {"fcm": {"data": {"kind": "session"}}},
}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], work: Path, manifest: dict[str, Any]) -> None:
    (work / "m.yaml").write_text(yaml.safe_dump(manifest), "utf-8")
    code, out, err = run(capsys, "apply", "m.yaml", *SB, "--auto-approve")
    assert code == 0, out + err


def test_the_table_covers_every_settings_group_of_the_schema() -> None:
    assert set(EVERY_SETTINGS_GROUP) == SETTINGS_KEYS


def test_every_settings_group_grants_notifications_and_storage_export_as_declared(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    declared = {
        "settings": EVERY_SETTINGS_GROUP,
        "grants": {"host": ["join-call", "read-call", "send-audio"], "guest": []},
        "notification_settings": NOTIFICATIONS,
        "external_storage": "archive",
    }
    apply(capsys, work, {"version": 1, "call_types": {"gala": declared}})
    text = assert_round_trip(capsys, SB, work)
    assert yaml.safe_load(text)["call_types"] == {"gala": declared}
    assert_fresh_apply_exports_the_same(capsys, text, work)


@pytest.mark.parametrize("group", sorted(SETTINGS_KEYS))
def test_one_changed_group_of_a_built_in_type_is_all_it_exports(
    work: Path, capsys: pytest.CaptureFixture[str], group: str
) -> None:
    value = EVERY_SETTINGS_GROUP[group]
    apply(capsys, work, {"version": 1, "call_types": {"default": {"settings": {group: value}}}})
    text = assert_round_trip(capsys, SB, work)
    exported = yaml.safe_load(text)["call_types"]
    assert set(exported) == {"default"}
    assert exported["default"]["settings"] == {group: value}
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_unchanged_built_ins_are_left_out_and_listed_empty_on_request(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "call_types" not in yaml.safe_load(export(capsys, SB))
    listed = assert_round_trip(capsys, SB, work, "--include-builtin")
    assert yaml.safe_load(listed)["call_types"] == {name: {} for name in BUILTIN_CALL_TYPES}


def test_a_settings_value_set_back_to_its_default_is_not_exported(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys, work, {"version": 1, "call_types": {"quiz": {"settings": EVERY_SETTINGS_GROUP}}})
    back = {"screensharing": {"enabled": True, "access_request_enabled": True}}
    apply(capsys, work, {"version": 1, "call_types": {"quiz": {"settings": back}}})
    settings = yaml.safe_load(assert_round_trip(capsys, SB, work))["call_types"]["quiz"]["settings"]
    assert "screensharing" not in settings
    assert settings["thumbnails"] == {"enabled": False}


def test_a_call_type_holding_its_defaults_exports_empty() -> None:
    for name in (*BUILTIN_CALL_TYPES, "custom"):
        start = starting_call_type(name)
        state = CallTypeState(
            name, start["settings"], start["grants"], start["notification_settings"]
        )
        assert call_type_entry(state) == {}


def test_response_only_fields_nulls_and_grant_order_are_not_differences() -> None:
    start = starting_call_type("livestream")
    settings = copy.deepcopy(start["settings"])
    settings["limits"]["max_participants"] = None  # a null the server answers
    settings["recording"]["layout"]["detect_orientation"] = None
    settings["not_in_the_schema"] = {"x": 1}
    grants = {role: list(reversed(ids)) for role, ids in start["grants"].items()}
    notifications = copy.deepcopy(start["notification_settings"])
    for event in NOTIFICATION_EVENTS:
        notifications[event]["apns"]["unknown"] = "?"
    state = CallTypeState("livestream", settings, grants, notifications)
    assert call_type_entry(state) == {}
