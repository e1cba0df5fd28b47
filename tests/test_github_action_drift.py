"""The action's drift mode and examples/ci/drift.yml (issue 15): the workflow's shape, and the
action's steps run for real (``action_runner``) against sandboxes changed behind the manifests'
back, reporting to the fake GitHub on 127.0.0.1 with the token the action hands on.

The schema, actionlint and pinning checks of drift.yml are tests/test_github_action.py's, which
cover every workflow in examples/ci.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from action_runner import FAKE_TOKEN, ActionRun, load_action, run_action
from conftest import REPO_ROOT
from github_fake import FakeGithub

DRIFT_WORKFLOW = REPO_ROOT / "examples" / "ci" / "drift.yml"
MULTI_ENV = REPO_ROOT / "examples" / "multi-env"
REPOSITORY = "octo/shows"


def _workflow() -> dict[str, Any]:
    data = yaml.safe_load(DRIFT_WORKFLOW.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_drift_workflow_runs_on_a_schedule_and_by_hand_with_least_privilege() -> None:
    workflow = _workflow()
    # PyYAML (YAML 1.1) reads the bare `on` key as true; GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    assert len(cron.split()) == 5
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["strategy"]["matrix"]["environment"] == ["staging", "production"]
    assert job["strategy"]["fail-fast"] is False
    assert job["concurrency"] == {
        "group": "stagecfg-drift-${{ matrix.environment }}",
        "cancel-in-progress": False,
    }


def test_the_drift_workflow_uses_the_actions_drift_mode_with_its_inputs() -> None:
    (job,) = _workflow()["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("OWNER/stagecfg@")]
    inputs = load_action()["inputs"]
    assert set(step["with"]) <= set(inputs)
    assert step["with"]["command"] == "drift"
    assert step["with"]["environment"] == "${{ matrix.environment }}"
    assert step["with"]["drift-report"] == "issue"
    assert set(step["env"]) == {"STREAM_API_KEY", "STREAM_API_SECRET"}
    warn = job["steps"][-1]
    assert warn["if"] == f"steps.{step['id']}.outputs.drifted == 'true'"


# ---- the drift mode, run for real ----


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    # The token the action hands on (github.token): the step sets no GITHUB_TOKEN itself.
    server = FakeGithub(token=FAKE_TOKEN, repository=REPOSITORY)
    yield server
    server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(MULTI_ENV, work / "stagecfg", ignore=shutil.ignore_patterns("*.md"))
    return work


class Job:
    """Runs the action in ``workspace``, one sandbox per environment, one summary per run."""

    def __init__(self, workspace: Path, github: FakeGithub) -> None:
        self.workspace = workspace
        self.github = github
        self.runs = 0
        self.summaries: list[Path] = []

    def __call__(
        self, environment: str, event: dict[str, Any] | None = None, **inputs: str
    ) -> ActionRun:
        self.runs += 1
        temp = self.workspace.parent / f"runner-temp-{self.runs}"
        temp.mkdir()
        summary = temp / "summary.md"
        self.summaries.append(summary)
        env = {
            "STAGECFG_SANDBOX": str(self.workspace / ".stagecfg" / f"{environment}.db"),
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": self.github.url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": str(700 + self.runs),
        }
        if event is not None:
            event_file = temp / "event.json"
            event_file.write_text(json.dumps(event), "utf-8")
            env["GITHUB_EVENT_PATH"] = str(event_file)
        values = {"backend": "local", "environment": environment, **inputs}
        run = run_action(self.workspace, values, runner_temp=temp, env=env)
        assert FAKE_TOKEN not in run.stdout
        return run

    def apply(self, environment: str, paths: str = "stagecfg/") -> None:
        run = self(environment, command="apply", paths=paths, **{"github-comment": "false"})
        assert run.returncode == 0, run.stdout


def change_production_behind_the_manifests(workspace: Path, job: Job) -> None:
    """Someone raised production's limit on the dashboard: apply a changed copy there."""
    changed = workspace / "dashboard"
    shutil.copytree(workspace / "stagecfg", changed)
    overlay = changed / "environments" / "production.yaml"
    text = overlay.read_text("utf-8")
    assert "max_viewers: 5000" in text
    overlay.write_text(text.replace("max_viewers: 5000", "max_viewers: 80"), "utf-8")
    job.apply("production", paths="dashboard/")
    shutil.rmtree(changed)


def test_drift_opens_keeps_and_closes_one_issue_per_environment(
    workspace: Path, github: FakeGithub
) -> None:
    job = Job(workspace, github)
    job.apply("staging")
    job.apply("production")

    clean = job("production", command="drift")
    assert clean.returncode == 0, clean.stdout
    assert clean.outputs["exit-code"] == "0" and clean.outputs["drifted"] == "false"
    assert clean.argv()[:2] == ["stagecfg", "drift"] and "--github-issue" in clean.argv()
    assert github.issues == []

    change_production_behind_the_manifests(workspace, job)
    drifted = job("production", command="drift")
    assert drifted.returncode == 0, drifted.stdout  # exit 2 passes the step
    assert drifted.outputs["exit-code"] == "2" and drifted.outputs["drifted"] == "true"
    (issue,) = github.open_issues()
    assert issue["title"] == "stagecfg: the app drifted from the manifests (production)"
    assert issue["body"].startswith("<!-- stagecfg-drift:production -->\n")
    assert "max_participants" in issue["body"]
    # The same Markdown reached the run's summary first.
    assert issue["body"].rstrip("\n") in job.summaries[-1].read_text("utf-8")

    writes = len(github.writes())
    again = job("production", command="drift")
    assert again.outputs["drifted"] == "true"
    assert len(github.writes()) == writes, "the same drift must not rewrite the issue"

    staging = job("staging", command="drift")
    assert staging.outputs["drifted"] == "false" and len(github.open_issues()) == 1

    job.apply("production")
    fixed = job("production", command="drift")
    assert fixed.outputs == {
        "exit-code": "0",
        "has-changes": "false",
        "plan-file": "",
        "drifted": "false",
    }
    closed = github.issue(issue["number"])
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert "no drift any more" in closed["body"] and github.open_issues() == []


def test_drift_as_the_pull_requests_sticky_comment(workspace: Path, github: FakeGithub) -> None:
    job = Job(workspace, github)
    job.apply("production")
    change_production_behind_the_manifests(workspace, job)
    event = {"pull_request": {"number": 7, "head": {"repo": {"full_name": REPOSITORY}}}}
    for _ in range(2):
        run = job("production", event, command="drift", **{"drift-report": "comment"})
        assert run.returncode == 0, run.stdout
        assert run.outputs["drifted"] == "true"
    (body,) = github.bodies(7)
    assert body.startswith("<!-- stagecfg-drift:production -->\n")
    assert github.issues == []


def test_a_drift_that_cannot_run_fails_the_step(workspace: Path, github: FakeGithub) -> None:
    job = Job(workspace, github)
    base = workspace / "stagecfg" / "base.yaml"
    base.write_text(base.read_text("utf-8").replace("settings:", "settngs:", 1), "utf-8")
    run = job("production", command="drift")
    assert run.returncode == 1
    assert run.outputs["exit-code"] == "1" and run.outputs["drifted"] == "false"
    assert github.writes() == []
