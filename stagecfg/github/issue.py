"""The drift issue: one open GitHub issue per environment, holding the latest drift report.

The issue is found by its marker, the body's first line (``<!-- stagecfg-drift:ENV -->``, ENV
the environment or ``default``), among the repository's open issues (100 per page, at most
:data:`MAX_PAGES` pages; pull requests, which the issues API lists too, are skipped). Of the
issues that start with it, the oldest opened by a bot account (``github-actions[bot]`` for the
job's ``GITHUB_TOKEN``) is the one, else the oldest; an issue quoting the marker further down
is never taken for it.

* drifted: the issue is opened, or its body replaced when the report changed (nothing is
  written when it is the same, so a scheduled job that finds the same drift every hour does
  not notify the issue's watchers every hour);
* not drifted: an open issue says the app matches again, and when, and is closed as
  completed; without one nothing is done.

A closed issue is never reopened: drift found after a close opens a new issue, so each episode
of drift has its own history. Opening an issue must not happen twice: when a create fails in a
way that leaves it unknown whether GitHub made it, the issues are listed again before it is
sent once more (as :mod:`stagecfg.github.comment` does for comments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from stagecfg.errors import one_line
from stagecfg.github.answers import (
    expect_id,
    expect_object,
    list_pages,
    repo_path,
)
from stagecfg.github.client import GithubClient, GithubError

PER_PAGE = 100
#: 5,000 open issues; a repository with more gets an error saying so, not a second issue.
MAX_PAGES = 50
#: GitHub refuses an issue body longer than this (422).
MAX_BODY_CHARS = 65536

DEFAULT_ENVIRONMENT = "default"


def drift_marker(environment: str | None) -> str:
    """The drift report's first line, for ``environment`` (None: manifests without any)."""
    return f"<!-- stagecfg-drift:{environment or DEFAULT_ENVIRONMENT} -->"


def drift_title(environment: str | None) -> str:
    which = f" ({one_line(environment)[:100]})" if environment else ""
    return f"stagecfg: the app drifted from the manifests{which}"


@dataclass(frozen=True)
class OpenIssue:
    number: int
    body: str
    bot: bool
    url: str


@dataclass(frozen=True)
class Filed:
    """What :func:`sync_drift_issue` did: ``action`` is created, updated, unchanged, closed or
    none (no drift and no open issue); ``number`` and ``url`` are the issue's (None and "" for
    none)."""

    action: str
    number: int | None
    url: str


def _hint(status: int) -> str:
    if status == 403:
        return "the token may not write issues: give the job `permissions: issues: write`"
    if status == 410:
        return (
            "issues are turned off for this repository (Settings > General > Features > "
            "Issues); turn them on, or post the report as a pull-request comment instead"
        )
    if status == 404:
        return "check GITHUB_REPOSITORY, and that the token can see the repository"
    return ""


def find_issue(client: GithubClient, repository: str, marker: str) -> OpenIssue | None:
    """The open issue whose body starts with ``marker`` (see the module), or None."""
    operation = f"list the open issues of {repository}"
    best: OpenIssue | None = None
    for items in list_pages(
        client,
        f"{repo_path(repository)}/issues",
        operation,
        what="a list of issues",
        too_many="open issues; stagecfg reads at most that many to find its drift issue (close "
        "some, or report drift as a pull-request comment)",
        per_page=PER_PAGE,
        max_pages=MAX_PAGES,
        params={"state": "open", "sort": "created", "direction": "asc"},
        hint=_hint,
    ):
        for index, item in enumerate(items):
            found = _candidate(item, index, marker, operation)
            if found is None:
                continue
            if best is None or (found.bot, -found.number) > (best.bot, -best.number):
                best = found
    return best


def _candidate(item: Any, index: int, marker: str, operation: str) -> OpenIssue | None:
    issue = expect_object(item, operation, f"a list of issues (item {index})")
    number = expect_id(issue.get("number"), operation, f"issue {index}'s number")
    if "pull_request" in issue or issue.get("state", "open") != "open":
        return None
    body = issue.get("body")
    if body is not None and not isinstance(body, str):
        raise GithubError(f"GitHub: {operation}: issue #{number}'s body is not text")
    if (body or "").split("\n", 1)[0].strip() != marker:
        return None
    user = issue.get("user")
    bot = isinstance(user, dict) and user.get("type") == "Bot"
    return OpenIssue(number, body or "", bot, _url(issue))


