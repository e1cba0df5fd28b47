"""The part of ``apply`` that runs a verified plan: confirmation, progress and the report.

``apply PATHS``, ``apply --plan`` and ``apply --reviewed`` differ in how they arrive at a plan
they trust; from there they must behave the same, so they share this.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from stagecfg.cli.output import echo

if TYPE_CHECKING:
    from stagecfg.backends.base import Backend
    from stagecfg.pipeline import Planned


def confirm(auto_approve: bool) -> None:
    """Ask before writing, unless ``--auto-approve``; without a terminal, refuse to guess."""
    from stagecfg.errors import StagecfgError, UsageError

    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "not applying without confirmation: stdin is not a terminal; review the plan above "
            "and pass --auto-approve"
        )
    if not click.confirm("Apply these changes?", default=False):
        raise StagecfgError("apply cancelled; nothing was changed")


def run_planned(backend: Backend, planned: Planned, *, parallelism: int, full: bool) -> int:
    """Apply ``planned`` with progress on stderr; print the report; return the changes applied.

    A failed or interrupted apply prints its short report on stdout and re-raises for the error
    boundary, which prints the error itself.
    """
    from stagecfg import pipeline
    from stagecfg.cli.progress import ApplyProgress
    from stagecfg.errors import ApplyFailed

    # On stderr, one line redrawn in place on a terminal, a line per tenth in a CI log.
    progress = ApplyProgress.on_stderr()
    try:
        report = pipeline.apply_planned(
            backend, planned, parallelism=parallelism, progress=progress, full=full
        )
    except ApplyFailed as exc:
        progress.close()
        echo(exc.report_text, nl=False)
        raise
    finally:
        progress.close()
    done = len(report.succeeded)
    click.echo(f"Apply complete: {done} change{'s' if done != 1 else ''} applied.")
    return done
