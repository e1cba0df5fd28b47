"""Text plans at scale: counts per kind and action, folds of one shape, and what never folds.

The small-plan shape is held by the golden file in tests/test_render.py; these tests build
plans of thousands of changes as data (no backend), render them and read the text back.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stagecfg.access import AccessNote, AccessReview
from stagecfg.errors import Location
from stagecfg.plan import Change, FieldChange, Note, Plan
from stagecfg.render import GROUP_OVER, render, render_json, render_text
from stagecfg.render.text import EXAMPLES, blocks, count_rows

BACKEND = "local sandbox .stagecfg/sandbox.db"
TITLE = re.compile(r"^[+~\-><] (user|call_type|call) \S+")
FOLD = re.compile(r"^[+~\-><] ([\d,]+) (users|call types|calls) to ")


def update(
    cid: str, *paths: str, stage: int = 2, line: int = 1, disruptive: bool = False, reason: str = ""
) -> Change:
    """A call update changing ``paths`` (each from 18:00 to 19:00)."""
    before, after = "2031-03-01T18:00:00Z", "2031-03-01T19:00:00Z"
    fields = tuple(FieldChange(path, before, after) for path in paths)
    location = Location("m/shows.yaml", line, 3)
    return Change("call", cid, "update", stage, {}, fields, location, disruptive, reason)


def create(cid: str) -> Change:
    return Change("call", cid, "create", 2, {}, (FieldChange("created_by_id", None, "host"),))


def issue_plan() -> Plan:
    """The issue's 2,003 changes: a call type, 1,990 calls whose start moves, 12 new calls."""
    changes = [
        Change(
            "call_type",
            "weekly-show",
            "update",
            1,
            {},
            (FieldChange("settings.limits.max_participants", 100, 101),),
        ),
        *(update(f"weekly-show:ep-{i:04d}", "starts_at", line=3 * i + 12) for i in range(1990)),
        *(create(f"weekly-show:new-{i:02d}") for i in range(12)),
    ]
    return Plan(changes=tuple(changes))


def test_small_plans_have_no_counts_and_no_folds() -> None:
    plan = Plan(changes=tuple(update(f"t:c{i:02d}", "starts_at") for i in range(GROUP_OVER)))
    text = render_text(plan, backend=BACKEND)
    assert text == render_text(plan, backend=BACKEND, full=True)
    lines = text.splitlines()
    assert lines[:2] == [f"backend: {BACKEND}", ""]
    assert sum(1 for line in lines if line.startswith("~ call t:")) == GROUP_OVER


def test_a_large_plan_starts_with_counts_per_kind_and_action() -> None:
    lines = render_text(issue_plan(), backend=BACKEND).splitlines()
    assert lines[:4] == [
        f"backend: {BACKEND}",
        "call types: 1 to update",
        "calls:      12 to create, 1,990 to update",
        "",
    ]
    # --full lists every change but keeps the counts: they are what a reader of 2,003 needs.
    assert render_text(issue_plan(), backend=BACKEND, full=True).splitlines()[:4] == lines[:4]


def test_counts_follow_the_order_changes_run_in() -> None:
    changes = [
        Change("call", "a:x", "delete", 4),
        Change("call", "a:y", "stop-live", 3),
        Change("call", "a:z", "go-live", 3),
        Change("user", "u", "update", 0),
        Change("call", "a:w", "create", 2),
        Change("call_type", "t", "create", 1),
    ]
    assert count_rows(changes) == [
        ("users", "1 to update"),
        ("call types", "1 to create"),
        ("calls", "1 to create, 1 to go live, 1 to stop live, 1 to delete"),
    ]


