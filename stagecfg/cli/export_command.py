"""``stagecfg export``: write what the backend holds as a manifest (stdout or a file)."""

from __future__ import annotations

from typing import Any

import click

from stagecfg.cli.help_text import EXPORT, Command
from stagecfg.cli.options import backend_options, open_backend
from stagecfg.cli.output import echo

# Literal here so --help needs no import of the export package (a test in tests/test_export.py
# holds it equal to stagecfg.export.USER_CHOICES).
_USER_CHOICES = ("referenced", "all", "none")


@click.command("export", cls=Command, examples=EXPORT)
@click.option(
    "--include-builtin",
    is_flag=True,
    help="List the built-in call types even when they hold Stream's defaults (changed ones are "
    "always exported).",
)
# A plain path: write_text_atomic refuses a directory or any other non-regular file in one line.
@click.option("--out", type=click.Path(), help="Write to FILE instead of stdout.")
@click.option("--project", help="Export only this project's calls and name it in the manifest.")
@click.option(
    "--users",
    type=click.Choice(_USER_CHOICES),
    default="referenced",
    show_default=True,
    help="Which users to declare: those the exported calls refer to (creators and members), "
    "every user of the app, or none.",
)
@backend_options
def export_command(
    include_builtin: bool, out: str | None, project: str | None, users: str, **options: Any
) -> None:
    """Write the backend's call types, calls and users as a manifest."""
    from stagecfg import export
    from stagecfg.savedplan import write_text_atomic

    backend = open_backend(options)
    try:
        actual = export.read_for_export(backend, project=project, users=users)
    finally:
        backend.close()
    from stagecfg.redact import mask_data, redact

    manifest = export.export_manifest(
        actual, include_builtin=include_builtin, project=project, users=users
    )
    # Masked inside the data, so the YAML stays valid; then redact for long secrets and JWTs.
    text = redact(export.dump_manifest(mask_data(manifest)))
    if out:
        # A manifest is meant to be committed and shared, hence 0o644 (saved plans are 0o600).
        write_text_atomic(out, text, mode=0o644)
    else:
        echo(text, nl=False, masked_data=True)
