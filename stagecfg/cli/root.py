"""The ``stagecfg`` click group with its commands, and :func:`main`, the one error boundary.

Commands raise; only :func:`main` turns an error into a message and an exit code, so every
command fails the same way.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from stagecfg import __version__
from stagecfg.cli.access_command import access
from stagecfg.cli.drift_command import drift_command
from stagecfg.cli.emulator_command import emulator
from stagecfg.cli.export_command import export_command
from stagecfg.cli.help_text import STAGECFG, Group
from stagecfg.cli.output import echo
from stagecfg.cli.plan_apply_commands import apply_command, plan_command
from stagecfg.cli.schema_command import schema
from stagecfg.cli.validate_command import validate
from stagecfg.errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ManifestError,
    StagecfgError,
)


# Group and Command (cli/help_text.py) give every command --debug, its options' environment
# variables in --help, and an Examples section.
@click.group(cls=Group, examples=STAGECFG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stagecfg")
def cli() -> None:
    """Configuration as code for Stream Video: call types, grants, backstage and livestreams."""


# `stagecfg --help` lists commands alphabetically, so the order here changes no output.
for _command in (
    schema,
    emulator,
    validate,
    access,
    plan_command,
    apply_command,
    export_command,
    drift_command,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point and the one error boundary: known errors exit 1, Ctrl-C 130, bugs 3."""
    # A run builds large acyclic data (manifests, states, plans) that lives until exit; the
    # cyclic GC would only walk it again and again (~40% of loading 100,000 calls). Collect
    # rarely rather than never, so the long-running emulator still reclaims cycles.
    gc.set_threshold(1_000_000, 100, 100)
    # Every context of the run shares this ``obj``; ``--debug``, before or after the subcommand,
    # records itself in it (options.debug_option), and the handlers below run after click's
    # contexts are gone.
    state: dict[str, Any] = {}
    try:
        code = cli.main(args=argv, prog_name="stagecfg", standalone_mode=False, obj=state)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        # Usage errors exit 1, never 2: 2 means "changes present" under --detailed-exitcode.
        exc.show()
        code = EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = EXIT_INTERRUPTED
    except ManifestError as exc:
        for problem in exc.problems:
            echo(problem.render(), err=True)
        code = exc.exit_code
    except StagecfgError as exc:
        echo(f"Error: {exc}", err=True)
        code = exc.exit_code
    except Exception as exc:  # a bug: report it without a traceback unless --debug
        if state.get("debug"):
            import traceback

            echo(traceback.format_exc(), err=True)
        echo(
            f"Internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in stagecfg; run again with --debug for details.",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)
