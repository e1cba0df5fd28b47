"""plandiff.compare: how a saved (reviewed) plan and a fresh one differ, as data."""

from __future__ import annotations

import dataclasses

from stagecfg.plan import Change, FieldChange, Plan
from stagecfg.plandiff import compare, differences


def change(name: str, after: int = 600, action: str = "update") -> Change:
    return Change(
        "call_type",
        name,
        action,
        1,
        {"settings": {"backstage": {"join_ahead_time_seconds": after}}},
        (FieldChange("settings.backstage.join_ahead_time_seconds", 300, after),),
    )


def plan(*changes: Change, managed: int = 3, fingerprints: dict[str, str] | None = None) -> Plan:
    # Real plans fingerprint every object a change touches.
    touched = {f"call_type:{c.name}": "fp" for c in changes}
    return Plan(changes=changes, managed=managed, fingerprints=fingerprints or touched)


def test_equal_plans_match() -> None:
    saved = plan(change("a"), change("b"))
    assert compare(saved, plan(change("a"), change("b"))).matches


def test_the_three_parts_of_a_difference() -> None:
    saved = plan(change("a"), change("b"), change("c"))
    fresh = plan(change("b", after=900), change("c"), change("d"))
    found = compare(saved, fresh)
    assert [(i, c.name) for i, c in found.saved_only] == [(1, "a")]
    assert [c.name for c in found.fresh_only] == ["d"]
    (changed,) = found.changed
    assert (changed.index, changed.saved.name, changed.now.name) == (2, "b", "b")
    assert changed.differences == (
        "body.settings.backstage.join_ahead_time_seconds: saved 600, now 900",
        "field settings.backstage.join_ahead_time_seconds: saved 300 -> 600, now 300 -> 900",
    )
    assert not found.matches
    # The words apply --plan refuses with are the same as before compare() existed.
    assert differences(saved, fresh) == [
        "change 1 (call_type a update): not in the plan now",
        "change 2 (call_type b update): body.settings.backstage.join_ahead_time_seconds: "
        "saved 600, now 900",
        "change 2 (call_type b update): field settings.backstage.join_ahead_time_seconds: "
        "saved 300 -> 600, now 300 -> 900",
        "the plan now also has call_type d update",
    ]


def test_a_touched_object_that_moved_is_a_changed_change() -> None:
    saved = plan(change("a"), fingerprints={"call_type:a": "one", "call_type:z": "read"})
    fresh = plan(change("a"), fingerprints={"call_type:a": "two", "call_type:z": "moved"})
    (changed,) = compare(saved, fresh, word="reviewed").changed
    assert changed.differences == (
        "call_type:a changed on the backend since the plan was reviewed",
    )


def test_the_managed_count_is_compared_unless_asked_not_to() -> None:
    saved, fresh = plan(change("a"), managed=3), plan(change("a"), managed=4)
    assert compare(saved, fresh).other == ("managed objects: saved 3, now 4",)
    assert compare(saved, fresh, managed=False).matches


def test_the_word_names_the_saved_plan() -> None:
    saved = plan(dataclasses.replace(change("a"), body={"x": 1}))
    fresh = plan(dataclasses.replace(change("a"), body={"y": 2}))
    (changed,) = compare(saved, fresh, word="reviewed").changed
    assert changed.differences == (
        "body.x: reviewed 1, not in the plan now",
        "body.y: not in the reviewed plan, now 2",
    )
