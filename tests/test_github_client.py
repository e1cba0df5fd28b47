"""The GitHub client against a fake GitHub on 127.0.0.1: statuses, shapes, bounds, retries.

Every failure is one line naming the operation; the token never appears in one. Sleeps are
recorded, not slept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from github_fake import TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.github.answers import expect_list
from stagecfg.github.client import (
    GithubClient,
    GithubError,
    GithubRetry,
    check_api_url,
    check_token,
)
from stagecfg.redact import mask_text

PATH = "/repos/octo/shows/issues/7/comments"
OP = "list the comments of pull request #7 in octo/shows"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake_github: FakeGithub, sleeps: list[float]) -> Iterator[GithubClient]:  # noqa: F811
    with GithubClient(
        token=TOKEN, api_url=fake_github.url, timeout=2.0, sleep=sleeps.append
    ) as made:
        yield made


def fail_once(github: FakeGithub, client: GithubClient) -> GithubError:
    with pytest.raises(GithubError) as info:
        client.request("GET", PATH, OP)
    error = info.value
    assert "\n" not in str(error) and TOKEN not in str(error)
    assert str(error).startswith(f"GitHub: {OP}: ")
    return error


def test_a_good_answer_is_the_decoded_json(fake_github: FakeGithub, client: GithubClient) -> None:  # noqa: F811
    fake_github.add_comment(7, "hello")
    answer, _ = client.request("GET", PATH, OP, params={"per_page": 100})
    assert [c["body"] for c in answer] == ["hello"]
    (seen,) = fake_github.requests
    assert seen.authorized and seen.query == {"per_page": ["100"]}


@pytest.mark.parametrize(
    ("status", "message", "advice"),
    [
        (401, "Bad credentials", "GITHUB_TOKEN is missing, expired or not valid for"),
        (403, "Must have admin rights", "permissions: pull-requests: write"),
        (404, "Not Found", "check GITHUB_REPOSITORY and the pull request number"),
        (422, "Validation Failed", "GitHub refused the request as invalid"),
    ],
)
def test_a_refusal_is_one_line_with_advice_and_is_not_retried(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
    status: int,
    message: str,
    advice: str,
) -> None:
    fake_github.fail(status, body={"message": message})
    error = fail_once(fake_github, client)
    assert f"HTTP {status} ({message})" in str(error) and advice in str(error)
    assert error.status == status and not error.ambiguous
    assert len(fake_github.requests) == 1 and sleeps == []


def test_a_5xx_is_retried_with_backoff_then_succeeds(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
) -> None:
    fake_github.fail(502, times=2, body={"message": "Server Error"})
    answer, _ = client.request("GET", PATH, OP)
    assert answer == [] and len(fake_github.requests) == 3 and len(sleeps) == 2


def test_a_5xx_that_persists_fails_after_the_attempts(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
) -> None:
    fake_github.fail(503, times=10, body=b"<html>down</html>")
    error = fail_once(fake_github, client)
    assert str(error) == (
        f"GitHub: {OP}: HTTP 503 (after 4 attempts); see https://www.githubstatus.com and run "
        "the job again"
    )
    assert len(fake_github.requests) == 4


def test_a_create_that_failed_ambiguously_is_not_sent_again(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(502, method="POST")
    with pytest.raises(GithubError) as info:
        client.request("POST", PATH, "create", json_body={"body": "x"}, resend=False)
    assert info.value.ambiguous and "may or may not have been done" in str(info.value)
    assert len(fake_github.writes()) == 1


def test_a_server_that_does_not_answer_is_bounded_by_the_timeout(
    fake_github: FakeGithub,  # noqa: F811
    sleeps: list[float],
) -> None:
    fake_github.fail(kind="hang", times=5)
    client = GithubClient(
        token=TOKEN,
        api_url=fake_github.url,
        timeout=0.2,
        sleep=sleeps.append,
        retry=GithubRetry(max_attempts=2),
    )
    error = fail_once(fake_github, client)
    assert "no answer (ReadTimeout" in str(error) and "(after 2 attempts)" in str(error)


def test_a_dropped_connection_is_retried(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(kind="drop")
    answer, _ = client.request("GET", PATH, OP)
    assert answer == [] and len(fake_github.requests) == 2


def test_an_answer_that_is_not_json_is_one_line(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(kind="html")
    error = fail_once(fake_github, client)
    assert "the answer is not JSON (20 bytes of text/html); check GITHUB_API_URL" in str(error)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b"[1, 2", b"", b"[" * 100_000])
def test_hostile_json_is_refused(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    body: bytes,
) -> None:
    fake_github.fail(200, body=body)
    if body == b"":
        # An empty 2xx (like a 204) has no answer to check; the caller's shape check says so.
        answer, _ = client.request("GET", PATH, OP)
        with pytest.raises(GithubError, match="the answer is null, not a list of comments"):
            expect_list(answer, OP, "a list of comments")
        return
    fail_once(fake_github, client)


def test_an_oversized_answer_is_refused_while_reading(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(kind="oversized")
    error = fail_once(fake_github, client)
    assert "the answer is larger than 64 MiB; refused while reading" in str(error)


def test_an_answer_over_a_smaller_cap_is_refused(fake_github: FakeGithub) -> None:  # noqa: F811
    for i in range(30):
        fake_github.add_comment(7, "x" * 1000 + str(i))
    client = GithubClient(token=TOKEN, api_url=fake_github.url, max_answer_bytes=10_000)
    with pytest.raises(GithubError, match="larger than 0 MiB"):
        client.request("GET", PATH, OP)


def test_a_redirect_is_not_followed(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(301, headers={"Location": "https://elsewhere.example/steal"})
    error = fail_once(fake_github, client)
    assert "HTTP 301, a redirect to https://elsewhere.example/steal" in str(error)
    assert len(fake_github.requests) == 1


def test_a_rate_limit_is_waited_out_within_the_bound(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
) -> None:
    # The reset is read against the server's clock (its Date header), to the second.
    reset = str(int(time.time()) + 30)
    fake_github.fail(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        body={"message": "API rate limit exceeded"},
    )
    fake_github.fail(429, headers={"retry-after": "3"}, body={"message": "slow down"})
    answer, _ = client.request("GET", PATH, OP)
    assert answer == [] and len(sleeps) == 2
    assert 28 <= sleeps[0] <= 31 and sleeps[1] == 3.0


def test_a_secondary_rate_limit_without_headers_waits_a_minute(
    fake_github: FakeGithub,  # noqa: F811
    sleeps: list[float],
) -> None:
    fake_github.fail(403, body={"message": "You have exceeded a secondary rate limit"})
    client = GithubClient(token=TOKEN, api_url=fake_github.url, sleep=sleeps.append)
    client.request("GET", PATH, OP)
    assert sleeps == [60.0]


def test_a_rate_limit_beyond_the_bound_fails_at_once(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
) -> None:
    reset = str(int(time.time()) + 3600)
    fake_github.fail(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    error = fail_once(fake_github, client)
    assert "rate limited (HTTP 403) for another 3" in str(error)
    assert "s, more than the 60 s stagecfg waits; run the job again later" in str(error)
    assert sleeps == []


def test_the_token_never_appears_even_when_the_server_echoes_it(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(401, body={"message": f"token {TOKEN} is bad"})
    fake_github.fail(301, headers={"Location": f"https://x.example/?t={TOKEN}"})
    for _ in range(2):
        error = fail_once(fake_github, client)
        assert "***" in str(error)
    assert TOKEN not in repr(client)
    # Registered as a secret: any output stagecfg prints masks it.
    assert mask_text(f"x {TOKEN} y") == "x *** y"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "GITHUB_TOKEN is not set"),
        ("", "GITHUB_TOKEN is not set"),
        ("short", "does not look like a GitHub token (5 characters)"),
        ("ghp_with space inside the token", "does not look like a GitHub token"),
        ("ghp_newline\ninside-the-token", "does not look like a GitHub token"),
    ],
)
def test_a_missing_or_odd_token_is_refused(token: str | None, message: str) -> None:
    with pytest.raises(GithubError, match=re.escape(message)):
        check_token(token)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://github.example.com/api/v3", "uses plain http to github.example.com"),
        ("https://user:pass@api.github.com", "holds a user:password part"),
        ("ftp://api.github.com", "is not an http(s) URL"),
        ("not a url", "is not an http(s) URL"),
    ],
)
def test_the_api_url_must_be_https_or_loopback(url: str, message: str) -> None:
    with pytest.raises(GithubError, match=re.escape(message)):
        check_api_url(url)
    assert "pass" not in str(GithubError("x"))


def test_https_and_loopback_api_urls_are_accepted() -> None:
    assert check_api_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/v3"
    assert check_api_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
