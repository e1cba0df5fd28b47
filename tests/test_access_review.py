"""The access review of a plan: grant change classification, join windows in words, refusals."""

from __future__ import annotations

import pytest

from stagecfg.access import (
    GrantChange,
    Radius,
    check_review,
    classify_grants,
    describe_window,
    describe_window_change,
    format_duration,
    review_plan,
)
from stagecfg.errors import PlanRefused
from stagecfg.model import (
    ActualState,
    CallSpec,
    CallState,
    CallTypeSpec,
    CallTypeState,
    DesiredState,
)
from stagecfg.plan import Change, Plan, make_plan
from stagecfg.rules.join import join_window
from stagecfg.rules.permissions import base_permission

START = "2026-12-01T18:00:00Z"


def _by_key(changes: list[GrantChange]) -> dict[tuple[str, str], GrantChange]:
    return {(c.role, c.permission): c for c in changes}


def test_grant_and_revoke_are_labelled() -> None:
    changes = classify_grants(
        {"host": ["join-call", "send-video"]}, {"host": ["join-call", "screenshare"]}
    )
    assert [(c.permission, c.direction) for c in changes] == [
        ("screenshare", "grant"),
        ("send-video", "revoke"),
    ]
    assert not any(c.escalation for c in changes)


@pytest.mark.parametrize(
    "permission",
    [
        "join-backstage",
        "join-backstage-owner",
        "update-call-settings",
        "update-call-permissions-any-team",
        "end-call",
        "kick-user-owner",
    ],
)
def test_privileged_permission_gain_is_an_escalation_for_any_role(permission: str) -> None:
    (change,) = classify_grants({"host": []}, {"host": [permission]})
    assert change.escalation
    assert change.direction == "grant"
    assert change.describe() == f"role host gains {permission}"


@pytest.mark.parametrize("role", ["user", "guest", "anonymous"])
def test_broad_role_gaining_anything_is_an_escalation(role: str) -> None:
    (change,) = classify_grants({role: ["join-call"]}, {role: ["join-call", "read-call"]})
    assert change.escalation
    assert "read-call" in change.reason


def test_user_gaining_join_backstage_names_both_reasons() -> None:
    (change,) = classify_grants({"user": []}, {"user": ["join-backstage"]})
    assert change.escalation
    assert change.reason == "every signed-in user may join while the call is in backstage"


def test_revoking_a_privileged_permission_is_not_an_escalation() -> None:
    (change,) = classify_grants({"user": ["join-backstage"]}, {"user": []})
    assert change.direction == "revoke"
    assert not change.escalation
    assert change.describe() == "role user loses join-backstage"


def test_ordinary_permission_for_a_call_role_is_not_an_escalation() -> None:
    (change,) = classify_grants({}, {"moderator": ["send-audio"]})
    assert not change.escalation


def test_new_call_type_grants_everything() -> None:
    changes = classify_grants(None, {"admin": ["end-call"], "user": ["join-call"]})
    assert [(c.role, c.permission, c.direction, c.escalation) for c in changes] == [
        ("admin", "end-call", "grant", True),
        ("user", "join-call", "grant", True),
    ]


def test_roles_missing_from_after_are_left_alone_by_default() -> None:
    before = {"host": ["join-backstage"], "user": ["join-call"]}
    assert classify_grants(before, {"user": ["join-call"]}) == []
    (change,) = classify_grants(before, {"user": ["join-call"]}, replace_missing_roles=True)
    assert (change.role, change.permission) == ("host", "join-backstage")
    assert change.direction == "revoke"


def test_changes_are_sorted_and_stable() -> None:
    after = {"z": ["b", "a"], "a": ["c"]}
    first = classify_grants({}, after)
    assert first == classify_grants({}, dict(reversed(list(after.items()))))
    assert [(c.role, c.permission) for c in first] == [("a", "c"), ("z", "a"), ("z", "b")]


def test_base_permission_strips_scope_suffixes() -> None:
    assert base_permission("join-backstage-owner") == "join-backstage"
    assert base_permission("join-call-any-team") == "join-call"
    assert base_permission("join-call") == "join-call"


def test_join_window_kinds() -> None:
    assert join_window(False, 600, START).kind == "always"
    assert join_window(True, 0, START).kind == "go-live"
    assert join_window(True, 600, None).kind == "go-live"
    window = join_window(True, 300, START)
    assert window.kind == "ahead"
    assert window.opens_at == "2026-12-01T17:55:00Z"


def test_join_window_compares_instants_not_text() -> None:
    a = join_window(True, 300, "2026-12-01T18:00:00Z")
    b = join_window(True, 300, "2026-12-01T19:00:00+01:00")
    assert a.same_as(b)
    assert describe_window_change("livestream:x", a, b) is None


