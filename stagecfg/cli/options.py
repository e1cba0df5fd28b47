"""The flags several commands share (``--debug``, ``--sandbox`` and the backend flags) and the
backend they open.

Help texts, defaults and environment variables here are part of the interface: README and the
tests compare them byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stagecfg.cli.output import echo

if TYPE_CHECKING:
    # Only for the annotation: importing the backends package at startup would slow `--help`.
    from stagecfg.backends.base import Backend

F = TypeVar("F", bound=Callable[..., Any])

#: The PATHS argument's help, the same for every command that loads manifests.
PATHS_HELP = "Manifest files, or directories of *.yaml / *.yml files (searched recursively)."

DEFAULT_SANDBOX = os.path.join(".stagecfg", "sandbox.db")

#: The credentials flags of the stream backend: (parameter name, flag, environment variable).
STREAM_CREDENTIALS = (
    ("api_key", "--api-key", "STREAM_API_KEY"),
    ("api_secret", "--api-secret", "STREAM_API_SECRET"),
    ("base_url", "--base-url", "STREAM_BASE_URL"),
)


def _remember_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # The error boundary (root.main) reads this after click's contexts are gone: every context
    # of one run shares the ``obj`` main passes in.
    if value:
        ctx.ensure_object(dict)["debug"] = True


def debug_option() -> click.Option:
    """``--debug``: one new option per command, so it works before and after the subcommand."""
    return click.Option(
        ["--debug"],
        is_flag=True,
        is_eager=True,  # set before any other flag is read, so a failure there shows it too
        expose_value=False,
        callback=_remember_debug,
        help="On an internal error, print the traceback (never a secret).",
    )


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
            help="Stream API base URL [default: https://chat.stream-io-api.com]; another "
            "region, or the emulator.",
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
        click.option(
            "--deadline",
            envvar="STAGECFG_DEADLINE",
            type=click.FloatRange(0, 86400, min_open=True),
            default=None,
            help="Seconds the whole run may take (stream backend); then no request starts.",
        ),
    ]
    # click lists options in the order their decorators are written, i.e. applied last-first.
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
        "deadline": options.pop("deadline"),
    }
    return name, settings


def check_api_secret(secret: str | None) -> None:
    """Refuse an API secret too short to keep out of the output (it could be a common word)."""
    from stagecfg.errors import ConfigError
    from stagecfg.redact import secret_too_short

    problem = secret_too_short(secret) if secret else None
    if problem:
        raise ConfigError(f"{problem}; set STREAM_API_SECRET or --api-secret")


def open_backend(options: dict[str, Any]) -> Backend:
    """The backend the flags name (they are taken out of ``options``); notices go to stderr."""
    from stagecfg.backends import open_backend as open_named_backend

    name, settings = backend_settings(options)
    check_api_secret(settings["api_secret"] if name == "stream" else None)
    if name == "local":
        notice = unused_credentials_notice(settings)
        if notice:
            echo(notice, err=True)
    backend = open_named_backend(name, **settings)
    for notice in backend.notices():
        echo(notice, err=True)
    return backend


def unused_credentials_notice(settings: dict[str, Any]) -> str | None:
    """A notice when credentials of the real app are set but the backend is the sandbox by
    default: without it they would be silently ignored. Names only, never the values.

    Quiet when ``--backend local`` (or ``STAGECFG_BACKEND=local``) was asked for explicitly.
    """
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    source = ctx.get_parameter_source("backend_name")
    if source is not None and source is not ParameterSource.DEFAULT:
        return None
    names = []
    for param, flag, envvar in STREAM_CREDENTIALS:
        if not settings.get(param):
            continue
        from_env = ctx.get_parameter_source(param) is ParameterSource.ENVIRONMENT
        names.append(envvar if from_env else flag)
    if not names:
        return None
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "is" if len(names) == 1 else "are"
    return (
        f"note: {listed} {verb} set, but the backend is local (the sandbox "
        f"{settings['sandbox_path']}), the default; pass --backend stream (or set "
        "STAGECFG_BACKEND=stream) to use the real app, or --backend local to silence this note"
    )
