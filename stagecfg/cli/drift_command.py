"""``stagecfg drift``: what changed in the app outside stagecfg, and ``--write`` to adopt it.

Wiring only: load the manifests with their composition, read the app, render the report
(:mod:`stagecfg.drift`), and with ``--write`` print the diff and write the files it checked.
"""

from __future__ import annotations

import os
from typing import Any

import click

from stagecfg.cli.help_text import DRIFT, Command
from stagecfg.cli.options import PATHS_HELP, backend_options, open_backend
from stagecfg.cli.output import echo, echo_warnings
from stagecfg.cli.selection_options import selection_from, selection_options


@click.command("drift", cls=Command, examples=DRIFT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), help=PATHS_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
    help="text (for people), json (for scripts), markdown (an issue or comment) or github "
    "(workflow annotations).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when the app has drifted (with --write: when drift is left unadopted).",
)
@click.option(
    "--write", is_flag=True, help="Edit the manifests to match the app, and print the diff."
)
@click.option("--dry-run", is_flag=True, help="With --write: print the diff, change no file.")
@click.option(
    "--only",
    multiple=True,
    metavar="KIND:NAME[.PATH]",
    help="Only this object or field: calltype:shows.settings, call:CID.live, user:ID.name "
    "(repeatable).",
)
@click.option(
    "--new-objects-file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="With --write: add live calls with this project's marker, declared nowhere, to FILE.",
)
@click.option(
    "--github-comment",
    is_flag=True,
    help="After printing: create or update the pull request's drift comment (GITHUB_TOKEN, "
    "GITHUB_REPOSITORY, GITHUB_EVENT_PATH) and append it to $GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--github-issue",
    is_flag=True,
    help="After printing: open or update this environment's drift issue, or close it when "
    "there is no drift (GITHUB_TOKEN, GITHUB_REPOSITORY), and append the report to "
    "$GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--project", envvar="STAGECFG_PROJECT", help="Project name (overrides the manifests')."
)
@selection_options
@backend_options
def drift_command(
    paths: tuple[str, ...],
    fmt: str,
    detailed_exitcode: bool,
    write: bool,
    dry_run: bool,
    only: tuple[str, ...],
    new_objects_file: str | None,
    github_comment: bool,
    github_issue: bool,
    project: str | None,
    **options: Any,
) -> None:
    """Show where the app differs from the manifests; --write adopts it into them."""
    from stagecfg.drift import detection, rendering
    from stagecfg.errors import EXIT_CHANGES, EXIT_ERROR, UsageError
    from stagecfg.validation import load_composed

    if (dry_run or new_objects_file) and not write:
        raise UsageError("--dry-run and --new-objects-file go with --write")
    if write and (github_comment or github_issue or fmt != "text"):
        raise UsageError(
            "--write prints a diff of the files it changes; --format, --github-comment and "
            "--github-issue report drift without --write (run drift once for each)"
        )
    selection = selection_from(options)
    desired, composition, warnings = load_composed(
        list(paths), project=project, selection=selection
    )
    echo_warnings(warnings)
    github_timeout = float(options["timeout"])
    if github_issue:
        from stagecfg.github.context import read_context
        from stagecfg.github.publish import check_drift_ready

        # A job that cannot file the issue fails now, before reading the app.
        check_drift_ready(read_context(os.environ))
    backend = open_backend(options)
    try:
        detected = detection.detect(backend, desired, composition, only=only, environ=os.environ)
    finally:
        backend.close()
    if write:
        from stagecfg.cli.drift_write import adopt

        left = adopt(
            detected, desired, composition, paths=paths, selection=selection, only=only,
            project=project, new_objects_file=new_objects_file, dry_run=dry_run,
        )  # fmt: skip
        if detailed_exitcode and left:
            raise click.exceptions.Exit(EXIT_CHANGES)
        return
    report = _masked(detected.report)
    echo(rendering.render(report, fmt), nl=False, masked_data=True)
    if github_comment and not _publish(report, issue=False, timeout=github_timeout):
        raise click.exceptions.Exit(EXIT_ERROR)
    if github_issue and not _publish(report, issue=True, timeout=github_timeout):
        raise click.exceptions.Exit(EXIT_ERROR)
    if detailed_exitcode and report.drifted:
        raise click.exceptions.Exit(EXIT_CHANGES)


def _masked(report: Any) -> Any:
    """The report as shown: secret values masked inside each item's values."""
    import dataclasses

    from stagecfg.redact import mask_data

    items = tuple(
        dataclasses.replace(i, manifest=mask_data(i.manifest), live=mask_data(i.live))
        for i in report.items
    )
    return dataclasses.replace(report, items=items)


def _publish(report: Any, *, issue: bool, timeout: float) -> bool:
    """The Markdown report as the environment's drift issue (``issue``) or the pull request's
    sticky drift comment; False, after printing the error, when that failed."""
    from stagecfg.cli.github_comment import safe_body
    from stagecfg.drift.rendering import render_markdown
    from stagecfg.errors import StagecfgError
    from stagecfg.github.context import read_context
    from stagecfg.github.issue import drift_marker
    from stagecfg.github.publish import publish, publish_drift

    def notify(line: str) -> None:
        echo(line, err=True)

    try:
        context = read_context(os.environ)
        body = safe_body(render_markdown(report))
        if issue:
            publish_drift(
                context, environment=report.environment, body=body, drifted=report.drifted,
                notify=notify, timeout=timeout,
            )  # fmt: skip
        else:
            publish(
                context, marker=drift_marker(report.environment), body=body, notify=notify,
                timeout=timeout, what="drift report",
            )  # fmt: skip
    except StagecfgError as exc:
        echo(f"Error: {exc}", err=True)
        return False
    return True
