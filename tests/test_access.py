"""Join decisions and timelines for backstage calls (pure functions, no backend)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from join_cases import JOIN_PERMS, JOIN_ROLES, SettableClock

from stagecfg import timestamps
from stagecfg.access import (
    AccessPolicy,
    Principal,
    admitting_permission,
    decide,
    listed_roles,
    policy_from_actual,
    policy_from_desired,
    principal_timeline,
    render_principal_timeline_text,
    render_timeline_text,
    role_principal,
    timeline,
    user_principal,
)
from stagecfg.errors import UsageError
from stagecfg.model import (
    ActualState,
    CallSpec,
    CallState,
    CallTypeSpec,
    CallTypeState,
    DesiredState,
    UserSpec,
    UserState,
)
from stagecfg.rules.settings import merge_settings

START = "2026-12-01T18:00:00Z"
GRANTS = {
    "admin": ("join-backstage", "join-call", "join-ended-call"),
    "host": ("join-backstage", "join-call"),
    "user": ("join-backstage-owner", "join-call"),
    "anonymous": ("join-call",),
    "moderator": ("join-call-owner",),
}


def _policy(**overrides: object) -> AccessPolicy:
    values: dict[str, object] = {
        "cid": "livestream:launch",
        "backstage_enabled": True,
        "join_ahead_time_seconds": 300,
        "starts_at": START,
        "grants": GRANTS,
        "created_by_id": "alice",
    }
    values.update(overrides)
    return AccessPolicy(**values)  # type: ignore[arg-type]


def _at(offset_seconds: int) -> str:
    instant = timestamps.parse(START) + timedelta(seconds=offset_seconds)
    return timestamps.normalize(instant) or ""


def test_backstage_admits_only_join_backstage_before_the_window() -> None:
    policy = _policy()
    assert decide(policy, role_principal("host"), at=_at(-600)).allowed
    refused = decide(policy, role_principal("user"), at=_at(-600))
    assert not refused.allowed
    assert refused.stage == "backstage"
    assert "lacks join-backstage" in refused.reason
    assert "may join from 2026-12-01T17:55:00Z" in refused.reason


def test_join_window_admits_join_call_while_still_in_backstage() -> None:
    policy = _policy()
    at_open = decide(policy, role_principal("anonymous"), at=_at(-300))
    assert at_open.allowed
    assert at_open.stage == "join-ahead"
    assert at_open.permission == "join-call"
    assert not decide(policy, role_principal("anonymous"), at=_at(-301)).allowed


def test_no_window_without_join_ahead_or_starts_at() -> None:
    for policy in (_policy(join_ahead_time_seconds=0), _policy(starts_at=None)):
        decision = decide(policy, role_principal("anonymous"), at=_at(60))
        assert not decision.allowed
        assert decision.stage == "backstage"


def test_go_live_admits_join_call_holders() -> None:
    policy = _policy()
    assert decide(policy, role_principal("user"), at=_at(-3600), live=True).allowed
    assert not decide(policy, Principal("x", ("nobody",)), live=True).allowed


def test_owner_variants_apply_only_to_the_creator() -> None:
    policy = _policy()
    creator = Principal("user alice", ("user",), is_creator=True)
    assert decide(policy, creator, at=_at(-600)).permission == "join-backstage-owner"
    assert not decide(policy, role_principal("moderator"), live=True).allowed
    owner = Principal("mod", ("moderator",), is_creator=True)
    assert decide(policy, owner, live=True).permission == "join-call-owner"


def test_backstage_disabled_means_never_in_backstage() -> None:
    policy = _policy(backstage_enabled=False)
    decision = decide(policy, role_principal("anonymous"), at=_at(-86400), live=False)
    assert decision.allowed
    assert "never in backstage" in decision.reason


def test_ended_call_admits_only_join_ended_call() -> None:
    policy = _policy(ended_at=_at(3600))
    assert decide(policy, role_principal("admin"), at=_at(7200)).allowed
    refused = decide(policy, role_principal("host"), at=_at(7200), live=True)
    assert not refused.allowed
    assert "join-ended-call" in refused.reason
    # before it ended the usual rules apply
    assert decide(policy, role_principal("host"), at=_at(0)).allowed


def test_grants_are_the_union_of_app_role_and_member_role() -> None:
    policy = _policy(user_roles={"bob": "user", "alice": "user"}, members={"bob": "host"})
    bob = user_principal(policy, "bob")
    assert bob.roles == ("user", "host")
    assert not bob.is_creator
    assert decide(policy, bob, at=_at(-600)).permission == "join-backstage"
    assert user_principal(policy, "alice").is_creator
    with pytest.raises(UsageError, match="unknown"):
        user_principal(policy, "carol")


def test_timeline_text_matches_the_documented_shape() -> None:
    policy = _policy(grants={k: v for k, v in GRANTS.items() if k != "moderator"})
    text = render_timeline_text(policy, timeline(policy))
    assert text.splitlines() == [
        "livestream:launch (backstage enabled, join_ahead_time_seconds 300, "
        "starts_at 2026-12-01T18:00:00Z, in backstage now)",
        "  until 17:55:00Z: admin, host (join-backstage); creator only: user "
        "(join-backstage-owner)",
        "  from 17:55:00Z (starts_at 18:00:00Z - 300 s): every role with join-call: "
        "admin, anonymous, host, user",
        "  after go-live: every role with join-call: admin, anonymous, host, user",
        "  after stop-live: back to backstage; viewers without join-backstage are removed; "
        "from 17:55:00Z holders of join-call may join again",
        "  after end-call: admin (join-ended-call)",
    ]


def test_timeline_without_backstage_has_one_open_phase() -> None:
    policy = _policy(backstage_enabled=False)
    stages = [phase.stage for phase in timeline(policy)]
    assert stages == ["live", "ended"]


def test_timeline_lists_nobody_when_no_role_can_join() -> None:
    policy = _policy(grants={"user": ("read-call",)}, join_ahead_time_seconds=0)
    text = render_timeline_text(policy, timeline(policy))
    assert "before go-live: nobody (no role holds join-backstage)" in text


def test_principal_timeline_says_yes_or_no_per_phase() -> None:
    policy = _policy()
    text = render_principal_timeline_text(
        policy, principal_timeline(policy, role_principal("anonymous"), timeline(policy))
    )
    assert "    until 17:55:00Z: no (lacks join-backstage)" in text
    assert "    after go-live: yes (holds join-call)" in text
    assert "after stop-live: no (lacks join-backstage); yes again from 2026-12-01T17:55:00Z" in text


roles_st = st.sampled_from(["admin", "host", "user", "guest", "anonymous"])
perms_st = st.sampled_from(
    [
        "join-call",
        "join-call-owner",
        "join-backstage",
        "join-backstage-owner",
        "join-ended-call",
        "read-call",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    grants=st.dictionaries(roles_st, st.lists(perms_st, max_size=4), max_size=5),
    enabled=st.booleans(),
    ahead=st.integers(0, 3600),
    has_start=st.booleans(),
    offset=st.integers(-7200, 7200),
    live=st.booleans(),
    role=roles_st,
)
def test_timeline_and_decisions_agree(
    grants: dict[str, list[str]],
    enabled: bool,
    ahead: int,
    has_start: bool,
    offset: int,
    live: bool,
    role: str,
) -> None:
    policy = _policy(
        grants={r: tuple(p) for r, p in grants.items()},
        backstage_enabled=enabled,
        join_ahead_time_seconds=ahead,
        starts_at=START if has_start else None,
    )
    principal = role_principal(role)
    decision = decide(policy, principal, at=_at(offset), live=live)
    phases = [p for p in timeline(policy) if p.stage == decision.stage]
    assert phases, decision.stage
    for phase in phases:
        assert (role in phase.roles) == decision.allowed
    # the rule written out once more, independently
    held = set(grants.get(role, ()))
    in_window = enabled and has_start and ahead > 0 and offset >= -ahead
    if not enabled or live:
        expected = "join-call" in held
    else:
        expected = "join-backstage" in held or (in_window and "join-call" in held)
    assert decision.allowed == expected


def test_admitting_permission_never_uses_owner_variant_for_others() -> None:
    grants = {"user": ("join-backstage-owner",)}
    assert admitting_permission(grants, role_principal("user"), "backstage") is None


# --- building policies --------------------------------------------------------------------------


def test_merge_settings_is_field_level() -> None:
    base = {"backstage": {"enabled": True, "join_ahead_time_seconds": 0}, "audio": {"x": 1}}
    merged = merge_settings(base, {"backstage": {"join_ahead_time_seconds": 60}})
    expected = {"backstage": {"enabled": True, "join_ahead_time_seconds": 60}, "audio": {"x": 1}}
    assert merged == expected
    assert base["backstage"]["join_ahead_time_seconds"] == 0


def test_policy_from_manifests_uses_builtin_defaults_and_declarations() -> None:
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                name="livestream",
                settings={"backstage": {"join_ahead_time_seconds": 300}},
                grants={"user": ["join-call"]},
            )
        },
        calls={
            "livestream:launch": CallSpec(
                cid="livestream:launch",
                created_by_id="alice",
                starts_at="2026-12-01T19:00:00+01:00",
                members={"bob": "host"},
            )
        },
        users={"alice": UserSpec(id="alice"), "bob": UserSpec(id="bob", role="guest")},
    )
    policy = policy_from_desired(desired, "livestream:launch")
    assert policy.backstage_enabled  # livestream's built-in default
    assert policy.join_ahead_time_seconds == 300
    assert policy.starts_at == START
    assert policy.grants["user"] == ("join-call",)  # declared role replaces the default
    assert "join-backstage" in policy.grants["host"]  # undeclared role keeps the default
    assert not policy.live
    assert user_principal(policy, "bob").roles == ("guest", "host")
    assert "admin" in listed_roles(policy)


def test_call_override_wins_over_call_type_settings() -> None:
    desired = DesiredState(
        calls={
            "default:x": CallSpec(
                cid="default:x",
                settings_override={"backstage": {"enabled": True}},
                live=True,
            )
        }
    )
    policy = policy_from_desired(desired, "default:x")
    assert policy.backstage_enabled
    assert policy.live


def test_policy_from_manifests_refuses_unknown_calls_and_types() -> None:
    desired = DesiredState(calls={"custom:x": CallSpec(cid="custom:x")})
    with pytest.raises(UsageError, match="not declared"):
        policy_from_desired(desired, "livestream:nope")
    with pytest.raises(UsageError, match="not a built-in type"):
        policy_from_desired(desired, "custom:x")


def test_policy_from_backend_uses_the_current_backstage_flag() -> None:
    actual = ActualState(
        call_types={
            "livestream": CallTypeState(
                name="livestream",
                settings={},
                grants={"user": ["join-call"]},
                notification_settings={},
            )
        },
        calls={
            "livestream:launch": CallState(
                cid="livestream:launch",
                created_by_id="alice",
                starts_at=START,
                settings={"backstage": {"enabled": True, "join_ahead_time_seconds": 60}},
                custom={},
                backstage=False,
            )
        },
        users={"alice": UserState(id="alice", role="user")},
    )
    policy = policy_from_actual(actual, "livestream:launch")
    assert policy.live
    assert policy.join_ahead_time_seconds == 60
    assert decide(policy, user_principal(policy, "alice")).allowed
    with pytest.raises(UsageError, match="does not exist"):
        policy_from_actual(actual, "livestream:other")


# --- cross-check against the sandbox engine, through the emulator's join endpoint ----------------
# The access report and the engine's JoinCall both decide through stagecfg.rules.join; this
# checks that each gathers the same facts (grants, roles, creator, backstage flag, join window)
# and that the answer survives the HTTP round trip.


@pytest.fixture(scope="module")
def clocked_emulator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, SettableClock, str, str, str]]:
    """An emulator over an Engine with a settable clock, served on 127.0.0.1."""
    from stagecfg.emulator.server import run_in_thread

    clock = SettableClock(START)
    handle = run_in_thread(tmp_path_factory.mktemp("cross") / "sandbox.db", clock=clock)
    try:
        yield handle.emulator.engine, clock, handle.url, handle.api_key, handle.api_secret
    finally:
        handle.stop()


_counter = itertools.count()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    grants=st.dictionaries(
        st.sampled_from(JOIN_ROLES), st.lists(st.sampled_from(JOIN_PERMS), max_size=4)
    ),
    enabled=st.booleans(),
    ahead=st.integers(0, 3600),
    has_start=st.booleans(),
    app_role=st.sampled_from(["user", "guest", "viewer"]),
    member_role=st.none() | st.sampled_from(["host", "call_member", "viewer"]),
    is_creator=st.booleans(),
    lifecycle=st.sampled_from(["created", "live", "stopped", "ended"]),
    offset=st.integers(-7200, 7200),
)
def test_decisions_match_the_emulator_join_endpoint(
    clocked_emulator: tuple[Any, SettableClock, str, str, str],
    grants: dict[str, list[str]],
    enabled: bool,
    ahead: int,
    has_start: bool,
    app_role: str,
    member_role: str | None,
    is_creator: bool,
    lifecycle: str,
    offset: int,
) -> None:
    import httpx
    import jwt

    from stagecfg import wire

    engine, clock, url, api_key, api_secret = clocked_emulator
    n = next(_counter)
    type_name, call_id, user_id = f"t{n}", f"c{n}", f"u{n}"
    creator = user_id if is_creator else f"owner{n}"
    clock.now = timestamps.parse(START) - timedelta(hours=3)
    engine.create_call_type(
        {
            "name": type_name,
            "settings": {"backstage": {"enabled": enabled, "join_ahead_time_seconds": ahead}},
            "grants": grants,
        }
    )
    # when the user is the creator, their own role must win
    engine.upsert_users({"users": {creator: {"role": "user"}, user_id: {"role": app_role}}})
    data: dict[str, Any] = {"created_by_id": creator}
    if has_start:
        data["starts_at"] = START
    if member_role is not None:
        data["members"] = [{"user_id": user_id, "role": member_role}]
    engine.get_or_create_call(type_name, call_id, {"data": data})
    if lifecycle in ("live", "stopped"):
        engine.go_live(type_name, call_id, {})
    if lifecycle == "stopped":
        engine.stop_live(type_name, call_id, {})
    if lifecycle == "ended":
        engine.mark_ended(type_name, call_id)

    clock.now = timestamps.parse(START) + timedelta(seconds=offset)
    token = jwt.encode({"user_id": user_id}, api_secret, algorithm="HS256")
    response = httpx.post(
        f"{url}/api/v2/video/call/{type_name}/{call_id}/join",
        params={"api_key": api_key},
        headers={"Authorization": token, "Stream-Auth-Type": "jwt"},
        json={},
        timeout=10,
    )
    assert response.status_code in (201, 403), response.text

    actual = ActualState(
        call_types={type_name: wire.call_type_from_wire(engine.get_call_type(type_name))},
        calls={f"{type_name}:{call_id}": wire.call_from_wire(engine.get_call(type_name, call_id))},
        users={user_id: UserState(id=user_id, role=app_role)},
    )
    policy = policy_from_actual(actual, f"{type_name}:{call_id}")
    decision = decide(policy, user_principal(policy, user_id), at=clock.now)
    assert decision.allowed == (response.status_code == 201), (decision.reason, response.text)


def test_ended_phase_of_a_call_that_has_not_ended_never_prints_none() -> None:
    from stagecfg.access import report, role_principal

    for fmt in ("text", "json"):
        text = report(_policy(), principal=role_principal("admin"), at=None, live=None, fmt=fmt)
        assert "None" not in text, text
        assert "ended" in text
