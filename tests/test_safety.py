"""Safety rules over plans as data."""

from __future__ import annotations

import pytest

from stagecfg.errors import PlanRefused
from stagecfg.model import PROJECT_MARKER_KEY, ActualState, CallState, DesiredState
from stagecfg.plan import Change, Plan
from stagecfg.safety import check_plan, check_prune_project, delete_threshold


def deletes(n: int, kind: str = "call") -> tuple[Change, ...]:
    stage = 4 if kind == "call" else 5
    return tuple(
        Change(kind, f"t:c{i}" if kind == "call" else f"t{i}", "delete", stage) for i in range(n)
    )


def test_threshold_is_max_of_3_and_30_percent() -> None:
    assert delete_threshold(0) == 3
    assert delete_threshold(10) == 3
    assert delete_threshold(100) == 30


def test_three_deletes_pass_four_of_ten_need_force() -> None:
    check_plan(Plan(changes=deletes(3), prune=True, project="p", managed=10))
    plan = Plan(changes=deletes(4), prune=True, project="p", managed=10)
    with pytest.raises(PlanRefused, match=r"deletes 4 of 10 managed objects.*--force"):
        check_plan(plan)
    check_plan(plan, force=True)


def test_thirty_percent_of_many() -> None:
    check_plan(Plan(changes=deletes(30), prune=True, project="p", managed=100))
    with pytest.raises(PlanRefused):
        check_plan(Plan(changes=deletes(31), prune=True, project="p", managed=100))


def test_deletes_need_prune() -> None:
    with pytest.raises(PlanRefused, match="not made with --prune"):
        check_plan(Plan(changes=deletes(1), project="p", managed=10))


def test_builtin_call_types_are_never_deleted() -> None:
    plan = Plan(changes=(Change("call_type", "livestream", "delete", 5),), prune=True, managed=9)
    with pytest.raises(PlanRefused, match="built-in call types are never deleted"):
        check_plan(plan, force=True, allow_disruptive=True)


def test_call_deletes_need_a_project() -> None:
    with pytest.raises(PlanRefused, match="pruned only for a project"):
        check_plan(Plan(changes=deletes(1), prune=True, managed=10))


def test_disruptive_needs_flag_and_names_changes() -> None:
    plan = Plan(
        changes=(
            Change(
                "call", "livestream:a", "stop-live", 3, disruptive=True, reason="removes viewers"
            ),
        )
    )
    with pytest.raises(
        PlanRefused, match=r"stop-live call livestream:a \(removes viewers\).*--allow-disruptive"
    ):
        check_plan(plan)
    check_plan(plan, allow_disruptive=True)


def test_prune_without_project_refuses_when_marked_calls_exist() -> None:
    call = CallState("t:x", "u", None, {}, {PROJECT_MARKER_KEY: "p"}, True)
    actual = ActualState(calls={"t:x": call})
    with pytest.raises(PlanRefused, match=r"needs a project \(1 undeclared call carries .*t:x"):
        check_prune_project(DesiredState(), actual, prune=True, project=None)
    two = ActualState(
        calls={"t:x": call, "t:y": CallState("t:y", "u", None, {}, call.custom, True)}
    )
    with pytest.raises(PlanRefused, match=r"\(2 undeclared calls carry .*t:x, t:y"):
        check_prune_project(DesiredState(), two, prune=True, project=None)
    check_prune_project(DesiredState(), actual, prune=True, project="p")
    check_prune_project(DesiredState(), actual, prune=False, project=None)
    unmarked = ActualState(calls={"t:x": CallState("t:x", "u", None, {}, {}, True)})
    check_prune_project(DesiredState(), unmarked, prune=True, project=None)


def test_plan_refusals_lists_every_rule_broken_with_its_flag_and_check_plan_raises_the_first() -> (
    None
):
    from stagecfg.safety import plan_refusals

    stop = Change("call", "t:live", "stop-live", 3, disruptive=True, reason="back to backstage")
    plan = Plan(changes=(*deletes(4), stop), prune=True, project="p", managed=10)
    refusals = plan_refusals(plan)
    assert [r.flag for r in refusals] == ["--force", "--allow-disruptive"]
    assert refusals[1].message.startswith("the plan has 1 disruptive change: stop-live call t:live")
    with pytest.raises(PlanRefused) as info:
        check_plan(plan)
    assert str(info.value) == refusals[0].message
    assert [r.flag for r in plan_refusals(plan, force=True)] == ["--allow-disruptive"]
    assert plan_refusals(plan, force=True, allow_disruptive=True) == []
    unpruned = Plan(changes=deletes(1), prune=False, project="p", managed=10)
    assert [r.flag for r in plan_refusals(unpruned)] == [None]  # no flag makes that applicable
