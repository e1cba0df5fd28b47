"""``stagecfg emulator --load PATH``: seeded from manifests before it serves, through the real CLI.

Each test runs ``stagecfg emulator`` as a user would (a subprocess on a free port), waits for
its first line and its health answer within bounds, reads the seeded app with Stream's Python
SDK, and stops it with Ctrl-C.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest
from conftest import REPO_ROOT
from getstream import Stream

from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stagecfg.httpclient import server_token

#: The console script installed with this interpreter: stagecfg as a user runs it.
STAGECFG = str(Path(sys.executable).parent / "stagecfg")
START_TIMEOUT_S = 30.0


class _Lines:
    """A process's stdout lines, read in a thread so that each wait for one is bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._queue: queue.Queue[str] = queue.Queue()
        stream = proc.stdout
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put("")  # end of output

    def next(self, deadline: float) -> str:
        try:
            return self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("stagecfg emulator printed nothing in time") from None

    def rest(self) -> str:
        self._thread.join(timeout=30)
        lines = []
        while not self._queue.empty():
            lines.append(self._queue.get())
        return "".join(lines)


def _wait_healthy(url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"{url} did not answer its health check in time")
        time.sleep(0.05)


@contextmanager
def serving(cwd: Path, *args: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``stagecfg emulator --port 0 ARGS``; yield its URL and the lines it printed first."""
    proc = subprocess.Popen(
        [STAGECFG, "emulator", "--port", "0", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reader = _Lines(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        lines = [reader.next(deadline)]
        assert "stagecfg emulator serving" in lines[0], (lines, proc.poll())
        url = lines[0].rsplit(" at ", 1)[1].strip()
        lines.append(reader.next(deadline))
        _wait_healthy(url, deadline)
        yield url, lines
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)  # stdout is the reader's; stderr is small, read once it exited
    assert proc.stderr is not None
    err = proc.stderr.read()
    out = reader.rest()
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert "Traceback" not in err


def _sdk(url: str) -> Stream:
    return Stream(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, base_url=url)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_load_seeds_the_sandbox_before_it_serves(work: Path) -> None:
    with serving(work, "--sandbox", "app.db", "--load", "examples/backstage") as (url, lines):
        assert lines[1] == "loaded examples/backstage: 3 changes applied\n"
        sdk = _sdk(url)
        livestream = sdk.video.get_call_type(name="livestream").data
        assert livestream.settings.backstage.enabled is True
        assert livestream.settings.backstage.join_ahead_time_seconds == 300
        assert set(livestream.grants["host"]) == {
            "join-backstage",
            "join-call",
            "read-call",
            "send-audio",
            "send-video",
            "screenshare",
            "end-call",
        }
        call = sdk.video.call("livestream", "launch-show").get().data.call
        assert call.custom == {"title": "Launch show", "stagecfg_project": "backstage-demo"}
        assert call.backstage is True
        # Seeding went through the sandbox, not over HTTP: the request log starts empty.
        log = httpx.get(
            f"{url}/_emulator/requests",
            params={"api_key": DEFAULT_API_KEY, "operation": "GetOrCreateCall"},
            headers={"Authorization": server_token(DEFAULT_API_SECRET), "stream-auth-type": "jwt"},
            timeout=10,
        ).json()
        assert log["requests"] == []
        # ... and the seed is the app as it already was: no events to deliver or list.
        events = httpx.get(
            f"{url}/_emulator/events",
            params={"api_key": DEFAULT_API_KEY},
            headers={"Authorization": server_token(DEFAULT_API_SECRET), "stream-auth-type": "jwt"},
            timeout=10,
        ).json()
        assert events["events"] == []
    # Started again on the same file, it finds nothing left to do.
    with serving(work, "--sandbox", "app.db", "--load", "examples/backstage") as (_, lines):
        assert lines[1] == "loaded examples/backstage: no changes\n"


def test_load_takes_the_environment(work: Path) -> None:
    args = ("--sandbox", "app.db", "--load", "examples/multi-env", "--env", "production")
    with serving(work, *args) as (url, lines):
        assert lines[1].startswith("loaded examples/multi-env: ")
        shows = _sdk(url).video.get_call_type(name="shows").data
        assert shows.settings.limits.max_participants == 5000  # production's value
        assert "moderator" in shows.grants  # production's overlay


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STAGECFG, "emulator", "--port", "0", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_broken_manifest_exits_1_at_its_file_line_col_and_serves_nothing(work: Path) -> None:
    (work / "bad.yaml").write_text("version: 1\ncall_types:\n  stage:\n    settngs: {}\n")
    proc = _run(work, "--sandbox", "app.db", "--load", "bad.yaml")
    assert proc.returncode == 1
    assert proc.stderr.startswith("bad.yaml:4:5: $.call_types.stage.settngs: unknown key")
    assert "did you mean 'settings'" in proc.stderr
    assert proc.stdout == ""  # never said it serves
    assert not (work / "app.db").exists()  # validated before anything was touched
    assert "Traceback" not in proc.stderr


def test_manifests_with_environments_need_env(work: Path) -> None:
    proc = _run(work, "--sandbox", "app.db", "--load", "examples/multi-env")
    assert proc.returncode == 1
    assert "choose one with --env NAME" in proc.stderr
    assert proc.stdout == ""


def test_a_failure_while_applying_serves_nothing(work: Path) -> None:
    # Valid manifests that the apply refuses: a member who is no user (found while planning).
    (work / "ghost.yaml").write_text(
        "version: 1\ncalls:\n  default:c1:\n    created_by_id: ann\n    members: {ghost: host}\n"
    )
    proc = _run(work, "--sandbox", "app.db", "--load", "ghost.yaml")
    assert proc.returncode == 1
    assert "ghost.yaml:5:15: $.calls['default:c1'].members.ghost: call member 'ghost'" in (
        proc.stderr
    )
    assert proc.stdout == ""
    # A sandbox path that is not a sandbox: refused after listening, before serving.
    (work / "notes.db").write_text("not a database\n")
    proc = _run(work, "--sandbox", "notes.db", "--load", "examples/backstage")
    assert proc.returncode == 1
    assert "is not a stagecfg sandbox" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("flag", [("--env", "staging"), ("--var", "a=1"), ("--var-file", "v.yaml")])
def test_selection_flags_without_load_are_refused(work: Path, flag: tuple[str, str]) -> None:
    proc = _run(work, "--sandbox", "app.db", *flag)
    assert proc.returncode == 1
    assert "choose what --load applies; give --load PATH" in proc.stderr
    assert proc.stdout == ""