def sync_drift_issue(
    client: GithubClient,
    repository: str,
    *,
    environment: str | None,
    body: str,
    drifted: bool,
    run_url: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Filed:
    """Open, update or close the environment's drift issue (see the module); ``body`` is the
    Markdown drift report, starting with :func:`drift_marker`'s line."""
    marker = drift_marker(environment)
    if drifted:
        _check_body(body, marker, environment)
    found = find_issue(client, repository, marker)
    if not drifted:
        if found is None:
            return Filed("none", None, "")
        closing = _closed_body(marker, environment, now(), run_url)
        return _patch(
            client,
            repository,
            found.number,
            {"body": closing, "state": "closed", "state_reason": "completed"},
            "closed",
            "close",
        )
    if found is not None:
        return _update(client, repository, found, body)
    operation = f"open the drift issue ({marker}) in {repository}"
    path = f"{repo_path(repository)}/issues"
    payload = {"title": drift_title(environment), "body": body}
    try:
        answer, _ = client.request(
            "POST", path, operation, json_body=payload, resend=False, hint=_hint
        )
    except GithubError as exc:
        if not exc.ambiguous:
            raise
        # It may have been made: look before sending it again.
        found = find_issue(client, repository, marker)
        if found is not None:
            filed = _update(client, repository, found, body)
            return Filed("created", filed.number, filed.url)
        answer, _ = client.request(
            "POST", path, operation, json_body=payload, resend=False, hint=_hint
        )
    issue = expect_object(answer, operation, "an issue")
    return Filed("created", expect_id(issue.get("number"), operation, "its number"), _url(issue))


def _update(client: GithubClient, repository: str, found: OpenIssue, body: str) -> Filed:
    # GitHub may hand back CRLF line ends for a body edited in the browser.
    if found.body.replace("\r\n", "\n") == body.replace("\r\n", "\n"):
        return Filed("unchanged", found.number, found.url)
    return _patch(client, repository, found.number, {"body": body}, "updated", "update")


def _patch(
    client: GithubClient,
    repository: str,
    number: int,
    payload: dict[str, str],
    action: str,
    verb: str,
) -> Filed:
    operation = f"{verb} drift issue #{number} in {repository}"
    answer, _ = client.request(
        "PATCH",
        f"{repo_path(repository)}/issues/{number}",
        operation,
        json_body=payload,
        hint=_hint,
    )
    issue = expect_object(answer, operation, "an issue")
    got = expect_id(issue.get("number"), operation, "its number")
    if got != number:
        raise GithubError(f"GitHub: {operation}: the answer is about issue #{got}")
    if action == "closed" and issue.get("state") != "closed":
        raise GithubError(
            f"GitHub: {operation}: the issue is still {one_line(str(issue.get('state')))[:20]}"
        )
    return Filed(action, number, _url(issue))


def _check_body(body: str, marker: str, environment: str | None) -> None:
    if not body.startswith(marker + "\n"):
        # Without its marker the issue would never be found again, and each run open one.
        raise GithubError(
            f"the drift report for environment {environment or DEFAULT_ENVIRONMENT} does not "
            f"start with its marker {marker} (a bug in stagecfg)"
        )
    if len(body) > MAX_BODY_CHARS:
        raise GithubError(
            f"the drift report is {len(body):,} characters, over GitHub's {MAX_BODY_CHARS:,} "
            "for an issue (a bug in stagecfg: the report is cut before this)"
        )


def _closed_body(marker: str, environment: str | None, when: datetime, run_url: str | None) -> str:
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    which = f" ({one_line(environment)[:100]})" if environment else ""
    where = f" ([this workflow run]({run_url}))" if run_url else ""
    return (
        f"{marker}\n"
        f"### stagecfg: no drift any more{which}\n\n"
        f"The app matched the manifests again at {stamp}{where}, so stagecfg closed this "
        "issue. The last drift report is in this description's edit history (the *edited* "
        "menu above).\n"
    )


def _url(issue: dict[str, Any]) -> str:
    url = issue.get("html_url")
    return one_line(url)[:300] if isinstance(url, str) else ""
