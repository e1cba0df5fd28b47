"""Apply's progress display: the log cadence with an injected clock, the in-place terminal line,
and a real apply whose stderr is a pseudo-terminal."""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stagecfg.cli.progress import (
    LOG_EVERY_SECONDS,
    REDRAW_SECONDS,
    ApplyProgress,
    duration_text,
    progress_text,
)
from stagecfg.plan import Change


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(i: int) -> Change:
    return Change("call", f"t:show-{i:04d}", "update", 2)


def log_progress(clock: Clock) -> tuple[ApplyProgress, io.StringIO]:
    stream = io.StringIO()
    return ApplyProgress(stream, terminal=False, clock=clock), stream


def test_texts() -> None:
    assert duration_text(0.4) == "0s"
    assert duration_text(9.6) == "10s"
    assert duration_text(65) == "1m05s"
    assert duration_text(2 * 3600 + 3 * 60 + 10) == "2h03m"
    assert duration_text(-3) == "0s"
    assert progress_text(0, 2003, 0.0) == "0/2,003 changes (0%)"
    assert progress_text(1203, 2003, 10.0) == "1,203/2,003 changes (60%), 120.3/s, ETA 7s"
    assert progress_text(2003, 2003, 20.0) == "2,003/2,003 changes (100%), 100.2/s, took 20s"


def test_without_a_terminal_a_line_per_tenth_when_changes_are_fast() -> None:
    clock = Clock()
    progress, stream = log_progress(clock)
    for done in range(1, 1001):
        clock.now += 0.001
        progress(done, 1000, call(done))
    lines = stream.getvalue().splitlines()
    assert [line.split("%)")[0] + "%)" for line in lines] == [
        f"apply: {n * 100:,}/1,000 changes ({n * 10}%)" for n in range(1, 11)
    ]
    assert lines[-1].endswith("took 1s") and "\r" not in stream.getvalue()
    progress.close()  # nothing is open in a log: no stray newline
    assert stream.getvalue().count("\n") == 10


def test_without_a_terminal_a_line_every_ten_seconds_when_changes_are_slow() -> None:
    clock = Clock()
    progress, stream = log_progress(clock)
    for done in range(1, 31):  # 3 s per change: a tenth (100 changes) takes 300 s
        clock.now += 3
        progress(done, 1000, call(done))
    lines = stream.getvalue().splitlines()
    # At 12, 24 s: the first change that finishes 10 s or more after the last line.
    assert [line.split(" changes")[0] for line in lines] == [
        "apply: 4/1,000",
        "apply: 8/1,000",
        "apply: 12/1,000",
        "apply: 16/1,000",
        "apply: 20/1,000",
        "apply: 24/1,000",
        "apply: 28/1,000",
    ]
    assert lines[-1] == "apply: 28/1,000 changes (2%), 0.3/s, ETA 48m36s"
    assert LOG_EVERY_SECONDS == 10


def test_without_a_terminal_a_jump_of_several_tenths_is_one_line() -> None:
    clock = Clock()
    progress, stream = log_progress(clock)
    clock.now += 1
    progress(100, 250, call(0))  # a batch of 100 users at once: 40%
    clock.now += 1
    progress(110, 250, call(1))  # still 40%, 1 s later: nothing
    clock.now += 1
    progress(250, 250, call(2))
    assert [line.split("%)")[0] + "%)" for line in stream.getvalue().splitlines()] == [
        "apply: 100/250 changes (40%)",
        "apply: 250/250 changes (100%)",
    ]


def terminal_draws(step: float, changes: int = 300) -> tuple[str, list[str]]:
    """The terminal output of ``changes`` finishing ``step`` seconds apart, and its draws."""
    clock = Clock()
    stream = io.StringIO()
    progress = ApplyProgress(stream, terminal=True, clock=clock, width=100)
    for done in range(1, changes + 1):
        clock.now += step
        progress(done, changes, call(done))
    progress.close()
    progress.close()  # a second close adds nothing
    text = stream.getvalue()
    return text, text.rstrip("\n").split("\r")[1:]


def test_on_a_terminal_one_line_redrawn_in_place() -> None:
    step = 0.125  # more than REDRAW_SECONDS, and exact in binary, so no rounding creeps in
    assert step > REDRAW_SECONDS
    text, draws = terminal_draws(step)
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert len(draws) == 300  # a redraw per change when changes are that far apart
    assert draws[0] == "apply: 1/300 changes (0%), 8.0/s, ETA 37s  ~ call t:show-0001"
    assert draws[-1] == "apply: 300/300 changes (100%), 8.0/s, took 38s  ~ call t:show-0300"


