"""The plan/apply pipeline as functions over data, so the CLI only parses flags and prints.

``manifests -> desired state -> backend read -> plan -> access review`` is :func:`plan_manifests`
(or :func:`plan_saved` for a reviewed, saved plan, and :func:`plan_reviewed` for a plan reviewed on
a pull request and applied on merge); :func:`apply_planned` runs the result through the backend
and confirms the backend took every field as given.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from stagecfg import access, plandiff, reviewed, safety, savedplan, timestamps
from stagecfg.access import AccessReview
from stagecfg.apply import (
    ApplyInterrupted,
    ApplyReport,
    Progress,
    check_converged,
    execute,
    read_state,
)
from stagecfg.backends.base import Backend
from stagecfg.errors import ApplyFailed, ManifestError, PlanRefused, Problem, StagecfgError
from stagecfg.manifest import Selection, VariableInput, child_path
from stagecfg.model import KIND_CALL, KIND_USER, ActualState, DesiredState
from stagecfg.plan import ACTION_CREATE, ACTION_UPDATE, Plan, make_plan
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
            environment=self.desired.environment,
            variables=self.desired.variables,
            var_files=self.desired.var_files,
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
    check_members_exist(backend, desired, actual, plan)
    return _reviewed(backend, desired, actual, plan, now)


def load_saved(
    path: str, environment: str | None = None
) -> tuple[savedplan.SavedPlan, DesiredState, list[Problem]]:
    """A saved plan and the manifests it was made from, loaded again from the same paths, with
    the same environment and variable inputs. ``environment`` (``--env``) must be the plan's."""
    saved = savedplan.read(path)
    if environment is not None and environment != saved.environment:
        made_for = "no environment" if saved.environment is None else saved.environment
        raise PlanRefused(
            f"the saved plan was made for {made_for}, not environment {environment} (--env or "
            "STAGECFG_ENV); apply it without --env, or make a plan for that environment"
        )
    # The sources are the paths as given to `plan`, so they resolve only where plan ran.
    gone = [source for source in (*saved.sources, *saved.var_files) if not os.path.exists(source)]
    if gone:
        raise PlanRefused(
            f"{', '.join(gone)} (recorded in the saved plan) no longer "
            f"{'exists' if len(gone) == 1 else 'exist'} here; run "
            "`stagecfg apply --plan` in the directory where `stagecfg plan --out` ran, with the "
            "manifests where they were, or make a new plan"
        )
    selection = Selection(
        environment=saved.environment,
        variables=tuple(VariableInput(name, text) for name, text in saved.variables),
        var_files=saved.var_files,
    )
    desired, warnings = load_desired(
        list(saved.sources), project=saved.plan.project, selection=selection
    )
    return saved, desired, warnings


def plan_saved(
    backend: Backend,
    saved: savedplan.SavedPlan,
    desired: DesiredState,
    *,
    now: datetime | None = None,
) -> Planned:
    """Re-plan a saved plan from its manifests and options; run it only if nothing differs.

    The file is a claim about what applying would do, not a list of instructions: bodies,
    safety flags and counts all come from the fresh plan, and the access review and safety
    checks see only that. A stale or edited file is refused, naming what differs.
    """
    savedplan.check_origin(
        saved, digest=desired.digest, identity=backend.identity(), files=desired.sources
    )
    planned = plan_manifests(
        backend, desired, prune=saved.plan.prune, targets=saved.plan.targets, now=now
    )
    savedplan.check_matches(saved, planned.plan)
    return planned


@dataclass(frozen=True)
class ReviewedCheck:
    """The plan of the merged manifests, and how it differs from the plan reviewed before."""

    planned: Planned
    comparison: plandiff.Comparison

    @property
    def matches(self) -> bool:
        return self.comparison.matches


def plan_reviewed(
    backend: Backend,
    path: str,
    saved: savedplan.SavedPlan,
    desired: DesiredState,
    *,
    prune: bool = False,
    targets: Collection[str] = (),
    now: datetime | None = None,
) -> ReviewedCheck:
    """Plan the current manifests (``apply --reviewed``) and compare with the reviewed plan.

    Unlike :func:`plan_saved`, the manifests may differ from the reviewed ones (other pull
    requests merged first); what must hold is the backend, the options and every change (see
    :mod:`stagecfg.reviewed`). The caller runs the plan only when :attr:`ReviewedCheck.matches`.
    """
    savedplan.check_identity(saved, backend.identity())
    planned = plan_manifests(backend, desired, prune=prune, targets=targets, now=now)
    reviewed.check_options(path, saved, planned.plan)
    return ReviewedCheck(planned, reviewed.compare(saved, planned.plan))


