"""Rules that stop a risky plan before anything is written. Pure; raises PlanRefused.

* Deletes happen only with ``--prune``; built-in call types are never deleted; calls are deleted
  only for a project (the planner checks each call's ``custom.stagecfg_project`` marker).
* More than ``max(3, 30% of managed objects)`` deletes need ``--force``.
* Disruptive changes (stop-live, deleting a call type that still has calls) need
  ``--allow-disruptive``.

The same rules run on a freshly made plan and on a saved plan loaded from a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from stagecfg.errors import PlanRefused
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    PROJECT_MARKER_KEY,
    ActualState,
    DesiredState,
)
from stagecfg.plan.changes import ACTION_DELETE, Change, Plan
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES

MIN_DELETES = 3
DELETE_FRACTION = 0.30

FLAG_FORCE = "--force"
FLAG_ALLOW_DISRUPTIVE = "--allow-disruptive"


@dataclass(frozen=True)
class Refusal:
    """One reason apply refuses a plan, and the flag that allows it (None: no flag does)."""

    message: str
    flag: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"flag": self.flag, "message": self.message}


def delete_threshold(managed: int) -> float:
    """The most deletes a plan may hold without ``--force``."""
    return max(float(MIN_DELETES), DELETE_FRACTION * managed)


def _names(changes: list[Change], limit: int = 10) -> str:
    shown = ", ".join(f"{c.action} {c.kind} {c.name}" for c in changes[:limit])
    if len(changes) > limit:
        shown += f", ... ({len(changes) - limit} more)"
    return shown


def check_prune_project(
    desired: DesiredState, actual: ActualState, *, prune: bool, project: str | None
) -> None:
    """Refuse ``--prune`` without a project while stagecfg-marked calls are not declared.

    Without a project the planner cannot tell which of those calls are this project's, and
    silently keeping them would make ``--prune`` look like it worked.
    """
    if not prune or project is not None:
        return
    marked = sorted(
        cid
        for cid, call in actual.calls.items()
        if cid not in desired.calls and PROJECT_MARKER_KEY in call.custom
    )
    if marked:
        shown = ", ".join(marked[:5]) + (" ..." if len(marked) > 5 else "")
        raise PlanRefused(
            f"--prune with calls to delete needs a project ({len(marked)} undeclared "
            f"{'call carries' if len(marked) == 1 else 'calls carry'} a stagecfg project marker: "
            f"{shown}); set `project:` in the manifest or pass "
            "--project NAME"
        )


def plan_refusals(
    plan: Plan, *, force: bool = False, allow_disruptive: bool = False
) -> list[Refusal]:
    """Every safety rule ``plan`` breaks with these flags, in the order apply checks them.

    ``plan`` shows them all before review; apply refuses on the first (:func:`check_plan`).
    """
    refusals: list[Refusal] = []
    deletes = [c for c in plan.changes if c.action == ACTION_DELETE]
    if deletes and not plan.prune:
        refusals.append(
            Refusal(f"the plan deletes objects but was not made with --prune: {_names(deletes)}")
        )
    builtin = [c for c in deletes if c.kind == KIND_CALL_TYPE and c.name in BUILTIN_CALL_TYPES]
    if builtin:
        refusals.append(Refusal(f"built-in call types are never deleted: {_names(builtin)}"))
    call_deletes = [c for c in deletes if c.kind == KIND_CALL]
    if call_deletes and not plan.project:
        refusals.append(
            Refusal(
                "calls are pruned only for a project; set `project:` in the manifest or pass "
                f"--project NAME ({_names(call_deletes)})"
            )
        )
    limit = delete_threshold(plan.managed)
    if len(deletes) > limit and not force:
        refusals.append(
            Refusal(
                f"the plan deletes {len(deletes)} of {plan.managed} managed objects, more than "
                f"the limit of {int(limit)} (max of {MIN_DELETES} and "
                f"{int(DELETE_FRACTION * 100)}%); review it and pass --force to go ahead",
                FLAG_FORCE,
            )
        )
    disruptive = [c for c in plan.changes if c.disruptive]
    if disruptive and not allow_disruptive:
        listed = "; ".join(f"{c.action} {c.kind} {c.name} ({c.reason})" for c in disruptive[:10])
        more = f"; ... ({len(disruptive) - 10} more)" if len(disruptive) > 10 else ""
        refusals.append(
            Refusal(
                f"the plan has {len(disruptive)} disruptive change"
                f"{'s' if len(disruptive) != 1 else ''}: {listed}{more}; "
                "pass --allow-disruptive to apply them",
                FLAG_ALLOW_DISRUPTIVE,
            )
        )
    return refusals


def check_plan(plan: Plan, *, force: bool = False, allow_disruptive: bool = False) -> None:
    """Raise PlanRefused when ``plan`` breaks a safety rule (see the module docstring)."""
    refusals = plan_refusals(plan, force=force, allow_disruptive=allow_disruptive)
    if refusals:
        raise PlanRefused(refusals[0].message)