def test_on_a_terminal_redraws_wait_a_tenth_of_a_second_but_the_end_is_drawn() -> None:
    _, draws = terminal_draws(0.0)  # all finish at once: the first and the last are drawn
    assert [draw.split("changes")[0] for draw in draws] == ["apply: 1/300 ", "apply: 300/300 "]
    # 1/16 s apart (exact in binary): every second change is 1/8 s after the last draw.
    _, draws = terminal_draws(0.0625)
    drawn = [int(draw.split("/")[0].removeprefix("apply: ")) for draw in draws]
    assert drawn == [*range(1, 300, 2), 300]


def test_on_a_terminal_a_shorter_line_blanks_the_rest_and_a_long_one_is_cut() -> None:
    clock = Clock()
    stream = io.StringIO()
    progress = ApplyProgress(stream, terminal=True, clock=clock, width=60)
    clock.now += 1
    progress(1, 2, Change("call", "t:" + "x" * 200, "update", 2))
    clock.now += 1
    progress(2, 2, Change("call", "t:y", "update", 2))
    first, second = stream.getvalue().split("\r")[1:]
    assert len(first) == 59  # one column short of the width, so the terminal never wraps
    assert second.rstrip() == "apply: 2/2 changes (100%), 1.0/s, took 2s  ~ call t:y"
    assert len(second) == 59


def test_a_secret_in_a_name_is_masked_on_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from stagecfg import redact

    # The registry is process-wide: this test's secret must not outlive it.
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_patterns", {})
    secret = "s3cr3t-value-" + "q" * 20
    redact.register_secret(secret)
    clock = Clock()
    for terminal in (True, False):
        stream = io.StringIO()
        progress = ApplyProgress(stream, terminal=terminal, clock=clock, width=200)
        clock.now += 1
        progress(1, 1, Change("call", f"t:{secret}", "update", 2))
        progress.close()
        assert secret not in stream.getvalue()


# --- a real apply on a pseudo-terminal ---------------------------------------------------------


def write_calls(directory: Path, count: int) -> None:
    directory.mkdir()
    lines = [
        "version: 1",
        "project: progress",
        "users:",
        "  host: {role: user}",
        "call_types:",
        "  show:",
        "    settings:",
        "      backstage: {enabled: true}",
        "calls:",
    ]
    for i in range(count):
        lines += [f"  show:ep-{i:04d}:", "    created_by_id: host"]
    (directory / "stagecfg.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_with_stderr_on_a_terminal(cwd: Path, *argv: str) -> tuple[int, str, str]:
    """stagecfg with stderr on a pseudo-terminal (stdin and stdout are not terminals)."""
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
    with (cwd / "out.txt").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stagecfg", *argv],
            cwd=cwd,
            env={**env, "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=slave,
        )
    os.close(slave)
    terminal = b""
    deadline = time.monotonic() + 120
    # A selector, not select.select: in a long test run the pty's descriptor may be past 1024.
    watch = selectors.DefaultSelector()
    watch.register(master, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if not watch.select(timeout=1.0):
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            terminal += chunk
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watch.close()
        os.close(master)
    return code, (cwd / "out.txt").read_text("utf-8"), terminal.decode()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_a_real_apply_draws_progress_in_place_on_a_terminal(tmp_path: Path) -> None:
    calls = 240
    write_calls(tmp_path / "m", calls)
    code, out, terminal = run_with_stderr_on_a_terminal(
        tmp_path, "apply", "m", "--sandbox", "sb.db", "--auto-approve", "--parallelism", "2"
    )
    assert code == 0, out + terminal
    total = calls + 2
    assert f"Apply complete: {total} changes applied." in out
    assert "apply: " not in out
    # The terminal turns "\n" into "\r\n"; every other "\r" is a redraw of the one line.
    screen = terminal.replace("\r\n", "\n")
    (line,) = [row for row in screen.split("\n") if "apply: " in row]
    draws = line.split("\r")[1:]
    assert len(draws) >= 2
    assert draws[0].startswith("apply: ")
    assert draws[-1].startswith(f"apply: {total}/{total} changes (100%)")
    assert all(draw.startswith("apply: ") for draw in draws)
    assert len(draws) < total  # never a draw per change at this pace... nor a line per change
