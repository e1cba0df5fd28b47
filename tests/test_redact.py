"""Masking secrets (stagecfg/redact.py): long ones anywhere, short ones as whole tokens in data."""

from __future__ import annotations

import json

import pytest

from stagecfg import redact

LONG = "s3cr3t-KNOWN-value-1234"


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry is process-wide; each test starts from an empty one and leaves none behind.
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_named", {})
    monkeypatch.setattr(redact, "_patterns", {})


def test_a_long_secret_is_masked_anywhere_in_any_text() -> None:
    redact.register_secret(LONG)
    assert redact.redact(f"url?key={LONG}&x and x{LONG}x") == "url?key=***&x and x***x"


def test_a_short_secret_is_left_alone_by_redact_and_masked_as_a_whole_token_in_data() -> None:
    redact.register_secret("true", variable="HOOK_TOKEN")
    text = '{"enabled": true, "hook": "true"}'
    assert redact.redact(text) == text  # rendered JSON keeps its meaning
    data = {"enabled": True, "hook": "true", "note": "untrue, but true", "true": 1}
    assert redact.mask_data(data) == {
        "enabled": True,
        "hook": "***",
        "note": "untrue, but ***",
        "***": 1,
    }
    assert json.loads(json.dumps(redact.mask_data(data)))["enabled"] is True


def test_secret_variables_of_any_length_are_remembered_by_name() -> None:
    redact.register_secret("x9z", variable="CDN_TOKEN")
    redact.register_secret("")
    assert redact.secret_variables() == {"x9z": "CDN_TOKEN"}
    assert redact.has_short_secrets()
    assert redact.mask_text("token x9z, x9zz") == "token ***, x9zz"


def test_without_short_secrets_data_is_returned_as_it_is() -> None:
    redact.register_secret(LONG)
    data = {"a": [LONG]}
    assert redact.mask_data(data) is data  # redact masks it in the printed text instead
    assert LONG not in redact.redact(json.dumps(data))


def test_a_secret_containing_another_is_masked_whole() -> None:
    redact.register_secret("abc", variable="A_TOKEN")
    redact.register_secret("abc-def", variable="B_TOKEN")
    assert redact.mask_text("abc-def and abc") == "*** and ***"


def test_jwts_are_masked_in_any_text() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYSJ9.c2lnbmF0dXJlLXZhbHVl"
    assert redact.redact(f"Authorization: {token}") == "Authorization: ***"


@pytest.mark.parametrize(
    ("secret", "refused"), [("true", True), ("x" * 15, True), ("x" * 16, False)]
)
def test_api_secrets_too_short_to_mask_are_named(secret: str, refused: bool) -> None:
    problem = redact.secret_too_short(secret)
    assert (problem is not None) is refused
    if problem:
        assert secret not in problem and "at least 16" in problem
