"""Publish a plan's Markdown where a GitHub job shows it: the job summary, then the pull
request's sticky comment; and a drift report: the job summary, then the environment's issue.

The summary is written first (a local file), so the report reaches the job page even when the
comment or the issue fails, as a comment does on a pull request from a fork. Outside a pull
request (a push, a ``workflow_dispatch`` run) there is no comment, only the summary and a
notice. A drift report as a pull request's comment is :func:`publish` with the drift marker
(:func:`stagecfg.github.issue.drift_marker`) and ``what="drift report"``.
"""

from __future__ import annotations

from collections.abc import Callable

from stagecfg.github.client import GithubClient, GithubError, check_api_url, check_token
from stagecfg.github.comment import pull_request_of_commit, upsert_comment
from stagecfg.github.context import GithubContext
from stagecfg.github.issue import Filed, sync_drift_issue
from stagecfg.github.summary import append_step_summary


def check_ready(context: GithubContext, *, pr: int | None = None, find_pr: bool = False) -> None:
    """Raise the one-line error :func:`publish` would, for settings that are missing or wrong,
    before anything else runs (``apply`` checks this before its first write)."""
    if (pr or context.pr_number) is None and not find_pr:
        return
    check_token(context.token)
    check_api_url(context.api_url)
    context.require_repository()


def publish(
    context: GithubContext,
    *,
    marker: str,
    body: str,
    notify: Callable[[str], None],
    pr: int | None = None,
    find_pr: bool = False,
    timeout: float = 30.0,
    legacy: bool = False,
    what: str = "plan",
) -> None:
    """Append ``body`` to the job summary (when ``GITHUB_STEP_SUMMARY`` is set), then create or
    update the pull request's comment found by ``marker``.

    The pull request is ``pr``, else the event's; with ``find_pr`` (apply on merge) the one that
    produced ``GITHUB_SHA``. ``notify`` gets each notice and what was done; a failure raises
    :class:`~stagecfg.github.client.GithubError`, after the summary was written. ``what`` names
    the Markdown ("plan", "drift report") in notices and errors.
    """
    if context.step_summary:
        notice = append_step_summary(context.step_summary, body, what=f"the {what}")
        notify(notice or f"appended the {what} to the job summary ({context.step_summary})")
    number = pr or context.pr_number
    where = "it is in the job summary" if context.step_summary else "GITHUB_STEP_SUMMARY is not set"
    if number is None and not find_pr:
        notify(
            "notice: no pull request (GITHUB_EVENT_PATH is not a pull_request event), so no "
            f"{what} comment was posted; {where}"
        )
        return
    repository = context.require_repository()
    with GithubClient(
        token=check_token(context.token), api_url=context.api_url, timeout=timeout
    ) as client:
        if number is None:
            if context.sha is None:
                notify(
                    "notice: GITHUB_SHA is not set, so the pull request of the commit is not "
                    f"known and no comment was posted (give --pr NUMBER); {where}"
                )
                return
            number = pull_request_of_commit(client, repository, context.sha)
            if number is None:
                notify(
                    f"notice: commit {context.sha[:12]} was not merged from a pull request, so "
                    f"no comment was posted; {where}"
                )
                return
        posted = upsert_comment(
            client, repository, number, marker, body, fork=context.fork, legacy=legacy, what=what
        )
    link = f": {posted.url}" if posted.url else ""
    notify(f"{posted.action} the stagecfg comment on pull request #{number}{link}")


def check_drift_ready(context: GithubContext) -> None:
    """Raise the one-line error :func:`publish_drift` would for a missing or wrong setting,
    before the drift is computed (so a misconfigured job fails fast, and says why)."""
    if not context.token:
        raise GithubError(
            "GITHUB_TOKEN is not set; the drift issue needs a token (`env: GITHUB_TOKEN: "
            "${{ github.token }}` and `permissions: issues: write`)"
        )
    check_token(context.token)
    check_api_url(context.api_url)
    context.require_repository()


def publish_drift(
    context: GithubContext,
    *,
    environment: str | None,
    body: str,
    drifted: bool,
    notify: Callable[[str], None],
    timeout: float = 30.0,
) -> Filed:
    """Append the drift report ``body`` to the job summary (when ``GITHUB_STEP_SUMMARY`` is
    set), then open, update or close the environment's drift issue
    (:func:`~stagecfg.github.issue.sync_drift_issue`).

    ``notify`` gets each notice and what was done; a failure raises
    :class:`~stagecfg.github.client.GithubError`, after the summary was written.
    """
    if context.step_summary:
        notice = append_step_summary(context.step_summary, body, what="the drift report")
        notify(notice or f"appended the drift report to the job summary ({context.step_summary})")
    check_drift_ready(context)
    repository = context.require_repository()
    with GithubClient(
        token=check_token(context.token), api_url=context.api_url, timeout=timeout
    ) as client:
        filed = sync_drift_issue(
            client,
            repository,
            environment=environment,
            body=body,
            drifted=drifted,
            run_url=context.run_url,
        )
    link = f": {filed.url}" if filed.url else ""
    notify(_DONE[filed.action].format(number=filed.number) + link)
    return filed


_DONE = {
    "created": "opened the stagecfg drift issue #{number}",
    "updated": "updated the stagecfg drift issue #{number}",
    "unchanged": "the stagecfg drift issue #{number} already says this",
    "closed": "no drift any more: closed the stagecfg drift issue #{number}",
    "none": "no drift, and no open stagecfg drift issue to close",
}
