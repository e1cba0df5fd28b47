"""The planner over hand-built desired and actual states (plain data, no backend)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from stagecfg.errors import Location, UsageError
from stagecfg.model import (
    PROJECT_MARKER_KEY,
    ActualState,
    CallSpec,
    CallState,
    CallTypeSpec,
    CallTypeState,
    DesiredState,
    UserSpec,
    UserState,
)
from stagecfg.plan import ABSENT, Change, Plan, fingerprint, make_plan

LIVESTREAM_SETTINGS: dict[str, Any] = {
    "backstage": {"enabled": True, "join_ahead_time_seconds": 0},
    "audio": {"default_device": "speaker", "mic_default_on": True},
    "limits": {"max_participants_exclude_roles": []},
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "backstage": {"enabled": False, "join_ahead_time_seconds": 0},
    "audio": {"default_device": "speaker", "mic_default_on": True},
}


def ct_state(name: str, settings: dict[str, Any] | None = None, **kw: Any) -> CallTypeState:
    return CallTypeState(
        name=name,
        settings=settings if settings is not None else LIVESTREAM_SETTINGS,
        grants=kw.pop("grants", {"host": ["join-call", "join-backstage"], "user": ["read-call"]}),
        notification_settings=kw.pop("notification_settings", {"enabled": True}),
        **kw,
    )


def builtins() -> dict[str, CallTypeState]:
    return {
        "livestream": ct_state("livestream"),
        "default": ct_state("default", DEFAULT_SETTINGS),
    }


def call_state(cid: str, **kw: Any) -> CallState:
    base: dict[str, Any] = {
        "created_by_id": "john",
        "starts_at": "2027-01-01T18:00:00Z",
        "settings": LIVESTREAM_SETTINGS,
        "custom": {},
        "backstage": True,
    }
    base.update(kw)
    return CallState(cid=cid, **base)


def test_no_changes_when_declared_subset_matches_and_server_has_more() -> None:
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                "livestream",
                settings={"backstage": {"enabled": True}},
                grants={"host": ["join-backstage", "join-call", "join-call"]},
            )
        }
    )
    plan = make_plan(desired, ActualState(call_types=builtins()))
    assert plan.empty
    assert plan.summary() == {"create": 0, "update": 0, "delete": 0, "live": 0}


def test_call_type_update_sends_only_changed_leaves_and_roles() -> None:
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                "livestream",
                settings={
                    "backstage": {"enabled": True, "join_ahead_time_seconds": 300},
                    "audio": {"mic_default_on": True},
                },
                grants={"host": ["join-call", "join-backstage"], "user": ["join-call"]},
                location=Location("m.yaml", 3, 3),
            )
        }
    )
    plan = make_plan(desired, ActualState(call_types=builtins()))
    (change,) = plan.changes
    assert (change.kind, change.name, change.action, change.stage) == (
        "call_type",
        "livestream",
        "update",
        1,
    )
    assert change.body == {
        "settings": {"backstage": {"join_ahead_time_seconds": 300}},
        "grants": {"user": ["join-call"]},
    }
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("settings.backstage.join_ahead_time_seconds", 0, 300),
        ("grants.user", ["read-call"], ["join-call"]),
    ]
    assert change.location == Location("m.yaml", 3, 3)


def test_missing_settings_subobject_reports_each_leaf() -> None:
    actual = ActualState(call_types={"stage": ct_state("stage", {"audio": {"x": 1}})})
    desired = DesiredState(
        call_types={"stage": CallTypeSpec("stage", settings={"backstage": {"enabled": True}})}
    )
    (change,) = make_plan(desired, actual).changes
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("settings.backstage.enabled", None, True)
    ]
    assert change.body == {"settings": {"backstage": {"enabled": True}}}


def test_lists_compare_as_one_value() -> None:
    actual = ActualState(call_types={"s": ct_state("s", {"geofencing": {"names": ["a", "b"]}})})
    desired = DesiredState(
        call_types={"s": CallTypeSpec("s", settings={"geofencing": {"names": ["a", "c"]}})}
    )
    (change,) = make_plan(desired, actual).changes
    assert [f.path for f in change.fields] == ["settings.geofencing.names"]
    assert change.body == {"settings": {"geofencing": {"names": ["a", "c"]}}}


def test_call_type_create_body_and_order() -> None:
    desired = DesiredState(
        call_types={
            "stage": CallTypeSpec(
                "stage",
                settings={"backstage": {"enabled": True}},
                grants={"host": ["join-call", "join-backstage"]},
                notification_settings={"call_live_started": {"enabled": True}},
                external_storage="s3",
            )
        },
        users={"john": UserSpec("john", role="user", name="John")},
    )
    plan = make_plan(desired, ActualState(call_types=builtins()))
    assert [(c.kind, c.action, c.stage) for c in plan.changes] == [
        ("user", "create", 0),
        ("call_type", "create", 1),
    ]
    assert plan.changes[1].body == {
        "settings": {"backstage": {"enabled": True}},
        "grants": {"host": ["join-backstage", "join-call"]},
        "notification_settings": {"call_live_started": {"enabled": True}},
        "external_storage": "s3",
    }
    assert plan.changes[0].body == {"id": "john", "role": "user", "name": "John"}
    assert plan.fingerprints["call_type:stage"] == ABSENT
    assert plan.fingerprints["user:john"] == ABSENT
    assert plan.fingerprints["call_type:livestream"] != ABSENT


def test_user_update_keeps_undeclared_fields() -> None:
    actual = ActualState(users={"john": UserState("john", "user", "John", {"a": 1})})
    desired = DesiredState(users={"john": UserSpec("john", role="admin")})
    (change,) = make_plan(desired, actual).changes
    assert change.action == "update"
    # A partial update of the changed field alone: name and custom are not sent, so kept.
    assert change.body == {"id": "john", "set": {"role": "admin"}}
    assert [(f.path, f.before, f.after) for f in change.fields] == [("role", "user", "admin")]
    same = DesiredState(users={"john": UserSpec("john", role="user", name="John")})
    assert make_plan(same, actual).empty


def zed() -> UserState:
    """Zed with every UserRequest field set (built when called, not at import)."""
    return UserState(
        "zed",
        "user",
        "Zed",
        {"tier": "gold"},
        image="https://img.example/zed.png",
        teams=["red"],
        language="de",
        invisible=True,
        privacy_settings={"typing_indicators": {"enabled": False}},
        teams_role={"red": "admin"},
    )


@pytest.mark.parametrize(
    ("declared", "before", "after"),
    [
        ({"teams": ["red", "blue"]}, ["red"], ["red", "blue"]),
        (
            {"image": "https://img.example/z2.png"},
            "https://img.example/zed.png",
            "https://img.example/z2.png",
        ),
        ({"language": "fr"}, "de", "fr"),
        ({"invisible": False}, True, False),
        ({"teams_role": {"red": "user"}}, {"red": "admin"}, {"red": "user"}),
        ({"custom": {"tier": "silver"}}, {"tier": "gold"}, {"tier": "silver"}),
        ({"name": "Zed Z"}, "Zed", "Zed Z"),
    ],
)
def test_user_each_declared_field_plans_exactly_its_change(
    declared: dict[str, Any], before: Any, after: Any
) -> None:
    (key,) = declared
    desired = DesiredState(users={"zed": UserSpec("zed", **declared)})
    (change,) = make_plan(desired, ActualState(users={"zed": zed()})).changes
    assert change.action == "update"
    assert change.body == {"id": "zed", "set": {key: after}}
    assert [(f.path, f.before, f.after) for f in change.fields] == [(key, before, after)]


def test_user_privacy_settings_keep_the_undeclared_settings() -> None:
    spec = UserSpec("zed", privacy_settings={"read_receipts": {"enabled": False}})
    (change,) = make_plan(
        DesiredState(users={"zed": spec}), ActualState(users={"zed": zed()})
    ).changes
    assert change.body == {
        "id": "zed",
        "set": {
            "privacy_settings": {
                "read_receipts": {"enabled": False},
                "typing_indicators": {"enabled": False},
            }
        },
    }
    held = UserSpec("zed", privacy_settings={"typing_indicators": {"enabled": False}})
    assert make_plan(DesiredState(users={"zed": held}), ActualState(users={"zed": zed()})).empty


def test_user_matching_every_field_plans_nothing() -> None:
    spec = UserSpec(
        "zed",
        role="user",
        name="Zed",
        custom={"tier": "gold"},
        image="https://img.example/zed.png",
        teams=["red"],
        language="de",
        invisible=True,
        privacy_settings={"typing_indicators": {"enabled": False}},
        teams_role={"red": "admin"},
    )
    assert make_plan(DesiredState(users={"zed": spec}), ActualState(users={"zed": zed()})).empty
    # An empty string matches a field Stream does not hold (it reads as "").
    bare = ActualState(users={"amy": UserState("amy", "user")})
    spec = UserSpec("amy", name="", image="", teams=[], language="", invisible=False)
    assert make_plan(DesiredState(users={"amy": spec}), bare).empty


def test_call_create_with_marker_members_and_go_live() -> None:
    desired = DesiredState(
        calls={
            "livestream:show": CallSpec(
                "livestream:show",
                created_by_id="john",
                starts_at="2027-01-01T19:00:00+01:00",
                custom={"title": "Launch"},
                members={"john": "host", "amy": "user"},
                team="red",
                live=True,
                go_live={"start_hls": True},
            )
        },
        project="demo",
    )
    plan = make_plan(desired, ActualState(call_types=builtins()))
    create, go_live = plan.changes
    assert create.action == "create" and create.stage == 2
    assert create.body == {
        "created_by_id": "john",
        "starts_at": "2027-01-01T18:00:00Z",
        "team": "red",
        "custom": {"title": "Launch", PROJECT_MARKER_KEY: "demo"},
        "members": [{"user_id": "amy", "role": "user"}, {"user_id": "john", "role": "host"}],
    }
    assert (go_live.action, go_live.stage, go_live.body) == ("go-live", 3, {"start_hls": True})
    assert plan.summary() == {"create": 1, "update": 0, "delete": 0, "live": 1}


def test_new_call_without_backstage_needs_no_go_live_and_notes_live_false() -> None:
    calls = {
        "default:a": CallSpec("default:a", created_by_id="john", live=True),
        "default:b": CallSpec("default:b", created_by_id="john", live=False),
        "default:c": CallSpec(
            "default:c",
            created_by_id="john",
            live=True,
            settings_override={"backstage": {"enabled": True}},
        ),
    }
    plan = make_plan(DesiredState(calls=calls), ActualState(call_types=builtins()))
    assert [(c.name, c.action) for c in plan.changes] == [
        ("default:a", "create"),
        ("default:b", "create"),
        ("default:c", "create"),
        ("default:c", "go-live"),
    ]
    (note,) = plan.notes
    assert note.name == "default:b" and "cannot wait in backstage" in note.message


def test_go_live_uses_desired_call_type_backstage() -> None:
    desired = DesiredState(
        call_types={"default": CallTypeSpec("default", settings={"backstage": {"enabled": True}})},
        calls={"default:x": CallSpec("default:x", created_by_id="john", live=True)},
    )
    plan = make_plan(desired, ActualState(call_types=builtins()))
    assert [c.action for c in plan.changes] == ["update", "create", "go-live"]


def test_call_update_patch_members_and_notes() -> None:
    actual = ActualState(
        call_types=builtins(),
        calls={
            "livestream:show": call_state(
                "livestream:show",
                custom={"title": "Old", "extra": 1},
                members={"john": "host", "bob": "user"},
                team="blue",
            )
        },
    )
    desired = DesiredState(
        calls={
            "livestream:show": CallSpec(
                "livestream:show",
                created_by_id="amy",
                team="red",
                starts_at="2027-01-01T20:00:00Z",
                custom={"title": "New"},
                settings_override={"backstage": {"enabled": True, "join_ahead_time_seconds": 60}},
                members={"john": "admin", "amy": "user"},
            )
        }
    )
    plan = make_plan(desired, actual)
    (change,) = plan.changes
    assert change.body == {
        "update_call": {
            "starts_at": "2027-01-01T20:00:00Z",
            "custom": {"title": "New"},
            "settings_override": {"backstage": {"join_ahead_time_seconds": 60}},
        },
        "update_call_members": {
            "update_members": [
                {"user_id": "amy", "role": "user"},
                {"user_id": "john", "role": "admin"},
            ],
            "remove_members": ["bob"],
        },
    }
    paths = {f.path: (f.before, f.after) for f in change.fields}
    assert paths["custom.extra"] == (1, None)
    assert paths["custom.title"] == ("Old", "New")
    assert paths["members.bob"] == ("user", None)
    assert sorted(n.message.split(" ")[0] for n in plan.notes) == ["created_by_id", "team"]


def test_starts_at_compared_as_instant_and_members_untouched_when_undeclared() -> None:
    actual = ActualState(
        calls={"livestream:s": call_state("livestream:s", members={"bob": "user"})}
    )
    desired = DesiredState(
        calls={"livestream:s": CallSpec("livestream:s", starts_at="2027-01-01T19:00:00+01:00")}
    )
    assert make_plan(desired, actual).empty


def test_project_marker_added_to_existing_call() -> None:
    actual = ActualState(calls={"livestream:s": call_state("livestream:s", custom={"a": 1})})
    desired = DesiredState(calls={"livestream:s": CallSpec("livestream:s")}, project="p")
    (change,) = make_plan(desired, actual).changes
    assert change.body == {"update_call": {"custom": {"a": 1, PROJECT_MARKER_KEY: "p"}}}


def test_taking_over_another_projects_call_is_noted() -> None:
    actual = ActualState(
        calls={"livestream:s": call_state("livestream:s", custom={PROJECT_MARKER_KEY: "one"})}
    )
    desired = DesiredState(calls={"livestream:s": CallSpec("livestream:s")}, project="two")
    plan = make_plan(desired, actual)
    (change,) = plan.changes
    assert change.body == {"update_call": {"custom": {PROJECT_MARKER_KEY: "two"}}}
    (note,) = plan.notes
    assert note.name == "livestream:s"
    assert "belongs to project 'one'" in note.message
    # The same project owning it, or no marker yet, is no news.
    same = ActualState(
        calls={"livestream:s": call_state("livestream:s", custom={PROJECT_MARKER_KEY: "two"})}
    )
    assert make_plan(desired, same).empty
    unmarked = ActualState(calls={"livestream:s": call_state("livestream:s")})
    assert not make_plan(desired, unmarked).notes


def test_live_changes_on_existing_calls() -> None:
    actual = ActualState(
        calls={
            "livestream:a": call_state("livestream:a", backstage=True),
            "livestream:b": call_state("livestream:b", backstage=False),
            "livestream:c": call_state("livestream:c", backstage=False),
        }
    )
    desired = DesiredState(
        calls={
            "livestream:a": CallSpec("livestream:a", live=True, go_live={"start_hls": False}),
            "livestream:b": CallSpec("livestream:b", live=False),
            "livestream:c": CallSpec("livestream:c", live=True),
        }
    )
    plan = make_plan(desired, actual)
    assert [(c.name, c.action, c.disruptive) for c in plan.changes] == [
        ("livestream:a", "go-live", False),
        ("livestream:b", "stop-live", True),
    ]
    assert plan.changes[0].body == {"start_hls": False}
    assert "removes viewers" in plan.changes[1].reason


def test_prune_rules() -> None:
    actual = ActualState(
        call_types={**builtins(), "old": ct_state("old"), "empty": ct_state("empty")},
        calls={
            "old:1": call_state("old:1", custom={PROJECT_MARKER_KEY: "p"}),
            "old:2": call_state("old:2", custom={PROJECT_MARKER_KEY: "other"}),
            "livestream:mine": call_state("livestream:mine", custom={PROJECT_MARKER_KEY: "p"}),
            "livestream:keep": call_state("livestream:keep", custom={PROJECT_MARKER_KEY: "p"}),
        },
    )
    desired = DesiredState(calls={"livestream:keep": CallSpec("livestream:keep")}, project="p")
    assert make_plan(desired, actual).empty
    plan = make_plan(desired, actual, prune=True)
    assert [(c.kind, c.name, c.action, c.stage) for c in plan.changes] == [
        ("call", "livestream:mine", "delete", 4),
        ("call", "old:1", "delete", 4),
        ("call_type", "empty", "delete", 5),
        ("call_type", "old", "delete", 5),
    ]
    empty, old = plan.changes[2:]
    assert not empty.disruptive
    assert old.disruptive and old.reason == "breaks 1 call of this type"
    assert plan.managed == 1 + 4
    # Without a project no call is ever pruned.
    no_project = make_plan(DesiredState(), actual, prune=True)
    assert {c.kind for c in no_project.changes} == {"call_type"}


def test_pruning_a_live_call_is_disruptive() -> None:
    actual = ActualState(
        call_types=builtins(),
        calls={
            "livestream:on-air": call_state(
                "livestream:on-air", backstage=False, custom={PROJECT_MARKER_KEY: "p"}
            ),
            "livestream:waiting": call_state(
                "livestream:waiting", custom={PROJECT_MARKER_KEY: "p"}
            ),
            "livestream:over": call_state(
                "livestream:over",
                backstage=False,
                ended_at="2026-01-01T00:00:00Z",
                custom={PROJECT_MARKER_KEY: "p"},
            ),
        },
    )
    plan = make_plan(DesiredState(project="p"), actual, prune=True)
    flagged = {c.name: (c.disruptive, c.reason) for c in plan.changes}
    assert flagged == {
        "livestream:on-air": (True, "the call is live: deleting it ends it for its viewers"),
        "livestream:over": (False, ""),
        "livestream:waiting": (False, ""),
    }


def test_targets_filter_and_unknown_target() -> None:
    desired = DesiredState(
        call_types={"stage": CallTypeSpec("stage", settings={"backstage": {"enabled": True}})},
        calls={"stage:x": CallSpec("stage:x", created_by_id="john")},
    )
    actual = ActualState(call_types=builtins())
    plan = make_plan(desired, actual, targets=["calltype:stage"])
    assert [(c.kind, c.name) for c in plan.changes] == [("call_type", "stage")]
    assert plan.targets == ("calltype:stage",)
    with_type = ActualState(call_types={**builtins(), "stage": ct_state("stage")})
    plan = make_plan(desired, with_type, targets=["stage:x"])
    assert [(c.kind, c.name) for c in plan.changes] == [("call", "stage:x")]
    with pytest.raises(UsageError, match=r"unknown target 'nope'.*calltype:stage.*stage:x"):
        make_plan(desired, actual, targets=["nope"])


def test_target_call_whose_type_is_not_created_yet_is_refused() -> None:
    desired = DesiredState(
        call_types={"stage": CallTypeSpec("stage")},
        calls={"stage:x": CallSpec("stage:x", created_by_id="john")},
    )
    actual = ActualState(call_types=builtins())
    with pytest.raises(UsageError, match=r"stage:x.*'stage'.*add --target calltype:stage"):
        make_plan(desired, actual, targets=["stage:x"])
    both = make_plan(desired, actual, targets=["stage:x", "calltype:stage"])
    assert [(c.kind, c.name) for c in both.changes] == [("call_type", "stage"), ("call", "stage:x")]
    # Once the type exists, the call alone is a valid target.
    existing = ActualState(call_types={**builtins(), "stage": ct_state("stage")})
    assert [c.name for c in make_plan(desired, existing, targets=["stage:x"]).changes] == [
        "stage:x"
    ]


def test_plan_is_deterministic_and_round_trips_through_json() -> None:
    desired = DesiredState(
        calls={
            f"livestream:c{i}": CallSpec(f"livestream:c{i}", created_by_id="u", live=True)
            for i in (3, 1, 2)
        },
        users={"u": UserSpec("u")},
    )
    actual = ActualState(call_types=builtins())
    one = make_plan(desired, actual)
    two = make_plan(desired, actual)
    assert one == two
    text = json.dumps(one.to_json(), sort_keys=True)
    again = Plan.from_json(json.loads(text))
    assert again.changes == one.changes
    assert dict(again.fingerprints) == dict(one.fingerprints)
    assert [c.name for c in one.changes if c.kind == "call" and c.action == "create"] == [
        "livestream:c1",
        "livestream:c2",
        "livestream:c3",
    ]


def test_fingerprint_changes_with_the_object() -> None:
    a = call_state("livestream:a")
    b = call_state("livestream:a", custom={"x": 1})
    assert fingerprint(a) == fingerprint(call_state("livestream:a"))
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(None) == ABSENT


def test_change_from_json_defaults() -> None:
    change = Change.from_json(
        {"kind": "call", "name": "a:b", "action": "delete", "stage": 4, "location": None}
    )
    assert change.body == {} and change.fields == () and change.location is None


def test_update_body_keeps_keys_the_request_schema_requires() -> None:
    actual = ActualState(call_types=builtins())
    desired = DesiredState(
        call_types={
            "livestream": CallTypeSpec(
                "livestream",
                settings={"audio": {"default_device": "speaker", "mic_default_on": False}},
            )
        }
    )
    (change,) = make_plan(desired, actual).changes
    # Only mic_default_on changed, but AudioSettingsRequest requires default_device.
    assert change.body == {
        "settings": {"audio": {"default_device": "speaker", "mic_default_on": False}}
    }
    assert [f.path for f in change.fields] == ["settings.audio.mic_default_on"]


def test_a_plan_of_matching_objects_does_not_import_deepdiff() -> None:
    # deepdiff (and pydantic) cost ~70 ms to import; the exact-match fast path must spare a
    # no-op plan that cost. A fresh interpreter, since this suite imports deepdiff anyway.
    code = textwrap.dedent(
        """
        import sys
        from stagecfg.model import ActualState, CallTypeSpec, CallTypeState, DesiredState
        from stagecfg.plan import make_plan

        def state(enabled):
            settings = {"backstage": {"enabled": enabled, "join_ahead_time_seconds": 60}}
            return settings, CallTypeState("show", settings, {}, {})

        declared, _ = state(True)
        desired = DesiredState(call_types={"show": CallTypeSpec("show", settings=declared)})
        assert make_plan(desired, ActualState(call_types={"show": state(True)[1]})).empty
        assert "deepdiff" not in sys.modules, "a no-op plan imported deepdiff"
        assert not make_plan(desired, ActualState(call_types={"show": state(False)[1]})).empty
        assert "deepdiff" in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_call_follows_its_types_declared_fields_next_to_its_own_override() -> None:
    type_settings = {"backstage": {"enabled": True, "join_ahead_time_seconds": 600}}
    actual = ActualState(
        call_types={"livestream": ct_state("livestream")},
        calls={
            "livestream:show": call_state("livestream:show"),
            "livestream:pinned": call_state("livestream:pinned"),
            "livestream:onair": call_state("livestream:onair", backstage=False),
        },
    )
    desired = DesiredState(
        call_types={"livestream": CallTypeSpec("livestream", settings=type_settings)},
        calls={
            "livestream:show": CallSpec(
                "livestream:show",
                settings_override={"audio": {"default_device": "earpiece"}},
            ),
            "livestream:pinned": CallSpec("livestream:pinned", follow_call_type=False),
            "livestream:onair": CallSpec("livestream:onair"),
        },
    )
    plan = make_plan(desired, actual)
    calls = {c.name: c for c in plan.changes if c.kind == "call"}
    assert sorted(calls) == ["livestream:onair", "livestream:show"]  # pinned keeps its own
    show = calls["livestream:show"]
    # One request carries the followed leaf and the call's own override, changed leaves only.
    assert show.body == {
        "update_call": {
            "settings_override": {
                "audio": {"default_device": "earpiece"},
                "backstage": {"join_ahead_time_seconds": 600},
            }
        }
    }
    assert {f.path: (f.before, f.after) for f in show.fields} == {
        "settings_override.audio.default_device": ("speaker", "earpiece"),
        "settings.backstage.join_ahead_time_seconds": (0, 600),
    }
    assert not show.disruptive
    assert show.reason.startswith("follows call type livestream")
    assert [n.name for n in plan.notes] == ["livestream:show"]
    onair = calls["livestream:onair"]
    assert onair.disruptive
    assert onair.reason == (
        "the call is live: its settings change while it is on air (follows call type livestream)"
    )
