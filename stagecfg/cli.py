"""The command line: parse flags, wire objects together, map errors to exit codes. Nothing else.

All behaviour lives in the core modules; every command here is a few lines of glue. The single
error boundary is :func:`main`.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stagecfg import __version__
from stagecfg.errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ManifestError,
    StagecfgError,
)

if TYPE_CHECKING:
    from stagecfg.backends.base import Backend

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SANDBOX = os.path.join(".stagecfg", "sandbox.db")


def _echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """click.echo through :func:`~stagecfg.redact.redact`: manifest data may carry the value of a
    secret-named variable, and plans, reports and errors print manifest data."""
    from stagecfg.redact import redact

    click.echo(redact(text), err=err, nl=nl)


def sandbox_option(help_text: str) -> Callable[[F], F]:
    """``--sandbox PATH`` (or STAGECFG_SANDBOX): the SQLite file of the sandbox and emulator."""
    return click.option(
        "--sandbox",
        "sandbox_path",
        envvar="STAGECFG_SANDBOX",
        default=DEFAULT_SANDBOX,
        show_default=True,
        type=click.Path(dir_okay=False),
        help=help_text,
    )


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
        sandbox_option("SQLite file of the local sandbox backend."),
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


def _open_backend(options: dict[str, Any]) -> Backend:
    """The backend the flags name (they are taken out of ``options``); notices go to stderr."""
    from stagecfg.backends import open_backend

    name, settings = backend_settings(options)
    backend = open_backend(name, **settings)
    for notice in backend.notices():
        _echo(notice, err=True)
    return backend


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
@sandbox_option("SQLite file holding the emulated app (created if missing).")
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
    from stagecfg.redact import redact

    result = validation.validate(paths)
    out, err = (redact(text) for text in validation.render_report(result, fmt, strict=strict))
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
    if live is not None and not at_text:
        # The timeline already covers both states; a silently ignored flag would mislead.
        raise UsageError(
            "--live and --backstage answer for one instant; give --at TIME (or drop the flag "
            "to see every phase)"
        )
    at = access_rules.parse_instant(at_text) if at_text else None
    if from_backend or not paths:
        backend = _open_backend(options)
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
    _echo(text, nl=False)


def _echo_warnings(warnings: list[Any]) -> None:
    for problem in warnings:
        _echo(problem.render(), err=True)


def _color() -> bool:
    from stagecfg.render import use_color

    return use_color(sys.stdout.isatty(), os.environ)


_FORMATS = ["text", "json", "markdown", "github"]


@cli.command("plan")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan for `apply --plan FILE`."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Plan only this object: calltype:NAME, a cid or user:ID (repeatable).",
)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True)
@click.option("--prune", is_flag=True, help="Also delete what the manifests no longer declare.")
@click.option(
    "--project", envvar="STAGECFG_PROJECT", help="Project name (overrides the manifests')."
)
@click.option(
    "--deny-escalation",
    is_flag=True,
    help="Exit 1 (after printing) when the plan widens access: see README, Access.",
)
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
    **options: Any,
) -> None:
    """Show what apply would change, without changing anything."""
    from stagecfg import access, pipeline, render, savedplan
    from stagecfg.errors import EXIT_CHANGES
    from stagecfg.validation import load_desired

    desired, warnings = load_desired(list(paths), project=project)
    _echo_warnings(warnings)
    backend = _open_backend(options)
    try:
        planned = pipeline.plan_manifests(backend, desired, prune=prune, targets=targets)
        if out and not planned.access.refuses(deny_escalation=deny_escalation):
            savedplan.write(out, planned.saved(paths, backend.identity()))
    finally:
        backend.close()
    text = render.render(
        planned.plan, fmt, backend=planned.backend, color=_color(), access=planned.access
    )
    _echo(text, nl=False)
    access.check_review(planned.access, deny_escalation=deny_escalation)
    if detailed_exitcode and not planned.plan.empty:
        raise click.exceptions.Exit(EXIT_CHANGES)


@cli.command("apply")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply a plan saved by `plan --out` (after checking it is still valid).",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask; required without a terminal.")
@click.option("--prune", is_flag=True, help="Also delete what the manifests no longer declare.")
@click.option("--force", is_flag=True, help="Allow more deletes than the safety threshold.")
@click.option(
    "--allow-disruptive", is_flag=True, help="Allow stop-live and deleting call types in use."
)
@click.option(
    "--project", envvar="STAGECFG_PROJECT", help="Project name (overrides the manifests')."
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Apply only this object: calltype:NAME, a cid or user:ID (repeatable).",
)
@backend_options
def apply_command(
    paths: tuple[str, ...],
    plan_file: str | None,
    auto_approve: bool,
    prune: bool,
    force: bool,
    allow_disruptive: bool,
    project: str | None,
    targets: tuple[str, ...],
    **options: Any,
) -> None:
    """Make the backend match the manifests (or a saved plan), then check that it does."""
    from stagecfg import pipeline
    from stagecfg.errors import ApplyFailed, UsageError
    from stagecfg.render import change_title, render_text
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
    saved = None
    if plan_file:
        saved, desired, warnings = pipeline.load_saved(plan_file)
    else:
        desired, warnings = load_desired(list(paths), project=project)
    _echo_warnings(warnings)
    parallelism = int(options["parallelism"])
    backend = _open_backend(options)
    try:
        backend.lock_for_apply()
        if saved is not None:
            planned = pipeline.plan_saved(backend, saved, desired)
        else:
            planned = pipeline.plan_manifests(backend, desired, prune=prune, targets=targets)
        _echo(
            render_text(
                planned.plan, backend=planned.backend, color=_color(), access=planned.access
            ),
            nl=False,
        )
        if planned.plan.empty:
            return
        pipeline.check_applicable(planned, force=force, allow_disruptive=allow_disruptive)
        if not auto_approve:
            if not sys.stdin.isatty():
                raise UsageError(
                    "not applying without confirmation: stdin is not a terminal; review the "
                    "plan above and pass --auto-approve"
                )
            if not click.confirm("Apply these changes?", default=False):
                raise StagecfgError("apply cancelled; nothing was changed")

        show_progress = sys.stderr.isatty()

        def progress(done: int, total: int, change: Any) -> None:
            if show_progress:
                _echo(f"[{done}/{total}] {change_title(change)}", err=True)

        try:
            report = pipeline.apply_planned(
                backend, planned, parallelism=parallelism, progress=progress
            )
        except ApplyFailed as exc:
            _echo(exc.report_text, nl=False)
            raise
        done = len(report.succeeded)
        click.echo(f"Apply complete: {done} change{'s' if done != 1 else ''} applied.")
    finally:
        backend.close()


@cli.command("export")
@click.option("--include-builtin", is_flag=True, help="Export the built-in call types too.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--project", help="Export only this project's calls and name it in the manifest.")
@backend_options
def export_command(
    include_builtin: bool, out: str | None, project: str | None, **options: Any
) -> None:
    """Write the backend's call types and calls as a manifest."""
    import dataclasses

    from stagecfg import export
    from stagecfg.savedplan import write_text_atomic

    backend = _open_backend(options)
    try:
        actual = backend.read(all_calls=True)
        users = export.users_of(actual, project=project)
        if users:
            actual = dataclasses.replace(actual, users=backend.read(users=users).users)
    finally:
        backend.close()
    text = export.dump_manifest(
        export.export_manifest(actual, include_builtin=include_builtin, project=project)
    )
    if out:
        write_text_atomic(out, text, mode=0o644)
    else:
        _echo(text, nl=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point and the one error boundary: known errors exit 1, Ctrl-C 130, bugs 3."""
    # A run builds large acyclic data (manifests, states, plans) that lives until exit; the
    # cyclic GC would only walk it again and again (~40% of loading 100,000 calls). Collect
    # rarely rather than never, so the long-running emulator still reclaims cycles.
    gc.set_threshold(1_000_000, 100, 100)
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
        from stagecfg.redact import redact

        for problem in exc.problems:
            click.echo(redact(problem.render()), err=True)
        code = exc.exit_code
    except StagecfgError as exc:
        _echo(f"Error: {exc}", err=True)
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
