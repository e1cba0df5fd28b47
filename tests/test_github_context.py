"""The job's context: GITHUB_* variables and the event file, read with bounds and checked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stagecfg.github import context as context_module
from stagecfg.github.client import DEFAULT_API_URL, GithubError
from stagecfg.github.context import GithubContext, read_context

TOKEN = "ghs_contextToken0123456789abcdef"


def event(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_pull_request_event(tmp_path: Path) -> None:
    path = event(
        tmp_path,
        {
            "number": 99,
            "pull_request": {
                "number": 12,
                "head": {"repo": {"full_name": "octo/shows"}},
                "base": {"repo": {"full_name": "octo/shows"}},
            },
        },
    )
    context = read_context(
        {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": "octo/shows",
            "GITHUB_EVENT_PATH": path,
            "GITHUB_SHA": "0123abcd" * 5,
            "GITHUB_REF_NAME": "main",
            "GITHUB_STEP_SUMMARY": "/tmp/summary.md",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
        }
    )
    assert context.pr_number == 12 and context.fork is None
    assert context.api_url == DEFAULT_API_URL
    assert context.run_url == "https://github.com/octo/shows/actions/runs/4242"
    assert context.ref_name == "main" and context.step_summary == "/tmp/summary.md"
    assert TOKEN not in repr(context)


def test_the_number_of_an_event_without_pull_request(tmp_path: Path) -> None:
    context = read_context({"GITHUB_EVENT_PATH": event(tmp_path, {"number": 5})})
    assert context.pr_number == 5


@pytest.mark.parametrize("data", [{"ref": "refs/heads/main"}, {"inputs": {}}])
def test_a_push_or_dispatch_event_has_no_pull_request(tmp_path: Path, data: Any) -> None:
    assert read_context({"GITHUB_EVENT_PATH": event(tmp_path, data)}).pr_number is None


def test_outside_actions_everything_is_unset() -> None:
    assert read_context({}) == GithubContext()


def test_a_pull_request_from_a_fork(tmp_path: Path) -> None:
    data = {"pull_request": {"number": 3, "head": {"repo": {"full_name": "someone/shows"}}}}
    path = event(tmp_path, data)
    context = read_context({"GITHUB_EVENT_PATH": path, "GITHUB_REPOSITORY": "octo/shows"})
    assert context.fork == "someone/shows"
    data["pull_request"]["head"]["repo"] = None
    path = event(tmp_path, data)
    assert read_context({"GITHUB_EVENT_PATH": path}).fork == "a deleted fork"


@pytest.mark.parametrize("number", ["12", True, -1, 0, 2**40, 1.5, [12]])
def test_a_pull_request_number_of_the_wrong_type_is_refused(tmp_path: Path, number: Any) -> None:
    path = event(tmp_path, {"pull_request": {"number": number}})
    with pytest.raises(GithubError, match=r"the pull request number is .*not a positive integer"):
        read_context({"GITHUB_EVENT_PATH": path})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "the event file is not JSON"),
        (b'{"number": NaN}', "the event file is not JSON"),
        (b"\xff\xfe", "the event file is not JSON"),
        (b"[1]", "the event is not a JSON object"),
    ],
)
def test_a_broken_event_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(content)
    with pytest.raises(GithubError, match=message):
        read_context({"GITHUB_EVENT_PATH": str(path)})


def test_a_missing_event_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(GithubError, match="cannot read the event file"):
        read_context({"GITHUB_EVENT_PATH": str(tmp_path / "gone.json")})


def test_a_fifo_as_the_event_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "event.fifo"
    os.mkfifo(fifo)
    with pytest.raises(GithubError, match="not a regular file"):
        read_context({"GITHUB_EVENT_PATH": str(fifo)})


def test_an_event_file_over_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context_module, "MAX_EVENT_BYTES", 100)
    path = event(tmp_path, {"number": 1, "pad": "x" * 200})
    with pytest.raises(GithubError, match="over 0 MiB, not an event"):
        read_context({"GITHUB_EVENT_PATH": path})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GITHUB_REPOSITORY", "octo", "is not owner/repo"),
        ("GITHUB_REPOSITORY", "octo/shows/../x", "is not owner/repo"),
        ("GITHUB_REPOSITORY", "octo/sh ows", "is not owner/repo"),
        ("GITHUB_SHA", "main", "is not a commit id"),
    ],
)
def test_malformed_variables_are_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(GithubError, match=message):
        read_context({name: value})


@pytest.mark.parametrize(
    "server",
    ["javascript:alert(1)", "https://x.example/a b", "https://x](y", "https://" + "x" * 300],
)
def test_a_server_url_unsafe_in_a_link_gives_no_run_link(server: str) -> None:
    context = read_context(
        {"GITHUB_SERVER_URL": server, "GITHUB_RUN_ID": "1", "GITHUB_REPOSITORY": "o/r"}
    )
    assert context.run_url is None
