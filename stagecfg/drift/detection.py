"""Finding drift: read the app for what the manifests declare, plan, and read the plan back.

The app is read as ``plan`` reads it; with a project, every call is read too (as ``plan
--prune`` does), so that live calls carrying the project's marker but declared nowhere are
found. Nothing is written to the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stagecfg.backends.base import Backend
from stagecfg.drift.origins import Origins, locate
from stagecfg.drift.report import DriftReport, find_drift, select
from stagecfg.errors import UsageError, suggest
from stagecfg.manifest import Composition
from stagecfg.model import ActualState, DesiredState
from stagecfg.plan import make_plan
from stagecfg.plan.changes import target_name

_KINDS = ("calltype:", "call:", "user:")


@dataclass(frozen=True)
class Detected:
    """A drift report with the app state it was found in (``--write`` plans against it)."""

    report: DriftReport
    actual: ActualState
    prune: bool


def detect(
    backend: Backend,
    desired: DesiredState,
    composition: Composition,
    *,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Detected:
    """The drift of ``desired`` from ``backend``'s app; ``environ`` (the process environment)
    says where variables from ``STAGECFG_VAR_*`` got their value."""
    prune = desired.project is not None
    actual = backend.read(cids=sorted(desired.calls), users=sorted(desired.users), all_calls=prune)
    check_only(only, desired, actual)
    plan = make_plan(desired, actual, prune=prune, project=desired.project)
    origins = Origins(
        composition,
        cli_variables=frozenset(name for name, _ in desired.variables),
        environ=environ,
    )
    items = select(locate(find_drift(desired, actual, plan), origins), only)
    report = DriftReport(
        tuple(items), desired.environment, backend.describe(), project=desired.project
    )
    return Detected(report, actual, prune)


def check_only(only: Sequence[str], desired: DesiredState, actual: ActualState) -> None:
    """Each ``--only KIND:NAME[.path]`` must name an object the manifests or the app have."""
    heads = {target_name("call_type", n) for n in (*desired.call_types, *actual.call_types)}
    heads |= {f"call:{c}" for c in (*desired.calls, *actual.calls)}
    heads |= {f"user:{u}" for u in (*desired.users, *actual.users)}
    for selector in only:
        if not selector.startswith(_KINDS):
            raise UsageError(
                f"--only {selector!r}: start with calltype:, call: or user: "
                "(calltype:shows, call:shows:keynote.live, user:presenter.name)"
            )
        if not any(selector == h or selector.startswith(h + ".") for h in heads):
            hint = suggest(selector.split(".")[0], sorted(heads))
            raise UsageError(
                f"--only {selector!r}: no such object in the manifests or the app"
                + (f" ({hint})" if hint else "")
            )