def test_a_run_of_one_shape_folds_into_a_few_examples_and_a_count() -> None:
    text = render_text(issue_plan(), backend=BACKEND)
    lines = text.splitlines()
    start = lines.index("~ 1,990 calls to update: starts_at changed")
    assert lines[start + 1 : start + 8] == [
        "    ~ call weekly-show:ep-0000  (m/shows.yaml:12:3)",
        '        starts_at: "2031-03-01T18:00:00Z" -> "2031-03-01T19:00:00Z"',
        "    ~ call weekly-show:ep-0001  (m/shows.yaml:15:3)",
        '        starts_at: "2031-03-01T18:00:00Z" -> "2031-03-01T19:00:00Z"',
        "    ~ call weekly-show:ep-0002  (m/shows.yaml:18:3)",
        '        starts_at: "2031-03-01T18:00:00Z" -> "2031-03-01T19:00:00Z"',
        "    ... and 1,987 more (--full to list all)",
    ]
    # 12 creates are under the threshold: listed in full, after the fold (plan order).
    assert [line for line in lines if line.startswith("+ call ")] == [
        f"+ call weekly-show:new-{i:02d}" for i in range(12)
    ]
    assert lines.index("+ call weekly-show:new-00") > start
    assert lines[-1] == "Plan: 12 to create, 1991 to update, 0 to delete, 0 live changes."
    assert len(lines) < 60


def test_full_lists_every_change_and_json_never_folds() -> None:
    plan = issue_plan()
    full = render_text(plan, backend=BACKEND, full=True)
    titles = [line for line in full.splitlines() if TITLE.match(line)]
    assert len(titles) == len(plan.changes) == 2003
    assert "more (--full" not in full
    assert render(plan, "text", backend=BACKEND, full=True) == full
    document = json.loads(render_json(plan, backend=BACKEND))
    assert len(document["changes"]) == 2003


def test_each_shape_folds_on_its_own_and_a_small_shape_stays_listed() -> None:
    changes = [
        *(update(f"t:a{i:03d}", "starts_at") for i in range(60)),
        *(update(f"t:b{i:03d}", "starts_at", "custom.title") for i in range(40)),
        *(update(f"t:c{i:03d}", "custom.title") for i in range(EXAMPLES)),
    ]
    lines = render_text(Plan(changes=tuple(sorted(changes, key=lambda c: c.name))), backend=BACKEND)
    folds = [line for line in lines.splitlines() if FOLD.match(line)]
    assert folds == [
        "~ 60 calls to update: starts_at changed",
        "~ 40 calls to update: starts_at, custom.title changed",
    ]
    # Three of a shape: folding would hide nothing, so they are listed.
    assert [ln for ln in lines.splitlines() if ln.startswith("~ call t:c")] == [
        f"~ call t:c{i:03d}  (m/shows.yaml:1:3)" for i in range(EXAMPLES)
    ]


def test_the_stage_is_part_of_the_shape() -> None:
    changes = [
        *(update(f"t:a{i:03d}", "starts_at", stage=2) for i in range(30)),
        *(update(f"t:b{i:03d}", "starts_at", stage=3) for i in range(30)),
    ]
    folds = [ln for ln in render_text(Plan(changes=tuple(changes)), backend=BACKEND).splitlines()]
    assert [ln for ln in folds if FOLD.match(ln)] == ["~ 30 calls to update: starts_at changed"] * 2


