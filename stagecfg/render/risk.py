"""The risk summary a reviewer reads first: what in a plan can hurt, counted.

Markdown shows it as the first table of the plan comment; GitHub annotations put it in the first
annotation. The counts come from the plan, its access review and what apply would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stagecfg.plan.changes import Plan

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.safety import Refusal


@dataclass(frozen=True)
class Risks:
    escalations: int = 0  # grants that widen access (the access review's escalations)
    deletes: int = 0
    disruptive: int = 0  # changes that need --allow-disruptive
    live_calls: int = 0  # calls on air now that the plan reaches
    refusals: int = 0  # what apply (without --force / --allow-disruptive) would refuse

    def rows(self) -> list[tuple[str, int]]:
        """(label, count), in the order a reviewer weighs them."""
        return [
            ("access widened (escalations)", self.escalations),
            ("deletes", self.deletes),
            ("disruptive changes", self.disruptive),
            ("live calls affected", self.live_calls),
            ("apply would refuse", self.refusals),
        ]

    def words(self) -> str:
        """``1 escalation, 2 deletes, ...``: the non-zero counts, or ``nothing risky found``."""
        phrases = (
            (self.escalations, "escalation", "escalations"),
            (self.deletes, "delete", "deletes"),
            (self.disruptive, "disruptive change", "disruptive changes"),
            (self.live_calls, "live call affected", "live calls affected"),
            (self.refusals, "refusal by apply", "refusals by apply"),
        )
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in phrases if n]
        return ", ".join(parts) if parts else "nothing risky found"


def risks_of(
    plan: Plan, access: AccessReview | None = None, refusals: Sequence[Refusal] = ()
) -> Risks:
    return Risks(
        escalations=len(access.escalations) if access is not None else 0,
        deletes=len(plan.deletes()),
        disruptive=sum(1 for change in plan.changes if change.disruptive),
        live_calls=len(access.live_calls) if access is not None else 0,
        refusals=len(refusals),
    )
