"""The drift issue against a fake GitHub: one open issue per environment, found by its marker
on any page, opened, updated, left alone or closed; every failure one line naming the operation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from github_fake import BOT, TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.github import issue as issue_module
from stagecfg.github.client import GithubClient, GithubError, GithubRetry
from stagecfg.github.context import GithubContext
from stagecfg.github.issue import (
    drift_marker,
    drift_title,
    find_issue,
    sync_drift_issue,
)
from stagecfg.github.publish import publish, publish_drift

REPO = "octo/shows"
PROD = drift_marker("production")
STAGING = drift_marker("staging")
WHEN = datetime(2030, 1, 2, 3, 4, tzinfo=timezone.utc)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake_github: FakeGithub, sleeps: list[float]) -> Iterator[GithubClient]:  # noqa: F811
    with GithubClient(
        token=TOKEN, api_url=fake_github.url, timeout=2.0, sleep=sleeps.append
    ) as made:
        yield made


def report(text: str, marker: str = PROD) -> str:
    return f"{marker}\n### stagecfg: drift\n\n{text}\n"


def sync(
    client: GithubClient, text: str | None, environment: str | None = "production"
) -> issue_module.Filed:
    """Drifted with the report ``text``, or (None) no drift."""
    marker = drift_marker(environment)
    return sync_drift_issue(
        client,
        REPO,
        environment=environment,
        body=report(text or "no drift", marker),
        drifted=text is not None,
        run_url="https://github.com/octo/shows/actions/runs/42",
        now=lambda: WHEN,
    )


def test_markers_and_titles() -> None:
    assert PROD == "<!-- stagecfg-drift:production -->"
    assert drift_marker(None) == "<!-- stagecfg-drift:default -->"
    assert drift_title("production") == "stagecfg: the app drifted from the manifests (production)"
    assert drift_title(None) == "stagecfg: the app drifted from the manifests"


def test_drift_opens_an_issue(fake_github: FakeGithub, client: GithubClient) -> None:  # noqa: F811
    filed = sync(client, "2 objects drifted")
    (opened,) = fake_github.open_issues()
    assert filed == issue_module.Filed("created", opened["number"], opened["html_url"])
    assert opened["title"] == "stagecfg: the app drifted from the manifests (production)"
    assert opened["body"] == report("2 objects drifted")
    (post,) = fake_github.writes()
    assert post.method == "POST" and post.path == f"/repos/{REPO}/issues" and post.authorized


def test_a_changed_report_updates_the_body_only(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    first = sync(client, "2 objects drifted")
    second = sync(client, "3 objects drifted")
    assert (second.action, second.number) == ("updated", first.number)
    (only,) = fake_github.open_issues()
    assert only["body"] == report("3 objects drifted")
    patch = fake_github.writes()[-1]
    assert patch.method == "PATCH" and patch.path == f"/repos/{REPO}/issues/{first.number}"
    assert patch.body == {"body": report("3 objects drifted")}


def test_the_same_report_writes_nothing(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    first = sync(client, "2 objects drifted")
    writes = len(fake_github.writes())
    again = sync(client, "2 objects drifted")
    assert again == issue_module.Filed("unchanged", first.number, first.url)
    assert len(fake_github.writes()) == writes
    # A body edited in the browser comes back with CRLF line ends; still the same report.
    fake_github.issue(first.number)["body"] = report("2 objects drifted").replace("\n", "\r\n")
    assert sync(client, "2 objects drifted").action == "unchanged"


def test_no_drift_closes_the_open_issue_saying_when(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    opened = sync(client, "2 objects drifted")
    closed = sync(client, None)
    assert (closed.action, closed.number) == ("closed", opened.number)
    issue = fake_github.issue(opened.number)
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert issue["body"].startswith(f"{PROD}\n### stagecfg: no drift any more (production)\n")
    assert "matched the manifests again at 2030-01-02 03:04 UTC" in issue["body"]
    assert "([this workflow run](https://github.com/octo/shows/actions/runs/42))" in issue["body"]
    assert fake_github.open_issues() == []
    # Closed stays closed; the next drift opens a new issue.
    assert sync(client, None).action == "none"
    again = sync(client, "drifted again")
    assert again.action == "created" and again.number != opened.number


def test_no_drift_and_no_issue_does_nothing(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    assert sync(client, None) == issue_module.Filed("none", None, "")
    assert fake_github.writes() == [] and fake_github.issues == []


def test_two_environments_keep_two_issues(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    staging = sync(client, "staging drift", "staging")
    production = sync(client, "production drift", "production")
    assert staging.number != production.number
    assert sync(client, "production drift, more", "production").number == production.number
    assert fake_github.issue(staging.number)["body"] == report("staging drift", STAGING)
    assert sync(client, None, "staging").action == "closed"
    (left,) = fake_github.open_issues()
    assert left["number"] == production.number
    default = sync(client, "drift", None)
    assert fake_github.issue(default.number)["title"] == drift_title(None)
    assert fake_github.issue(default.number)["body"].startswith(drift_marker(None) + "\n")


def test_pull_requests_in_the_list_are_skipped(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    pull = fake_github.add_issue(report("a pull request quoting it"), pull_request=True, user=BOT)
    filed = sync(client, "drift")
    assert filed.action == "created" and filed.number != pull
    assert fake_github.issue(pull)["body"] == report("a pull request quoting it")


def test_only_an_open_issue_starting_with_the_marker_is_taken(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    quoted = fake_github.add_issue(f"> {PROD}\n> quoted in another issue")
    inline = fake_github.add_issue(f"see {PROD} in the drift issue")
    later = fake_github.add_issue(f"Report:\n{PROD}\n")
    closed = fake_github.add_issue(report("old"), state="closed", user=BOT)
    empty = fake_github.add_issue(None)
    assert find_issue(client, REPO, PROD) is None
    filed = sync(client, "drift")
    assert filed.action == "created"
    assert filed.number not in {quoted, inline, later, closed, empty}


def test_the_oldest_bot_issue_is_the_one(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    person = fake_github.add_issue(report("a person copied it"))
    bot = fake_github.add_issue(report("the report"), user=BOT)
    fake_github.add_issue(report("a newer copy"), user=BOT)
    found = find_issue(client, REPO, PROD)
    assert found is not None and (found.number, found.bot) == (bot, True)
    fake_github.issue(bot)["state"] = "closed"
    fake_github.issue(bot + 1)["state"] = "closed"
    found = find_issue(client, REPO, PROD)
    assert found is not None and (found.number, found.bot) == (person, False)


def test_the_issue_is_found_on_page_3(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    for i in range(230):
        fake_github.add_issue(f"bug report {i}")
    mine = fake_github.add_issue(report("old"), user=BOT)
    for i in range(5):
        fake_github.add_issue(f"later bug {i}")
    filed = sync(client, "new")
    assert (filed.action, filed.number) == ("updated", mine)
    pages = [r.query for r in fake_github.requests if r.method == "GET"]
    assert pages == [
        {
            "state": ["open"],
            "sort": ["created"],
            "direction": ["asc"],
            "per_page": ["100"],
            "page": [str(n)],
        }
        for n in (1, 2, 3)
    ]
    assert len(fake_github.open_issues()) == 236


def test_listing_stops_at_the_page_cap(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(issue_module, "MAX_PAGES", 2)
    for i in range(250):
        fake_github.add_issue(f"bug {i}")
    with pytest.raises(GithubError) as info:
        sync(client, "drift")
    assert str(info.value).startswith(
        f"GitHub: list the open issues of {REPO}: more than 200 open issues; stagecfg reads at "
        "most that many"
    )
    assert len(fake_github.requests) == 2 and not fake_github.writes()


def test_an_open_whose_answer_was_lost_is_not_made_twice(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(502, method="POST", after=True)
    filed = sync(client, "drift")
    (only,) = fake_github.open_issues()
    assert (filed.action, filed.number) == ("created", only["number"])
    assert [r.method for r in fake_github.writes()] == ["POST"]  # found as sent: no PATCH


def test_an_open_that_failed_before_landing_is_sent_once_more(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(kind="drop", method="POST")
    filed = sync(client, "drift")
    assert filed.action == "created" and len(fake_github.open_issues()) == 1
    assert [r.method for r in fake_github.writes()] == ["POST", "POST"]


def test_a_report_without_its_marker_or_too_long_is_never_sent(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    with pytest.raises(GithubError, match="does not start with its marker"):
        sync_drift_issue(client, REPO, environment="production", body="drift\n", drifted=True)
    with pytest.raises(GithubError, match=f"starts? with its marker {STAGING}"):
        sync_drift_issue(client, REPO, environment="staging", body=report("x"), drifted=True)
    with pytest.raises(GithubError, match="over GitHub's 65,536 for an issue"):
        sync(client, "x" * 70000)
    assert fake_github.requests == []


ISSUES_PATH = f"/repos/{REPO}/issues"
LIST = f"GitHub: list the open issues of {REPO} (page 1): "
OPEN = f"GitHub: open the drift issue ({PROD}) in {REPO}: "
SHAPE = f"GitHub: list the open issues of {REPO}: "
RESET = str(int(time.time()) + 3600)


@pytest.mark.parametrize(
    ("fault", "method", "expected"),
    [
        ({"status": 401, "body": {"message": "Bad credentials"}}, "GET", LIST + "HTTP 401 (Bad"),
        ({"status": 403, "body": {"message": "Forbidden"}}, "POST", OPEN + "HTTP 403 (Forbidden)"
         "; the token may not write issues: give the job `permissions: issues: write`"),
        ({"status": 404, "body": {"message": "Not Found"}}, "GET", LIST + "HTTP 404 (Not Found); "
         "check GITHUB_REPOSITORY"),
        ({"status": 410, "body": {"message": "Issues are disabled for this repo"}}, "GET",
         LIST + "HTTP 410 (Issues are disabled for this repo); issues are turned off"),
        ({"status": 422, "body": {"message": "Validation Failed"}}, "POST",
         OPEN + "HTTP 422 (Validation Failed); GitHub refused the request as invalid"),
        ({"status": 503, "times": 10}, "GET", LIST + "HTTP 503 (after 4 attempts); see "
         "https://www.githubstatus.com"),
        ({"status": 502, "times": 2}, "POST", OPEN + "HTTP 502; it may or may not have been done"),
        ({"kind": "drop", "times": 10}, "GET", LIST + "no answer (RemoteProtocolError"),
        ({"kind": "html"}, "GET", LIST + "the answer is not JSON (20 bytes of text/html)"),
        ({"kind": "oversized"}, "GET", LIST + "the answer is larger than 64 MiB"),
        ({"status": 403, "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": RESET}},
         "GET", LIST + "rate limited (HTTP 403) for another"),
        ({"status": 200, "body": {"issues": []}}, "GET",
         SHAPE + "the answer is a JSON object, not a list of issues"),
        ({"status": 200, "body": ["x"]}, "GET",
         SHAPE + "the answer is a string, not a list of issues (item 0)"),
        ({"status": 200, "body": [{"body": PROD}]}, "GET",
         SHAPE + "issue 0's number is null, not a positive integer id"),
        ({"status": 200, "body": [{"number": True}]}, "GET",
         SHAPE + "issue 0's number is a boolean, not a positive integer id"),
        ({"status": 200, "body": [{"number": 4, "body": ["x"]}]}, "GET",
         SHAPE + "issue #4's body is not text"),
        ({"status": 201, "body": {"title": "x"}}, "POST",
         f"GitHub: open the drift issue ({PROD}) in {REPO}: its number is null"),
        ({"status": 201, "body": []}, "POST", OPEN + "the answer is a JSON array, not an issue"),
    ],
)  # fmt: skip
def test_faults_are_one_line_naming_the_operation(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    fault: dict[str, object],
    method: str,
    expected: str,
) -> None:
    fake_github.fail(method=method, path=ISSUES_PATH, **fault)  # type: ignore[arg-type]
    with pytest.raises(GithubError) as info:
        sync(client, "drift")
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message and TOKEN not in message


def test_a_hanging_github_ends_in_bounded_time(fake_github: FakeGithub) -> None:  # noqa: F811
    fake_github.fail(kind="hang", times=5)
    with (
        GithubClient(
            token=TOKEN,
            api_url=fake_github.url,
            timeout=1.0,
            retry=GithubRetry(max_attempts=2),
            sleep=lambda s: None,
        ) as quick,
        pytest.raises(GithubError) as info,
    ):
        sync(quick, "drift")
    assert str(info.value).startswith(LIST + "no answer (")
    assert "(after 2 attempts)" in str(info.value)


def test_a_short_rate_limit_is_waited_out(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    sleeps: list[float],
) -> None:
    fake_github.fail(429, headers={"Retry-After": "7"}, method="GET")
    assert sync(client, "drift").action == "created"
    assert sleeps == [7.0]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"number": 999, "state": "open"}, "the answer is about issue #999"),
        ({"number": "1"}, "its number is a string, not a positive integer id"),
    ],
)
def test_an_update_answered_wrongly_is_an_error(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    answer: object,
    message: str,
) -> None:
    mine = fake_github.add_issue(report("old"), user=BOT)
    fake_github.fail(200, method="PATCH", body=answer)
    with pytest.raises(GithubError) as info:
        sync(client, "new")
    assert str(info.value) == f"GitHub: update drift issue #{mine} in {REPO}: {message}"


def test_a_close_that_left_the_issue_open_is_an_error(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    mine = fake_github.add_issue(report("old"), user=BOT)
    fake_github.fail(200, method="PATCH", body={"number": mine, "state": "open"})
    with pytest.raises(GithubError, match=f"close drift issue #{mine} in {REPO}: the issue is "):
        sync(client, None)


def test_a_read_only_token_names_the_permission(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.read_only = True
    fake_github.add_issue(report("old"), user=BOT)
    with pytest.raises(GithubError, match="give the job `permissions: issues: write`"):
        sync(client, None)


# ---- publish_drift: the job summary, then the issue ----


def context(fake_github: FakeGithub, tmp_path: Path, **changes: object) -> GithubContext:  # noqa: F811
    values: dict[str, object] = {
        "api_url": fake_github.url,
        "token": TOKEN,
        "repository": REPO,
        "step_summary": str(tmp_path / "summary.md"),
        "run_url": "https://github.com/octo/shows/actions/runs/42",
    }
    values.update(changes)
    return GithubContext(**values)  # type: ignore[arg-type]


def test_publish_drift_writes_the_summary_then_the_issue(
    fake_github: FakeGithub,  # noqa: F811
    tmp_path: Path,
) -> None:
    said: list[str] = []
    ctx = context(fake_github, tmp_path)
    filed = publish_drift(
        ctx, environment="production", body=report("drift"), drifted=True, notify=said.append
    )
    assert (tmp_path / "summary.md").read_text("utf-8") == report("drift") + "\n"
    assert said == [
        f"appended the drift report to the job summary ({tmp_path / 'summary.md'})",
        f"opened the stagecfg drift issue #{filed.number}: {filed.url}",
    ]
    publish_drift(
        ctx, environment="production", body=report("drift"), drifted=True, notify=said.append
    )
    assert said[-1] == f"the stagecfg drift issue #{filed.number} already says this: {filed.url}"
    publish_drift(
        ctx, environment="production", body=report("ok"), drifted=False, notify=said.append
    )
    assert said[-1] == f"no drift any more: closed the stagecfg drift issue #{filed.number}: " + (
        filed.url
    )
    publish_drift(
        ctx, environment="production", body=report("ok"), drifted=False, notify=said.append
    )
    assert said[-1] == "no drift, and no open stagecfg drift issue to close"
    assert all(TOKEN not in line for line in said)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"token": None},
            "GITHUB_TOKEN is not set; the drift issue needs a token (`env: GITHUB_TOKEN: "
            "${{ github.token }}` and `permissions: issues: write`)",
        ),
        ({"token": "short"}, "GITHUB_TOKEN does not look like a GitHub token"),
        ({"repository": None}, "GITHUB_REPOSITORY is not set"),
        ({"api_url": "http://github.example"}, "GITHUB_API_URL uses plain http"),
    ],
)
def test_publish_drift_settings_are_one_line_errors_after_the_summary(
    fake_github: FakeGithub,  # noqa: F811
    tmp_path: Path,
    changes: dict[str, object],
    message: str,
) -> None:
    ctx = context(fake_github, tmp_path, **changes)
    with pytest.raises(GithubError) as info:
        publish_drift(
            ctx, environment="staging", body=report("d", STAGING), drifted=True, notify=print
        )
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert (tmp_path / "summary.md").read_text("utf-8") == report("d", STAGING) + "\n"
    assert fake_github.requests == []


def test_the_drift_report_as_a_sticky_pull_request_comment(
    fake_github: FakeGithub,  # noqa: F811
    tmp_path: Path,
) -> None:
    """--github-comment for drift is publish() with the drift marker: its own comment, beside
    the plan's."""
    plan = fake_github.add_comment(7, "<!-- stagecfg-plan:production -->\nthe plan", BOT)
    said: list[str] = []
    ctx = context(fake_github, tmp_path, pr_number=7)
    for text in ("drift", "more drift"):
        publish(ctx, marker=PROD, body=report(text), notify=said.append, what="drift report")
    assert fake_github.bodies(7) == [
        "<!-- stagecfg-plan:production -->\nthe plan",
        report("more drift"),
    ]
    assert said[0] == f"appended the drift report to the job summary ({tmp_path / 'summary.md'})"
    assert said[1].startswith("created the stagecfg comment on pull request #7")
    assert said[3].startswith("updated the stagecfg comment on pull request #7")
    assert plan in [c["id"] for c in fake_github.comments[7]]
    said.clear()
    publish(
        context(fake_github, tmp_path), marker=PROD, body=report("x"), notify=said.append,
        what="drift report",
    )  # fmt: skip
    assert "no drift report comment was posted" in said[-1]
