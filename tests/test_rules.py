"""Stream's rules (stagecfg/rules/): the one settings merge, built-ins, roles and the join decision.

The sandbox, the planner, the checks and the access review all call these functions; the
cross-checks in test_access.py and test_cli_access.py hold them against the emulator's HTTP join.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from stagecfg import timestamps
from stagecfg.rules import builtins, join, permissions, roles, settings

START = "2026-12-01T18:00:00Z"


# --- settings -----------------------------------------------------------------------------------


def test_merge_settings_merges_objects_and_replaces_lists_and_scalars() -> None:
    base = {
        "backstage": {"enabled": True, "join_ahead_time_seconds": 0},
        "geofencing": {"names": ["eu"]},
        "limits": {"max_participants": 10},
    }
    request = {
        "backstage": {"join_ahead_time_seconds": 300},
        "geofencing": {"names": ["us"]},
        "limits": 5,
    }
    merged = settings.merge_settings(base, request)
    assert merged == {
        "backstage": {"enabled": True, "join_ahead_time_seconds": 300},
        "geofencing": {"names": ["us"]},
        "limits": 5,
    }


def test_merge_settings_leaves_a_null_field_as_it_is_and_changes_neither_input() -> None:
    base = {"backstage": {"enabled": True}, "video": {"enabled": True}}
    request = {"backstage": {"enabled": None}, "video": None}
    merged = settings.merge_settings(base, request)
    assert merged == base
    merged["backstage"]["enabled"] = False
    assert base["backstage"]["enabled"] is True
    assert request == {"backstage": {"enabled": None}, "video": None}


def test_effective_backstage_is_the_merge_of_the_backstage_part() -> None:
    base = builtins.starting_settings("livestream")
    for override in (
        None,
        {},
        {"video": {"enabled": False}},
        {"backstage": {"enabled": False}},
        {"backstage": {"join_ahead_time_seconds": 120}},
    ):
        whole = settings.backstage_of(settings.merge_settings(base, override))
        assert settings.effective_backstage(base, override) == whole


@pytest.mark.parametrize(
    ("backstage", "expected"),
    [
        (None, settings.Backstage(False, 0)),
        ("not an object", settings.Backstage(False, 0)),
        ({"enabled": True}, settings.Backstage(True, 0)),
        ({"enabled": True, "join_ahead_time_seconds": -5}, settings.Backstage(True, 0)),
        ({"enabled": True, "join_ahead_time_seconds": "abc"}, settings.Backstage(True, 0)),
        ({"enabled": True, "join_ahead_time_seconds": 600}, settings.Backstage(True, 600)),
    ],
)
def test_backstage_of_reads_defensively(backstage: object, expected: settings.Backstage) -> None:
    assert settings.backstage_of({"backstage": backstage}) == expected


# --- built-ins and call type requests -------------------------------------------------------------


def test_starting_call_type_is_the_builtin_or_the_default_template() -> None:
    assert builtins.starting_call_type("livestream")["settings"]["backstage"]["enabled"] is True
    assert builtins.starting_call_type("weekly-show") == builtins.template_call_type()
    assert builtins.template_call_type()["grants"] == builtins.template_grants()


def test_changed_call_type_merges_settings_and_replaces_grants_per_role() -> None:
    current = builtins.starting_call_type("livestream")
    changed = builtins.changed_call_type(
        current,
        settings={"backstage": {"join_ahead_time_seconds": 60}},
        grants={"user": ["join-call"]},
    )
    assert changed["settings"]["backstage"] == {"enabled": True, "join_ahead_time_seconds": 60}
    assert changed["grants"]["user"] == ["join-call"]
    assert changed["grants"]["host"] == current["grants"]["host"]  # undeclared roles kept
    assert changed["notification_settings"] == current["notification_settings"]


def test_call_type_settings_start_from_the_builtin_when_the_type_does_not_exist() -> None:
    declared = {"backstage": {"join_ahead_time_seconds": 30}}
    fresh = builtins.call_type_settings("livestream", None, declared)
    assert fresh["backstage"] == {"enabled": True, "join_ahead_time_seconds": 30}
    existing = builtins.call_type_settings("livestream", {"backstage": {"enabled": False}}, None)
    assert existing == {"backstage": {"enabled": False}}


# --- permissions ----------------------------------------------------------------------------------


def test_every_capability_spelling_maps_back_to_its_permission_id() -> None:
    for permission, capability in permissions.PERMISSION_TO_CAPABILITY.items():
        assert permission in permissions.PERMISSION_IDS
        assert capability in permissions.OWN_CAPABILITIES
        assert permissions.CAPABILITY_TO_PERMISSION[capability] == permission


def test_frame_recording_capability_suggests_its_permission_id() -> None:
    # Two capability tables once disagreed: this suggested 'start-recording'.
    assert permissions.suggest_permission("start-frame-record-call") == (
        "did you mean 'start-frame-recording'? ('start-frame-record-call' is the capability name)"
    )


# --- roles ----------------------------------------------------------------------------------------

GRANTS = {
    "user": ["join-call", "end-call-owner", "start-recording"],
    "host": ["join-backstage"],
    "call_member": ["send-audio"],
}


def test_roles_of_is_the_app_role_then_a_distinct_member_role() -> None:
    assert roles.roles_of("user", None) == ("user",)
    assert roles.roles_of("user", "host") == ("user", "host")
    assert roles.roles_of("host", "host") == ("host",)
    assert roles.roles_of(None, "call_member") == ("call_member",)


def test_owner_permissions_count_only_for_the_creator() -> None:
    assert not roles.holds(GRANTS, ["user"], "end-call", is_creator=False)
    assert roles.holds(GRANTS, ["user"], "end-call", is_creator=True)
    assert (
        roles.first_held(GRANTS, ["user"], ["end-call", "join-call"], is_creator=True)
        == "end-call-owner"
    )


def test_capabilities_are_unlocked_by_the_union_of_roles_in_spec_order() -> None:
    caps = roles.capabilities(GRANTS, ["user", "call_member"], is_creator=False)
    assert caps == ["join-call", "send-audio", "start-record-call"]
    with_owner = roles.capabilities(GRANTS, ["user"], is_creator=True)
    assert "end-call" in with_owner


# --- join -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended", "in_backstage", "window_open", "stage"),
    [
        (True, True, True, "ended"),
        (True, False, False, "ended"),
        (False, False, True, "live"),
        (False, True, True, "join-ahead"),
        (False, True, False, "backstage"),
    ],
)
def test_stage_of(ended: bool, in_backstage: bool, window_open: bool, stage: str) -> None:
    assert join.stage_of(ended=ended, in_backstage=in_backstage, window_open=window_open) == stage


def test_join_window_opens_join_ahead_seconds_before_starts_at() -> None:
    window = join.join_window(True, 300, START)
    assert window.kind == "ahead"
    assert window.opens_at == "2026-12-01T17:55:00Z"
    opens = timestamps.parse("2026-12-01T17:55:00Z")
    assert not window.is_open(opens - timedelta(microseconds=1))
    assert window.is_open(opens)
    assert not join.join_window(True, 0, START).is_open(opens + timedelta(hours=1))
    assert join.join_window(False, 300, START).kind == "always"
    assert join.join_window(True, 300, None).kind == "go-live"


@pytest.mark.parametrize(
    ("stage", "roles_held", "expected"),
    [
        ("backstage", ["user"], None),
        ("backstage", ["user", "host"], "join-backstage"),
        ("join-ahead", ["user"], "join-call"),
        ("join-ahead", ["host"], "join-backstage"),
        ("live", ["host"], None),
        ("ended", ["user"], None),
    ],
)
def test_admitting_grant(stage: join.Stage, roles_held: list[str], expected: str | None) -> None:
    assert join.admitting_grant(GRANTS, roles_held, is_creator=False, stage=stage) == expected


def test_the_creator_joins_through_owner_variants() -> None:
    grants = {"user": ["join-backstage-owner", "join-ended-call-owner"]}
    assert join.admitting_grant(grants, ["user"], is_creator=False, stage="backstage") is None
    assert (
        join.admitting_grant(grants, ["user"], is_creator=True, stage="backstage")
        == "join-backstage-owner"
    )
    assert (
        join.admitting_grant(grants, ["user"], is_creator=True, stage="ended")
        == "join-ended-call-owner"
    )


def test_on_air_means_out_of_backstage_and_not_ended() -> None:
    assert join.on_air(in_backstage=False, ended=False)
    assert not join.on_air(in_backstage=True, ended=False)
    assert not join.on_air(in_backstage=False, ended=True)


def test_starting_backstage_is_the_backstage_part_of_the_starting_settings() -> None:
    for name in (*builtins.BUILTIN_CALL_TYPES, "weekly-show"):
        whole = builtins.starting_settings(name)
        assert builtins.starting_backstage(name) == {"backstage": whole["backstage"]}


def test_window_of_is_join_window_of_checked_backstage_settings() -> None:
    backstage = settings.backstage_of(
        {"backstage": {"enabled": True, "join_ahead_time_seconds": 60}}
    )
    assert join.window_of(backstage, START) == join.join_window(True, 60, START)


# --- per-call grants and revocations (UpdateUserPermissions) ------------------------------------


def test_a_revoked_permission_is_gone_in_every_scope_and_a_granted_one_counts_for_anyone() -> None:
    grants = {"user": ["send-audio-owner", "read-call"], "host": ["send-video"]}
    revoked = roles.NO_OVERRIDES.updated(grant=["screenshare"], revoke=["send-audio"])
    held = roles.held_permissions(grants, ["user"], revoked)
    assert held == {"read-call", "screenshare"}
    assert roles.holds(grants, ["user"], "screenshare", is_creator=False, overrides=revoked)
    assert not roles.holds(grants, ["user"], "send-audio", is_creator=True, overrides=revoked)
    # Without overrides the creator holds send-audio through its -owner variant.
    assert roles.holds(grants, ["user"], "send-audio", is_creator=True)
    caps = roles.capabilities(grants, ["user"], is_creator=True, overrides=revoked)
    assert caps == ["read-call", "screenshare"]


def test_the_latest_update_decides_for_each_permission() -> None:
    first = roles.NO_OVERRIDES.updated(grant=[], revoke=["send-audio", "send-video"])
    second = first.updated(grant=["send-audio"], revoke=[])
    assert second == roles.UserOverrides(
        granted=frozenset({"send-audio"}), revoked=frozenset({"send-video"})
    )
    # Named both ways in one update: revoked.
    both = second.updated(grant=["join-call"], revoke=["join-call"])
    assert "join-call" in both.revoked and "join-call" not in both.granted


def test_per_call_grants_move_the_join_decision() -> None:
    grants = {"user": ["join-call"], "host": ["join-backstage"]}
    let_in = roles.NO_OVERRIDES.updated(grant=["join-backstage"], revoke=[])
    shut_out = roles.NO_OVERRIDES.updated(grant=[], revoke=["join-call"])
    stage: join.Stage = "backstage"
    assert join.admitting_grant(grants, ["user"], is_creator=False, stage=stage) is None
    assert (
        join.admitting_grant(grants, ["user"], is_creator=False, stage=stage, overrides=let_in)
        == "join-backstage"
    )
    assert join.admitting_grant(grants, ["user"], is_creator=False, stage="live") == "join-call"
    assert (
        join.admitting_grant(grants, ["user"], is_creator=False, stage="live", overrides=shut_out)
        is None
    )


def test_a_blocked_deactivated_or_deleted_user_is_barred_whatever_they_hold() -> None:
    everything = roles.UserOverrides(granted=frozenset({"join-call", "read-call"}))
    access = roles.CallAccess(GRANTS, ("admin",), is_creator=True, overrides=everything)
    assert roles.barred(access) is None
    assert roles.barred(replace(access, blocked=True)) == "is blocked from this call"
    assert roles.barred(replace(access, standing="deactivated")) == "is deactivated"
    # The account speaks first: a deleted user who was also blocked is told they were deleted.
    assert roles.barred(replace(access, standing="deleted", blocked=True)) == "was deleted"
    assert roles.standing_refusal("active") is None


def test_own_capabilities_are_every_one_server_side_and_the_users_own_otherwise() -> None:
    assert roles.own_capabilities(None) == list(permissions.OWN_CAPABILITIES)
    access = roles.CallAccess(GRANTS, ("user",), is_creator=False)
    mine = roles.own_capabilities(access)
    assert mine == roles.capabilities(GRANTS, ["user"], is_creator=False)
    granted = replace(access, overrides=roles.UserOverrides(granted=frozenset({"screenshare"})))
    assert roles.own_capabilities(granted) == [
        c for c in permissions.OWN_CAPABILITIES if c in {*mine, "screenshare"}
    ]
    # Being barred is a refusal, not fewer capabilities: what the grants unlock is unchanged.
    assert roles.own_capabilities(replace(access, blocked=True)) == mine


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("send-audio", "send-audio"),
        ("start-record-call", "start-recording"),  # the capability spelling
        ("pin-for-everyone", "pin-call-track"),
        ("join-call-owner", None),  # scoped ids are not per-call grants
        ("fly", None),
    ],
)
def test_permission_for_reads_either_spelling(name: str, expected: str | None) -> None:
    assert permissions.permission_for(name) == expected


def test_every_control_checks_a_known_permission() -> None:
    assert all(map(permissions.is_known, permissions.OPERATION_PERMISSIONS.values()))
