"""checks and permissions: semantic rules over merged manifests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from stagecfg.checks import check, effective_backstage
from stagecfg.errors import Problem
from stagecfg.manifest import load, merge
from stagecfg.model import AppVocabulary
from stagecfg.rules import permissions

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\n" + text, "utf-8")
    doc, load_problems = load(path, env={})
    assert load_problems == [] and doc is not None
    merged, merge_problems = merge([doc])
    assert merge_problems == []
    return check(merged, now=NOW)


def brief(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.severity, p.path) for p in problems]


def test_unknown_permission_with_suggestion(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "call_types:\n  default:\n    grants:\n"
        "      host: [join-call, join-call-any-team, send-audio-owner, sendaudio,"
        " start-record-call]\n",
    )
    assert brief(found) == [
        ("error", "$.call_types.default.grants.host[3]"),
        ("error", "$.call_types.default.grants.host[4]"),
    ]
    assert found[0].suggestion == "did you mean 'send-audio'?"
    assert found[1].suggestion is not None and "'start-recording'" in found[1].suggestion
    assert found[0].location is not None and found[0].location.line == 5


def test_call_type_must_be_declared_or_builtin(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "call_types:\n  shows: {}\ncalls:\n  shows:a: {}\n  livestream:b: {}\n  shws:c: {}\n",
    )
    assert brief(found) == [("error", "$.calls['shws:c']")]
    assert found[0].suggestion == "did you mean 'shows'?"


def test_malformed_cid_is_left_to_the_schema(tmp_path: Path) -> None:
    # The schema already says the cid is malformed; a second "undeclared type" line is noise.
    found = problems_of(tmp_path, "calls:\n  ':x': {}\n  'live stream:x': {}\n  shws:c: {}\n")
    assert brief(found) == [("error", "$.calls['shws:c']")]


def test_live_true_without_backstage_warns(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "calls:\n"
        "  default:a: {live: true}\n"  # default: backstage off
        "  livestream:b: {live: true}\n"  # livestream: backstage on
        "  livestream:c:\n    live: true\n    settings_override: {backstage: {enabled: false}}\n",
    )
    assert brief(found) == [
        ("warning", "$.calls['default:a'].live"),
        ("warning", "$.calls['livestream:c'].live"),
    ]


def test_effective_backstage_layers() -> None:
    declared = {"default": {"settings": {"backstage": {"enabled": True}}}}
    assert effective_backstage("default", {}, declared) is True
    assert effective_backstage("default", {}, {}) is False
    assert effective_backstage("audio_room", {}, {}) is True
    override = {"settings_override": {"backstage": {"enabled": False}}}
    assert effective_backstage("livestream", override, {}) is False
    assert effective_backstage("custom", {}, {"custom": {}}) is False


def test_go_live_without_live(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "calls:\n  livestream:a: {go_live: {start_hls: true}}\n"
        "  livestream:b: {live: false, go_live: {start_hls: true}}\n",
    )
    assert brief(found) == [("error", "$.calls['livestream:a'].go_live")]


@pytest.mark.parametrize(
    ("grants", "join_ahead", "warned"),
    [
        ("host: [join-call]", 0, True),
        ("host: [join-call]", 300, False),
        ("host: [join-backstage]", 0, False),
        ("host: [join-backstage-owner]", 0, False),
    ],
)
def test_backstage_nobody_can_enter(
    tmp_path: Path, grants: str, join_ahead: int, warned: bool
) -> None:
    found = problems_of(
        tmp_path,
        "call_types:\n  shows:\n"
        f"    settings: {{backstage: {{enabled: true, join_ahead_time_seconds: {join_ahead}}}}}\n"
        f"    grants: {{{grants}}}\n",
    )
    assert brief(found) == ([("warning", "$.call_types.shows.grants")] if warned else [])


def test_builtin_backstage_default_counts(tmp_path: Path) -> None:
    # livestream starts calls in backstage; replacing host and user leaves only admin inside.
    both = "call_types:\n  livestream:\n    grants: {host: [join-call], user: [join-call]}\n"
    assert brief(problems_of(tmp_path, both)) == [("warning", "$.call_types.livestream.grants")]
    assert problems_of(tmp_path, "call_types:\n  default:\n    grants: {user: [join-call]}\n") == []


def test_undeclared_roles_keep_their_builtin_grants(tmp_path: Path) -> None:
    # Undeclared roles keep the built-in grants (`stagecfg access` agrees): livestream's host
    # still has join-backstage, so replacing only the user role leaves backstage reachable.
    only_user = "call_types:\n  livestream:\n    grants: {user: [join-call]}\n"
    assert problems_of(tmp_path, only_user) == []


def test_admin_alone_in_backstage_warns(tmp_path: Path) -> None:
    admin_only = (
        "call_types:\n  shows:\n    settings: {backstage: {enabled: true}}\n"
        "    grants: {admin: [join-backstage, join-call], host: [join-call]}\n"
    )
    assert brief(problems_of(tmp_path, admin_only)) == [("warning", "$.call_types.shows.grants")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1, [("error", "x")]), (0, []), (86_400, []), (86_401, [("warning", "x")])],
)
def test_join_ahead_range(tmp_path: Path, value: int, expected: list[Any]) -> None:
    found = problems_of(
        tmp_path,
        "calls:\n  livestream:a:\n"
        f"    settings_override: {{backstage: {{join_ahead_time_seconds: {value}}}}}\n",
    )
    path = "$.calls['livestream:a'].settings_override.backstage.join_ahead_time_seconds"
    assert brief(found) == [(sev, path) for sev, _ in expected]


def test_starts_at_in_past_while_waiting(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "calls:\n"
        "  livestream:past: {live: false, starts_at: '2026-05-31T23:00:00-02:00'}\n"  # NOW+1h
        "  livestream:old: {live: false, starts_at: '2026-05-01T00:00:00Z'}\n"
        "  livestream:running: {live: true, starts_at: '2026-05-01T00:00:00Z'}\n"
        "  livestream:unmanaged: {starts_at: '2026-05-01T00:00:00Z'}\n",
    )
    assert brief(found) == [("warning", "$.calls['livestream:old'].starts_at")]


def test_members_must_be_declared_users(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "users:\n  john: {}\ncalls:\n  livestream:a: {members: {john: host, jon: host}}\n",
    )
    assert brief(found) == [("warning", "$.calls['livestream:a'].members.jon")]
    assert found[0].suggestion == "did you mean 'john'?"


def test_checks_survive_malformed_data(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "call_types:\n  x: [1]\n  z: {grants: [a], settings: 3}\n"
        "calls:\n  nocolon: 5\n  livestream:a: {members: [x], settings_override: []}\n",
    )
    assert all(p.severity in ("error", "warning") for p in found)


def test_permission_helpers() -> None:
    assert permissions.is_known("join-backstage-owner")
    assert permissions.is_known("join-call-any-team")
    assert not permissions.is_known("start-record-call")
    assert permissions.base_permission("update-call-owner") == "update-call"
    assert permissions.suggest_permission("pin-for-everyone-owner") == (
        "did you mean 'pin-call-track-owner'? ('pin-for-everyone' is the capability name)"
    )
    assert permissions.suggest_permission("qqqqqq") is None
    assert len(permissions.SHARED_NAMES) == 17
    assert permissions.grants_join_backstage(["join-backstage-owner"])
    assert not permissions.grants_join_backstage(["join-call"])


def test_misspelt_roles_warn_with_did_you_mean(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        "users:\n  john: {role: usr}\n  alice: {}\n"
        "calls:\n  livestream:show:\n    members: {alice: hots, john: host}\n",
    )
    roles = [p for p in found if "granted nothing" in p.message]
    assert brief(roles) == [
        ("warning", "$.users.john.role"),
        ("warning", "$.calls['livestream:show'].members.alice"),
    ]
    assert [p.suggestion for p in roles] == ["did you mean 'user'?", "did you mean 'host'?"]
    assert roles[0].message == (
        "app role 'usr' is granted nothing by any declared or built-in call type"
    )
    assert [(p.location.line, p.location.col) for p in roles if p.location] == [(3, 10), (7, 15)]


def test_roles_a_call_type_grants_are_not_flagged(tmp_path: Path) -> None:
    # Custom roles granted by a declared type, and every role a built-in type grants
    # (call_member included), pass; a role whose only grant is an empty list grants nothing.
    found = problems_of(
        tmp_path,
        "call_types:\n  shows:\n    grants: {viewer: [join-call], muted: []}\n"
        "users:\n  a: {role: viewer}\n  b: {role: admin}\n  c: {role: guest}\n"
        "  d: {role: anonymous}\n  e: {role: muted}\n"
        "calls:\n  shows:x:\n    members: {a: viewer, b: call_member, c: host, d: user}\n",
    )
    assert brief(found) == [("warning", "$.users.e.role")]
    assert found[0].suggestion is not None


def test_a_role_whose_grants_are_all_replaced_by_empty_lists_is_flagged(tmp_path: Path) -> None:
    grants = "    grants: {host: []}\n"
    found = problems_of(
        tmp_path,
        f"call_types:\n  livestream:\n{grants}  audio_room:\n{grants}"
        "users:\n  a: {}\ncalls:\n  livestream:x:\n    members: {a: host}\n",
    )
    assert brief(found) == [("warning", "$.calls['livestream:x'].members.a")]


# --- against an app's own vocabulary (validate --online) ------------------------------------


def online_problems(tmp_path: Path, text: str, vocabulary: AppVocabulary) -> list[Problem]:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\n" + text, "utf-8")
    doc, _ = load(path, env={})
    assert doc is not None
    merged, _ = merge([doc])
    return check(merged, now=NOW, vocabulary=vocabulary)


APP = AppVocabulary(
    permissions=frozenset({"join-call", "join-call-owner", "brand-new"}),
    roles=frozenset({"user", "host", "crew"}),
)


def test_online_grants_use_the_apps_list_and_suggest_from_it(tmp_path: Path) -> None:
    found = online_problems(
        tmp_path,
        "call_types:\n  default:\n    grants:\n"
        "      crew: [brand-new, join-call-ownr, send-audio, join-cal]\n",
        APP,
    )
    assert [(p.path, p.suggestion) for p in found] == [
        ("$.call_types.default.grants.crew[1]", "did you mean 'join-call-owner'?"),
        ("$.call_types.default.grants.crew[2]", "see README: Permission ids"),
        ("$.call_types.default.grants.crew[3]", "did you mean 'join-call'?"),
    ]
    assert all(p.severity == "error" for p in found)


def test_online_roles_must_exist_and_replace_the_granted_nothing_warning(tmp_path: Path) -> None:
    found = online_problems(
        tmp_path,
        "users:\n  a: {role: crew}\n  b: {role: hots}\n"
        "call_types:\n  default:\n    grants:\n      guest: [join-call]\n",
        APP,
    )
    assert [(p.severity, p.path) for p in found] == [
        ("warning", "$.users.a.role"),
        ("error", "$.users.b.role"),
        ("error", "$.call_types.default.grants.guest"),
    ]
    # crew exists in the app but no call type grants it anything: still the offline warning.
    assert "'crew' is granted nothing" in found[0].message
    # hots does not exist: one error with did-you-mean, not the warning as well.
    assert found[1].message == "app role 'hots' is not a role of the app (checked online)"
    assert found[1].suggestion == "did you mean 'host'?"
    assert found[2].suggestion is not None and "CreateRole" in found[2].suggestion
