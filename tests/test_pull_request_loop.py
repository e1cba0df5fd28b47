"""The pull-request loop, simulated locally as CI runs it: the real CLI in subprocesses, the
emulator (``stagecfg emulator``) as the Stream app with ``--backend stream``, a fake GitHub API,
and ``GITHUB_*`` variables and event files in a temporary directory.

Two pull requests branch from one main; each plan job posts its plan comment and saves its
plan; meanwhile the product app takes shows live through the emulator's API (Stream's own SDK);
the pull requests merge in turn and each merge runs ``apply --reviewed``:

* when the second pull request's changes are still what was reviewed, it applies;
* when the first changed the same object, it is refused, nothing is written, the difference goes
  to its comment, and the documented recovery (a ``workflow_dispatch`` re-plan, then
  ``apply --reviewed`` with that plan) succeeds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from getstream import Stream
from getstream.models import CallRequest
from github_fake import TOKEN, FakeGithub, fake_github  # noqa: F401

from stagecfg.render import MARKDOWN_MARKER

pytestmark = pytest.mark.timeout(240)

API_KEY = "loop-app-key"
API_SECRET = "loop-app-secret-0123456789abcdef"
REPOSITORY = "octo/shows"
#: The console script, as CI runs it (``python -m stagecfg`` in a checkout holding a
#: ``stagecfg/`` manifest directory would import that directory as the package).
STAGECFG = str(Path(sys.executable).with_name("stagecfg"))


def manifests(
    checkout: Path,
    *,
    talk_ahead: int = 300,
    talk_grants: str = "join-backstage, join-call, read-call",
    title: str = "Episode 2",
) -> Path:
    """A checkout of the repository: base.yaml (users, call types) and shows.yaml (calls)."""
    folder = checkout / "stagecfg"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(
        "version: 1\n"
        "project: shows\n"
        "users:\n"
        "  host-1: {role: user, name: Host}\n"
        "call_types:\n"
        "  weekly-show:\n"
        "    settings: {backstage: {enabled: true, join_ahead_time_seconds: 300}}\n"
        "  talk-show:\n"
        f"    settings: {{backstage: {{enabled: true, join_ahead_time_seconds: {talk_ahead}}}}}\n"
        f"    grants: {{host: [{talk_grants}]}}\n"
    )
    (folder / "shows.yaml").write_text(
        "version: 1\n"
        "project: shows\n"
        "calls:\n"
        "  weekly-show:episode-1:\n"
        "    created_by_id: host-1\n"
        '    starts_at: "2030-01-01T18:00:00Z"\n'
        "  weekly-show:episode-2:\n"
        "    created_by_id: host-1\n"
        '    starts_at: "2030-01-08T18:00:00Z"\n'
        f'    custom: {{title: "{title}"}}\n'
    )
    return checkout


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Loop:
    """The emulator, the fake GitHub and the job environment one CI step runs in."""

    tmp: Path
    emulator_url: str
    github: FakeGithub
    jobs: int = 0

    def job(self, checkout: Path, event: dict[str, object], *args: str, sha: str = "") -> Result:
        """One CI step in ``checkout``: a fresh summary file, the event, the GITHUB_* variables."""
        self.jobs += 1
        event_path = self.tmp / f"event-{self.jobs}.json"
        event_path.write_text(json.dumps(event))
        env = {
            **os.environ,
            "STAGECFG_BACKEND": "stream",
            "STREAM_API_KEY": API_KEY,
            "STREAM_API_SECRET": API_SECRET,
            "STREAM_BASE_URL": self.emulator_url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(self.tmp / f"summary-{self.jobs}.md"),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": str(100 + self.jobs),
            "GITHUB_REF_NAME": "main",
        }
        if sha:
            env["GITHUB_SHA"] = sha
        proc = subprocess.run(
            [STAGECFG, *args],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for text in (proc.stdout, proc.stderr):
            assert TOKEN not in text and API_SECRET not in text
            assert "Traceback" not in text
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def summary(self) -> str:
        return (self.tmp / f"summary-{self.jobs}.md").read_text()

    def merge(self, number: int, sha: str) -> dict[str, object]:
        """GitHub's answer to commits/{sha}/pulls once PR ``number`` merged as ``sha``, and the
        push event of that merge."""
        self.github.pulls_of[sha] = [
            {"number": number, "merged_at": "2030-01-01T00:00:00Z", "merge_commit_sha": sha}
        ]
        return {"ref": "refs/heads/main", "after": sha}


def pull_request(number: int) -> dict[str, object]:
    repo = {"full_name": REPOSITORY}
    return {"number": number, "pull_request": {"number": number, "head": {"repo": repo}}}


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    """`stagecfg emulator` in its own process on a free port, stopped after the test."""
    env = {**os.environ, "STREAM_API_SECRET": API_SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stagecfg", "emulator", "--port", "0", "--api-key", API_KEY,
         "--sandbox", str(tmp_path / "app.db")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "serving" in first, first
        url = first.split(" at ")[-1].strip()
        with httpx.Client(base_url=url, timeout=5) as client:
            for _ in range(500):
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/_emulator/health").status_code == 200:
                        break
                time.sleep(0.02)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture
def loop(
    tmp_path: Path,
    emulator_url: str,
    fake_github: FakeGithub,  # noqa: F811
) -> Loop:
    loop = Loop(tmp_path, emulator_url, fake_github)
    main = manifests(tmp_path / "main")
    # The app as main's manifests made it (an earlier merge).
    done = loop.job(main, {"ref": "refs/heads/main"}, "apply", "stagecfg/", "--auto-approve")
    assert done.code == 0, done.err
    return loop


def app_takes_shows_live(loop: Loop) -> None:
    """The product app, with Stream's SDK: a show no pull request declares, and a declared one
    no pull request changes, go live between plan and merge."""
    client = Stream(api_key=API_KEY, api_secret=API_SECRET, base_url=loop.emulator_url)
    own = client.video.call("livestream", "app-made-show")
    own.get_or_create(data=CallRequest(created_by_id="host-1"))
    own.go_live()
    client.video.call("weekly-show", "episode-1").go_live()
    assert client.video.call("weekly-show", "episode-1").get().data.call.backstage is False


def plan_pull_request(loop: Loop, checkout: Path, number: int) -> None:
    result = loop.job(
        checkout,
        pull_request(number),
        "plan", "stagecfg/", "--github-comment", "--out", "stagecfg-plan.json",
        "--detailed-exitcode",
    )  # fmt: skip
    assert result.code == 2, result.err
    assert f"created the stagecfg comment on pull request #{number}" in result.err
    (body,) = loop.github.bodies(number)
    assert body.startswith(MARKDOWN_MARKER) and "#### Risk summary" in body
    assert loop.summary().startswith(MARKDOWN_MARKER)


def apply_on_merge(loop: Loop, checkout: Path, reviewed: Path, number: int, sha: str) -> Result:
    return loop.job(
        checkout,
        loop.merge(number, sha),
        "apply", "stagecfg/", "--reviewed", str(reviewed), "--github-comment", "--auto-approve",
        sha=sha,
    )  # fmt: skip


def test_two_pull_requests_merge_in_turn_and_both_apply(loop: Loop) -> None:
    tmp = loop.tmp
    pr1 = manifests(tmp / "pr1", talk_ahead=600)
    pr2 = manifests(tmp / "pr2", title="Episode 2: the sequel")
    plan_pull_request(loop, pr1, 1)
    plan_pull_request(loop, pr2, 2)
    app_takes_shows_live(loop)

    sha1, sha2 = "1" * 40, "2" * 40
    main = manifests(tmp / "main", talk_ahead=600)
    merged = apply_on_merge(loop, main, pr1 / "stagecfg-plan.json", 1, sha1)
    assert merged.code == 0, merged.out + merged.err
    assert "Apply complete: 1 change applied." in merged.out
    (comment1,) = loop.github.bodies(1)
    assert "### stagecfg apply: applied" in comment1 and "<code>111111111111</code>" in comment1

    # PR 2 merges on top: main's manifests are now neither plan's, the app's shows went live,
    # and PR 2's change is still exactly what was reviewed.
    main = manifests(tmp / "main", talk_ahead=600, title="Episode 2: the sequel")
    merged = apply_on_merge(loop, main, pr2 / "stagecfg-plan.json", 2, sha2)
    assert merged.code == 0, merged.out + merged.err
    (comment2,) = loop.github.bodies(2)
    assert "### stagecfg apply: applied" in comment2 and "<code>222222222222</code>" in comment2
    assert "~ call weekly-show:episode-2" in merged.out

    after = loop.job(main, {"ref": "refs/heads/main"}, "plan", "stagecfg/", "--detailed-exitcode")
    assert after.code == 0, after.out
    # One comment per pull request, for the whole loop.
    assert [len(loop.github.bodies(n)) for n in (1, 2)] == [1, 1]
    assert len([r for r in loop.github.writes() if r.method == "POST"]) == 2


def test_a_pull_request_whose_object_changed_is_refused_and_recovered(loop: Loop) -> None:
    tmp = loop.tmp
    # Both change call type talk-show, on different lines (no merge conflict).
    pr1 = manifests(tmp / "pr1", talk_ahead=600)
    pr2 = manifests(tmp / "pr2", talk_grants="join-call, read-call")
    plan_pull_request(loop, pr1, 1)
    plan_pull_request(loop, pr2, 2)
    app_takes_shows_live(loop)

    main = manifests(tmp / "main", talk_ahead=600)
    assert apply_on_merge(loop, main, pr1 / "stagecfg-plan.json", 1, "a" * 40).code == 0

    main = manifests(tmp / "main", talk_ahead=600, talk_grants="join-call, read-call")
    refused = apply_on_merge(loop, main, pr2 / "stagecfg-plan.json", 2, "b" * 40)
    assert refused.code == 1
    assert "the reviewed plan no longer matches the plan of the current manifests:" in refused.out
    assert "call_type:talk-show changed on the backend since the plan was reviewed" in refused.out
    assert "Apply complete" not in refused.out
    (error,) = [line for line in refused.err.splitlines() if line.startswith("Error:")]
    assert "the reviewed plan no longer matches" in error and "nothing was changed" in error
    (comment2,) = loop.github.bodies(2)
    for part in (
        "### stagecfg apply: the reviewed plan no longer matches <code>main</code>",
        "**Nothing was applied.**",
        "#### What differs",
        "#### How to recover",
        "#### The current plan",
    ):
        assert part in comment2
    # Nothing was written: the grants are as PR 1 left them.
    still = loop.job(main, {"ref": "refs/heads/main"}, "plan", "stagecfg/", "--detailed-exitcode")
    assert still.code == 2 and "grants.host: -[join-backstage]" in still.out

    # The recovery: the workflow_dispatch re-plan (no pull request: job summary only), approved
    # through the environment's reviewers, then apply with that plan.
    replan = loop.job(
        main, {"inputs": {}}, "plan", "stagecfg/", "--out", "replan.json", "--github-comment"
    )
    assert replan.code == 0 and "no plan comment was posted" in replan.err
    assert "grants.host" in loop.summary()
    recovered = loop.job(
        main, {"inputs": {}}, "apply", "stagecfg/", "--reviewed", "replan.json",
        "--github-comment", "--pr", "2", "--auto-approve", sha="b" * 40,
    )  # fmt: skip
    assert recovered.code == 0, recovered.out + recovered.err
    (comment2,) = loop.github.bodies(2)
    assert "### stagecfg apply: applied" in comment2
    final = loop.job(main, {"ref": "refs/heads/main"}, "plan", "stagecfg/", "--detailed-exitcode")
    assert final.code == 0, final.out


def test_the_reviewed_plan_file_survives_the_checkout_it_was_made_in(loop: Loop) -> None:
    # CI downloads the plan artifact into the merge job's checkout, a different directory.
    pr = manifests(loop.tmp / "pr", talk_ahead=900)
    plan_pull_request(loop, pr, 5)
    main = manifests(loop.tmp / "main", talk_ahead=900)
    artifact = main / "downloaded" / "stagecfg-plan.json"
    artifact.parent.mkdir()
    shutil.copy(pr / "stagecfg-plan.json", artifact)
    shutil.rmtree(pr)
    merged = apply_on_merge(loop, main, artifact, 5, "c" * 40)
    assert merged.code == 0, merged.out + merged.err
