"""``stagecfg access``: who may join one call, and when, from manifests or from the backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from stagecfg.cli.help_text import ACCESS, Command
from stagecfg.cli.options import backend_options, open_backend
from stagecfg.cli.output import echo
from stagecfg.cli.selection_options import selection_from, selection_options

if TYPE_CHECKING:
    from stagecfg.access import AccessPolicy, Principal


@click.command(cls=Command, examples=ACCESS)
@click.argument("cid", help="The call, <call type>:<call id>, e.g. livestream:launch-show.")
@click.argument(
    "paths",
    nargs=-1,
    type=click.Path(),
    help="Manifest files or directories to read the call from (else the backend).",
)
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
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (for people) or json (for scripts).",
)
@selection_options
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
    """Who may join call CID, and when: backstage, join window, go-live, stop-live, end.

    With --at and --role or --user it answers one yes/no question and exits 0 for yes, 1 for no
    (like `kubectl auth can-i`); every other report exits 0.
    """
    # The one place the CLI names the access rules (the module may move; keep this import single).
    from stagecfg import access as access_rules
    from stagecfg.errors import EXIT_ERROR, UsageError

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
    selection = selection_from(options)
    if from_backend or not paths:
        backend = open_backend(options)
        try:
            actual = backend.read(cids=[cid], users=[user_id] if user_id else [])
        finally:
            backend.close()
        policy = access_rules.policy_from_actual(actual, cid)
    else:
        from stagecfg.validation import load_desired

        desired, _warnings = load_desired(list(paths), selection=selection)
        policy = access_rules.policy_from_desired(desired, cid)
    principal = None
    if role:
        principal = access_rules.role_principal(role)
    elif user_id:
        principal = access_rules.user_principal(policy, user_id)
    # Secrets are masked in the call's facts, so the JSON report keeps its shape.
    text = access_rules.report(
        _masked_policy(policy),
        principal=None if principal is None else _masked_principal(principal),
        at=at,
        live=live,
        fmt=fmt,
    )
    echo(text, nl=False, masked_data=True)
    # A yes/no question answered no exits 1, like `kubectl auth can-i`. Decided on the unmasked
    # policy: masking renames consistently, but the answer must not depend on it.
    if principal is not None and at is not None:
        answer = access_rules.decide(policy, principal, at=at, live=live)
        if not answer.allowed:
            raise click.exceptions.Exit(EXIT_ERROR)


def _masked_policy(policy: AccessPolicy) -> AccessPolicy:
    from stagecfg.redact import mask_text

    def optional(value: str | None) -> str | None:
        return None if value is None else mask_text(value)

    def mapping(values: Mapping[str, str]) -> dict[str, str]:
        return {mask_text(k): mask_text(v) for k, v in values.items()}

    return dataclasses.replace(
        policy,
        cid=mask_text(policy.cid),
        starts_at=optional(policy.starts_at),
        ended_at=optional(policy.ended_at),
        created_by_id=optional(policy.created_by_id),
        grants={
            mask_text(role): tuple(mask_text(p) for p in perms)
            for role, perms in policy.grants.items()
        },
        user_roles=mapping(policy.user_roles),
        members=mapping(policy.members),
    )


def _masked_principal(principal: Principal) -> Principal:
    from stagecfg.redact import mask_text

    return dataclasses.replace(
        principal,
        label=mask_text(principal.label),
        roles=tuple(mask_text(r) for r in principal.roles),
    )
