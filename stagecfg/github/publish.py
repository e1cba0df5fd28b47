"""Publish a plan's Markdown where a GitHub job shows it: the job summary, then the pull
request's sticky comment.

The summary is written first (a local file), so the plan reaches the job page even when the
comment fails, as it does on a pull request from a fork. Outside a pull request (a push, a
``workflow_dispatch`` run) there is no comment, only the summary and a notice.
"""

from __future__ import annotations

from collections.abc import Callable

from stagecfg.github.client import GithubClient, check_api_url, check_token
from stagecfg.github.comment import pull_request_of_commit, upsert_comment
from stagecfg.github.context import GithubContext
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
) -> None:
    """Append ``body`` to the job summary (when ``GITHUB_STEP_SUMMARY`` is set), then create or
    update the pull request's comment found by ``marker``.

    The pull request is ``pr``, else the event's; with ``find_pr`` (apply on merge) the one that
    produced ``GITHUB_SHA``. ``notify`` gets each notice and what was done; a failure raises
    :class:`~stagecfg.github.client.GithubError`, after the summary was written.
    """
    if context.step_summary:
        notice = append_step_summary(context.step_summary, body)
        notify(notice or f"appended the plan to the job summary ({context.step_summary})")
    number = pr or context.pr_number
    where = "it is in the job summary" if context.step_summary else "GITHUB_STEP_SUMMARY is not set"
    if number is None and not find_pr:
        notify(
            "notice: no pull request (GITHUB_EVENT_PATH is not a pull_request event), so no "
            f"plan comment was posted; {where}"
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
            client, repository, number, marker, body, fork=context.fork, legacy=legacy
        )
    link = f": {posted.url}" if posted.url else ""
    notify(f"{posted.action} the stagecfg comment on pull request #{number}{link}")
