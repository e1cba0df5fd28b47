"""Apply on merge over a real sandbox: pipeline.plan_reviewed and stagecfg.reviewed.

Two pull requests branch from one main; each plan is reviewed; they merge in turn. The second
still applies when its changes are what was reviewed (whatever else merged), and is refused,
with the difference as data, when the first changed the same object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stagecfg import pipeline, reviewed, savedplan
from stagecfg.backends.local import open_backend
from stagecfg.errors import PlanRefused
from stagecfg.validation import load_desired


def write(directory: Path, *, a: int = 300, b: int = 300, extra_call: bool = False) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "version: 1",
        "project: demo",
        "users:",
        "  john: {role: user}",
        "call_types:",
        "  type-a:",
        f"    settings: {{backstage: {{enabled: true, join_ahead_time_seconds: {a}}}}}",
        "  type-b:",
        f"    settings: {{backstage: {{enabled: true, join_ahead_time_seconds: {b}}}}}",
    ]
    if extra_call:
        lines += [
            "calls:",
            "  type-a:new-show:",
            "    created_by_id: john",
            '    starts_at: "2030-01-01T18:00:00Z"',
        ]
    (directory / "m.yaml").write_text("\n".join(lines) + "\n")
    return str(directory)


def reviewed_plan(backend_path: Path, manifests: str, tmp_path: Path, name: str) -> str:
    backend = open_backend(sandbox_path=str(backend_path))
    desired, _ = load_desired([manifests])
    planned = pipeline.plan_manifests(backend, desired)
    path = str(tmp_path / f"{name}.json")
    savedplan.write(path, planned.saved([manifests], backend.identity()))
    return path


def apply_reviewed(
    backend_path: Path, manifests: str, plan_file: str, **options: object
) -> pipeline.ReviewedCheck:
    backend = open_backend(sandbox_path=str(backend_path))
    desired, _ = load_desired([manifests])
    check = pipeline.plan_reviewed(
        backend,
        plan_file,
        savedplan.read(plan_file),
        desired,
        **options,  # type: ignore[arg-type]
    )
    if check.matches:
        pipeline.apply_planned(backend, check.planned, parallelism=2)
    return check


@pytest.fixture
def main_applied(tmp_path: Path) -> Path:
    """A sandbox holding main's manifests."""
    sandbox = tmp_path / "sb.db"
    backend = open_backend(sandbox_path=str(sandbox))
    desired, _ = load_desired([write(tmp_path / "main")])
    pipeline.apply_planned(backend, pipeline.plan_manifests(backend, desired), parallelism=2)
    return sandbox


def test_the_second_pull_request_still_applies_when_its_changes_are_what_was_reviewed(
    tmp_path: Path, main_applied: Path
) -> None:
    # PR 1 raises type-a and adds a call (more managed objects); PR 2 raises type-b.
    pr1 = reviewed_plan(
        main_applied, write(tmp_path / "pr1", a=600, extra_call=True), tmp_path, "1"
    )
    pr2 = reviewed_plan(main_applied, write(tmp_path / "pr2", b=900), tmp_path, "2")
    merged1 = write(tmp_path / "main", a=600, extra_call=True)
    assert apply_reviewed(main_applied, merged1, pr1).matches
    # Main now holds both pull requests: its digest is neither reviewed plan's.
    merged2 = write(tmp_path / "main", a=600, b=900, extra_call=True)
    check = apply_reviewed(main_applied, merged2, pr2)
    assert check.matches, check.comparison.lines()
    backend = open_backend(sandbox_path=str(main_applied))
    desired, _ = load_desired([merged2])
    assert pipeline.plan_manifests(backend, desired).plan.empty


def test_a_pull_request_whose_object_another_changed_is_refused_with_the_difference(
    tmp_path: Path, main_applied: Path
) -> None:
    pr1 = reviewed_plan(main_applied, write(tmp_path / "pr1", a=600), tmp_path, "1")
    pr2 = reviewed_plan(main_applied, write(tmp_path / "pr2", a=900, b=60), tmp_path, "2")
    assert apply_reviewed(main_applied, write(tmp_path / "main", a=600), pr1).matches
    before = open_backend(sandbox_path=str(main_applied)).read()
    check = apply_reviewed(main_applied, write(tmp_path / "main", a=900, b=60), pr2)
    assert not check.matches
    (changed,) = check.comparison.changed
    assert changed.saved.name == "type-a"
    assert (
        "field settings.backstage.join_ahead_time_seconds: reviewed 300 -> 900, now 600 -> 900"
        in (changed.differences)
    )
    assert "call_type:type-a changed on the backend since the plan was reviewed" in (
        changed.differences
    )
    assert not check.comparison.saved_only and not check.comparison.fresh_only
    # Nothing was written.
    assert open_backend(sandbox_path=str(main_applied)).read() == before
    refusal = reviewed.refusal(pr2, check.comparison)
    assert str(refusal).startswith(f"{pr2}: the reviewed plan no longer matches the plan of the")
    assert "reviewed 300 -> 900, now 600 -> 900" in str(refusal) and "\n" not in str(refusal)


def test_reviewed_only_and_current_only_changes(tmp_path: Path, main_applied: Path) -> None:
    pr = reviewed_plan(main_applied, write(tmp_path / "pr", a=600), tmp_path, "pr")
    check = apply_reviewed(main_applied, write(tmp_path / "main", b=600), pr)
    assert [c.name for _, c in check.comparison.saved_only] == ["type-a"]
    assert [c.name for c in check.comparison.fresh_only] == ["type-b"]


def test_other_options_are_refused(tmp_path: Path, main_applied: Path) -> None:
    manifests = write(tmp_path / "pr", a=600)
    pr = reviewed_plan(main_applied, manifests, tmp_path, "pr")
    with pytest.raises(PlanRefused, match="--prune: reviewed not given, now given"):
        apply_reviewed(main_applied, manifests, pr, prune=True)
    with pytest.raises(PlanRefused, match="--target: reviewed none, now calltype:type-a"):
        apply_reviewed(main_applied, manifests, pr, targets=["calltype:type-a"])


def test_another_backend_is_refused(tmp_path: Path, main_applied: Path) -> None:
    manifests = write(tmp_path / "pr", a=600)
    pr = reviewed_plan(main_applied, manifests, tmp_path, "pr")
    with pytest.raises(PlanRefused, match="the saved plan was made for backend 'local:"):
        apply_reviewed(tmp_path / "other.db", manifests, pr)
