"""Runs action.yml's steps the way GitHub's runner does, on this machine, with nothing stubbed.

Each ``run:`` step's script goes to ``bash --noprofile --norc -eo pipefail`` (what ``shell:
bash`` means on a runner) with the step's ``env:``, a fresh ``$GITHUB_OUTPUT`` per step and one
``$GITHUB_PATH`` whose lines are put in front of ``PATH`` for the steps after it.
``$GITHUB_ACTION_PATH`` is this checkout. A ``uses:`` step is not run; its outputs come from the
caller (setup-python's ``python-path`` is this test's interpreter). Expressions are evaluated for
the few forms action.yml uses, and any other form fails the test rather than being guessed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO_ROOT

ACTION_FILE = REPO_ROOT / "action.yml"
FAKE_TOKEN = "ghs_fake-token-for-tests"
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


def load_action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION_FILE.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def is_install_step(step: dict[str, Any]) -> bool:
    return "run" in step and "pip install" in step["run"]


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    outputs: dict[str, str]
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    github_path: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The stagecfg command line the run step printed (``Running: ...``), split into words."""
        (line,) = [x for x in self.stdout.splitlines() if x.startswith("Running: ")]
        return shlex.split(line.removeprefix("Running: "))


def _evaluate(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if step:
            return steps.get(step.group(1), {}).get(step.group(2), "")
        if expression == "github.token":
            return FAKE_TOKEN
        raise AssertionError(
            f"action.yml uses an expression this runner does not know: {expression}"
        )

    return _EXPRESSION.sub(value, text)


def _read_outputs(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        assert "<<" not in line, "multi-line outputs are not used by action.yml"
        name, _, value = line.partition("=")
        found[name] = value
    return found


def _path_without_stagecfg() -> list[str]:
    """This machine's PATH less every directory holding a stagecfg (the test venv's included)."""
    return [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "stagecfg").exists()
    ]


def run_action(
    workspace: Path,
    inputs: dict[str, str],
    *,
    runner_temp: Path,
    install: bool = False,
    env: dict[str, str] | None = None,
) -> ActionRun:
    """Run action.yml with ``inputs`` (defaults filled in as the runner does) in ``workspace``.

    Without ``install`` the install step is left out and the test venv's own stagecfg is on
    PATH; with it, the step's pip install runs and only what it puts on $GITHUB_PATH is there.
    """
    action = load_action()
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    values.update(inputs)
    github_path_file = runner_temp / "github_path"
    github_path_file.touch()
    step_outputs: dict[str, dict[str, str]] = {}
    base_path = _path_without_stagecfg()
    if not install:
        base_path.insert(0, str(Path(sys.executable).parent))
    stdout: list[str] = []
    returncode = 0
    for number, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{number}")
        if "uses" in step:
            if step["uses"].startswith("actions/setup-python@"):
                step_outputs[step_id] = {"python-path": sys.executable}
            continue
        if is_install_step(step) and not install:
            continue
        assert step.get("shell") == "bash", f"step {step_id} must say shell: bash"
        script = runner_temp / f"{step_id}.sh"
        script.write_text(step["run"], "utf-8")
        output_file = runner_temp / f"{step_id}.out"
        output_file.touch()
        added = [x for x in github_path_file.read_text("utf-8").splitlines() if x]
        step_env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("GITHUB_", "INPUT_", "RUNNER_"))
        }
        step_env.update(env or {})
        step_env.update(
            {
                name: _evaluate(str(v), values, step_outputs)
                for name, v in step.get("env", {}).items()
            }
        )
        step_env.update(
            PATH=os.pathsep.join([*reversed(added), *base_path]),
            GITHUB_ACTION_PATH=str(REPO_ROOT),
            GITHUB_OUTPUT=str(output_file),
            GITHUB_PATH=str(github_path_file),
            GITHUB_WORKSPACE=str(workspace),
            RUNNER_TEMP=str(runner_temp),
            RUNNER_OS="Linux",
        )
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        stdout.append(proc.stdout + proc.stderr)
        step_outputs[step_id] = _read_outputs(output_file)
        returncode = proc.returncode
        if returncode != 0:
            break  # the runner skips the steps after a failed one
    outputs = {
        name: _evaluate(spec["value"], values, step_outputs)
        for name, spec in action["outputs"].items()
    }
    return ActionRun(
        returncode=returncode,
        stdout="".join(stdout),
        outputs=outputs,
        step_outputs=step_outputs,
        github_path=[x for x in github_path_file.read_text("utf-8").splitlines() if x],
    )
