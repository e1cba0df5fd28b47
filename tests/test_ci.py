"""The CI recipe and the pre-commit hook parse; every stagecfg command and flag they use exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from stagecfg.cli import cli
from stagecfg.render import MARKDOWN_MARKER

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"


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


def test_workflow_parses_and_uses_real_commands() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow["jobs"]) == {"validate", "plan", "apply"}
    scripts = [step["run"] for step in steps(workflow) if "run" in step]
    invocations = [words for script in scripts for words in stagecfg_invocations(script)]
    used = {words[0] for words in invocations}
    assert used == {"validate", "plan", "apply"}
    for words in invocations:
        check_invocation(words)
    flat = " ".join(" ".join(w) for w in invocations)
    for needed in (
        "--format markdown",
        "--out plan.json",
        "--detailed-exitcode",
        "--plan plan.json",
        "--auto-approve",
    ):
        assert needed in flat


def test_workflow_sticky_comment_and_secrets() -> None:
    text = WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    assert MARKDOWN_MARKER in text
    uses = [step.get("uses", "") for step in steps(workflow)]
    assert any(u.startswith("actions/github-script@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    for job in ("plan", "apply"):
        env = workflow["jobs"][job]["env"]
        assert env["STREAM_API_KEY"] == "${{ secrets.STREAM_API_KEY }}"
        assert env["STREAM_API_SECRET"] == "${{ secrets.STREAM_API_SECRET }}"
    # PyYAML (YAML 1.1) reads the bare `on` key as true; GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    # Validate runs on every push (no branch filter); only the apply job is limited to main.
    assert "pull_request" in triggers and "push" in triggers and not triggers["push"]
    assert "if" not in workflow["jobs"]["validate"]
    assert "refs/heads/main" in workflow["jobs"]["apply"]["if"]
    assert "github.event_name == 'push'" in workflow["jobs"]["apply"]["if"]


def test_pre_commit_hook() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text())
    assert hook["id"] == "stagecfg-validate"
    assert hook["entry"] == "stagecfg validate"
    assert hook["language"] == "python"
    assert re.search(hook["files"], "stagecfg.yaml") and re.search(hook["files"], "a/b.yml")
    assert not re.search(hook["files"], "README.md")
    check_invocation(shlex.split(hook["entry"])[1:])


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
