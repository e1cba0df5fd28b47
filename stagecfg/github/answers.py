"""What GitHub's answers must look like: objects, lists (paged, bounded) and ids, each checked,
with a one-line :class:`~stagecfg.github.client.GithubError` saying what came instead; and the
REST path of a repository. The sticky comment and the drift issue share them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from stagecfg.github.client import GithubClient, GithubError


def repo_path(repository: str) -> str:
    """The REST path of ``repository`` (owner/name), each part escaped."""
    owner, name = repository.split("/", 1)
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def expect_object(value: Any, operation: str, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else a one-line error saying what came instead."""
    if not isinstance(value, dict):
        raise GithubError(f"GitHub: {operation}: the answer is {_kind(value)}, not {what}")
    return value


def list_pages(
    client: GithubClient,
    path: str,
    operation: str,
    *,
    what: str,
    too_many: str,
    per_page: int,
    max_pages: int,
    params: Mapping[str, Any] | None = None,
    hint: Callable[[int], str] | None = None,
) -> Iterator[list[Any]]:
    """Each page of a GitHub list, ``per_page`` items at a time, while GitHub says there is a
    next one; more than ``max_pages`` is a GithubError ending "more than N ``too_many``"."""
    for page in range(1, max_pages + 1):
        answer, headers = client.request(
            "GET",
            path,
            f"{operation} (page {page})",
            params={**(params or {}), "per_page": per_page, "page": page},
            hint=hint,
        )
        items = expect_list(answer, operation, what)
        yield items
        if len(items) < per_page or 'rel="next"' not in headers.get("link", ""):
            return
    raise GithubError(f"GitHub: {operation}: more than {max_pages * per_page:,} {too_many}")


def expect_list(value: Any, operation: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise GithubError(f"GitHub: {operation}: the answer is {_kind(value)}, not {what}")
    return value


def expect_id(value: Any, operation: str, field: str) -> int:
    """A positive integer id (not a boolean, not a float)."""
    if type(value) is not int or not 0 < value < 2**63:
        raise GithubError(
            f"GitHub: {operation}: {field} is {_kind(value)}, not a positive integer id"
        )
    return value


def _kind(value: Any) -> str:
    names = {list: "a JSON array", dict: "a JSON object", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a JSON {type(value).__name__}")
