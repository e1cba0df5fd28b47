"""Renderers: golden files for text, JSON, Markdown and GitHub annotations; Markdown limits.

Regenerate the golden files with ``STAGECFG_UPDATE_GOLDEN=1 pytest tests/test_render.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stagecfg.access import AccessNote, AccessReview
from stagecfg.errors import Location, UsageError
from stagecfg.plan import Change, FieldChange, Note, Plan
from stagecfg.render import (
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_MARKER,
    NO_CHANGES,
    format_value,
    render,
    render_github,
    render_json,
    render_markdown,
    render_text,
    summary_line,
)
from stagecfg.render.markdown import LOCAL_FULL_PLAN
from stagecfg.render.risk import risks_of
from stagecfg.safety import Refusal

GOLDEN = Path(__file__).parent / "data" / "golden"
BACKEND = "local sandbox .stagecfg/sandbox.db"


def sample_plan() -> Plan:
    loc = Location("examples/backstage/stagecfg.yaml", 12, 3)
    return Plan(
        changes=(
            Change(
                "user",
                "john",
                "create",
                0,
                {"id": "john", "role": "user"},
                (FieldChange("role", None, "user"),),
                Location("examples/backstage/stagecfg.yaml", 4, 3),
            ),
            Change(
                "call_type",
                "livestream",
                "update",
                1,
                {"settings": {"backstage": {"join_ahead_time_seconds": 300}}},
                (FieldChange("settings.backstage.join_ahead_time_seconds", 0, 300),),
                Location("examples/backstage/stagecfg.yaml", 7, 3),
            ),
            Change(
                "call",
                "livestream:show",
                "create",
                2,
                {"created_by_id": "john", "custom": {"title": "x" * 200}},
                (
                    FieldChange("created_by_id", None, "john"),
                    FieldChange("custom.title", None, "x" * 200),
                ),
                loc,
            ),
            Change(
                "call",
                "livestream:show",
                "go-live",
                3,
                {},
                (FieldChange("backstage", True, False),),
                loc,
            ),
            Change(
                "call",
                "livestream:old",
                "stop-live",
                3,
                {},
                (FieldChange("backstage", False, True),),
                None,
                disruptive=True,
                reason="stop-live sends the call back to backstage and removes viewers",
            ),
            Change("call", "livestream:gone", "delete", 4),
            Change(
                "call_type",
                "legacy",
                "delete",
                5,
                disruptive=True,
                reason="breaks 2 calls of this type",
            ),
        ),
        notes=(Note("call", "livestream:show", "team cannot change", loc),),
        fingerprints={"call_type:livestream": "abc"},
        prune=True,
        project="demo",
        managed=6,
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("STAGECFG_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text_golden() -> None:
    check_golden("plan.txt", render_text(sample_plan(), backend=BACKEND))


def test_json_golden() -> None:
    check_golden("plan.json", render_json(sample_plan(), backend=BACKEND))


def sample_refusals() -> tuple[Refusal, ...]:
    return (
        Refusal("the plan deletes 2 of 6 managed objects", "--force"),
        Refusal("stop-live of livestream:old is disruptive", "--allow-disruptive"),
    )


def sample_review() -> AccessReview:
    return AccessReview(
        notes=(
            AccessNote(
                "grant",
                "call_type",
                "livestream",
                "role user gains join-backstage: every signed-in user gains it",
                escalation=True,
                direction="grant",
            ),
            AccessNote("radius", "call_type", "livestream", "update affects 1 call live now"),
        ),
        live_calls=("livestream:old",),
    )


def test_markdown_golden() -> None:
    # The layout of the plan comment: marker, title, risk summary, refusals, access, one
    # <details> per object, notes (regenerate deliberately, see the module docstring).
    md = render_markdown(
        sample_plan(), backend=BACKEND, access=sample_review(), refusals=sample_refusals()
    )
    check_golden("plan.md", md)


def test_github_golden() -> None:
    out = render_github(
        sample_plan(), backend=BACKEND, access=sample_review(), refusals=sample_refusals()
    )
    check_golden("plan.github.txt", out)


def test_text_shape() -> None:
    text = render_text(sample_plan(), backend=BACKEND)
    lines = text.splitlines()
    assert lines[0] == f"backend: {BACKEND}"
    assert "~ call_type livestream  (examples/backstage/stagecfg.yaml:7:3)" in lines
    assert "    settings.backstage.join_ahead_time_seconds: 0 -> 300" in lines
    assert "> call livestream:show go-live  (examples/backstage/stagecfg.yaml:12:3)" in lines
    assert "< call livestream:old stop-live" in lines
    assert "- call livestream:gone" in lines
    assert "    ! disruptive: breaks 2 calls of this type" in lines
    assert lines[-1] == "Plan: 2 to create, 1 to update, 2 to delete, 2 live changes."
    assert "\033[" not in text


def test_text_colour_only_when_asked() -> None:
    coloured = render_text(sample_plan(), backend=BACKEND, color=True)
    assert "\033[31m    ! disruptive: breaks 2 calls of this type\033[0m" in coloured
    assert "\033[32m+ call livestream:show\033[0m" in coloured
    # Disruptive changes are red whatever their action (stop-live is otherwise magenta).
    assert "\033[31m< call livestream:old stop-live\033[0m" in coloured
    assert "\033[35m" not in coloured


def test_empty_plan() -> None:
    text = render_text(Plan(), backend=BACKEND)
    assert text == f"backend: {BACKEND}\n\n{NO_CHANGES}\n"
    assert NO_CHANGES in render_markdown(Plan(), backend=BACKEND)
    assert json.loads(render_json(Plan(), backend=BACKEND))["changes"] == []


def test_summary_singular_live_change() -> None:
    plan = Plan(changes=(Change("call", "a:b", "go-live", 3),))
    assert summary_line(plan) == "Plan: 0 to create, 0 to update, 0 to delete, 1 live change."


def test_long_values_are_truncated() -> None:
    assert format_value("y" * 500).endswith("...")
    assert len(format_value("y" * 500)) == 80
    assert format_value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_json_document_fields() -> None:
    doc = json.loads(render_json(sample_plan(), backend=BACKEND))
    assert doc["format_version"] == 1
    assert doc["backend"] == BACKEND
    assert doc["summary"] == {"create": 2, "update": 1, "delete": 2, "live": 2}
    first = doc["changes"][0]
    assert set(first) == {
        "kind",
        "name",
        "action",
        "stage",
        "body",
        "fields",
        "location",
        "disruptive",
        "reason",
    }
    assert first["location"] == {"file": "examples/backstage/stagecfg.yaml", "line": 4, "col": 3}


def test_markdown_marker_and_diff() -> None:
    md = render_markdown(sample_plan(), backend=BACKEND)
    assert md.startswith(MARKDOWN_MARKER + "\n")
    assert MARKDOWN_MARKER == "<!-- stagecfg-plan:default -->"
    assert "### stagecfg plan: 2 to create, 1 to update, 2 to delete, 2 live changes\n" in md
    assert "- settings.backstage.join_ahead_time_seconds: 0\n" in md
    assert "+ settings.backstage.join_ahead_time_seconds: 300\n" in md
    assert "```diff" in md
    assert "Not shown" not in md


def test_markdown_starts_with_the_risk_summary_then_one_details_per_object() -> None:
    md = render_markdown(
        sample_plan(), backend=BACKEND, access=sample_review(), refusals=sample_refusals()
    )
    risk = md.index("#### Risk summary")
    assert risk < md.index("#### Apply would refuse") < md.index("#### Access changes")
    assert md.index("#### Access changes") < md.index("<details>")
    assert "| access widened (escalations) | **1** :warning: |" in md
    assert "| deletes | **2** :warning: |" in md
    assert "| disruptive changes | **2** :warning: |" in md
    assert "| live calls affected | **1** :warning: |" in md
    assert "| apply would refuse | **2** :warning: |" in md
    # Six objects: the call created and taken live is one object with both actions.
    assert md.count("<details>") == md.count("</details>") == 6
    assert (
        "<details><summary><code>+</code> call <code>livestream:show</code>: create, go-live"
        "</summary>" in md
    )
    stop = "<code>&lt;</code> call <code>livestream:old</code>: stop-live :warning: disruptive"
    assert stop in md


def test_markdown_names_are_escaped() -> None:
    plan = Plan(changes=(Change("user", "<b>x</b>`y", "create", 0, {}, (), Location("a`b.yaml")),))
    md = render_markdown(plan, backend="`odd` <backend>")
    assert "<b>" not in md
    assert "<code>&lt;b&gt;x&lt;/b&gt;`y</code>" in md
    assert "Backend: <code>`odd` &lt;backend&gt;</code>" in md


def test_markdown_key_names_the_comment() -> None:
    md = render_markdown(Plan(), backend=BACKEND, key="production")
    assert md.startswith("<!-- stagecfg-plan:production -->\n### stagecfg plan (production):")
    for bad in ("a -->", "x\ny", "", "-x", "a" * 65):
        with pytest.raises(UsageError):
            render_markdown(Plan(), backend=BACKEND, key=bad)


def test_markdown_no_changes_is_short() -> None:
    md = render_markdown(Plan(), backend=BACKEND)
    assert md == (
        f"{MARKDOWN_MARKER}\n### stagecfg plan: no changes\n\n"
        f"Backend: <code>{BACKEND}</code>\n\n{NO_CHANGES}\n\n"
    )


def big_plan(n: int) -> Plan:
    return Plan(
        changes=tuple(
            Change(
                "call",
                f"livestream:show-{i:05d}",
                "create",
                2,
                {},
                tuple(FieldChange(f"custom.k{j}", None, "v" * 60) for j in range(5)),
                Location("big.yaml", i + 1, 3),
            )
            for i in range(n)
        )
    )


def test_markdown_truncates_to_github_limit() -> None:
    plan = big_plan(2000)
    md = render_markdown(plan, backend=BACKEND)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    shown = md.count("<details>")
    assert 0 < shown < 2000
    # Whole objects only: every block that starts also ends, and the last shown is complete.
    assert md.count("</details>") == shown
    last = f"livestream:show-{shown - 1:05d}"
    assert md.index(last) < md.rindex("</details>")
    assert f"livestream:show-{shown:05d}" not in md
    assert md.endswith(
        f"**Not shown**: {2000 - shown:,} objects (GitHub limits a comment to 65,536 "
        f"characters). The full plan: {LOCAL_FULL_PLAN}.\n"
    )
    assert md.startswith(MARKDOWN_MARKER)


def test_markdown_of_thousands_of_changes_keeps_the_summary_and_says_where_the_rest_is() -> None:
    plan = big_plan(5000)
    where = "the log of [this workflow run](https://github.com/o/r/actions/runs/1)"
    md = render_markdown(plan, backend=BACKEND, full_plan=where)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "#### Risk summary" in md and "#### Changes to 5000 objects" in md
    assert f"The full plan: {where}." in md
    assert "objects (GitHub limits a comment to 65,536 characters)" in md


@pytest.mark.parametrize("limit", [2_000, 10_000])
def test_markdown_respects_any_limit(limit: int) -> None:
    md = render_markdown(big_plan(300), backend=BACKEND, limit=limit)
    assert len(md) <= limit
    assert "**Not shown**: " in md and md.count("<details>") == md.count("</details>")


def test_markdown_small_plan_is_complete() -> None:
    md = render_markdown(big_plan(10), backend=BACKEND)
    assert md.count("<details>") == 10
    assert "Not shown" not in md


def test_github_annotations() -> None:
    out = render_github(sample_plan(), backend=BACKEND).splitlines()
    # The summary first, so it is never among the annotations GitHub drops.
    assert out[0] == (
        f"::notice title=stagecfg plan::backend: {BACKEND}: Plan: 2 to create, 1 to update, "
        "2 to delete, 2 live changes. Risks: 2 deletes, 2 disruptive changes."
    )
    assert (
        '::notice file=examples/backstage/stagecfg.yaml,line=4,col=3::+ user john: role: "user"'
        in out
    )
    assert any(
        line.startswith("::warning::- call_type legacy: delete (disruptive: breaks 2 calls")
        for line in out
    )
    assert not any("more annotations not shown" in line for line in out)


def test_github_shows_at_most_ten_per_severity_and_says_how_many_were_left_out() -> None:
    changes = big_plan(30).changes + tuple(
        Change("call", f"livestream:stop-{i}", "stop-live", 3, disruptive=True, reason="r")
        for i in range(15)
    )
    refusals = tuple(Refusal(f"refusal {i}", "--force") for i in range(12))
    out = render_github(Plan(changes=changes), backend=BACKEND, refusals=refusals).splitlines()
    levels = [line.split("::")[1].split(" ")[0] for line in out]
    assert levels.count("error") == 10 and levels.count("warning") == 10
    assert levels.count("notice") == 10  # the summary, 8 changes, the line about the rest
    assert out[0].startswith("::notice title=stagecfg plan::backend: ")
    assert out[-1] == (
        "::notice title=stagecfg plan::29 more annotations not shown (2 errors, 5 warnings, "
        "22 notices): GitHub shows 10 of each kind per step. Every change is in the plan "
        "comment and the job summary (`stagecfg plan --github-comment`), or run "
        "`stagecfg plan` to see them all."
    )


def test_github_fits_nine_notices_without_the_pointer() -> None:
    out = render_github(big_plan(9), backend=BACKEND).splitlines()
    assert len(out) == 10 and not any("not shown" in line for line in out)
    out = render_github(big_plan(10), backend=BACKEND).splitlines()
    assert len(out) == 10 and "10 more" not in out[-1] and "2 more annotations" in out[-1]


def test_github_escapes_newlines() -> None:
    plan = Plan(notes=(Note("call", "a:b", "line1\nline2", Location("f,1.yaml", 2, 1)),))
    out = render_github(plan, backend=BACKEND)
    assert "::warning file=f%2C1.yaml,line=2,col=1::call a:b: line1%0Aline2" in out


def test_render_dispatch() -> None:
    plan = sample_plan()
    assert render(plan, "json", backend=BACKEND) == render_json(plan, backend=BACKEND)
    assert render(plan, "text", backend=BACKEND) == render_text(plan, backend=BACKEND)


def test_list_delta_shows_grants_as_set_changes() -> None:
    from stagecfg.render import list_delta

    assert list_delta(["a", "b", "c"], ["c", "d", "a"]) == "+[d] -[b]"
    assert list_delta(["a", "b"], ["b", "a"]) == "(reordered)"
    assert list_delta(None, ["a"]) is None
    assert list_delta([1, 2], [2]) is None


def test_markdown_fits_the_limit_with_a_huge_access_review_and_many_notes() -> None:
    review = AccessReview(
        notes=tuple(
            AccessNote(
                "grant",
                "call_type",
                f"type-{i:04d}",
                f"role user gains perm-{i}: every signed-in user gains it",
                escalation=i % 2 == 0,
                direction="grant",
            )
            for i in range(4000)
        )
    )
    notes = tuple(Note("call", f"livestream:c{i}", "team cannot change " * 5) for i in range(3000))
    plan = Plan(changes=big_plan(50).changes, notes=notes)
    md = render_markdown(plan, backend=BACKEND, access=review)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert md.startswith(MARKDOWN_MARKER)
    assert "#### Access changes (2000 escalations)" in md
    shown = md.count("\n- :warning: **") + md.count("\n- grant: ")
    assert 0 < shown < 4000
    # Escalations come first, so the cut never hides one while showing a plain grant.
    assert md.count("\n- :warning: **escalation: role user gains perm-") == shown
    # The access lines take at most a third: the objects still get room.
    assert md.count("<details>") > 0
    assert f"**Not shown**: {4000 - shown:,} access changes, " in md
    assert " notes (GitHub limits" in md


def test_markdown_cuts_notes_that_do_not_fit() -> None:
    notes = tuple(Note("call", f"livestream:c{i}", "x" * 100) for i in range(1000))
    md = render_markdown(Plan(changes=big_plan(3).changes, notes=notes), backend=BACKEND)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert md.count("<details>") == 3
    shown = md.count("- note: ")
    assert 0 < shown < 1000
    assert f"**Not shown**: {1000 - shown:,} notes (GitHub limits" in md


def test_colour_needs_a_terminal_and_no_no_color() -> None:
    from stagecfg.render import use_color

    assert use_color(True, {})
    assert not use_color(False, {})
    assert not use_color(True, {"NO_COLOR": "1"})
    assert not use_color(True, {"NO_COLOR": "false"})  # any non-empty value
    assert use_color(True, {"NO_COLOR": ""})  # empty means unset (https://no-color.org)


def test_markdown_grant_updates_name_what_leaves_and_joins_in_full() -> None:
    before = [f"perm-{i:02d}" for i in range(20)]
    after = [*before[2:], "zz-new"]
    plan = Plan(
        changes=(
            Change(
                "call_type",
                "livestream",
                "update",
                1,
                {"grants": {"host": after}},
                (FieldChange("grants.host", before, after),),
            ),
        )
    )
    md = render_markdown(plan, backend=BACKEND)
    assert "- grants.host: [perm-00, perm-01]\n" in md
    assert "+ grants.host: [zz-new]\n" in md
    assert "..." not in md


def test_risk_words_and_counts() -> None:
    risks = risks_of(sample_plan(), sample_review(), sample_refusals())
    assert (risks.escalations, risks.deletes, risks.disruptive) == (1, 2, 2)
    assert (risks.live_calls, risks.refusals) == (1, 2)
    assert risks.words() == (
        "1 escalation, 2 deletes, 2 disruptive changes, 1 live call affected, 2 refusals by apply"
    )
    assert risks_of(Plan()).words() == "nothing risky found"
