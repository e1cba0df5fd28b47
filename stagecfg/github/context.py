"""Where a GitHub Actions job runs: the ``GITHUB_*`` variables and the event file, checked.

Read once per command from the environment (:func:`read_context`). The event file is read
without blocking (a FIFO is refused), at most :data:`MAX_EVENT_BYTES`, as strict JSON; the
pull request number is taken from ``.pull_request.number`` or ``.number`` and must be a
positive integer. Nothing here talks to the network.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stagecfg import strictjson
from stagecfg.errors import one_line
from stagecfg.github.client import DEFAULT_API_URL, GithubError

#: GitHub's event payloads are far smaller (a push lists at most 2,048 commits).
MAX_EVENT_BYTES = 32 * 1024 * 1024

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_RUN_ID = re.compile(r"[0-9]{1,20}")
#: A server URL that is safe inside a Markdown link: http(s), no spaces or brackets, short.
_SERVER = re.compile(r"https?://[^\s()<>\[\]]{1,200}")


@dataclass(frozen=True)
class GithubContext:
    """The job's view of GitHub; every field None when not set (a run outside Actions)."""

    api_url: str = DEFAULT_API_URL
    token: str | None = field(default=None, repr=False)
    repository: str | None = None
    pr_number: int | None = None
    #: the head repository of a pull request from a fork (its token is read-only), else None
    fork: str | None = None
    sha: str | None = None
    ref_name: str | None = None
    step_summary: str | None = None
    run_url: str | None = None

    def require_repository(self) -> str:
        if self.repository is None:
            raise GithubError(
                "GITHUB_REPOSITORY is not set (owner/repo); GitHub Actions sets it, elsewhere "
                "set it by hand"
            )
        return self.repository


def read_context(environ: Mapping[str, str]) -> GithubContext:
    """The context from ``environ`` (``os.environ``); a malformed value is a one-line error."""
    repository = environ.get("GITHUB_REPOSITORY") or None
    if repository is not None and not _REPOSITORY.fullmatch(repository):
        raise GithubError(f"GITHUB_REPOSITORY {one_line(repository)[:120]!r} is not owner/repo")
    sha = environ.get("GITHUB_SHA") or None
    if sha is not None and not _SHA.fullmatch(sha):
        raise GithubError(f"GITHUB_SHA {one_line(sha)[:80]!r} is not a commit id")
    event_path = environ.get("GITHUB_EVENT_PATH") or None
    event = read_event(event_path) if event_path else {}
    number = pr_number_of(event, event_path or "")
    return GithubContext(
        api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
        token=environ.get("GITHUB_TOKEN") or None,
        repository=repository,
        pr_number=number,
        fork=_fork_of(event, repository) if number is not None else None,
        sha=sha,
        ref_name=_short(environ.get("GITHUB_REF_NAME")),
        step_summary=environ.get("GITHUB_STEP_SUMMARY") or None,
        run_url=_run_url(environ, repository),
    )


def read_event(path: str) -> dict[str, Any]:
    """The event JSON at ``path``: a regular file, bounded, strict JSON, an object."""
    what = f"GITHUB_EVENT_PATH {path}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise GithubError(f"{what}: cannot read the event file ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GithubError(f"{what}: not a regular file; GitHub writes the event to one")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_EVENT_BYTES:
            chunk = os.read(fd, min(1024 * 1024, MAX_EVENT_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise GithubError(f"{what}: cannot read the event file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > MAX_EVENT_BYTES:
        raise GithubError(f"{what}: over {MAX_EVENT_BYTES // (1024 * 1024)} MiB, not an event")
    try:
        event = strictjson.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise GithubError(f"{what}: the event file is not JSON") from None
    if not isinstance(event, dict):
        raise GithubError(f"{what}: the event is not a JSON object")
    return event


def pr_number_of(event: Mapping[str, Any], path: str = "") -> int | None:
    """The pull request number of a ``pull_request`` event (``.pull_request.number``, or
    ``.number``); None for other events (push, workflow_dispatch)."""
    pull = event.get("pull_request")
    number = pull.get("number") if isinstance(pull, dict) else None
    if number is None:
        number = event.get("number")
    if number is None:
        return None
    if type(number) is not int or not 0 < number < 2**31:
        raise GithubError(
            f"GITHUB_EVENT_PATH {path}: the pull request number is {one_line(repr(number))[:40]}, "
            "not a positive integer"
        )
    return number


def _fork_of(event: Mapping[str, Any], repository: str | None) -> str | None:
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        return None
    head = pull.get("head")
    repo = head.get("repo") if isinstance(head, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    if isinstance(head, dict) and repo is None:
        return "a deleted fork"
    if isinstance(name, str) and repository is not None and name != repository:
        return one_line(name)[:200]
    return None


def _short(value: str | None, limit: int = 200) -> str | None:
    return one_line(value)[:limit] if value else None


def _run_url(environ: Mapping[str, str], repository: str | None) -> str | None:
    """This run's page (``https://github.com/o/r/actions/runs/N``), where its log is."""
    server = environ.get("GITHUB_SERVER_URL") or ""
    run_id = environ.get("GITHUB_RUN_ID") or ""
    if not (
        repository and _RUN_ID.fullmatch(run_id) and re.fullmatch(r"https?://[^\s()<>]+", server)
    ):
        return None
    if len(server) > 200:
        return None
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
