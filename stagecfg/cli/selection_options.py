"""``--env``, ``--var`` and ``--var-file``: which environment, and which variable values, every
command that loads manifests works with (validate, plan, apply, access).

Only click is imported at module level (``stagecfg --help`` stays fast); the manifest package's
:class:`~stagecfg.manifest.Selection` is made when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from stagecfg.cli.options import F

if TYPE_CHECKING:
    from stagecfg.manifest import Selection


def _check_var(ctx: click.Context, param: click.Parameter, given: tuple[str, ...]) -> Any:
    from stagecfg.manifest import parse_var

    parsed = []
    for item in given:
        try:
            parsed.append(parse_var(item))
        except ValueError as exc:
            raise click.BadParameter(f"{exc}; write --var NAME=VALUE") from None
    return tuple(parsed)


def selection_options(func: F) -> F:
    """The three selection flags, worded the same for every command."""
    options = [
        click.option(
            "--env",
            "environment",
            envvar="STAGECFG_ENV",
            metavar="NAME",
            help="Environment to work on: the files with `environment: NAME`, with every file "
            "that has none.",
        ),
        click.option(
            "--var",
            "variables",
            multiple=True,
            metavar="NAME=VALUE",
            callback=_check_var,
            help="Set a declared variable (repeatable; the last wins). Secret variables: "
            "STAGECFG_VAR_NAME only.",
        ),
        click.option(
            "--var-file",
            "var_files",
            multiple=True,
            type=click.Path(),
            metavar="FILE",
            help="YAML or JSON file of variable values (repeatable, in order).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def selection_from(options: dict[str, Any]) -> Selection:
    """The selection the flags give (they are taken out of ``options``)."""
    from stagecfg.manifest import Selection

    return Selection(
        environment=options.pop("environment") or None,
        variables=tuple(options.pop("variables")),
        var_files=tuple(options.pop("var_files")),
    )
