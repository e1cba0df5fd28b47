"""Apply on merge: the plan reviewed on a pull request against the plan of the merged commit.

``apply PATHS --reviewed FILE`` re-plans the manifests as merged (their digest may differ from
the reviewed plan's: another pull request may have merged first) and runs the fresh plan only
when its changes equal the reviewed ones. The comparison is the one ``apply --plan`` makes
(:mod:`stagecfg.plandiff`): kind, name, action, stage, body, field changes, disruptive, reason,
and the fingerprint of every object a change touches. Objects the plan only read (a show the
app took live meanwhile) do not matter. What is not compared is the count of managed objects,
since other merged pull requests may declare more or fewer; the delete threshold is checked on
the fresh plan.
"""

from __future__ import annotations

from stagecfg import plandiff
from stagecfg.errors import PlanRefused, one_line
from stagecfg.plan.changes import Plan
from stagecfg.savedplan import SHOWN_DIFFERENCES, SavedPlan


def check_options(path: str, reviewed: SavedPlan, fresh: Plan) -> None:
    """Refuse when the fresh plan was made with other options than the reviewed one.

    A plan made with another ``--env``, ``--prune``, ``--target`` or project is not the plan
    that was reviewed, even when its changes happen to agree.
    """
    saved = reviewed.plan
    differ = []
    if saved.prune != fresh.prune:
        differ.append(f"--prune: reviewed {_given(saved.prune)}, now {_given(fresh.prune)}")
    if saved.targets != fresh.targets:
        differ.append(f"--target: reviewed {_names(saved.targets)}, now {_names(fresh.targets)}")
    if saved.project != fresh.project:
        differ.append(f"project: reviewed {saved.project!r}, now {fresh.project!r}")
    if saved.environment != fresh.environment:
        differ.append(f"--env: reviewed {_env(saved.environment)}, now {_env(fresh.environment)}")
    if differ:
        raise PlanRefused(
            one_line(
                f"{path}: the reviewed plan was made with other options ({'; '.join(differ)}); "
                "give apply the --env, --prune, --target and --project the plan was made with; "
                "nothing was changed"
            )
        )


def _env(name: str | None) -> str:
    return "none" if name is None else name


def _given(value: bool) -> str:
    return "given" if value else "not given"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "none"


def compare(reviewed: SavedPlan, fresh: Plan) -> plandiff.Comparison:
    """How the plan of the merged manifests differs from the reviewed one (see the module)."""
    return plandiff.compare(reviewed.plan, fresh, managed=False, word="reviewed")


def refusal(path: str, comparison: plandiff.Comparison) -> PlanRefused:
    """The one-line error of an ``apply --reviewed`` whose plan no longer matches."""
    found = comparison.lines()
    shown = "; ".join(found[:SHOWN_DIFFERENCES])
    more = len(found) - SHOWN_DIFFERENCES
    extra = f"; and {more} more difference{'s' if more != 1 else ''}" if more > 0 else ""
    return PlanRefused(
        one_line(
            f"{path}: the reviewed plan no longer matches the plan of the current manifests "
            f"and backend: {shown}{extra}; nothing was changed; make a new plan of this commit "
            "(`stagecfg plan PATHS --out FILE`), review it, and apply it with "
            "`stagecfg apply PATHS --reviewed FILE`"
        )
    )
