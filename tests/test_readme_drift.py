"""README's drift worked example, run as a user would run it: the manifests applied to an
emulator, the dashboard change made with the README's own Python (Stream's SDK), then the
drift check and the adoption, whose output must be exactly what README shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_fixture import MakeEmulator, make_emulator  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
README_URL = "http://127.0.0.1:8787"
KEY, SECRET = "emulator", "stagecfg-emulator-dev-secret-not-for-production"


def example_blocks() -> dict[str, str]:
    """The worked example's ```python, ```text and ```diff blocks."""
    text = (REPO / "README.md").read_text()
    section = text.split("### A worked example", 1)[1].split("<!-- /section:drift -->", 1)[0]
    return {
        lang: body for lang, body in re.findall(r"```(python|text|diff)\n(.*?)```", section, re.S)
    }


def stagecfg(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "stagecfg", *args]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)


def test_the_worked_example_runs_as_shown(
    make_emulator: MakeEmulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    handle = make_emulator(api_key=KEY, api_secret=SECRET)
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "multi-env", work / "examples" / "multi-env")
    env = {
        **os.environ,
        "STREAM_API_KEY": KEY,
        "STREAM_API_SECRET": SECRET,
        "STREAM_BASE_URL": handle.url,
        "NO_COLOR": "1",
    }
    applied = stagecfg(
        work, env, "apply", "examples/multi-env", "--env", "production", "--backend", "stream",
        "--auto-approve",
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    blocks = example_blocks()
    change = blocks["python"].replace(README_URL, handle.url)
    done = subprocess.run(
        [sys.executable, "-c", change], cwd=work, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    check = ("drift", "examples/multi-env", "--env", "production", "--backend", "stream")
    report = stagecfg(work, env, *check, "--detailed-exitcode")
    assert report.returncode == 2, report.stderr
    assert report.stdout.replace(handle.url, README_URL) == blocks["text"]

    preview = stagecfg(work, env, *check, "--write", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout == blocks["diff"]
    before = {p: p.read_bytes() for p in (work / "examples").rglob("*.yaml")}
    assert {p: p.read_bytes() for p in (work / "examples").rglob("*.yaml")} == before

    written = stagecfg(work, env, *check, "--write")
    assert written.returncode == 0, written.stderr
    plan = stagecfg(
        work, env, "plan", "examples/multi-env", "--env", "production", "--backend", "stream",
        "--detailed-exitcode",
    )  # fmt: skip
    assert plan.returncode == 0 and "No changes" in plan.stdout, plan.stdout
    again = stagecfg(work, env, *check, "--detailed-exitcode")
    assert again.returncode == 0 and "No drift" in again.stdout


@pytest.fixture(autouse=True)
def _quiet_colors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
