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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option(
    "--sandbox",
    "sandbox_path",
    envvar="STAGECFG_SANDBOX",
    default=DEFAULT_SANDBOX,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file holding the emulated app (created if missing).",
)
@click.option("--api-key", envvar="STREAM_API_KEY", help="API key clients must send.")
@click.option("--api-secret", envvar="STREAM_API_SECRET", help="Secret that signs client JWTs.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, help="Added per request.")
@click.option("--latency-jitter-ms", type=click.FloatRange(0), default=0.0, help="Random extra.")
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Fraction answered 500."
)
@click.option(
    "--throttle-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction answered 429 with Retry-After.",
)
@click.option(
    "--retry-after", type=click.FloatRange(0), default=1.0, help="Retry-After of throttled calls."
)
@click.option(
    "--rate-limit", type=click.IntRange(1), default=None, help="Requests per endpoint per minute."
)
@click.option("--seed", type=int, default=None, help="Seed for reproducible faults.")
@click.option(
    "--max-body-bytes", type=click.IntRange(1), default=5 * 1024 * 1024, show_default=True
)
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
def emulator(
    host: str,
    port: int,
    sandbox_path: str,
    api_key: str | None,
    api_secret: str | None,
    allow_remote: bool,
    max_body_bytes: int,
    **faults: Any,
) -> None:
    """Serve a sandbox over HTTP with Stream's wire protocol, for tests and CI."""
    from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from stagecfg.emulator import server as emulator_server
    from stagecfg.emulator.app import EmulatorSettings, Faults

    emulator_server.check_host(host, allow_remote=allow_remote)
    settings = EmulatorSettings(
        api_key=api_key or DEFAULT_API_KEY,
        api_secret=api_secret or DEFAULT_API_SECRET,
        max_body_bytes=max_body_bytes,
        faults=Faults(**faults),
    )
    sock = emulator_server.bind(host, port)
    secret_hint = (
        "from --api-secret / STREAM_API_SECRET" if api_secret else "the documented default"
    )
    click.echo(f"stagecfg emulator serving {sandbox_path} at {emulator_server.url_of(sock)}")
    click.echo(f"api key: {settings.api_key}, secret: {secret_hint} (see README)")
    click.echo("Press Ctrl-C to stop.")
    emulator_server.serve(sock, sandbox_path, settings)
    click.echo("emulator stopped")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text (compiler style), json (machine output) or github (workflow annotations).",
)
def validate(paths: tuple[str, ...], strict: bool, fmt: str) -> None:
    """Check manifests (files or directories) against the schema and Stream's rules."""
    from stagecfg import validation

    result = validation.validate(paths)
    out, err = validation.render_report(result, fmt, strict=strict)
    if out:
        click.echo(out, nl=False)
    if err:
        click.echo(err, nl=False, err=True)
    if not result.valid(strict=strict):
        raise click.exceptions.Exit(EXIT_ERROR)


@cli.command()
@click.argument("cid")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--at", "at_text", metavar="TIME", help="Answer for one instant (RFC 3339 or now).")
@click.option(
    "--live/--backstage",
    "live",
    default=None,
    help="Live state for --at [default: the call's current or declared state].",
)
@click.option("--role", metavar="ROLE", help="Ask about one role.")
@click.option("--user", "user_id", metavar="ID", help="Ask about one user (app + member role).")
@click.option(
    "--from-backend",
    is_flag=True,
    help="Read the call and its call type from the backend (default when no PATH is given).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@backend_options
def access(
    cid: str,
    paths: tuple[str, ...],
    at_text: str | None,
    live: bool | None,
    role: str | None,
    user_id: str | None,
    from_backend: bool,
    fmt: str,
    **options: Any,
) -> None:
    """Who may join call CID, and when: backstage, join window, go-live, stop-live, end."""
    from stagecfg import access as access_rules
    from stagecfg.errors import UsageError

    if role and user_id:
        raise UsageError("--role and --user ask different questions; give one of them")
    if ":" not in cid:
        raise UsageError(f"CID {cid!r} must be <call type>:<call id>, e.g. livestream:launch")
    at = access_rules.parse_instant(at_text) if at_text else None
    if from_backend or not paths:
        from stagecfg.backends import open_backend

        name, settings = backend_settings(options)
        backend = open_backend(name, **settings)
        try:
            actual = backend.read(cids=[cid], users=[user_id] if user_id else [])
        finally:
            backend.close()
        policy = access_rules.policy_from_actual(actual, cid)
    else:
        from stagecfg.validation import load_desired

        desired, _warnings = load_desired(list(paths))
        policy = access_rules.policy_from_desired(desired, cid)
    principal = None
    if role:
        principal = access_rules.role_principal(role)
    elif user_id:
        principal = access_rules.user_principal(policy, user_id)
    text = access_rules.report(policy, principal=principal, at=at, live=live, fmt=fmt)
    click.echo(text, nl=False)


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
