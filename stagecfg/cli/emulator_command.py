"""``stagecfg emulator``: serve a sandbox over HTTP with Stream's wire protocol (tests and CI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from stagecfg.cli.help_text import EMULATOR, Command
from stagecfg.cli.options import check_api_secret, sandbox_option
from stagecfg.cli.output import echo, echo_warnings
from stagecfg.cli.selection_options import selection_from, selection_options

if TYPE_CHECKING:
    from stagecfg.model import DesiredState


@click.command(cls=Command, examples=EMULATOR)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed at start).",
)
@sandbox_option("SQLite file holding the emulated app (created if missing).")
@click.option("--api-key", envvar="STREAM_API_KEY", help="API key clients must send.")
@click.option("--api-secret", envvar="STREAM_API_SECRET", help="Secret that signs client JWTs.")
@click.option(
    "--latency-ms", type=click.FloatRange(0), default=0.0, help="Milliseconds added per request."
)
@click.option(
    "--latency-jitter-ms",
    type=click.FloatRange(0),
    default=0.0,
    help="Up to this many milliseconds more, at random.",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests answered HTTP 500.",
)
@click.option(
    "--throttle-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests answered HTTP 429 with Retry-After.",
)
@click.option(
    "--retry-after",
    type=click.FloatRange(0),
    default=1.0,
    help="Retry-After seconds of throttled requests.",
)
@click.option(
    "--rate-limit", type=click.IntRange(1), default=None, help="Requests per endpoint per minute."
)
@click.option("--seed", type=int, default=None, help="Seed for reproducible faults.")
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=5 * 1024 * 1024,
    show_default=True,
    help="Larger request bodies are answered 413.",
)
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
@click.option(
    "--webhook-url",
    metavar="URL",
    default=None,
    help="POST each event Stream would send to this http(s) URL, signed with the API secret "
    "in X-Signature, with Stream's retries (loopback only unless --allow-remote).",
)
@click.option(
    "--load",
    "load",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Apply these manifests (files or directories; repeatable) to the sandbox before "
    "serving, as `apply --auto-approve` would.",
)
@selection_options
def emulator(
    host: str,
    port: int,
    sandbox_path: str,
    api_key: str | None,
    api_secret: str | None,
    allow_remote: bool,
    max_body_bytes: int,
    webhook_url: str | None,
    load: tuple[str, ...],
    **faults: Any,
) -> None:
    """Serve a sandbox over HTTP with Stream's wire protocol, for tests and CI."""
    # The server pulls in starlette and uvicorn: imported only when the command runs.
    from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from stagecfg.emulator import server as emulator_server
    from stagecfg.emulator.app import EmulatorSettings, Faults
    from stagecfg.emulator.webhooks import WebhookSettings, check_url

    emulator_server.check_host(host, allow_remote=allow_remote)
    check_api_secret(api_secret)
    webhook = None
    if webhook_url is not None:
        webhook = WebhookSettings(url=check_url(webhook_url, allow_remote=allow_remote))
    desired = _load(load, faults)  # before listening: invalid manifests serve nothing
    settings = EmulatorSettings(
        api_key=api_key or DEFAULT_API_KEY,
        api_secret=api_secret or DEFAULT_API_SECRET,
        max_body_bytes=max_body_bytes,
        faults=Faults(**faults),
        webhook=webhook,
    )
    sock = emulator_server.bind(host, port)
    try:
        applied = _seed(sandbox_path, desired) if desired is not None else None
    except BaseException:
        sock.close()
        raise
    # Never print the secret itself, only where it came from.
    secret_hint = (
        "from --api-secret / STREAM_API_SECRET" if api_secret else "the documented default"
    )
    click.echo(f"stagecfg emulator serving {sandbox_path} at {emulator_server.url_of(sock)}")
    if applied is not None:
        changes = (
            f"{applied} change{'s' if applied != 1 else ''} applied" if applied else "no changes"
        )
        click.echo(f"loaded {', '.join(load)}: {changes}")
    click.echo(f"api key: {settings.api_key}, secret: {secret_hint} (see README)")
    if webhook is not None:
        click.echo(f"webhooks: each event is POSTed to {webhook.url}, signed in X-Signature")
    click.echo("Press Ctrl-C to stop.")
    emulator_server.serve(sock, sandbox_path, settings)
    click.echo("emulator stopped")


def _load(paths: tuple[str, ...], options: dict[str, Any]) -> DesiredState | None:
    """The desired state of ``--load PATH...`` (with ``--env``/``--var``/``--var-file``, taken
    out of ``options``), or None without ``--load``."""
    from stagecfg.errors import UsageError
    from stagecfg.validation import load_desired

    ctx = click.get_current_context()
    env_given = ctx.get_parameter_source("environment") == click.core.ParameterSource.COMMANDLINE
    selection = selection_from(options)
    if not paths:
        if env_given or selection.variables or selection.var_files:
            raise UsageError(
                "--env, --var and --var-file choose what --load applies; give --load PATH"
            )
        return None
    desired, warnings = load_desired(list(paths), selection=selection)
    echo_warnings(warnings)
    return desired


def _seed(sandbox_path: str, desired: DesiredState) -> int:
    """Apply ``desired`` to the sandbox file the emulator will serve; the changes applied."""
    from stagecfg import pipeline
    from stagecfg.backends.local import open_backend
    from stagecfg.errors import ApplyFailed

    backend = open_backend(sandbox_path=sandbox_path)
    try:
        applied = pipeline.apply_desired(backend, desired)
        # The seed is the app as it already was: /_emulator/events starts empty.
        backend.engine.reset_events()
        return applied
    except ApplyFailed as exc:
        echo(exc.report_text, nl=False)
        raise
    finally:
        backend.close()
