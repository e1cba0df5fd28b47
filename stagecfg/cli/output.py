"""How commands print: every line with secrets masked, warnings to stderr, colour on a terminal.

Only the standard library and click are imported at module level: ``stagecfg --help`` imports
this module, and its startup time is measured (bench/run.py, "Startup").
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.errors import Problem
    from stagecfg.plan.changes import Plan
    from stagecfg.safety import Refusal


def echo(text: str, *, err: bool = False, nl: bool = True, masked_data: bool = False) -> None:
    """click.echo with every secret masked: manifest data may carry the value of a secret-named
    variable, and plans, reports and errors print manifest data.

    Free text (errors, notices) goes through :func:`~stagecfg.redact.mask_text`. Output rendered
    from data already passed through :func:`~stagecfg.redact.mask_data` says ``masked_data``
    and goes through :func:`~stagecfg.redact.redact` only, which cannot change its meaning (a
    short secret ``true`` must not turn a JSON ``true`` into ``***``).
    """
    from stagecfg.redact import mask_text, redact

    click.echo(redact(text) if masked_data else mask_text(text), err=err, nl=nl)


def masked_problem(problem: Problem) -> Problem:
    """``problem`` with secrets masked in its path, message and suggestion."""
    from stagecfg.redact import mask_text

    suggestion = problem.suggestion
    return dataclasses.replace(
        problem,
        path=mask_text(problem.path),
        message=mask_text(problem.message),
        suggestion=None if suggestion is None else mask_text(suggestion),
    )


def masked_plan(plan: Plan, review: AccessReview) -> tuple[Plan, AccessReview]:
    """The plan and its access review as printed: secrets masked inside every value, so that
    the rendered text (JSON too) keeps its shape and needs only :func:`redact`."""
    from stagecfg.redact import has_short_secrets, mask_data, mask_text

    if not has_short_secrets():
        return plan, review  # long secrets and JWTs: redact masks them safely in the text
    changes = tuple(
        dataclasses.replace(
            change,
            name=mask_text(change.name),
            body=mask_data(change.body),
            fields=tuple(
                dataclasses.replace(
                    f, path=mask_text(f.path), before=mask_data(f.before), after=mask_data(f.after)
                )
                for f in change.fields
            ),
            reason=mask_text(change.reason),
        )
        for change in plan.changes
    )
    notes = tuple(
        dataclasses.replace(note, name=mask_text(note.name), message=mask_text(note.message))
        for note in plan.notes
    )
    review = dataclasses.replace(
        review,
        notes=tuple(
            dataclasses.replace(note, name=mask_text(note.name), message=mask_text(note.message))
            for note in review.notes
        ),
        refusals=tuple(mask_text(refusal) for refusal in review.refusals),
    )
    return dataclasses.replace(plan, changes=changes, notes=notes), review


def masked_refusals(refusals: Sequence[Refusal]) -> tuple[Refusal, ...]:
    """Refusals as printed: they name objects, and a name may hold a secret's value."""
    from stagecfg.redact import mask_text

    return tuple(dataclasses.replace(r, message=mask_text(r.message)) for r in refusals)


def echo_warnings(warnings: list[Any]) -> None:
    """Print each loader warning (a :class:`~stagecfg.errors.Problem`) on stderr, so stdout
    carries only the plan or report a script may parse."""
    for problem in warnings:
        echo(problem.render(), err=True)


def color() -> bool:
    """Whether stdout gets ANSI colours (a terminal, unless NO_COLOR and friends say otherwise)."""
    from stagecfg.render import use_color

    return use_color(sys.stdout.isatty(), os.environ)
