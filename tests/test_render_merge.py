"""What apply on merge says: the difference, the comments (applied, no longer matches, failed)."""

from __future__ import annotations

from stagecfg.plan import Change, FieldChange, Plan
from stagecfg.plandiff import compare
from stagecfg.render import GITHUB_COMMENT_LIMIT, MARKDOWN_MARKER
from stagecfg.render.merge import (
    MergeContext,
    render_applied_markdown,
    render_failed_markdown,
    render_mismatch_markdown,
    render_mismatch_text,
)

MERGE = MergeContext(sha="0123456789abcdef0123", ref="main", paths=("stagecfg/",))


def change(name: str, after: int) -> Change:
    return Change(
        "call_type",
        name,
        "update",
        1,
        {"settings": {"backstage": {"join_ahead_time_seconds": after}}},
        (FieldChange("settings.backstage.join_ahead_time_seconds", 300, after),),
    )


def plans(n: int = 1) -> tuple[Plan, Plan]:
    names = [f"type-{i:05d}" for i in range(n)]
    touched = {f"call_type:{name}": "fp" for name in names}
    reviewed = Plan(
        changes=(*(change(x, 600) for x in names), change("gone", 1)), fingerprints=touched
    )
    current = Plan(
        changes=(*(change(x, 900) for x in names), change("new", 1)), fingerprints=touched
    )
    return reviewed, current


def test_the_text_difference_has_three_parts() -> None:
    reviewed, current = plans()
    text = render_mismatch_text(compare(reviewed, current, word="reviewed"))
    assert text == (
        "the reviewed plan no longer matches the plan of the current manifests:\n"
        "  only in the reviewed plan (1):\n"
        "    ~ call_type gone\n"
        "  only in the current plan (1):\n"
        "    ~ call_type new\n"
        "  changed (1):\n"
        "    ~ call_type type-00000\n"
        "        body.settings.backstage.join_ahead_time_seconds: reviewed 600, now 900\n"
        "        field settings.backstage.join_ahead_time_seconds: reviewed 300 -> 600, "
        "now 300 -> 900\n"
    )


def test_the_mismatch_comment_says_nothing_was_applied_what_differs_and_how_to_recover() -> None:
    reviewed, current = plans()
    md = render_mismatch_markdown(
        compare(reviewed, current, word="reviewed"), current, backend="stream app k", merge=MERGE
    )
    assert md.startswith(
        f"{MARKDOWN_MARKER}\n### stagecfg apply: the reviewed plan no longer matches "
        "<code>main</code>\n"
    )
    order = [
        "**Nothing was applied.**",
        "#### What differs",
        "**Only in the reviewed plan** (1)",
        "**Only in the current plan** (1)",
        "**Changed** (1)",
        "#### How to recover",
        "`workflow_dispatch`",
        "environment's required reviewers",
        "stagecfg plan stagecfg/ --out stagecfg-plan.json",
        "stagecfg apply stagecfg/ --reviewed stagecfg-plan.json --auto-approve",
        "#### The current plan",
        "#### Risk summary",
        "<details><summary><code>~</code> call_type <code>new</code>",
    ]
    positions = [md.index(part) for part in order]
    assert positions == sorted(positions)
    assert "commit <code>0123456789ab</code>" in md


def test_a_huge_mismatch_still_fits_the_comment() -> None:
    reviewed, current = plans(3000)
    md = render_mismatch_markdown(
        compare(reviewed, current, word="reviewed"), current, backend="b", merge=MERGE
    )
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "... and 2950 more (see the job log)" in md
    assert "#### How to recover" in md and "**Not shown**: " in md
    assert md.count("<details>") == md.count("</details>")


def test_the_applied_comment_names_the_commit_and_counts() -> None:
    _, current = plans(2)
    md = render_applied_markdown(current, applied=3, merge=MERGE)
    assert md.startswith(f"{MARKDOWN_MARKER}\n### stagecfg apply: applied\n")
    assert (
        "Applied the reviewed plan at commit <code>0123456789ab</code>: 3 changes (0 created, "
        "3 updated, 0 deleted, 0 live changes)."
    ) in md
    assert "#### The applied plan" in md and md.count("<details>") == 3
    empty = render_applied_markdown(Plan(), applied=0, merge=MergeContext())
    assert "### stagecfg apply: nothing to apply" in empty and "the merged commit" in empty


def test_the_failed_comment_quotes_the_error_escaped() -> None:
    md = render_failed_markdown("needs --force: <deletes>", merge=MERGE)
    assert "### stagecfg apply: apply on merge failed" in md
    assert "> needs --force: &lt;deletes&gt;" in md and "#### How to recover" in md
    assert "Make a new plan of this commit." in md


def test_a_path_cannot_end_the_recovery_code_block() -> None:
    merge = MergeContext(paths=("a```b",))
    md = render_failed_markdown("x", merge=merge)
    assert "a'''b" in md and "a```b" not in md
