"""``stagecfg schema``: print the manifest JSON Schema shipped inside the package."""

from __future__ import annotations

import click

from stagecfg.cli.help_text import SCHEMA, Command


@click.command(cls=Command, examples=SCHEMA)
def schema() -> None:
    """Print the manifest JSON Schema (draft 2020-12)."""
    from importlib.resources import files

    # Not redacted: the schema is package data, never manifest data.
    click.echo(files("stagecfg").joinpath("stagecfg.schema.json").read_text("utf-8"), nl=False)
