"""``stagecfg validate``: check manifests offline (or, with ``--online``, against an app's own
permissions and roles) and report in text, JSON or GitHub annotations."""

from __future__ import annotations

from typing import Any

import click

from stagecfg.cli.help_text import VALIDATE, Command
from stagecfg.cli.options import backend_options
from stagecfg.cli.selection_options import selection_from, selection_options
from stagecfg.errors import EXIT_ERROR


@click.command(cls=Command, examples=VALIDATE)
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(),
    help="Manifest files, or directories of *.yaml / *.yml files (searched recursively).",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text (compiler style), json (machine output) or github (workflow annotations).",
)
@click.option(
    "--online",
    is_flag=True,
    help="Also check grants and roles against the app's own permission list and roles, read "
    "from the backend the backend flags name (read only).",
)
@selection_options
@backend_options
def validate(paths: tuple[str, ...], strict: bool, fmt: str, online: bool, **options: Any) -> None:
    """Check manifests (files or directories) against the schema and Stream's rules.

    With environments and no --env, every environment is checked."""
    import dataclasses

    from stagecfg import validation
    from stagecfg.cli.output import echo, masked_problem
    from stagecfg.redact import redact

    selection = selection_from(options)
    vocabulary = None
    if online:
        from stagecfg.cli.options import open_backend

        backend = open_backend(options)
        try:
            vocabulary = backend.read_vocabulary()
        finally:
            backend.close()
        echo(
            f"checking grants and roles against {vocabulary.source}: "
            f"{len(vocabulary.permissions)} permission ids, {len(vocabulary.roles)} roles",
            err=True,
        )
    result = validation.validate(paths, selection=selection, vocabulary=vocabulary)
    # Secrets are masked inside each problem, so the rendered report (JSON too) keeps its shape
    # and needs only redact. It is one block per stream, printed as rendered (no extra newline).
    result = dataclasses.replace(result, problems=[masked_problem(p) for p in result.problems])
    out, err = (redact(text) for text in validation.render_report(result, fmt, strict=strict))
    if out:
        click.echo(out, nl=False)
    if err:
        click.echo(err, nl=False, err=True)
    if not result.valid(strict=strict):
        raise click.exceptions.Exit(EXIT_ERROR)
