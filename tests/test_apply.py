"""Executing plans against a real sandbox, with a wrapper only to count writes or inject faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_wrappers import Wrapped

from stagecfg.apply import ApplyReport, check_converged, execute, read_state
from stagecfg.backends import open_backend
from stagecfg.backends.base import Backend
from stagecfg.errors import ApplyFailed
from stagecfg.model import CallSpec, CallState, CallTypeSpec, DesiredState, Json, UserSpec
from stagecfg.plan import Change, FieldChange, Plan, make_plan


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    real = open_backend("local", sandbox_path=str(tmp_path / "sb.db"))
    yield real
    real.close()


def desired_shows(n: int, *, live: bool = True) -> DesiredState:
    return DesiredState(
        users={"john": UserSpec("john", role="user")},
        call_types={
            "stage": CallTypeSpec(
                "stage",
                settings={"backstage": {"enabled": True, "join_ahead_time_seconds": 300}},
                grants={"host": ["join-backstage", "join-call"]},
            )
        },
        calls={
            f"stage:show-{i}": CallSpec(
                f"stage:show-{i}",
                created_by_id="john",
                starts_at="2027-03-01T18:00:00Z",
                members={"john": "host"},
                custom={"n": i},
                live=live,
            )
            for i in range(n)
        },
        project="demo",
    )


def test_apply_creates_then_converges(backend: Backend) -> None:
    desired = desired_shows(3)
    plan = make_plan(desired, read_state(backend, desired))
    spy = Wrapped(backend)
    report = execute(plan, spy, parallelism=4)
    assert report.ok
    assert len(report.succeeded) == len(plan.changes) == 1 + 1 + 3 + 3
    after = read_state(backend, desired)
    assert after.calls["stage:show-1"].backstage is False
    assert after.calls["stage:show-1"].custom == {"n": 1, "stagecfg_project": "demo"}
    assert after.calls["stage:show-1"].members == {"john": "host"}
    replan = make_plan(desired, after)
    assert replan.empty
    check_converged(replan)
    # An empty plan makes no writes.
    again = Wrapped(backend)
    assert execute(replan, again).ok
    assert again.writes == []


def test_stages_run_in_order(backend: Backend) -> None:
    desired = desired_shows(2)
    plan = make_plan(desired, read_state(backend, desired))
    spy = Wrapped(backend)
    execute(plan, spy, parallelism=8)
    ops = [op for op, _ in spy.writes]
    assert ops[0] == "upsert_users"
    assert ops[1] == "create_call_type"
    assert sorted(ops[2:4]) == ["create_call", "create_call"]
    assert ops[4:] == ["go_live", "go_live"]


def test_parallelism_is_bounded(backend: Backend) -> None:
    desired = desired_shows(12, live=False)
    plan = make_plan(desired, read_state(backend, desired))
    spy = Wrapped(backend, pause=0.02)
    assert execute(plan, spy, parallelism=3).ok
    assert 1 < spy.max_inflight <= 3


def test_failure_stops_new_changes_and_rerun_converges(backend: Backend) -> None:
    desired = desired_shows(5)
    plan = make_plan(desired, read_state(backend, desired))
    faulty = Wrapped(backend, fail_names={"stage:show-2"})
    report = execute(plan, faulty, parallelism=1)
    assert not report.ok
    (failure,) = report.failed
    assert (failure.change.name, failure.change.action) == ("stage:show-2", "create")
    assert (failure.code, failure.status) == (4, 400)
    assert [c.name for c in report.succeeded] == ["john", "stage", "stage:show-0", "stage:show-1"]
    not_started = [(c.name, c.action) for c in report.not_started]
    assert ("stage:show-3", "create") in not_started
    assert ("stage:show-0", "go-live") in not_started
    text = report.render()
    assert "failed: create call stage:show-2: injected failure (Stream code 4, HTTP 400)" in text
    assert "run apply again" in text
    # Re-plan against what is there now and apply again: it converges.
    replan = make_plan(desired, read_state(backend, desired))
    assert {c.name for c in replan.changes if c.action == "create"} == {
        "stage:show-2",
        "stage:show-3",
        "stage:show-4",
    }
    assert execute(replan, backend).ok
    assert make_plan(desired, read_state(backend, desired)).empty


def test_ctrl_c_stops_starting_new_changes(backend: Backend) -> None:
    desired = desired_shows(6, live=False)
    plan = make_plan(desired, read_state(backend, desired))
    faulty = Wrapped(backend, interrupt_at=3, pause=0.01)
    report = execute(plan, faulty, parallelism=1)
    assert report.interrupted
    assert not report.ok
    assert 3 <= len(report.succeeded) < len(plan.changes)
    assert report.not_started
    text = report.render()
    assert "Interrupted" in text
    # Nothing failed, so there is no cause to fix: the advice is only to run apply again.
    assert "Fix the cause" not in text
    assert "Run apply again to finish" in text


def _report_lines(report: ApplyReport, *, full: bool = False) -> list[str]:
    return report.render(full=full).splitlines()


def test_a_failure_in_a_large_apply_gives_a_short_report_of_what_is_left(
    backend: Backend,
) -> None:
    desired = desired_shows(250, live=False)
    plan = make_plan(desired, read_state(backend, desired))
    assert len(plan.changes) == 252
    report = execute(plan, Wrapped(backend, fail_names={"stage:show-150"}), parallelism=4)
    failed, left = len(report.failed), len(report.not_started)
    assert failed == 1 and left > 50
    lines = _report_lines(report)
    assert lines[0] == (
        f"Applied {len(report.succeeded)} of 252 changes; 1 failed, {left} not started."
    )
    assert lines[1] == (
        "  failed: create call stage:show-150: injected failure (Stream code 4, HTTP 400)"
    )
    assert lines[2] == f"  not started: calls: {left} to create"
    assert lines[3:8] == [f"    + call {c.name}" for c in report.not_started[:5]]
    assert lines[8] == f"    ... and {left - 5} more (--full to list all)"
    assert lines[9:] == [
        f"Left for the next run: {left + 1} changes (1 failed, {left} not started).",
        "Nothing else was changed. Fix the cause and run apply again to finish: it re-reads "
        "the backend and converges.",
    ]
    # It says which: the sandbox holds exactly the calls reported as applied.
    created = set(read_state(backend, desired).calls)
    assert created == {c.name for c in report.succeeded if c.kind == "call"}
    assert not created & {c.name for c in report.not_started}
    # --full names every change once: done, failed or not started.
    full = _report_lines(report, full=True)
    named = [line.split()[-1] for line in full if line.startswith(("  done:", "    + "))]
    named += [f.change.name for f in report.failed]
    assert sorted(named) == sorted(c.name for c in plan.changes)
    assert full[-2:] == lines[-2:]  # the summary still comes last
    # The next run finishes what was left, and only that.
    replan = make_plan(desired, read_state(backend, desired))
    assert len(replan.changes) == left + 1
    assert execute(replan, backend).ok


def test_ctrl_c_in_a_large_apply_counts_what_is_left_and_names_a_few(backend: Backend) -> None:
    desired = desired_shows(220, live=False)
    plan = make_plan(desired, read_state(backend, desired))
    report = execute(plan, Wrapped(backend, interrupt_at=40, pause=0.002), parallelism=2)
    assert report.interrupted and not report.failed
    left = len(report.not_started)
    assert left > 100
    lines = _report_lines(report)
    assert (
        lines[0] == f"Applied {len(report.succeeded)} of 222 changes; 0 failed, {left} not started."
    )
    assert "done:" not in "\n".join(lines)
    assert lines[-3:] == [
        "Interrupted: no new changes were started after Ctrl-C.",
        f"Left for the next run: {left} changes (0 failed, {left} not started).",
        "Nothing else was changed. Run apply again to finish: it re-reads the backend and "
        "converges.",
    ]
    assert len(lines) == 11
    created = set(read_state(backend, desired).calls)
    assert created == {c.name for c in report.succeeded if c.kind == "call"}


def test_a_report_of_few_changes_names_them_all(backend: Backend) -> None:
    desired = desired_shows(3, live=False)
    plan = make_plan(desired, read_state(backend, desired))
    report = execute(plan, Wrapped(backend, fail_names={"stage:show-1"}), parallelism=1)
    assert _report_lines(report)[:4] == [
        "  done:   + user john",
        "  done:   + call_type stage",
        "  done:   + call stage:show-0",
        "Applied 3 of 5 changes; 1 failed, 1 not started.",
    ]
    assert "  not started: calls: 1 to create" in _report_lines(report)
    assert "    + call stage:show-2" in _report_lines(report)


def test_more_than_100_members_are_sent_in_chunks(backend: Backend) -> None:
    users = {f"u{i:03d}": UserSpec(f"u{i:03d}") for i in range(150)}
    members = {uid: "user" for uid in users}
    desired = DesiredState(
        users=users,
        calls={"default:big": CallSpec("default:big", created_by_id="u000", members=members)},
    )
    plan = make_plan(desired, read_state(backend, desired))
    spy = Wrapped(backend)
    assert execute(plan, spy).ok
    assert ("update_members", "default:big") in spy.writes
    # 150 user upserts go out as two UpdateUsers requests of at most 100.
    assert [op for op, _ in spy.writes].count("upsert_users") == 2
    after = read_state(backend, desired)
    assert len(after.calls["default:big"].members) == 150
    assert make_plan(desired, after).empty


def test_check_converged_names_each_field() -> None:
    plan = Plan(
        changes=(
            Change(
                "call_type",
                "stage",
                "update",
                1,
                {},
                (FieldChange("settings.ring.incoming_call_timeout_ms", 5000, 1000),),
            ),
        )
    )
    with pytest.raises(ApplyFailed, match="inconsistent result after apply") as info:
        check_converged(plan)
    assert (
        "call_type stage: settings.ring.incoming_call_timeout_ms is 5000, manifest says 1000"
        in (str(info.value))
    )


class SlowFirst(Wrapped):
    """Creates of lower-numbered calls take longer, so they finish in reverse plan order."""

    def create_call(self, cid: str, data: Json) -> CallState:
        time.sleep(0.05 * (5 - int(cid.rsplit("-", 1)[1])))
        return super().create_call(cid, data)


def test_report_lists_changes_in_plan_order_whatever_order_they_finish(backend: Backend) -> None:
    desired = desired_shows(5)
    plan = make_plan(desired, read_state(backend, desired))
    finished: list[str] = []
    spy = SlowFirst(backend, fail_names={"stage:show-4"})
    report = execute(
        plan, spy, parallelism=8, progress=lambda done, total, change: finished.append(change.name)
    )
    creates = [name for name in finished if name.startswith("stage:show-")]
    assert creates[0] == "stage:show-4" and creates[-1] == "stage:show-0"  # reverse order
    assert [c.name for c in report.succeeded] == ["john", "stage"] + [
        f"stage:show-{i}" for i in range(4)
    ]
    text = report.render(full=True)
    done = [line.split()[-1] for line in text.splitlines() if line.startswith("  done:")]
    assert done == ["john", "stage"] + [f"stage:show-{i}" for i in range(4)]
    # Without --full, six finished changes are only counted.
    assert "done:" not in report.render()
