"""``--github-comment``: the plan (or the apply on merge) as the pull request's sticky comment.

Wiring only: read the job's context, render the Markdown (:mod:`stagecfg.render.markdown`,
:mod:`stagecfg.render.merge`) and hand it to :func:`stagecfg.github.publish.publish`, which
writes the job summary and the comment. Failures are one line on stderr; the commands decide
the exit code (1: CI must notice a plan that reached nobody). Heavy modules are imported when
used, so ``stagecfg --help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from stagecfg.cli.options import F
from stagecfg.cli.output import echo

if TYPE_CHECKING:
    from stagecfg.access import AccessReview
    from stagecfg.github.context import GithubContext
    from stagecfg.plan.changes import Change, Plan
    from stagecfg.plandiff import Comparison
    from stagecfg.safety import Refusal

#: The comment's key when the manifests define no environments; with ``--env``, the
#: environment's name, so each environment keeps its own comment.
COMMENT_KEY = "default"

PLAN_HELP = (
    "After printing: create or update the pull request's plan comment (GITHUB_TOKEN, "
    "GITHUB_REPOSITORY, GITHUB_EVENT_PATH) and append it to $GITHUB_STEP_SUMMARY."
)


def github_comment_option(help_text: str = PLAN_HELP) -> Callable[[F], F]:
    return click.option("--github-comment", is_flag=True, help=help_text)


def full_plan_hint(context: GithubContext, paths: Sequence[str]) -> str:
    """Where the whole plan is when the comment had to be cut: the run's saved plan (its
    artifact), and ``stagecfg plan --full`` locally (the log folds large plans)."""
    shown = " ".join(paths).replace("`", "'")[:200]
    local = f"run `stagecfg plan {shown} --full` locally"
    if context.run_url:
        return f"the saved plan of [this workflow run]({context.run_url}), or {local}"
    return local


def safe_body(markdown: str) -> str:
    """Long secrets and JWTs masked (the Markdown is rendered from masked data, as printed
    plans are); the marker line is left whole, so the comment is found again."""
    from stagecfg.redact import redact

    marker, _, rest = markdown.partition("\n")
    return f"{marker}\n{redact(rest)}"


def masked_comparison(comparison: Comparison) -> Comparison:
    """The comparison as shown: secrets masked inside each change and difference."""
    import dataclasses

    from stagecfg.access import AccessReview
    from stagecfg.cli.output import masked_plan
    from stagecfg.plan.changes import Plan
    from stagecfg.plandiff import Changed
    from stagecfg.redact import has_short_secrets, mask_text

    if not has_short_secrets():
        return comparison

    def mask(changes: Sequence[Change]) -> tuple[Change, ...]:
        return masked_plan(Plan(changes=tuple(changes)), AccessReview())[0].changes

    saved_only = mask([c for _, c in comparison.saved_only])
    saved_pairs = mask([item.saved for item in comparison.changed])
    now_pairs = mask([item.now for item in comparison.changed])
    return dataclasses.replace(
        comparison,
        saved_only=tuple(zip([i for i, _ in comparison.saved_only], saved_only, strict=True)),
        fresh_only=mask(comparison.fresh_only),
        changed=tuple(
            Changed(item.index, saved, now, tuple(mask_text(d) for d in item.differences))
            for item, saved, now in zip(comparison.changed, saved_pairs, now_pairs, strict=True)
        ),
        other=tuple(mask_text(o) for o in comparison.other),
    )


def post_plan_comment(
    plan: Plan,
    *,
    backend: str,
    access: AccessReview,
    refusals: Sequence[Refusal],
    paths: Sequence[str],
    timeout: float,
    key: str = COMMENT_KEY,
) -> bool:
    """Publish the (masked) plan as the comment ``key``; False, after printing the error, when
    that failed."""
    from stagecfg.errors import StagecfgError
    from stagecfg.github.context import read_context
    from stagecfg.github.publish import publish
    from stagecfg.render.common import comment_marker
    from stagecfg.render.markdown import render_markdown

    try:
        context = read_context(os.environ)
        body = render_markdown(
            plan,
            backend=backend,
            access=access,
            refusals=refusals,
            key=key,
            full_plan=full_plan_hint(context, paths),
        )
        publish(
            context,
            marker=comment_marker(key),
            body=safe_body(body),
            notify=lambda line: echo(line, err=True),
            timeout=timeout,
            legacy=key == COMMENT_KEY,
        )
    except StagecfgError as exc:
        echo(f"Error: {exc}", err=True)
        return False
    return True


class MergeComment:
    """The pull request's comment as ``apply --reviewed --github-comment`` updates it."""

    def __init__(
        self, *, pr: int | None, paths: Sequence[str], timeout: float, key: str = COMMENT_KEY
    ) -> None:
        from stagecfg.github.context import read_context
        from stagecfg.github.publish import check_ready
        from stagecfg.render.merge import MergeContext

        self.context = read_context(os.environ)
        self.pr = pr
        self.timeout = timeout
        # Settings are checked now, before apply writes anything.
        check_ready(self.context, pr=pr, find_pr=pr is None)
        self.merge = MergeContext(
            sha=self.context.sha,
            ref=self.context.ref_name,
            paths=tuple(paths),
            key=key,
            full_plan=full_plan_hint(self.context, paths),
        )

    def _publish(self, body: str) -> None:
        from stagecfg.github.publish import publish
        from stagecfg.render.common import comment_marker

        publish(
            self.context,
            marker=comment_marker(self.merge.key),
            body=safe_body(body),
            notify=lambda line: echo(line, err=True),
            pr=self.pr,
            find_pr=self.pr is None,
            timeout=self.timeout,
            legacy=self.merge.key == COMMENT_KEY,
        )

    def applied(self, plan: Plan, *, applied: int, access: AccessReview) -> None:
        from stagecfg.render.merge import render_applied_markdown

        self._publish(
            render_applied_markdown(plan, applied=applied, merge=self.merge, access=access)
        )

    def mismatch(
        self,
        comparison: Comparison,
        current: Plan,
        *,
        backend: str,
        access: AccessReview,
        refusals: Sequence[Refusal],
    ) -> None:
        from stagecfg.render.merge import render_mismatch_markdown

        self._publish(
            render_mismatch_markdown(
                comparison,
                current,
                backend=backend,
                merge=self.merge,
                access=access,
                refusals=refusals,
            )
        )

    def failed(self, error: Exception, plan: Plan | None = None) -> None:
        """Say on the pull request that apply stopped; a failure to say so is only printed,
        the apply's own error is the one that counts."""
        from stagecfg.errors import StagecfgError
        from stagecfg.render.merge import render_failed_markdown

        try:
            self._publish(render_failed_markdown(str(error), merge=self.merge, plan=plan))
        except StagecfgError as exc:
            echo(f"Error: {exc}", err=True)
