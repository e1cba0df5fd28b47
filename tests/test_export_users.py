"""Exported users: ``--users referenced|all|none``, and each user with only the fields it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from export_round_trip import assert_fresh_apply_exports_the_same, assert_round_trip, export

from stagecfg.backends import open_backend
from stagecfg.export.users import user_entry
from stagecfg.model import UserState

SB = ("--sandbox", "sb.db")

PIA: dict[str, Any] = {
    "role": "admin",
    "name": "Pia",
    "image": "https://example.invalid/pia.png",
    "teams": ["blue", "red"],
    "custom": {"plan": "pro"},
    "language": "it",
    "invisible": True,
    "privacy_settings": {"typing_indicators": {"enabled": False}},
    "teams_role": {"blue": "user", "red": "admin"},
}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    backend = open_backend("local", sandbox_path="sb.db")
    try:  # users as product code makes them: one in a call, one not, one deactivated
        backend.upsert_users({"pia": PIA, "bare": {}, "gone": {"name": "Gone"}})
        backend.create_call("default:standup", {"created_by_id": "pia"})
        getattr(backend, "engine").deactivate_user("gone", {})  # noqa: B009
    finally:
        backend.close()
    return tmp_path


def test_by_default_the_users_the_calls_refer_to(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = assert_round_trip(capsys, SB, work)
    assert yaml.safe_load(text)["users"] == {"pia": PIA}
    assert text == export(capsys, SB, "--users", "referenced")
    assert_fresh_apply_exports_the_same(capsys, text, work)


def test_all_users_deactivated_ones_too(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = assert_round_trip(capsys, SB, work, "--users", "all")
    assert yaml.safe_load(text)["users"] == {
        "bare": {"role": "user"},  # Stream's empty fields are left out; the role never is
        "gone": {"role": "user", "name": "Gone"},
        "pia": PIA,
    }
    assert_fresh_apply_exports_the_same(capsys, text, work, "--users", "all")


def test_no_users(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = assert_round_trip(capsys, SB, work, "--users", "none")
    assert "users" not in yaml.safe_load(text)


def test_a_user_with_every_field_empty_exports_its_role_only() -> None:
    assert user_entry(UserState(id="x", role="user", name="", image="")) == {"role": "user"}
