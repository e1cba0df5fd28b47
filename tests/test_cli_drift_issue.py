"""``stagecfg drift --github-issue`` from the command line: a real sandbox changed behind
stagecfg's back, the fake GitHub on 127.0.0.1; the issue opened, closed, and every failure one
line with exit 1 after the report was printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github_fake import TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.backends.local import LocalBackend, open_backend
from stagecfg.cli import main

MANIFEST = """\
version: 1
project: shows
call_types:
  shows:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 120}
"""
DRIFT = ("drift", "m.yaml", "--format", "markdown", "--github-issue")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture
def app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_github: FakeGithub,  # noqa: F811
) -> Iterator[LocalBackend]:
    """A scheduled job's settings (no event file), the manifest applied to the sandbox."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STAGECFG_SANDBOX", str(tmp_path / "app.db"))
    (tmp_path / "m.yaml").write_text(MANIFEST)
    for name, value in {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_REPOSITORY": "octo/shows",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }.items():
        monkeypatch.setenv(name, value)
    code, _, err = run(capsys, "apply", "m.yaml", "--auto-approve")
    assert code == 0, err
    backend = open_backend(sandbox_path=str(tmp_path / "app.db"))
    yield backend
    backend.close()


def dashboard_change(app: LocalBackend) -> None:
    app.update_call_type("shows", {"settings": {"backstage": {"join_ahead_time_seconds": 600}}})


def test_drift_opens_the_issue_and_no_drift_closes_it(
    app: LocalBackend,
    capsys: pytest.CaptureFixture[str],
    fake_github: FakeGithub,  # noqa: F811
    tmp_path: Path,
) -> None:
    dashboard_change(app)
    code, out, err = run(capsys, *DRIFT, "--detailed-exitcode")
    assert code == 2, err
    (issue,) = fake_github.open_issues()
    assert issue["title"] == "stagecfg: the app drifted from the manifests"
    assert issue["body"] == out and out.startswith("<!-- stagecfg-drift:default -->\n")
    assert "join_ahead_time_seconds" in out
    assert f"opened the stagecfg drift issue #{issue['number']}" in err
    assert out.rstrip("\n") in (tmp_path / "summary.md").read_text("utf-8")

    code, _, err = run(capsys, *DRIFT, "--detailed-exitcode")
    assert code == 2 and "already says this" in err

    code, _, err = run(capsys, "apply", "m.yaml", "--auto-approve")
    assert code == 0, err
    code, out, err = run(capsys, *DRIFT, "--detailed-exitcode")
    assert code == 0, err
    assert "No drift" in out and "closed the stagecfg drift issue" in err
    assert fake_github.open_issues() == []
    assert TOKEN not in out + err


def test_missing_settings_fail_before_the_app_is_read(
    app: LocalBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGithub,  # noqa: F811
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, out, err = run(capsys, *DRIFT)
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert "GITHUB_TOKEN is not set; the drift issue needs a token" in line
    assert "`permissions: issues: write`" in line
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    code, out, err = run(capsys, *DRIFT)
    assert code == 1 and out == "" and "GITHUB_REPOSITORY is not set" in err
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 503, "times": 10}, "list the open issues of octo/shows (page 1): HTTP 503"),
        ({"status": 403, "method": "POST"}, "`permissions: issues: write`"),
        ({"status": 410}, "issues are turned off for this repository"),
    ],
)
def test_a_github_failure_is_one_line_exit_1_after_the_report(
    app: LocalBackend,
    capsys: pytest.CaptureFixture[str],
    fake_github: FakeGithub,  # noqa: F811
    fault: dict[str, object],
    expected: str,
) -> None:
    dashboard_change(app)
    fake_github.fail(**fault)  # type: ignore[arg-type]
    code, out, err = run(capsys, *DRIFT, "--detailed-exitcode")
    assert code == 1  # CI must notice a report that reached nobody
    assert out.startswith("<!-- stagecfg-drift:default -->\n")
    (line,) = [x for x in err.splitlines() if x.startswith("Error: ")]
    assert line.startswith("Error: GitHub: ") and expected in line
    assert TOKEN not in out + err
