"""The plan/apply pipeline as functions over data, so the CLI only parses flags and prints.

``manifests -> desired state -> backend read -> plan -> access review`` is :func:`plan_manifests`
(or :func:`plan_saved` for a reviewed, saved plan); :func:`apply_planned` runs the result through
the backend and confirms the backend took every field as given.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from stagecfg import escalation, safety, savedplan, timestamps
from stagecfg.apply import (
    ApplyInterrupted,
    ApplyReport,
    Progress,
    check_converged,
    execute,
    read_state,
)
from stagecfg.backends.base import Backend
from stagecfg.errors import ApplyFailed, Problem
from stagecfg.escalation import AccessReview
from stagecfg.model import ActualState, DesiredState
from stagecfg.plan import Plan, fingerprints_of, make_plan
from stagecfg.validation import load_desired


@dataclass(frozen=True)
class Planned:
    """A plan together with what it was made from, ready to render, save or apply."""

    desired: DesiredState
    actual: ActualState
    plan: Plan
    access: AccessReview
    backend: str  # backend.describe()

    def saved(self, sources: Sequence[str], identity: str) -> savedplan.SavedPlan:
        return savedplan.SavedPlan(
            plan=self.plan,
            digest=self.desired.digest,
            sources=tuple(sources),
            identity=identity,
            backend=self.backend,
            files=self.desired.sources,
        )


def plan_manifests(
    backend: Backend,
    desired: DesiredState,
    *,
    prune: bool = False,
    targets: Collection[str] = (),
    now: datetime | None = None,
) -> Planned:
    """Read the backend and plan its difference from ``desired``, with the access review."""
    actual = read_state(backend, desired, prune=prune)
    safety.check_prune_project(desired, actual, prune=prune, project=desired.project)
    plan = make_plan(desired, actual, prune=prune, targets=targets, project=desired.project)
    return _reviewed(backend, desired, actual, plan, now)


def load_saved(path: str) -> tuple[savedplan.SavedPlan, DesiredState, list[Problem]]:
    """A saved plan and the manifests it was made from, loaded again from the same paths."""
    saved = savedplan.read(path)
    desired, warnings = load_desired(list(saved.sources), project=saved.plan.project)
    return saved, desired, warnings


def plan_saved(
    backend: Backend,
    saved: savedplan.SavedPlan,
    desired: DesiredState,
    *,
    now: datetime | None = None,
) -> Planned:
    """A saved plan, after proving that neither its manifests nor the objects it read changed."""
    actual = read_state(backend, desired, prune=saved.plan.prune)
    savedplan.verify(
        saved,
        digest=desired.digest,
        identity=backend.identity(),
        fingerprints=fingerprints_of(desired, actual),
    )
    return _reviewed(backend, desired, actual, saved.plan, now)


def _reviewed(
    backend: Backend,
    desired: DesiredState,
    actual: ActualState,
    plan: Plan,
    now: datetime | None,
) -> Planned:
    access = escalation.review(plan, desired, actual, backend, now=now or timestamps.now_utc())
    return Planned(desired, actual, plan, access, backend.describe())


def check_applicable(planned: Planned, *, force: bool, allow_disruptive: bool) -> None:
    """Every safety rule apply enforces before its first write; raises PlanRefused."""
    escalation.check_review(planned.access)
    safety.check_plan(planned.plan, force=force, allow_disruptive=allow_disruptive)


def apply_planned(
    backend: Backend, planned: Planned, *, parallelism: int, progress: Progress | None = None
) -> ApplyReport:
    """Execute the plan, then re-read and re-plan: a backend that did not take a field is an error.

    Raises ApplyFailed (or ApplyInterrupted) carrying the report when a change did not finish.
    """
    plan = planned.plan
    report = execute(plan, backend, parallelism=parallelism, progress=progress)
    if report.interrupted:
        raise ApplyInterrupted(
            "apply interrupted; run apply again to converge", report_text=report.render()
        )
    if not report.ok:
        raise ApplyFailed(
            f"{len(report.failed)} of {len(plan.changes)} changes failed; "
            "run apply again to converge",
            report_text=report.render(),
        )
    after = read_state(backend, planned.desired, prune=plan.prune)
    check_converged(
        make_plan(
            planned.desired, after, prune=plan.prune, targets=plan.targets, project=plan.project
        )
    )
    return report
