"""The sticky comment against a fake GitHub: one comment, found by its marker on any page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_fake import BOT, TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.github import comment as comment_module
from stagecfg.github.client import GithubClient, GithubError
from stagecfg.github.comment import (
    LEGACY_MARKER,
    find_comment,
    pull_request_of_commit,
    upsert_comment,
)

MARKER = "<!-- stagecfg-plan:default -->"
REPO = "octo/shows"


@pytest.fixture
def client(fake_github: FakeGithub) -> Iterator[GithubClient]:  # noqa: F811
    with GithubClient(token=TOKEN, api_url=fake_github.url, sleep=lambda s: None) as made:
        yield made


def body(text: str) -> str:
    return f"{MARKER}\n{text}\n"


def test_create_then_update_keeps_one_comment(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    first = upsert_comment(client, REPO, 7, MARKER, body("plan 1"))
    second = upsert_comment(client, REPO, 7, MARKER, body("plan 2"))
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id
    assert fake_github.bodies(7) == [body("plan 2")]
    assert first.url.endswith(f"#issuecomment-{first.id}")


def test_the_marker_is_found_on_page_3(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    for i in range(230):
        fake_github.add_comment(7, f"review comment {i}")
    mine = fake_github.add_comment(7, body("old plan"), BOT)
    for i in range(5):
        fake_github.add_comment(7, f"later comment {i}")
    posted = upsert_comment(client, REPO, 7, MARKER, body("new plan"))
    assert posted.action == "updated" and posted.id == mine
    pages = [r.query for r in fake_github.requests if r.method == "GET"]
    assert pages == [{"per_page": ["100"], "page": [str(n)]} for n in (1, 2, 3)]
    assert fake_github.bodies(7).count(body("new plan")) == 1 and len(fake_github.bodies(7)) == 236


def test_listing_stops_at_the_page_cap(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(comment_module, "MAX_PAGES", 2)
    for i in range(250):
        fake_github.add_comment(7, f"c{i}")
    with pytest.raises(GithubError, match="more than 200 comments; stagecfg reads at most"):
        find_comment(client, REPO, 7, MARKER)
    assert len(fake_github.requests) == 2 and not fake_github.writes()


def test_the_oldest_bot_comment_starting_with_the_marker_is_the_one(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.add_comment(7, f"> {MARKER}\n> quoted in a reply")
    fake_github.add_comment(7, f"see {MARKER} above")
    human = fake_github.add_comment(7, body("a person pasted it"))
    bot = fake_github.add_comment(7, body("the plan"), BOT)
    fake_github.add_comment(7, body("a newer copy"), BOT)
    other_key = fake_github.add_comment(7, "<!-- stagecfg-plan:production -->\nprod", BOT)
    found = find_comment(client, REPO, 7, MARKER)
    assert found is not None and found.id == bot and found.bot
    assert human != bot != other_key


def test_the_earlier_workflows_comment_is_taken_over_for_the_default_key(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    legacy = fake_github.add_comment(7, f"{LEGACY_MARKER}\n### stagecfg plan", BOT)
    posted = upsert_comment(client, REPO, 7, MARKER, body("plan"), legacy=True)
    assert posted.id == legacy and fake_github.bodies(7) == [body("plan")]


def test_a_create_whose_answer_was_lost_is_not_made_twice(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    # GitHub made the comment, then the answer never arrived.
    fake_github.fail(502, method="POST", after=True)
    posted = upsert_comment(client, REPO, 7, MARKER, body("plan"))
    assert posted.action == "updated"
    assert fake_github.bodies(7) == [body("plan")]
    assert [r.method for r in fake_github.writes()] == ["POST", "PATCH"]


def test_a_create_that_failed_before_landing_is_sent_once_more(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.fail(kind="drop", method="POST")
    posted = upsert_comment(client, REPO, 7, MARKER, body("plan"))
    assert posted.action == "created" and fake_github.bodies(7) == [body("plan")]
    assert [r.method for r in fake_github.writes()] == ["POST", "POST"]


def test_a_body_without_its_marker_is_never_posted(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    with pytest.raises(GithubError, match="does not start with its marker"):
        upsert_comment(client, REPO, 7, MARKER, "no marker\n")
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"comments": []}, "the answer is a JSON object, not a list of comments"),
        ([1, 2], "the answer is a JSON int, not a list of comments (item 0)"),
        ([{"body": "x"}], "comment 0's id is null, not a positive integer id"),
        ([{"id": True, "body": "x"}], "comment 0's id is a boolean, not a positive integer id"),
        ([{"id": 5, "body": 7}], "comment 5's body is not text"),
    ],
)
def test_a_wrong_shaped_list_is_one_line(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
    answer: object,
    message: str,
) -> None:
    fake_github.fail(200, body=answer)
    with pytest.raises(GithubError) as info:
        upsert_comment(client, REPO, 7, MARKER, body("plan"))
    assert str(info.value) == (f"GitHub: list the comments of pull request #7 in {REPO}: {message}")
    assert not fake_github.writes()


def test_an_update_answered_about_another_comment_is_an_error(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    mine = fake_github.add_comment(7, body("old"), BOT)
    fake_github.fail(200, method="PATCH", body={"id": mine + 1})
    with pytest.raises(GithubError, match=f"the answer is about comment {mine + 1}"):
        upsert_comment(client, REPO, 7, MARKER, body("new"))


def test_a_fork_pull_requests_read_only_token_says_so(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.read_only = True
    with pytest.raises(GithubError) as info:
        upsert_comment(client, REPO, 7, MARKER, body("plan"), fork="someone/shows")
    assert str(info.value).startswith(
        f"GitHub: create the plan comment on pull request #7 in {REPO}: HTTP 403 (Resource not "
        "accessible by integration); this pull request comes from the fork someone/shows, and "
        "GitHub gives workflows on fork pull requests a read-only token"
    )
    assert "the plan is in the job summary" in str(info.value)


def test_a_token_without_write_permission_names_the_permission(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    fake_github.read_only = True
    fake_github.add_comment(7, body("old"), BOT)
    with pytest.raises(GithubError, match="give the job `permissions: pull-requests: write`"):
        upsert_comment(client, REPO, 7, MARKER, body("plan"))


def test_the_pull_request_of_a_merged_commit(
    fake_github: FakeGithub,  # noqa: F811
    client: GithubClient,
) -> None:
    sha = "a" * 40
    fake_github.pulls_of[sha] = [
        {"number": 3, "merged_at": None, "merge_commit_sha": "b" * 40},
        {"number": 9, "merged_at": "2030-01-01T00:00:00Z", "merge_commit_sha": "c" * 40},
        {"number": 12, "merged_at": "2030-01-01T00:00:00Z", "merge_commit_sha": sha},
    ]
    assert pull_request_of_commit(client, REPO, sha) == 12
    fake_github.pulls_of[sha] = fake_github.pulls_of[sha][:2]
    assert pull_request_of_commit(client, REPO, sha) == 9
    fake_github.pulls_of[sha] = []
    assert pull_request_of_commit(client, REPO, sha) is None
    fake_github.pulls_of[sha] = [{"number": "12"}]
    with pytest.raises(GithubError, match="pull request 0's number is a string"):
        pull_request_of_commit(client, REPO, sha)