def check_members_exist(
    backend: Backend, desired: DesiredState, actual: ActualState, plan: Plan
) -> None:
    """Raise ManifestError when a call member the plan adds is a user that will not exist.

    Stream refuses members that are not users, and finding that out half-way through an apply
    leaves the users and calls before it written. A member must be a user the backend has, or
    one this plan upserts; undeclared members are looked up on the backend (one read).
    """
    upserted = {c.name for c in plan.changes if c.kind == KIND_USER}
    wanted: dict[str, list[str]] = {}  # user id -> cids adding them
    for change in plan.changes:
        if change.kind != KIND_CALL or change.action not in (ACTION_CREATE, ACTION_UPDATE):
            continue
        spec = desired.calls.get(change.name)
        state = actual.calls.get(change.name)
        kept = dict(state.members) if state is not None else {}
        if state is None and spec is not None and spec.created_by_id:
            kept[spec.created_by_id] = ""  # creating a call creates its creator as a user
        for uid in sorted((spec.members or {}) if spec is not None else {}):
            if uid not in kept and uid not in upserted and uid not in actual.users:
                wanted.setdefault(uid, []).append(change.name)
    if not wanted:
        return
    undeclared = sorted(uid for uid in wanted if uid not in desired.users)
    found = backend.read(users=undeclared).users if undeclared else {}
    problems: list[Problem] = []
    for uid, cids in sorted(wanted.items()):
        if uid in found:
            continue
        if uid in desired.users:
            message = (
                f"call member {uid!r} is declared under users but this plan does not upsert it"
            )
            suggestion = f"add --target user:{uid}"
        else:
            message = (
                f"call member {uid!r} is not a user: it is not declared under users and does "
                "not exist on the backend"
            )
            suggestion = f"declare users.{uid}, or upsert the user first"
        for cid in cids:
            problems.append(
                Problem(
                    location=desired.calls[cid].member_locations.get(uid)
                    or desired.calls[cid].location,
                    path=child_path(child_path(child_path("$.calls", cid), "members"), uid),
                    message=message,
                    suggestion=suggestion,
                )
            )
    if problems:
        raise ManifestError(problems)


def _reviewed(
    backend: Backend,
    desired: DesiredState,
    actual: ActualState,
    plan: Plan,
    now: datetime | None,
) -> Planned:
    review = access.review(plan, desired, actual, backend, now=now or timestamps.now_utc())
    return Planned(desired, actual, plan, review, backend.describe())


def refusals(
    planned: Planned, *, force: bool = False, allow_disruptive: bool = False
) -> tuple[safety.Refusal, ...]:
    """Why apply with these flags would refuse ``planned``, in the order it checks: the access
    review's refusals (no flag allows them), then the safety rules. Empty: apply would run it.

    ``plan`` prints these (with no flags: what the reviewer must add), so that a plan apply
    cannot run never looks approvable.
    """
    reviewed = tuple(safety.Refusal(message) for message in planned.access.refusals)
    return reviewed + tuple(
        safety.plan_refusals(planned.plan, force=force, allow_disruptive=allow_disruptive)
    )


def check_applicable(planned: Planned, *, force: bool, allow_disruptive: bool) -> None:
    """Every safety rule apply enforces before its first write; raises PlanRefused."""
    refused = refusals(planned, force=force, allow_disruptive=allow_disruptive)
    if refused:
        raise PlanRefused(refused[0].message)


def apply_planned(
    backend: Backend,
    planned: Planned,
    *,
    parallelism: int,
    progress: Progress | None = None,
    full: bool = False,
) -> ApplyReport:
    """Execute the plan, then re-read and re-plan: a backend that did not take a field is an error.

    Raises ApplyFailed (or ApplyInterrupted) carrying the report when a change did not finish;
    ``full`` names every change in it (see :meth:`ApplyReport.render`).
    """
    plan = planned.plan
    report = execute(plan, backend, parallelism=parallelism, progress=progress)
    if report.interrupted:
        raise ApplyInterrupted(
            "apply interrupted; run apply again to converge", report_text=report.render(full=full)
        )
    if not report.ok:
        raise ApplyFailed(
            f"{len(report.failed)} of {len(plan.changes)} changes failed; "
            "run apply again to converge",
            report_text=report.render(full=full),
        )
    try:
        after = read_state(backend, planned.desired, prune=plan.prune)
        check_converged(
            make_plan(
                planned.desired, after, prune=plan.prune, targets=plan.targets, project=plan.project
            )
        )
    except ApplyFailed as exc:
        raise ApplyFailed(str(exc), report_text=report.render(full=full)) from None
    except StagecfgError as exc:
        # Every write landed; only the check did not. Saying just the read's error would hide a
        # finished apply, so the report comes first and the message says what is known.
        done = len(report.succeeded)
        raise ApplyFailed(
            f"all {done} change{'s' if done != 1 else ''} were applied, but reading the backend "
            f"to confirm them failed: {exc}; run `stagecfg plan` to see whether the backend "
            "holds them",
            report_text=report.render(full=full),
        ) from None
    return report


def apply_desired(backend: Backend, desired: DesiredState, *, parallelism: int = 8) -> int:
    """Make ``backend`` match ``desired`` as ``stagecfg apply --auto-approve`` does (no prune),
    without printing; the changes applied (0: it matched already).

    This seeds an emulator from manifests (``stagecfg emulator --load``, the ``stream_emulator``
    pytest fixture): the same lock, plan, safety rules and convergence check as apply, so what
    a test starts from is what apply would make. Raises like apply: ManifestError,
    PlanRefused, ApplyFailed (with its report).
    """
    backend.lock_for_apply()
    planned = plan_manifests(backend, desired)
    if planned.plan.empty:
        return 0
    check_applicable(planned, force=False, allow_disruptive=False)
    return len(apply_planned(backend, planned, parallelism=parallelism).succeeded)
