"""The command line: parse flags, wire objects together, map errors to exit codes. Nothing else.

All behaviour lives in the core modules; every command here is a few lines of glue. The single
error boundary is :func:`main`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from stagecfg import __version__
from stagecfg.errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ManifestError,
    StagecfgError,
)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SANDBOX = os.path.join(".stagecfg", "sandbox.db")


def backend_options(func: F) -> F:
    """Flags shared by every command that talks to a backend."""
    options = [
        click.option(
            "--backend",
            "backend_name",
            envvar="STAGECFG_BACKEND",
            default="local",
            show_default=True,
            type=click.Choice(["local", "stream"]),
            help="Where the Stream app lives: the embedded sandbox or Stream's REST API.",
        ),
        click.option(
            "--sandbox",
            "sandbox_path",
            envvar="STAGECFG_SANDBOX",
            default=DEFAULT_SANDBOX,
            show_default=True,
            type=click.Path(dir_okay=False),
            help="SQLite file of the local sandbox backend.",
        ),
        click.option("--api-key", envvar="STREAM_API_KEY", help="Stream API key (stream backend)."),
        click.option(
            "--api-secret",
            envvar="STREAM_API_SECRET",
            help="Stream API secret (stream backend). Prefer the environment variable.",
        ),
        click.option(
            "--base-url",
            envvar="STREAM_BASE_URL",
            default=None,
            help="Stream API base URL [default: https://chat.stream-io-api.com].",
        ),
        click.option(
            "--parallelism",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="Requests in flight at once.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.1, 600),
            default=30.0,
            show_default=True,
            help="Seconds before one request times out.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def backend_settings(options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split the backend flags out of a command's keyword arguments."""
    name = options.pop("backend_name")
    settings = {
        "sandbox_path": options.pop("sandbox_path"),
        "api_key": options.pop("api_key"),
        "api_secret": options.pop("api_secret"),
        "base_url": options.pop("base_url"),
        "parallelism": options.pop("parallelism"),
        "timeout": options.pop("timeout"),
    }
    return name, settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stagecfg")
@click.option("--debug", is_flag=True, help="Show internal details of failures (never secrets).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Configuration as code for Stream Video: call types, grants, backstage and livestreams."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
def schema() -> None:
    """Print the manifest JSON Schema (draft 2020-12)."""
    from importlib.resources import files

    click.echo(files("stagecfg").joinpath("stagecfg.schema.json").read_text("utf-8"), nl=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point and the one error boundary: known errors exit 1, Ctrl-C 130, bugs 3."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="stagecfg", standalone_mode=False)
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
            click.echo(problem.render(), err=True)
        code = exc.exit_code
    except StagecfgError as exc:
        click.echo(f"Error: {exc}", err=True)
        code = exc.exit_code
    except Exception as exc:  # a bug: report it without a traceback unless --debug
        from stagecfg.redact import redact

        if debug:
            import traceback

            click.echo(redact(traceback.format_exc()), err=True)
        click.echo(
            f"Internal error: {redact(type(exc).__name__ + ': ' + str(exc))}\n"
            "This is a bug in stagecfg; run again with --debug for details.",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)