def test_window_change_in_minutes_matches_review_wording() -> None:
    before = join_window(True, 300, START)
    after = join_window(True, 600, START)
    assert (
        describe_window_change("livestream:launch", before, after)
        == "viewers of `livestream:launch` can now join 10 minutes before start instead of 5"
    )


def test_window_change_across_units_spells_both() -> None:
    before = join_window(True, 90, START)
    after = join_window(True, 3600, START)
    assert describe_window_change("livestream:launch", before, after) == (
        "viewers of `livestream:launch` can now join 1 hour before start instead of 90 seconds"
    )


def test_window_change_when_backstage_is_disabled() -> None:
    before = join_window(True, 300, START)
    after = join_window(False, 300, START)
    assert describe_window_change("livestream:launch", before, after) == (
        "viewers of `livestream:launch` can now join at any time (backstage disabled) "
        "instead of 5 minutes before start (2026-12-01T17:55:00Z)"
    )


def test_window_change_when_starts_at_moves() -> None:
    before = join_window(True, 300, START)
    after = join_window(True, 300, "2026-12-01T19:00:00Z")
    text = describe_window_change("livestream:launch", before, after)
    assert text is not None
    assert "(2026-12-01T18:55:00Z) instead of" in text


def test_window_without_join_ahead_is_go_live_whatever_starts_at() -> None:
    before = join_window(True, 0, START)
    after = join_window(True, 0, "2027-01-01T00:00:00Z")
    assert describe_window_change("livestream:launch", before, after) is None
    assert describe_window(after) == "only after go-live"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "1 second"), (59, "59 seconds"), (60, "1 minute"), (300, "5 minutes"), (7200, "2 hours")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


# --- access review of a plan ---------------------------------------------------------------------


def _state(settings: dict[str, object], grants: dict[str, list[str]]) -> CallTypeState:
    return CallTypeState(
        name="livestream", settings=settings, grants=grants, notification_settings={}
    )


def _call(cid: str, ahead: int, *, backstage: bool = True) -> CallState:
    return CallState(
        cid=cid,
        created_by_id="alice",
        starts_at=START,
        settings={"backstage": {"enabled": True, "join_ahead_time_seconds": ahead}},
        custom={},
        backstage=backstage,
    )


def test_review_moves_windows_of_calls_that_follow_and_names_calls_that_keep_theirs() -> None:
    actual = ActualState(
        call_types={
            "livestream": _state(
                {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}}, {}
            )
        },
        calls={
            "livestream:old": _call("livestream:old", 300),
            "livestream:pinned": _call("livestream:pinned", 300),
            "livestream:undeclared": _call("livestream:undeclared", 300),
        },
    )
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                name="livestream", settings={"backstage": {"join_ahead_time_seconds": 600}}
            )
        },
        calls={
            "livestream:old": CallSpec(cid="livestream:old", starts_at=START),
            "livestream:pinned": CallSpec(
                cid="livestream:pinned", starts_at=START, follow_call_type=False
            ),
            "livestream:new": CallSpec(cid="livestream:new", starts_at=START),
        },
    )
    plan = make_plan(desired, actual)
    review = review_plan(plan, desired, actual, {})
    messages = [n.message for n in review.notes]
    assert (
        "viewers of `livestream:new` can now join 10 minutes before start instead of 5 "
        "(created by this plan)" in messages
    )
    assert (
        "viewers of `livestream:old` can now join 10 minutes before start instead of 5" in messages
    )
    assert (
        "the join window change applies to new calls and to the declared calls that follow "
        "the call type; follow_call_type: false keeps theirs: livestream:pinned; 1 existing "
        "call the manifests do not declare keeps theirs" in messages
    )
    assert not any("livestream:pinned`" in m for m in messages)
    assert not review.escalations


def test_review_counts_radius_and_refuses_deleting_a_type_with_live_calls() -> None:
    actual = ActualState(call_types={"livestream": _state({}, {"user": ["join-call"]})})
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(name="livestream", grants={"user": ["join-backstage"]})
        }
    )
    plan = make_plan(desired, actual)
    radius = {
        "livestream": Radius(live=("livestream:a",), upcoming=("livestream:a", "livestream:b"))
    }
    review = review_plan(plan, desired, actual, radius)
    assert [n.render() for n in review.notes if n.category == "radius"] == [
        "call type livestream: update affects 2 calls live now or starting within 24 h"
    ]
    assert [n.direction for n in review.notes if n.category == "grant"] == ["grant", "revoke"]
    check_review(review)  # no refusal without --deny-escalation
    with pytest.raises(PlanRefused, match="1 access escalation"):
        check_review(review, deny_escalation=True)

    deleting = Plan(changes=(Change("call_type", "livestream", "delete", 5),))
    refused = review_plan(deleting, DesiredState(), actual, radius)
    with pytest.raises(PlanRefused, match="1 of its calls are live now"):
        check_review(refused)
    pruned = Plan(
        changes=(
            Change("call", "livestream:a", "delete", 4),
            Change("call_type", "livestream", "delete", 5),
        )
    )
    assert not review_plan(pruned, DesiredState(), actual, radius).refusals


