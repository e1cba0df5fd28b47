"""``stagecfg emulator``: serve a sandbox over HTTP with Stream's wire protocol (tests and CI)."""

from __future__ import annotations

from typing import Any

import click

from stagecfg.cli.help_text import EMULATOR, Command
from stagecfg.cli.options import check_api_secret, sandbox_option


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
def emulator(
    host: str,
    port: int,
    sandbox_path: str,
    api_key: str | None,
    api_secret: str | None,
    allow_remote: bool,
    max_body_bytes: int,
    webhook_url: str | None,
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
    settings = EmulatorSettings(
        api_key=api_key or DEFAULT_API_KEY,
        api_secret=api_secret or DEFAULT_API_SECRET,
        max_body_bytes=max_body_bytes,
        faults=Faults(**faults),
        webhook=webhook,
    )
    sock = emulator_server.bind(host, port)
    # Never print the secret itself, only where it came from.
    secret_hint = (
        "from --api-secret / STREAM_API_SECRET" if api_secret else "the documented default"
    )
    click.echo(f"stagecfg emulator serving {sandbox_path} at {emulator_server.url_of(sock)}")
    click.echo(f"api key: {settings.api_key}, secret: {secret_hint} (see README)")
    if webhook is not None:
        click.echo(f"webhooks: each event is POSTed to {webhook.url}, signed in X-Signature")
    click.echo("Press Ctrl-C to stop.")
    emulator_server.serve(sock, sandbox_path, settings)
    click.echo("emulator stopped")
