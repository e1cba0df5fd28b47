"""How commands print: every line through redaction, warnings to stderr, colour only on a terminal.

Only the standard library and click are imported at module level: ``stagecfg --help`` imports
this module, and its startup time is measured (bench/run.py, "Startup").
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """click.echo through :func:`~stagecfg.redact.redact`: manifest data may carry the value of a
    secret-named variable, and plans, reports and errors print manifest data."""
    from stagecfg.redact import redact

    click.echo(redact(text), err=err, nl=nl)


def echo_warnings(warnings: list[Any]) -> None:
    """Print each loader warning (a :class:`~stagecfg.errors.Problem`) on stderr, so stdout
    carries only the plan or report a script may parse."""
    for problem in warnings:
        echo(problem.render(), err=True)


def color() -> bool:
    """Whether stdout gets ANSI colours (a terminal, unless NO_COLOR and friends say otherwise)."""
    from stagecfg.render import use_color

    return use_color(sys.stdout.isatty(), os.environ)