def test_call_type_notes_name_their_call_type_even_when_a_cid_contains_it() -> None:
    actual = ActualState(
        call_types={
            "livestream": _state(
                {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}}, {}
            )
        },
        calls={"livestream:old": _call("livestream:old", 300)},
    )
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                name="livestream", settings={"backstage": {"join_ahead_time_seconds": 600}}
            )
        },
        calls={
            "livestream:old": CallSpec(
                cid="livestream:old", starts_at=START, follow_call_type=False
            )
        },
    )
    review = review_plan(make_plan(desired, actual), desired, actual, {})
    assert review.lines() == [
        "call type livestream: the join window change applies to new calls and to the declared "
        "calls that follow the call type; follow_call_type: false keeps theirs: livestream:old"
    ]


def test_radius_is_shown_for_every_updated_call_type_even_when_nothing_is_reached() -> None:
    actual = ActualState(call_types={"livestream": _state({}, {"host": ["join-call"]})})
    desired = DesiredState(
        call_types={"livestream": CallTypeSpec(name="livestream", grants={"host": ["read-call"]})}
    )
    review = review_plan(make_plan(desired, actual), desired, actual, {"livestream": Radius()})
    assert [n.render() for n in review.notes if n.category == "radius"] == [
        "call type livestream: update affects 0 calls live now or starting within 24 h"
    ]


def test_plain_grant_changes_group_per_role_and_escalations_stand_alone() -> None:
    actual = ActualState(
        call_types={"livestream": _state({}, {"host": ["end-call", "join-call", "mute-users"]})}
    )
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                name="livestream",
                grants={
                    "host": ["join-call", "read-call", "send-audio"],
                    "user": ["join-call", "read-call"],
                },
            )
        }
    )
    review = review_plan(make_plan(desired, actual), desired, actual, {})
    grants = [n.render() for n in review.notes if n.category == "grant"]
    assert "grant: role host gains read-call, send-audio (call type livestream)" in grants
    assert "revoke: role host loses end-call, mute-users (call type livestream)" in grants
    escalations = [line for line in grants if line.startswith("! escalation")]
    assert [line.split(":")[1].strip() for line in escalations] == [
        "role user gains join-call",
        "role user gains read-call",
    ]


def test_a_new_call_type_is_reviewed_one_line_per_role_with_the_undeclared_roles_defaults() -> None:
    from stagecfg.rules.builtins import template_grants

    desired = DesiredState(
        call_types={"show": CallTypeSpec(name="show", grants={"host": ["join-call", "end-call"]})}
    )
    actual = ActualState()
    review = review_plan(make_plan(desired, actual), desired, actual, {})
    grants = [n for n in review.notes if n.category == "grant"]
    defaults = template_grants()
    assert sorted(n.message.split(" ", 2)[1] for n in grants) == sorted({"host", *defaults})
    by_role = {n.message.split(" ", 2)[1]: n for n in grants}
    assert by_role["host"].message == "role host gains end-call, join-call: privileged: end-call"
    guest = by_role["guest"]
    assert guest.escalation and guest.message == (
        "role guest gets Stream's default grants (not declared): "
        + ", ".join(sorted(defaults["guest"]))
        + ": every guest user"
    )
    # Declaring a role replaces its defaults: no line for what it would have held otherwise.
    desired = DesiredState(
        call_types={"show": CallTypeSpec(name="show", grants={"guest": ["read-call"]})}
    )
    review = review_plan(make_plan(desired, actual), desired, actual, {})
    (guest_note,) = [n for n in review.notes if "role guest" in n.message]
    assert guest_note.message == "role guest gains read-call: every guest user"


def test_live_calls_are_those_on_air_that_the_plan_reaches() -> None:
    actual = ActualState(
        call_types={"livestream": _state({}, {"user": ["join-call"]})},
        calls={
            "livestream:on": _call("livestream:on", 300, backstage=False),
            "livestream:waiting": _call("livestream:waiting", 300),
            "livestream:stopping": _call("livestream:stopping", 300, backstage=False),
        },
    )
    plan = Plan(
        changes=(
            Change("call_type", "livestream", "update", 1),
            Change("call", "livestream:waiting", "update", 2),
            Change("call", "livestream:stopping", "stop-live", 3),
        )
    )
    radius = {"livestream": Radius(live=("livestream:on", "livestream:elsewhere"))}
    review = review_plan(plan, DesiredState(), actual, radius)
    # Through the call type (both of its live calls), and the live call stopped directly; the
    # updated call waits in backstage, so no viewer notices it.
    assert review.live_calls == ("livestream:elsewhere", "livestream:on", "livestream:stopping")
    assert review_plan(Plan(), DesiredState(), actual, radius).live_calls == ()
