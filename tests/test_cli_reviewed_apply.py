"""`stagecfg apply PATHS --reviewed PLAN_FILE` through the error boundary, on a sandbox.

The whole loop with the emulator and subprocesses is tests/test_pull_request_loop.py; here are
the flags, the refusals and what the comment says in each outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from github_fake import BOT, TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.cli import main
from stagecfg.render import MARKDOWN_MARKER


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def manifest(path: Path, *, ahead: int = 300, live: bool | None = None) -> None:
    live_line = "" if live is None else f"    live: {'true' if live else 'false'}\n"
    path.write_text(
        "version: 1\nproject: demo\nusers:\n  john: {role: user}\ncall_types:\n  stage:\n"
        f"    settings: {{backstage: {{enabled: true, join_ahead_time_seconds: {ahead}}}}}\n"
        "calls:\n  stage:show:\n    created_by_id: john\n"
        '    starts_at: "2030-01-01T18:00:00Z"\n' + live_line
    )


SB = ("--sandbox", "sb.db")
SHA = "d" * 40


@pytest.fixture
def repo(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_github: FakeGithub,  # noqa: F811
) -> Path:
    """Main applied; a reviewed plan (join ahead 600) saved as p.json; a push job's variables."""
    monkeypatch.chdir(tmp_path)
    manifest(tmp_path / "m.yaml")
    assert run(capsys, "apply", "m.yaml", *SB, "--auto-approve")[0] == 0
    manifest(tmp_path / "m.yaml", ahead=600)
    assert run(capsys, "plan", "m.yaml", *SB, "--out", "p.json")[0] == 0
    (tmp_path / "push.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    for name, value in {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_REPOSITORY": "octo/shows",
        "GITHUB_EVENT_PATH": str(tmp_path / "push.json"),
        "GITHUB_SHA": SHA,
    }.items():
        monkeypatch.setenv(name, value)
    fake_github.pulls_of[SHA] = [{"number": 4, "merged_at": "2030-01-01", "merge_commit_sha": SHA}]
    fake_github.add_comment(4, f"{MARKDOWN_MARKER}\n### stagecfg plan: 0 to create", BOT)
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(capsys, "apply", "m.yaml", "--reviewed", "p.json", *SB, "--auto-approve", *extra)


def test_a_matching_plan_applies_and_the_comment_says_so(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = apply(capsys, "--github-comment")
    assert code == 0, err
    assert "Apply complete: 2 changes applied." in out
    assert "updated the stagecfg comment on pull request #4" in err
    (body,) = fake_github.bodies(4)
    assert body.startswith(f"{MARKDOWN_MARKER}\n### stagecfg apply: applied\n")
    assert f"commit <code>{SHA[:12]}</code>: 2 changes" in body
    # The pull request was found from the merged commit.
    assert any(r.path.endswith(f"/commits/{SHA}/pulls") for r in fake_github.requests)


def test_a_plan_that_no_longer_matches_writes_nothing_and_says_what_differs(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest(repo / "m.yaml", ahead=900)  # another pull request merged first
    code, out, _ = apply(capsys, "--github-comment")
    assert code == 1
    assert "the reviewed plan no longer matches the plan of the current manifests:" in out
    assert "        body.settings.backstage.join_ahead_time_seconds: reviewed 600, now 900" in out
    assert "Apply complete" not in out
    (body,) = fake_github.bodies(4)
    assert "### stagecfg apply: the reviewed plan no longer matches" in body
    # Nothing was written: the backend still holds 300, what main held before the merge.
    manifest(repo / "m.yaml")
    assert run(capsys, "plan", "m.yaml", *SB, "--detailed-exitcode")[0] == 0


def test_a_refusal_by_the_safety_rules_is_posted_as_a_failed_apply(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest(repo / "m.yaml", live=True)
    assert run(capsys, "apply", "m.yaml", *SB, "--auto-approve")[0] == 0
    manifest(repo / "m.yaml", live=False)
    assert run(capsys, "plan", "m.yaml", *SB, "--out", "p.json")[0] == 0
    code, _, err = apply(capsys, "--github-comment")
    assert code == 1 and "--allow-disruptive" in err
    (body,) = fake_github.bodies(4)
    assert "### stagecfg apply: apply on merge failed" in body and "allow-disruptive" in body
    code, out, _ = apply(capsys, "--github-comment", "--allow-disruptive")
    assert code == 0 and "Apply complete: 1 change applied." in out


def test_a_merge_without_a_pull_request_posts_nothing(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.pulls_of[SHA] = []
    code, _, err = apply(capsys, "--github-comment")
    assert code == 0
    assert f"notice: commit {SHA[:12]} was not merged from a pull request" in err
    assert not fake_github.writes()


def test_pr_names_the_pull_request(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = apply(capsys, "--github-comment", "--pr", "9")
    assert code == 0 and "created the stagecfg comment on pull request #9" in err
    assert not any("/pulls" in r.path for r in fake_github.requests)


def test_missing_github_settings_stop_before_any_write(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, out, err = apply(capsys, "--github-comment")
    assert code == 1 and "Error: GITHUB_TOKEN is not set" in err and out == ""
    assert run(capsys, "plan", "m.yaml", *SB, "--detailed-exitcode")[0] == 2


def test_a_comment_that_fails_after_apply_exits_1_saying_what_was_applied(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.fail(500, method="PATCH", times=10)
    code, out, err = apply(capsys, "--github-comment")
    assert code == 1 and "Apply complete: 2 changes applied." in out
    assert "Error: GitHub: update comment " in err and "HTTP 500 (after 4 attempts)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("apply", "m.yaml", "--github-comment"), "--github-comment and --pr go with --reviewed"),
        (("apply", "m.yaml", "--pr", "3"), "--github-comment and --pr go with --reviewed"),
        (("apply", "--reviewed", "p.json"), "--reviewed needs the manifest PATHS"),
        (("apply", "m.yaml", "--reviewed", "p.json", "--plan", "p.json"), "not both"),
        (("apply", "m.yaml", "--reviewed", "p.json", "--pr", "3"), "add --github-comment"),
        (("apply", "m.yaml", "--reviewed", "gone.json"), "gone.json: no such saved plan"),
        (("apply", "m.yaml", "--reviewed", "m.yaml"), "not a readable stagecfg saved plan"),
    ],
)
def test_wrong_flags_are_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, *argv, *SB)
    assert code == 1 and message in err and "Traceback" not in err


def test_other_options_than_reviewed_are_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = apply(capsys, "--prune")
    assert code == 1 and "--prune: reviewed not given, now given" in err


def test_a_mismatch_whose_comment_fails_still_ends_with_the_refusal(
    repo: Path,
    fake_github: FakeGithub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest(repo / "m.yaml", ahead=900)
    fake_github.fail(500, method="PATCH", times=10)
    code, _, err = apply(capsys, "--github-comment")
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert code == 1 and len(errors) == 2
    assert errors[0].startswith("Error: GitHub: update comment ")
    assert "the reviewed plan no longer matches" in errors[1]
