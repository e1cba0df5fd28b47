"""``stagecfg export``: write what the backend holds as a manifest (stdout or a file)."""

from __future__ import annotations

from typing import Any

import click

from stagecfg.cli.help_text import EXPORT, Command
from stagecfg.cli.options import backend_options, open_backend
from stagecfg.cli.output import echo


@click.command("export", cls=Command, examples=EXPORT)
@click.option("--include-builtin", is_flag=True, help="Export the built-in call types too.")
# A plain path: write_text_atomic refuses a directory or any other non-regular file in one line.
@click.option("--out", type=click.Path(), help="Write to FILE instead of stdout.")
@click.option("--project", help="Export only this project's calls and name it in the manifest.")
@backend_options
def export_command(
    include_builtin: bool, out: str | None, project: str | None, **options: Any
) -> None:
    """Write the backend's call types and calls as a manifest."""
    import dataclasses

    from stagecfg import export
    from stagecfg.savedplan import write_text_atomic

    backend = open_backend(options)
    try:
        actual = backend.read(all_calls=True)
        # Users are read in a second round: which ones is only known once the calls are read.
        users = export.users_of(actual, project=project)
        if users:
            actual = dataclasses.replace(actual, users=backend.read(users=users).users)
    finally:
        backend.close()
    from stagecfg.redact import mask_data, redact

    manifest = export.export_manifest(actual, include_builtin=include_builtin, project=project)
    # Masked inside the data, so the YAML stays valid; then redact for long secrets and JWTs.
    text = redact(export.dump_manifest(mask_data(manifest)))
    if out:
        # A manifest is meant to be committed and shared, hence 0o644 (saved plans are 0o600).
        write_text_atomic(out, text, mode=0o644)
    else:
        echo(text, nl=False, masked_data=True)
