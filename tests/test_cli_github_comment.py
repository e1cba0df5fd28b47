"""`stagecfg plan --github-comment` through the error boundary, against a fake GitHub.

The plan is printed and saved as without the flag; then the job summary is appended and the
pull request's one comment is created or updated. Any GitHub failure is one line naming the
operation, exit 1, with the plan still printed, saved and in the job summary.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from github_fake import BOT, TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.cli import main
from stagecfg.render import GITHUB_COMMENT_LIMIT, MARKDOWN_MARKER, NO_CHANGES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def manifest(join_ahead: int = 300, calls: int = 1) -> str:
    lines = [
        "version: 1",
        "project: demo",
        "users:",
        "  john: {role: user}",
        "call_types:",
        "  stage:",
        "    settings:",
        f"      backstage: {{enabled: true, join_ahead_time_seconds: {join_ahead}}}",
        "    grants:",
        "      host: [join-backstage, join-call, read-call]",
        "calls:",
    ]
    for i in range(calls):
        lines += [
            f"  stage:show-{i:05d}:",
            "    created_by_id: john",
            '    starts_at: "2027-03-01T18:00:00Z"',
            f"    custom: {{title: 'Show number {i} with a title long enough to fill space'}}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def job(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGithub,  # noqa: F811
) -> Path:
    """A pull request job of PR #7: GITHUB_* variables, an event file, a summary file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(manifest())
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 7}}))
    for name, value in {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_REPOSITORY": "octo/shows",
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "555",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


SB = ("--sandbox", "sb.db")


def test_a_second_run_updates_the_one_comment(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment", "--out", "p.json")
    assert code == 0, err
    assert out.startswith("backend: local sandbox")  # the plan is printed as usual
    assert "created the stagecfg comment on pull request #7: https://github.com/" in err
    (first,) = fake_github.bodies(7)
    assert first.startswith(MARKDOWN_MARKER + "\n### stagecfg plan: 3 to create")
    assert (job / "p.json").exists()
    (job / "m.yaml").write_text(manifest(join_ahead=600))
    code, _, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment")
    assert code == 0 and "updated the stagecfg comment on pull request #7" in err
    (second,) = fake_github.bodies(7)
    assert "join_ahead_time_seconds: 600" in second
    # Both runs appended to the job summary, the same Markdown as the comment.
    summary = (job / "summary.md").read_text()
    assert summary.count(MARKDOWN_MARKER) == 2 and summary.endswith(second.rstrip("\n") + "\n\n")


def test_no_changes_updates_the_comment_to_say_so(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "plan", "m.yaml", *SB, "--github-comment")[0] == 0
    assert run(capsys, "apply", "m.yaml", *SB, "--auto-approve")[0] == 0
    code, _, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment")
    assert code == 0, err
    (body,) = fake_github.bodies(7)
    assert body.startswith(f"{MARKDOWN_MARKER}\n### stagecfg plan: no changes\n")
    assert NO_CHANGES in body and "<details>" not in body and len(body) < 300


def test_plan_format_markdown_prints_the_comment(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "m.yaml", *SB, "--format", "markdown", "--github-comment")
    assert code == 0
    (body,) = fake_github.bodies(7)
    # The same layout locally and on the pull request (only the cut note's pointer differs).
    assert out == body


def test_a_plan_of_thousands_of_changes_fits_the_comment(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (job / "m.yaml").write_text(manifest(calls=2500))
    code, out, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment")
    assert code == 0, err
    assert "Plan: 2502 to create" in out
    (body,) = fake_github.bodies(7)
    assert len(body) <= GITHUB_COMMENT_LIMIT
    shown = body.count("<details>")
    assert 0 < shown < 2502 and body.count("</details>") == shown
    cut = re.search(r"\*\*Not shown\*\*: ([\d,]+) objects", body)
    assert cut is not None and int(cut.group(1).replace(",", "")) == 2502 - shown
    assert (
        "the saved plan of [this workflow run](https://github.com/octo/shows/actions/runs/555)"
        in body
    )
    assert "run `stagecfg plan m.yaml --full` locally" in body


def test_outside_a_pull_request_only_the_summary_is_written(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (job / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    code, _, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment")
    assert code == 0
    assert "notice: no pull request (GITHUB_EVENT_PATH is not a pull_request event)" in err
    assert fake_github.requests == []
    assert (job / "summary.md").read_text().startswith(MARKDOWN_MARKER)


def test_the_token_is_masked_everywhere(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.fail(403, body={"message": f"token {TOKEN} may not"}, method="POST", times=2)
    for argv in (("plan",), ("--debug", "plan")):
        code, out, err = run(capsys, *argv, "m.yaml", *SB, "--github-comment", "--out", "p.json")
        assert code == 1
        assert TOKEN not in out + err
        assert TOKEN not in (job / "p.json").read_text() + (job / "summary.md").read_text()
    assert (
        "Error: GitHub: create the plan comment on pull request #7 in octo/shows: HTTP 403 " in err
    )
    assert "token *** may not" in err
    assert all(r.authorized for r in fake_github.requests)


def test_a_fork_pull_request_says_why_and_keeps_the_plan(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = {"pull_request": {"number": 7, "head": {"repo": {"full_name": "fan/shows"}}}}
    (job / "event.json").write_text(json.dumps(event))
    fake_github.read_only = True
    code, out, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment", "--out", "p.json")
    assert code == 1
    assert out.startswith("backend: ") and (job / "p.json").exists()
    assert MARKDOWN_MARKER in (job / "summary.md").read_text()
    (line,) = [line for line in err.splitlines() if line.startswith("Error:")]
    assert "this pull request comes from the fork fan/shows" in line
    assert "read-only token" in line and "the plan is in the job summary" in line
    assert "Traceback" not in err


FAULTS = {
    "401": ({"status": 401, "body": {"message": "Bad credentials"}}, "HTTP 401 (Bad credentials)"),
    "404": ({"status": 404, "body": {"message": "Not Found"}}, "HTTP 404 (Not Found)"),
    "422": (
        {"status": 422, "body": {"message": "Validation Failed"}, "method": "POST"},
        "HTTP 422 (Validation Failed)",
    ),
    "5xx": ({"status": 502, "times": 20}, "HTTP 502 (after 4 attempts)"),
    "timeout": ({"kind": "hang", "times": 20}, "no answer (ReadTimeout"),
    "not json": ({"kind": "html"}, "the answer is not JSON"),
    "wrong shape": ({"status": 200, "body": {"id": 1}}, "not a list of comments"),
    "oversized": ({"kind": "oversized"}, "larger than 64 MiB"),
    "rate limit": (
        {"status": 429, "headers": {"retry-after": "7200"}},
        "rate limited (HTTP 429) for another 7200 s",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_github_fault_is_one_line_exit_1_after_the_plan(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    options, expected = FAULTS[fault]
    fake_github.fail(**options)  # type: ignore[arg-type]
    code, out, err = run(
        capsys, "plan", "m.yaml", *SB, "--github-comment", "--out", "p.json", "--timeout", "0.3"
    )
    assert code == 1
    assert out.startswith("backend: ") and (job / "p.json").exists()
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith("Error: GitHub: ") and expected in errors[0]
    assert "pull request #7 in octo/shows" in errors[0]
    assert "Traceback" not in err and TOKEN not in err


def test_detailed_exitcode_is_1_when_the_comment_failed(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.fail(401)
    code, _, _ = run(capsys, "plan", "m.yaml", *SB, "--github-comment", "--detailed-exitcode")
    assert code == 1
    code, _, _ = run(capsys, "plan", "m.yaml", *SB, "--github-comment", "--detailed-exitcode")
    assert code == 2


@pytest.mark.parametrize(
    ("unset", "message"),
    [("GITHUB_TOKEN", "GITHUB_TOKEN is not set"), ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY")],
)
def test_missing_settings_are_one_line(
    job: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    unset: str,
    message: str,
) -> None:
    monkeypatch.delenv(unset)
    code, out, err = run(capsys, "plan", "m.yaml", *SB, "--github-comment")
    assert code == 1 and out.startswith("backend: ")
    assert f"Error: {message}" in err


def test_the_earlier_workflows_comment_is_updated_not_duplicated(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.add_comment(7, "<!-- stagecfg-plan -->\n### stagecfg plan: old", BOT)
    assert run(capsys, "plan", "m.yaml", *SB, "--github-comment")[0] == 0
    (body,) = fake_github.bodies(7)
    assert body.startswith(MARKDOWN_MARKER)


def test_each_environment_keeps_its_own_comment(
    job: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What --env wires in: the comment's key is the environment's name.
    from stagecfg.access import AccessReview
    from stagecfg.cli.github_comment import post_plan_comment
    from stagecfg.plan import Plan

    assert run(capsys, "plan", "m.yaml", *SB, "--github-comment")[0] == 0
    for key in ("staging", "production", "staging"):
        assert post_plan_comment(
            Plan(), backend="b", access=AccessReview(), refusals=(), paths=["m.yaml"],
            timeout=5, key=key,
        )  # fmt: skip
    first_lines = [body.split("\n", 1)[0] for body in fake_github.bodies(7)]
    assert first_lines == [
        MARKDOWN_MARKER,
        "<!-- stagecfg-plan:staging -->",
        "<!-- stagecfg-plan:production -->",
    ]
