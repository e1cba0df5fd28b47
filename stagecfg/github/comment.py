"""The sticky pull-request comment: found by its hidden marker, created once, then updated.

The marker is the comment's first line (``<!-- stagecfg-plan:KEY -->``). Of the comments that
start with it, the oldest written by a bot account (``github-actions[bot]`` for the job's
``GITHUB_TOKEN``) is updated, else the oldest; so a run never adds a second comment, and a
reply quoting the comment (``> <!-- ...``) is never taken for it. Comments are listed 100 per
page, at most :data:`MAX_PAGES` pages.

Creating a comment must not happen twice: when a create fails in a way that leaves it unknown
whether GitHub made it (a timeout after sending, a 5xx), the comments are listed again and the
one found is updated; only when none is found is the create sent once more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from stagecfg.errors import one_line
from stagecfg.github.answers import (
    expect_id,
    expect_list,
    expect_object,
    list_pages,
    repo_path,
)
from stagecfg.github.client import GithubClient, GithubError

PER_PAGE = 100
#: 5,000 comments; a pull request with more is not one stagecfg can keep a sticky comment on.
MAX_PAGES = 50

#: The marker of the comment the earlier example workflow (actions/github-script) posted; the
#: ``default`` comment takes it over instead of adding a second one.
LEGACY_MARKER = "<!-- stagecfg-plan -->"


@dataclass(frozen=True)
class Found:
    id: int
    bot: bool


@dataclass(frozen=True)
class Posted:
    action: str  # "created" | "updated"
    id: int
    url: str


def find_comment(
    client: GithubClient, repository: str, number: int, marker: str, *, legacy: bool = False
) -> Found | None:
    """The comment to update (see the module), or None."""
    operation = f"list the comments of pull request #{number} in {repository}"
    markers = (marker, LEGACY_MARKER) if legacy else (marker,)
    best: Found | None = None
    for items in list_pages(
        client,
        f"{repo_path(repository)}/issues/{number}/comments",
        operation,
        what="a list of comments",
        too_many="comments; stagecfg reads at most that many to find its comment",
        per_page=PER_PAGE,
        max_pages=MAX_PAGES,
    ):
        for index, item in enumerate(items):
            comment = expect_object(item, operation, f"a list of comments (item {index})")
            cid = expect_id(comment.get("id"), operation, f"comment {index}'s id")
            body = comment.get("body")
            if body is not None and not isinstance(body, str):
                raise GithubError(f"GitHub: {operation}: comment {cid}'s body is not text")
            first = (body or "").split("\n", 1)[0].strip()
            if first not in markers:
                continue
            user = comment.get("user")
            bot = isinstance(user, dict) and user.get("type") == "Bot"
            if best is None or (bot and not best.bot):
                best = Found(cid, bot)
    return best


def upsert_comment(
    client: GithubClient,
    repository: str,
    number: int,
    marker: str,
    body: str,
    *,
    fork: str | None = None,
    legacy: bool = False,
    what: str = "plan",
) -> Posted:
    """Update the pull request's comment with ``body``, or create it; one comment either way.

    ``what`` the comment holds ("plan", "drift report") names it in errors."""
    if not body.startswith(marker + "\n"):
        # Without its marker the comment would never be found again, and each run add one.
        raise GithubError(
            f"the comment for pull request #{number} does not start with its marker "
            "(a bug in stagecfg)"
        )

    def hint(status: int) -> str:
        if status == 403 and fork:
            return (
                f"this pull request comes from the fork {fork}, and GitHub gives workflows on "
                f"fork pull requests a read-only token, so stagecfg cannot comment; the {what} is "
                "in the job summary (run the plan job only for pull requests from this "
                "repository, see README, CI)"
            )
        if status == 403:
            return (
                "the token may not comment: give the job `permissions: pull-requests: write` "
                "(and `issues: write` on some GitHub Enterprise versions)"
            )
        return ""

    found = find_comment(client, repository, number, marker, legacy=legacy)
    if found is not None:
        return _update(client, repository, number, found.id, body, hint)
    operation = f"create the {what} comment on pull request #{number} in {repository}"
    path = f"{repo_path(repository)}/issues/{number}/comments"
    try:
        answer, _ = client.request(
            "POST", path, operation, json_body={"body": body}, resend=False, hint=hint
        )
    except GithubError as exc:
        if not exc.ambiguous:
            raise
        # It may have been made: look before sending it again.
        found = find_comment(client, repository, number, marker)
        if found is not None:
            return _update(client, repository, number, found.id, body, hint)
        answer, _ = client.request(
            "POST", path, operation, json_body={"body": body}, resend=False, hint=hint
        )
    return _posted("created", answer, operation)


def _update(
    client: GithubClient,
    repository: str,
    number: int,
    comment_id: int,
    body: str,
    hint: Callable[[int], str],
) -> Posted:
    operation = f"update comment {comment_id} on pull request #{number} in {repository}"
    answer, _ = client.request(
        "PATCH",
        f"{repo_path(repository)}/issues/comments/{comment_id}",
        operation,
        json_body={"body": body},
        hint=hint,
    )
    posted = _posted("updated", answer, operation)
    if posted.id != comment_id:
        raise GithubError(f"GitHub: {operation}: the answer is about comment {posted.id}")
    return posted


def _posted(action: str, answer: Any, operation: str) -> Posted:
    comment = expect_object(answer, operation, "a comment")
    cid = expect_id(comment.get("id"), operation, "the comment's id")
    url = comment.get("html_url")
    return Posted(action, cid, one_line(url)[:300] if isinstance(url, str) else "")


def pull_request_of_commit(client: GithubClient, repository: str, sha: str) -> int | None:
    """The pull request that produced ``sha`` on merge: the one whose merge commit it is, else
    the first merged one, else the first listed; None when the commit has none."""
    operation = f"find the pull request of commit {sha[:12]} in {repository}"
    answer, _ = client.request(
        "GET",
        f"{repo_path(repository)}/commits/{quote(sha, safe='')}/pulls",
        operation,
        params={"per_page": PER_PAGE},
    )
    pulls = []
    for index, item in enumerate(expect_list(answer, operation, "a list of pull requests")):
        pull = expect_object(item, operation, f"a list of pull requests (item {index})")
        number = expect_id(pull.get("number"), operation, f"pull request {index}'s number")
        pulls.append((pull.get("merge_commit_sha") == sha, bool(pull.get("merged_at")), number))
    for wanted in (lambda p: p[0], lambda p: p[1], lambda p: True):
        for is_merge, merged, number in pulls:
            if wanted((is_merge, merged, number)):
                return number
    return None