def test_deletes_stop_live_disruptive_and_escalations_are_never_folded() -> None:
    changes = [
        *(Change("call", f"t:gone-{i:03d}", "delete", 4) for i in range(80)),
        *(
            Change(
                "call",
                f"t:live-{i:03d}",
                "stop-live",
                3,
                fields=(FieldChange("backstage", False, True),),
                disruptive=True,
                reason="stop-live sends the call back to backstage",
            )
            for i in range(80)
        ),
        *(
            update(f"t:on-air-{i:03d}", "starts_at", disruptive=True, reason="the call is live")
            for i in range(80)
        ),
        *(
            Change(
                "call_type",
                f"type-{i:03d}",
                "update",
                1,
                {},
                (FieldChange("grants.user", [], ["x"]),),
            )
            for i in range(80)
        ),
    ]
    review = AccessReview(
        notes=(AccessNote("grant", "call_type", "type-007", "role user gains x", escalation=True),)
    )
    text = render_text(Plan(changes=tuple(changes)), backend=BACKEND, access=review)
    top = {line.split()[2] for line in text.splitlines() if TITLE.match(line)}
    risky = [c.name for c in changes if c.action != "update" or c.disruptive] + ["type-007"]
    assert set(risky) <= top
    assert [ln for ln in text.splitlines() if FOLD.match(ln)] == [
        "~ 79 call types to update: grants.user changed"
    ]
    assert text.count("! disruptive: the call is live") == 80


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["create", "update", "delete", "go-live", "stop-live"]),
            st.sampled_from([("starts_at",), ("custom.title",), ("starts_at", "custom.title")]),
            st.booleans(),  # disruptive
        ),
        max_size=400,
    ),
    st.integers(min_value=0, max_value=60),
)
def test_every_change_is_shown_or_counted_and_nothing_risky_folds(
    specs: list[tuple[str, tuple[str, ...], bool]], group_over: int
) -> None:
    changes = tuple(
        Change(
            "call",
            f"t:c{i:04d}",
            action,
            2,
            {},
            tuple(FieldChange(p, 1, 2) for p in paths),
            disruptive=disruptive,
            reason="why" if disruptive else "",
        )
        for i, (action, paths, disruptive) in enumerate(specs)
    )
    text = render_text(Plan(changes=changes), backend=BACKEND, group_over=group_over)
    shown = 0
    for line in text.splitlines():
        if TITLE.match(line):
            shown += 1
        elif match := FOLD.match(line):
            shown += int(match.group(1).replace(",", ""))
    assert shown == len(changes)
    for block in blocks(changes, group_over=group_over):
        if not isinstance(block, Change):
            assert all(
                c.action not in ("delete", "stop-live") and not c.disruptive for c in block.changes
            )
            assert len({(c.action, tuple(f.path for f in c.fields)) for c in block.changes}) == 1


def test_notes_of_one_message_fold_and_others_stay() -> None:
    message = "follows call type weekly-show (set follow_call_type: false to keep its own)"
    notes = [
        Note("call", f"weekly-show:ep-{i:04d}", message, Location("m/shows.yaml", i + 1, 3))
        for i in range(1990)
    ]
    notes.append(Note("call", "weekly-show:odd", "team cannot change"))
    plan = Plan(changes=issue_plan().changes, notes=tuple(notes))
    lines = render_text(plan, backend=BACKEND).splitlines()
    start = lines.index(f"note: 1,990 calls: {message}")
    assert lines[start + 1 : start + 5] == [
        "    weekly-show:ep-0000  (m/shows.yaml:1:3)",
        "    weekly-show:ep-0001  (m/shows.yaml:2:3)",
        "    weekly-show:ep-0002  (m/shows.yaml:3:3)",
        "    ... and 1,987 more (--full to list all)",
    ]
    assert "note: call weekly-show:odd: team cannot change" in lines
    full = render_text(plan, backend=BACKEND, full=True).splitlines()
    assert sum(1 for line in full if line.startswith("note: ")) == 1991


def test_per_call_join_window_moves_fold_and_escalations_stay() -> None:
    windows = tuple(
        AccessNote("window", "call", f"t:c{i:04d}", f"viewers of `t:c{i:04d}` can now join later")
        for i in range(200)
    )
    escalation = AccessNote("grant", "call_type", "t", "role user gains x", escalation=True)
    review = AccessReview(notes=(*windows, escalation))
    lines = render_text(issue_plan(), backend=BACKEND, access=review).splitlines()
    start = lines.index("access:")
    assert lines[start + 1 : start + 6] == [
        "    ! escalation: role user gains x (call type t)",
        "    viewers of `t:c0000` can now join later",
        "    viewers of `t:c0001` can now join later",
        "    viewers of `t:c0002` can now join later",
        "    ... and 197 more calls whose join window moves (--full to list all)",
    ]
    full = render_text(issue_plan(), backend=BACKEND, access=review, full=True)
    assert full.count("can now join later") == 200


def test_a_fold_heading_is_coloured_like_its_action() -> None:
    text = render_text(issue_plan(), backend=BACKEND, color=True)
    assert "\033[33m~ 1,990 calls to update: starts_at changed\033[0m" in text
    assert "    \033[33m~ call weekly-show:ep-0000\033[0m  (m/shows.yaml:12:3)" in text
