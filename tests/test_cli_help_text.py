"""`--help` teaches the CLI on its own: every flag described, environment variables shown, and
examples that run.

The examples are read from the rendered help, as a user reads them, and each command line is
run through a shell with the real `stagecfg` on PATH, so an example that stops working fails
here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401

from stagecfg.cli import cli, main
from stagecfg.emulator.server import EmulatorHandle

REPO = Path(__file__).resolve().parent.parent

#: Environment variables the CLI reads through its options (each option with one must show it).
ENVIRONMENT = {
    "STREAM_API_KEY",
    "STREAM_API_SECRET",
    "STREAM_BASE_URL",
    "STAGECFG_BACKEND",
    "STAGECFG_SANDBOX",
    "STAGECFG_PROJECT",
    "STAGECFG_DEADLINE",
}

#: Examples that say "after an apply" run once the Quick start's apply has run there.
AFTER_APPLY = {"stagecfg access", "stagecfg drift", "stagecfg export"}


def _walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], f"{path} {name}")


COMMANDS = dict(_walk(cli, "stagecfg"))


def _help(capsys: pytest.CaptureFixture[str], path: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*path.split()[1:], "--help"])
    out, err = capsys.readouterr()
    assert (exit_info.value.code, err) == (0, "")
    return out


def _examples(help_text: str) -> list[tuple[str, int]]:
    """The command lines of the Examples section, each with the exit code its comment gives."""
    section = help_text.split("\nExamples:\n", 1)[1]
    examples: list[tuple[str, int]] = []
    expected = 0
    for line in section.splitlines():
        text = line.strip()
        if text.startswith("#"):
            found = re.search(r"\(exit code (\d+)\)$", text)
            expected = int(found.group(1)) if found else 0
        elif text:
            assert text.startswith("stagecfg "), line
            examples.append((text, expected))
    return examples


def test_every_option_and_argument_has_a_description() -> None:
    missing = [
        f"{path}: {param.human_readable_name if isinstance(param, click.Argument) else param.opts}"
        for path, command in COMMANDS.items()
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing, f"no help text: {missing}"
    assert all((command.help or "").strip() for command in COMMANDS.values())


def test_help_shows_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    shown: set[str] = set()
    for path, command in COMMANDS.items():
        text = _help(capsys, path)
        flat = " ".join(text.split())  # click wraps "[env var: NAME]" anywhere
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar:
                names = [param.envvar] if isinstance(param.envvar, str) else param.envvar
                for name in names:
                    assert f"env var: {name}" in flat, (path, param.opts, name)
                    shown.add(name)
    assert not ENVIRONMENT - shown, f"not shown in any --help: {ENVIRONMENT - shown}"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_shows_two_to_four_examples_as_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    wide = _examples(_help(capsys, path))
    assert 2 <= len(wide) <= 4, wide
    assert any(line == path or line.startswith(path + " ") for line, _ in wide)
    # A narrow terminal wraps the option texts but never an example.
    monkeypatch.setenv("COLUMNS", "40")
    assert _examples(_help(capsys, path)) == wide


def test_debug_is_offered_by_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for path in COMMANDS:
        assert "--debug " in _help(capsys, path), path


# --- every example runs ------------------------------------------------------------------------


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `stagecfg` is this checkout run by this interpreter, and no credentials."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "stagecfg"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m stagecfg "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_line(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _serve_and_stop(line: str, cwd: Path, env: dict[str, str]) -> None:
    """An emulator example serves until stopped: run it on a free port instead of its own
    (tests never listen on fixed ports), check that it answers, then Ctrl-C it."""
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {line} --port 0"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "stagecfg emulator serving" in first, first
        url = first.rsplit(" at ", 1)[1].strip()
        assert httpx.get(f"{url}/_emulator/health", timeout=10).json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "emulator stopped" in out


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_example_runs_as_shown(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    shell_env: dict[str, str],
    emulator: EmulatorHandle,  # noqa: F811
    path: str,
) -> None:
    examples = _examples(_help(capsys, path))
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples", work / "examples")
    if path in AFTER_APPLY:
        applied = _run_line("stagecfg apply examples/backstage --auto-approve", work, shell_env)
        assert applied.returncode == 0, applied.stderr
    # `--backend stream` examples talk to an emulator, the real app's stand-in.
    stream_env = {
        **shell_env,
        "STREAM_API_KEY": emulator.api_key,
        "STREAM_API_SECRET": emulator.api_secret,
        "STREAM_BASE_URL": emulator.url,
    }
    for line, expected in examples:
        if line.startswith("stagecfg emulator"):
            _serve_and_stop(line, work, shell_env)
            continue
        env = stream_env if "--backend stream" in line else shell_env
        proc = _run_line(line, work, env)
        assert proc.returncode == expected, (line, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (line, proc.stderr)
        if expected == 0:
            assert "Error" not in proc.stderr, (line, proc.stderr)
