"""Measuring child processes and talking to an emulator process, for the benchmark harness."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stagecfg.httpclient import server_token

# The emulator's documented development credentials are not used: the harness picks its own so
# that it never depends on a default and never prints anything secret-looking it did not make.
API_KEY = "bench-key"
API_SECRET = "bench-only-secret-for-a-loopback-emulator"


@dataclass(frozen=True)
class Measurement:
    """One child process: wall time, its own CPU time and peak RSS (from os.wait4)."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def stagecfg_argv() -> list[str]:
    """The console script users run, from the same environment as this interpreter."""
    script = Path(sys.executable).with_name("stagecfg")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "stagecfg"]


def run_measured(argv: list[str], *, env: dict[str, str], cwd: Path) -> Measurement:
    """Run ``argv`` to completion; rusage comes from wait4 on that child alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measurement(
            argv=tuple(argv),
            returncode=proc.returncode,
            wall_s=wall,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            # Linux reports ru_maxrss in KiB (macOS in bytes).
            max_rss_mb=usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024),
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for stagecfg children: no colour, no inherited Stream settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STREAM_", "STAGECFG_")) and key != "PYTHONPROFILEIMPORTTIME"
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Emulator:
    """``stagecfg emulator`` as a separate process, so it never shares a GIL with a client."""

    def __init__(self, sandbox: Path, *, latency_ms: float, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            *stagecfg_argv(),
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--sandbox",
            str(sandbox),
            "--api-key",
            API_KEY,
            "--latency-ms",
            str(latency_ms),
        ]
        self._log = log.open("wb")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=child_env({"STREAM_API_SECRET": API_SECRET}),
        )
        # The test-only /_emulator/* routes need the same credentials as Stream's endpoints.
        self._http = httpx.Client(
            base_url=self.url,
            timeout=10.0,
            params={"api_key": API_KEY},
            headers={"Authorization": server_token(API_SECRET), "stream-auth-type": "jwt"},
        )
        self._wait_ready(log)

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {self._proc.returncode}: "
                    + log.read_text("utf-8", "replace")[-2000:]
                )
            try:
                if self._http.get("/_emulator/stats").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("emulator did not answer /_emulator/stats within 30 s")

    def cpu_seconds(self) -> float | None:
        """user+sys CPU the emulator process has used so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stats(self) -> dict[str, Any]:
        response = self._http.get("/_emulator/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def reset(self) -> None:
        self._http.post("/_emulator/stats/reset").raise_for_status()

    def stop(self) -> None:
        self._http.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


READ_PREFIXES = ("List", "Get", "Query")


def split_requests(stats: dict[str, Any]) -> tuple[int, int, dict[str, int]]:
    """(reads, writes, per operation) from ``/_emulator/stats``.

    A read is a List*/Get*/Query* operation (GetOrCreateCall creates, so it is a write) or any
    GET; everything else changes state.
    """
    reads = writes = 0
    per_op: dict[str, int] = {}
    for operation, methods in sorted(stats.get("requests", {}).items()):
        for method, count in sorted(methods.items()):
            per_op[f"{operation} {method}"] = count
            is_read = method == "GET" or (
                operation.startswith(READ_PREFIXES) and not operation.startswith("GetOrCreate")
            )
            if is_read:
                reads += count
            else:
                writes += count
    return reads, writes, per_op


def machine() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_1m": load_average(),
    }


def load_average() -> float | None:
    """The 1-minute load average: other work on a shared machine shows up in wall times."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
