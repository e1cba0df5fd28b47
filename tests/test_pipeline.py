"""The plan/apply pipeline over a real sandbox: plan, apply, converge, and report failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from backend_wrappers import Wrapped

from stagecfg import pipeline
from stagecfg.backends.local import open_backend
from stagecfg.errors import ApplyFailed, BackendError, PlanRefused
from stagecfg.model import ActualState
from stagecfg.validation import load_desired

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = str(REPO / "examples" / "backstage")


def test_plan_apply_then_nothing_left(tmp_path: Path) -> None:
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([EXAMPLE])
    planned = pipeline.plan_manifests(backend, desired)
    assert not planned.plan.empty
    assert planned.backend == backend.describe()
    report = pipeline.apply_planned(backend, planned, parallelism=4)
    assert report.ok
    assert len(report.succeeded) == len(planned.plan.changes)
    assert pipeline.plan_manifests(backend, desired).plan.empty


def test_failed_change_raises_with_the_report(tmp_path: Path) -> None:
    inner = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    backend = Wrapped(inner, fail_at=[1])
    desired, _ = load_desired([EXAMPLE])
    planned = pipeline.plan_manifests(backend, desired)
    with pytest.raises(ApplyFailed) as caught:
        pipeline.apply_planned(backend, planned, parallelism=1)
    assert "run apply again" in str(caught.value)
    assert "failed:" in caught.value.report_text
    # The rerun converges.
    pipeline.apply_planned(inner, pipeline.plan_manifests(inner, desired), parallelism=2)
    assert pipeline.plan_manifests(inner, desired).plan.empty


def test_saved_plan_is_refused_after_the_backend_changed(tmp_path: Path) -> None:
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([EXAMPLE])
    planned = pipeline.plan_manifests(backend, desired)
    saved = planned.saved([EXAMPLE], backend.identity())
    backend.update_call_type("livestream", {"settings": {"backstage": {"enabled": False}}})
    with pytest.raises(PlanRefused, match="livestream"):
        pipeline.plan_saved(backend, saved, desired)


def test_saved_plan_whose_manifests_moved_is_refused_naming_the_paths(tmp_path: Path) -> None:
    from stagecfg import savedplan

    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "stagecfg.yaml").write_text((Path(EXAMPLE) / "stagecfg.yaml").read_text())
    desired, _ = load_desired([str(manifests)])
    planned = pipeline.plan_manifests(backend, desired)
    plan_file = str(tmp_path / "plan.json")
    savedplan.write(plan_file, planned.saved([str(manifests)], backend.identity()))
    manifests.rename(tmp_path / "moved")
    with pytest.raises(PlanRefused) as caught:
        pipeline.load_saved(plan_file)
    message = str(caught.value)
    assert f"{manifests} (recorded in the saved plan) no longer exists" in message
    assert "where `stagecfg plan --out` ran" in message


def test_a_member_the_targeted_plan_does_not_upsert_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    from stagecfg.errors import ManifestError

    manifest = tmp_path / "stagecfg.yaml"
    manifest.write_text(
        "version: 1\nusers:\n  alice: {role: user}\n  bob: {role: user}\n"
        "calls:\n  livestream:x:\n    created_by_id: alice\n"
        "    members: {alice: host, bob: host}\n"
    )
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([str(manifest)])
    with pytest.raises(ManifestError) as caught:
        pipeline.plan_manifests(backend, desired, targets=["livestream:x"])
    # alice is the creator: creating the call creates her, so only bob is missing
    (problem,) = caught.value.problems
    assert problem.path == "$.calls['livestream:x'].members.bob"
    assert "declared under users but this plan does not upsert it" in problem.message
    assert problem.suggestion == "add --target user:bob"
    assert str(problem.location) == f"{manifest}:8:28"  # the member entry itself
    planned = pipeline.plan_manifests(backend, desired, targets=["livestream:x", "user:bob"])
    assert pipeline.apply_planned(backend, planned, parallelism=2).ok


def test_saved_plan_is_refused_when_a_secret_variable_changed_since_it_was_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file holds ${NAME} for the value; apply restores it from the environment, so a
    # different value there would send a body nobody reviewed.
    from stagecfg import savedplan

    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\n"
        "calls:\n"
        "  default:show:\n"
        "    created_by_id: alice\n"
        "    custom: {hook: '${PIPE_HOOK_TOKEN}'}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PIPE_HOOK_TOKEN", "reviewed-token-1111")
    desired, _ = load_desired([str(manifest)])
    planned = pipeline.plan_manifests(backend, desired)
    plan_file = str(tmp_path / "plan.json")
    savedplan.write(plan_file, planned.saved([str(manifest)], backend.identity()))

    saved, again, _ = pipeline.load_saved(plan_file)
    assert pipeline.plan_saved(backend, saved, again).plan.changes == planned.plan.changes

    monkeypatch.setenv("PIPE_HOOK_TOKEN", "other-token-2222")
    with pytest.raises(PlanRefused, match="PIPE_HOOK_TOKEN in the environment differs"):
        pipeline.load_saved(plan_file)
    assert backend.read(cids=["default:show"]).calls == {}


class _ConfirmReadFails(Wrapped):
    def read(self, **kwargs: Any) -> ActualState:
        if self.writes:
            raise BackendError("HTTP 502", operation="query call")
        return super().read(**kwargs)


def test_a_failed_confirm_read_raises_with_the_report_of_the_finished_apply(
    tmp_path: Path,
) -> None:
    inner = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    backend = _ConfirmReadFails(inner)
    desired, _ = load_desired([EXAMPLE])
    planned = pipeline.plan_manifests(backend, desired)
    with pytest.raises(ApplyFailed) as caught:
        pipeline.apply_planned(backend, planned, parallelism=2)
    total = len(planned.plan.changes)
    assert str(caught.value).startswith(
        f"all {total} changes were applied, but reading the backend to confirm them failed: "
        "query call: HTTP 502"
    )
    *done, summary = caught.value.report_text.splitlines()
    assert summary == f"Applied {total} of {total} changes; 0 failed, 0 not started."
    assert len(done) == total and all(line.startswith("  done:   ") for line in done)  # few
    assert pipeline.plan_manifests(inner, desired).plan.empty  # they were indeed applied


def test_apply_desired_applies_then_finds_nothing_to_do(tmp_path: Path) -> None:
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([EXAMPLE])
    try:
        assert pipeline.apply_desired(backend, desired) == 3
        assert pipeline.apply_desired(backend, desired) == 0
        assert pipeline.plan_manifests(backend, desired).plan.empty
    finally:
        backend.close()


def test_apply_desired_refuses_what_apply_would_refuse_and_writes_nothing(
    tmp_path: Path,
) -> None:
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([EXAMPLE])
    try:
        pipeline.apply_desired(backend, desired)
        backend.go_live("livestream:launch-show", {})  # the manifest says live: false
        with pytest.raises(PlanRefused, match="--allow-disruptive"):
            pipeline.apply_desired(backend, desired)
        call = backend.read(cids=["livestream:launch-show"]).calls["livestream:launch-show"]
        assert call.backstage is False  # still live: the stop-live was not run
    finally:
        backend.close()


def test_apply_desired_takes_the_apply_lock(tmp_path: Path) -> None:
    holder = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    other = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    desired, _ = load_desired([EXAMPLE])
    try:
        holder.lock_for_apply()
        with pytest.raises(BackendError, match="in use by another stagecfg apply"):
            pipeline.apply_desired(other, desired)
        assert other.read().call_types.keys() == holder.read().call_types.keys()
        assert "launch-show" not in str(other.read(all_calls=True).calls)
    finally:
        other.close()
        holder.close()
