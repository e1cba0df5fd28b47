"""``stagecfg plan`` and ``stagecfg apply``: the pair that compares manifests with the backend.

They share the loading of manifests, the backend flags, ``--prune`` and ``--project``; ``apply``
can also take the plan that ``plan --out`` saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from stagecfg.cli.apply_run import confirm, run_planned
from stagecfg.cli.github_comment import github_comment_option, post_plan_comment
from stagecfg.cli.help_text import APPLY, PLAN, Command
from stagecfg.cli.options import PATHS_HELP, F, backend_options, open_backend
from stagecfg.cli.output import color, echo, echo_warnings, masked_plan, masked_refusals
from stagecfg.cli.reviewed_apply import reviewed_options
from stagecfg.cli.selection_options import selection_from, selection_options
from stagecfg.errors import PlanRefused

_FORMATS = ["text", "json", "markdown", "github"]


def _prune_option() -> Callable[[F], F]:
    """``--prune``, worded the same for both commands (a new Option per command)."""
    return click.option(
        "--prune", is_flag=True, help="Also delete what the manifests no longer declare."
    )


def _project_option() -> Callable[[F], F]:
    """``--project`` (or STAGECFG_PROJECT), worded the same for both commands."""
    return click.option(
        "--project", envvar="STAGECFG_PROJECT", help="Project name (overrides the manifests')."
    )


def _full_option(help_text: str) -> Callable[[F], F]:
    """``--full``: list every change, where text output would fold runs of one shape."""
    return click.option("--full", is_flag=True, help=help_text)


@click.command("plan", cls=Command, examples=PLAN)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), help=PATHS_HELP)
@click.option(
    # Not dir_okay=False: savedplan refuses a directory (and any other non-regular file) in
    # one line, where click would print a usage block.
    "--out",
    type=click.Path(),
    help="Save the plan for `apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 1 when apply would refuse them.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Plan only this object: calltype:NAME, a cid or user:ID (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    default="text",
    show_default=True,
    help="text (for people), json (for scripts), markdown (a pull-request comment) or github "
    "(workflow annotations).",
)
@_prune_option()
@_project_option()
@click.option(
    "--deny-escalation",
    is_flag=True,
    help="Exit 1 (after printing) when the plan widens access: see README, Access.",
)
@_full_option("List every change (text output folds more than 50 changes of one shape).")
@github_comment_option()
@selection_options
@backend_options
def plan_command(
    paths: tuple[str, ...],
    out: str | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    fmt: str,
    prune: bool,
    project: str | None,
    deny_escalation: bool,
    full: bool,
    github_comment: bool,
    **options: Any,
) -> None:
    """Show what apply would change, without changing anything."""
    from stagecfg import access, pipeline, render, savedplan
    from stagecfg.errors import EXIT_CHANGES, EXIT_ERROR
    from stagecfg.validation import load_desired

    desired, warnings = load_desired(
        list(paths), project=project, selection=selection_from(options)
    )
    echo_warnings(warnings)
    github_timeout = float(options["timeout"])  # read before open_backend takes the flags
    backend = open_backend(options)
    try:
        planned = pipeline.plan_manifests(backend, desired, prune=prune, targets=targets)
        # A plan the review refuses is not saved, so `apply --plan` cannot carry it out.
        if out and not planned.access.refuses(deny_escalation=deny_escalation):
            savedplan.write(out, planned.saved(paths, backend.identity()))
    finally:
        backend.close()
    shown, review = masked_plan(planned.plan, planned.access)
    # What apply (without --force or --allow-disruptive) would refuse, by the very rules apply
    # runs: a plan that cannot be applied as it stands must not look approvable.
    refusals = masked_refusals(pipeline.refusals(planned))
    # One plan comment per environment (its marker names it).
    key = desired.environment or render.DEFAULT_COMMENT_KEY
    text = render.render(
        shown,
        fmt,
        backend=planned.backend,
        color=color(),
        access=review,
        refusals=refusals,
        full=full,
        key=key,
    )
    echo(text, nl=False, masked_data=True)
    # After printing and saving, before the refusals: reviewers must see a refused plan too.
    comment_failed = github_comment and not post_plan_comment(
        shown, backend=planned.backend, access=review, refusals=refusals, paths=paths,
        timeout=github_timeout, key=key,
    )  # fmt: skip
    # After printing: the reviewer sees the plan that widened access before the refusal.
    access.check_review(planned.access, deny_escalation=deny_escalation)
    if detailed_exitcode and refusals:
        first = refusals[0]
        raise PlanRefused(
            f"apply would refuse this plan: {first.message}"
            + ("" if first.flag else "; no flag allows it")
        )
    if comment_failed:  # the error is printed; CI must notice a plan that reached nobody
        raise click.exceptions.Exit(EXIT_ERROR)
    if detailed_exitcode and not planned.plan.empty:
        raise click.exceptions.Exit(EXIT_CHANGES)


@click.command("apply", cls=Command, examples=APPLY)
@click.argument("paths", nargs=-1, type=click.Path(), help=PATHS_HELP + " Or give --plan.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply a plan saved by `plan --out` (after checking it is still valid).",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask; required without a terminal.")
@_prune_option()
@click.option("--force", is_flag=True, help="Allow more deletes than the safety threshold.")
@click.option(
    "--allow-disruptive", is_flag=True, help="Allow stop-live and deleting call types in use."
)
@_project_option()
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Apply only this object: calltype:NAME, a cid or user:ID (repeatable).",
)
@_full_option("List every change in the plan and in the report of a failed or stopped apply.")
@selection_options
@backend_options
@reviewed_options
def apply_command(
    paths: tuple[str, ...],
    plan_file: str | None,
    auto_approve: bool,
    prune: bool,
    force: bool,
    allow_disruptive: bool,
    project: str | None,
    targets: tuple[str, ...],
    full: bool,
    **options: Any,
) -> None:
    """Make the backend match the manifests (or a saved plan), then check that it does."""
    from stagecfg import pipeline
    from stagecfg.errors import UsageError
    from stagecfg.render import render_text
    from stagecfg.validation import load_desired

    if plan_file and paths:
        raise UsageError("give manifest PATHs or --plan FILE, not both")
    if not plan_file and not paths:
        raise UsageError("give manifest PATHs to apply, or --plan FILE (from `plan --out`)")
    if plan_file and (prune or targets or project):
        raise UsageError(
            "--prune, --target and --project are recorded in the saved plan; "
            "make a new plan to change them"
        )
    selection = selection_from(options)
    if plan_file and (selection.variables or selection.var_files):
        raise UsageError(
            "--var and --var-file are recorded in the saved plan; make a new plan to change them"
        )
    saved = None
    if plan_file:
        saved, desired, warnings = pipeline.load_saved(plan_file, selection.environment)
    else:
        desired, warnings = load_desired(list(paths), project=project, selection=selection)
    echo_warnings(warnings)
    # Read before open_backend, which takes the backend flags out of ``options``.
    parallelism = int(options["parallelism"])
    backend = open_backend(options)
    try:
        # Locked before planning, so no other apply changes the backend between plan and apply.
        backend.lock_for_apply()
        if saved is not None:
            planned = pipeline.plan_saved(backend, saved, desired)
        else:
            planned = pipeline.plan_manifests(backend, desired, prune=prune, targets=targets)
        shown, review = masked_plan(planned.plan, planned.access)
        echo(
            render_text(shown, backend=planned.backend, color=color(), access=review, full=full),
            nl=False,
            masked_data=True,
        )
        if planned.plan.empty:
            return
        pipeline.check_applicable(planned, force=force, allow_disruptive=allow_disruptive)
        confirm(auto_approve)
        run_planned(backend, planned, parallelism=parallelism, full=full)
    finally:
        backend.close()
