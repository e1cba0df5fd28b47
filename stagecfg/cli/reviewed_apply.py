"""``stagecfg apply PATHS --reviewed PLAN_FILE [--github-comment] [--pr NUMBER]``: apply on merge.

:func:`reviewed_options` adds the three flags to ``apply`` and, when ``--reviewed`` is given,
runs :func:`apply_reviewed` instead of the command's own body: re-plan the manifests at PATHS
(:func:`stagecfg.pipeline.plan_reviewed`), and apply only when the changes equal the reviewed
plan's. Otherwise print the difference, update the pull request's comment with it (with
``--github-comment``) and exit 1 with nothing written.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from stagecfg.cli.apply_run import confirm, run_planned
from stagecfg.cli.github_comment import MergeComment, masked_comparison
from stagecfg.cli.options import F, open_backend
from stagecfg.cli.output import color, echo, echo_warnings, masked_plan, masked_refusals
from stagecfg.cli.selection_options import selection_from

if TYPE_CHECKING:
    from stagecfg.backends.base import Backend
    from stagecfg.model import DesiredState
    from stagecfg.pipeline import Planned
    from stagecfg.savedplan import SavedPlan


def reviewed_options(func: F) -> F:
    """``--reviewed``, ``--github-comment`` and ``--pr`` for ``apply`` (put it right above the
    command's function: the flags are listed last in ``--help``)."""

    @functools.wraps(func)
    def wrapper(
        *args: Any, reviewed: str | None, github_comment: bool, pr: int | None, **kwargs: Any
    ) -> Any:
        if reviewed is None:
            if github_comment or pr is not None:
                from stagecfg.errors import UsageError

                raise UsageError(
                    "--github-comment and --pr go with --reviewed PLAN_FILE (apply on merge); "
                    "without it apply posts nothing"
                )
            return func(*args, **kwargs)
        return apply_reviewed(reviewed, github_comment=github_comment, pr=pr, **kwargs)

    options = [
        click.option(
            "--reviewed",
            type=click.Path(dir_okay=False),
            metavar="PLAN_FILE",
            help="Apply on merge: re-plan PATHS and run only if the changes equal this plan's "
            "(saved by `plan --out` on the pull request).",
        ),
        click.option(
            "--github-comment",
            is_flag=True,
            help="With --reviewed: update the pull request's plan comment with the outcome.",
        ),
        click.option(
            "--pr",
            type=click.IntRange(1),
            metavar="NUMBER",
            help="With --github-comment: the pull request [default: the one GITHUB_SHA was "
            "merged from].",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    result: F = decorated
    return result


def apply_reviewed(
    reviewed: str,
    *,
    github_comment: bool,
    pr: int | None,
    paths: Sequence[str],
    plan_file: str | None,
    auto_approve: bool,
    prune: bool,
    force: bool,
    allow_disruptive: bool,
    project: str | None,
    targets: Sequence[str],
    full: bool = False,
    **options: Any,
) -> None:
    from stagecfg import savedplan
    from stagecfg.errors import UsageError
    from stagecfg.render import DEFAULT_COMMENT_KEY
    from stagecfg.validation import load_desired

    if plan_file:
        raise UsageError(
            "give --reviewed FILE (re-plans the manifests at PATHS) or --plan FILE (re-plans the "
            "recorded manifests), not both"
        )
    if not paths:
        raise UsageError(
            "--reviewed needs the manifest PATHS of the merged commit: "
            "stagecfg apply PATHS --reviewed PLAN_FILE"
        )
    if pr is not None and not github_comment:
        raise UsageError("--pr names the pull request to comment on; add --github-comment")
    saved = savedplan.read(reviewed)
    desired, warnings = load_desired(
        list(paths), project=project, selection=selection_from(options)
    )
    echo_warnings(warnings)
    # Read before open_backend, which takes the backend flags out of ``options``.
    parallelism = int(options["parallelism"])
    timeout = float(options["timeout"])
    comment = None
    if github_comment:
        # The environment's own plan comment, as `plan --github-comment` wrote it.
        key = desired.environment or DEFAULT_COMMENT_KEY
        comment = MergeComment(pr=pr, paths=paths, timeout=timeout, key=key)
    backend = open_backend(options)
    try:
        backend.lock_for_apply()
        _run(backend, reviewed, saved, desired, comment, parallelism, auto_approve, prune=prune,
             targets=targets, force=force, allow_disruptive=allow_disruptive,
             full=full)  # fmt: skip
    finally:
        backend.close()


def _run(
    backend: Backend,
    path: str,
    saved: SavedPlan,
    desired: DesiredState,
    comment: MergeComment | None,
    parallelism: int,
    auto_approve: bool,
    *,
    prune: bool,
    targets: Sequence[str],
    force: bool,
    allow_disruptive: bool,
    full: bool,
) -> None:
    from stagecfg import pipeline, reviewed
    from stagecfg.errors import StagecfgError
    from stagecfg.render import render_text
    from stagecfg.render.merge import render_mismatch_text

    planned: Planned | None = None
    try:
        check = pipeline.plan_reviewed(backend, path, saved, desired, prune=prune, targets=targets)
        planned = check.planned
        shown, review = masked_plan(planned.plan, planned.access)
        echo(
            render_text(shown, backend=planned.backend, color=color(), access=review, full=full),
            nl=False,
            masked_data=True,
        )
        if not check.matches:
            comparison = masked_comparison(check.comparison)
            echo(render_mismatch_text(comparison), nl=False, masked_data=True)
            if comment is not None:
                refusals = masked_refusals(pipeline.refusals(planned))
                try:
                    comment.mismatch(comparison, shown, backend=planned.backend, access=review,
                                     refusals=refusals)  # fmt: skip
                except StagecfgError as exc:
                    echo(f"Error: {exc}", err=True)  # the refusal below is the error that counts
                comment = None
            raise reviewed.refusal(path, check.comparison)
        applied = 0
        if not planned.plan.empty:
            pipeline.check_applicable(planned, force=force, allow_disruptive=allow_disruptive)
            confirm(auto_approve)
            applied = run_planned(backend, planned, parallelism=parallelism, full=full)
    except StagecfgError as exc:
        if comment is not None:
            comment.failed(exc, None if planned is None else planned.plan)
        raise
    if comment is not None:
        comment.applied(shown, applied=applied, access=review)
