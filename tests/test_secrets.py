"""The API secret, and any JWT signed with it, never appear in any output or file.

Every command runs in a fresh subprocess (so nothing is masked merely because an earlier test
registered the secret in this process) with a known secret in ``STREAM_API_SECRET`` or
``--api-secret``, with and without ``--debug``, in passing and failing variants. Then every
byte each command printed and every file under the test directory is searched.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_fixture import MakeEmulator, make_emulator  # noqa: F401
from test_faults import write_manifests

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.httpclient import server_token

SECRET = "s3cr3t-KNOWN-value-1234"
WRONG = "wr0ng-KNOWN-secret-5678"
API_KEY = "secrets-test-key"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
FORBIDDEN = (SECRET, WRONG, server_token(SECRET), server_token(WRONG))


def assert_no_secret(text: str, where: str) -> None:
    for value in FORBIDDEN:
        assert value not in text, f"secret value found in {where}"
    match = JWT.search(text)
    assert match is None, f"a JWT found in {where}: {match.group(0)[:12]}..."


@dataclass
class Result:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def check(self) -> None:
        where = " ".join(a if a not in FORBIDDEN else "<secret>" for a in self.argv)
        assert_no_secret(self.out, f"stdout of {where}")
        assert_no_secret(self.err, f"stderr of {where}")
        assert "Traceback" not in self.err or "--debug" in self.argv, self.err[-2000:]


class Runner:
    """Runs stagecfg in subprocesses in one work directory and remembers every result."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.results: list[Result] = []

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
        return {**base, **extra}

    def run(self, *argv: str, env: dict[str, str], timeout: float = 90) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "stagecfg", *argv],
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        result.check()
        self.results.append(result)
        return result


def scan_files(root: Path) -> list[Path]:
    """Every file under ``root`` (sandbox databases, plans, exports, logs, home directory)."""
    scanned = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            assert_no_secret(text, str(path))
            scanned.append(path)
    return scanned


@pytest.fixture
def app(make_emulator: MakeEmulator, tmp_path: Path) -> EmulatorHandle:  # noqa: F811
    return make_emulator(
        sandbox_path=tmp_path / "app" / "emulator.db", api_key=API_KEY, api_secret=SECRET
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    write_manifests(work / "m", types=2, calls=6)
    return work


def stream_env(runner: Runner, handle: EmulatorHandle, secret: str = SECRET) -> dict[str, str]:
    return runner.env(
        STREAM_API_SECRET=secret,
        STREAM_API_KEY=handle.api_key,
        STREAM_BASE_URL=handle.url,
        STAGECFG_BACKEND="stream",
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_no_command_reveals_the_secret(
    app: EmulatorHandle,
    make_emulator: MakeEmulator,  # noqa: F811
    work: Path,
    tmp_path: Path,
    debug: bool,
) -> None:
    runner = Runner(work)
    d = ("--debug",) if debug else ()
    env = stream_env(runner, app)
    cid = "ft_type_00:show-0000"

    # Passing commands.
    assert runner.run(*d, "validate", "m", env=env).code == 0
    assert runner.run(*d, "validate", "m", "--format", "json", env=env).code == 0
    assert runner.run(*d, "schema", env=env).code == 0
    for fmt in ("text", "json", "markdown", "github"):
        assert runner.run(*d, "plan", "m", "--format", fmt, env=env).code == 0
    assert runner.run(*d, "plan", "m", "--out", "plan.json", env=env).code == 0
    applied = runner.run(*d, "apply", "--plan", "plan.json", "--auto-approve", env=env)
    assert applied.code == 0, applied.err
    # The secret as a flag rather than in the environment.
    flag_env = runner.env(STREAM_API_KEY=app.api_key, STREAM_BASE_URL=app.url)
    flagged = ("--backend", "stream", "--api-secret", SECRET)
    assert runner.run(*d, "plan", "m", *flagged, env=flag_env).code == 0
    assert runner.run(*d, "apply", "m", "--auto-approve", *flagged, env=flag_env).code == 0
    assert runner.run(*d, "export", env=env).code == 0
    assert runner.run(*d, "export", "--out", "exported.yaml", env=env).code == 0
    assert runner.run(*d, "access", cid, "--from-backend", env=env).code == 0
    assert runner.run(*d, "access", cid, "--from-backend", "--format", "json", env=env).code == 0
    # The local backend with a secret lying around in the environment.
    local = runner.env(STREAM_API_SECRET=SECRET)
    assert runner.run(*d, "apply", "m", "--auto-approve", "--sandbox", "l.db", env=local).code == 0

    # Failing commands: wrong secret (401 code 43), wrong key (401 code 2), no server at all,
    # a server that only answers 500, a plan saved for another backend.
    wrong = stream_env(runner, app, secret=WRONG)
    for argv in (("plan", "m"), ("apply", "m", "--auto-approve"), ("export",)):
        failed = runner.run(*d, *argv, env=wrong)
        assert failed.code == 1, failed.err
        assert "401" in failed.err or "43" in failed.err
    wrong_key = {**env, "STREAM_API_KEY": "not-the-key"}
    assert runner.run(*d, "plan", "m", env=wrong_key).code == 1
    closed = {**env, "STREAM_BASE_URL": "http://127.0.0.1:9"}
    assert runner.run(*d, "plan", "m", "--timeout", "2", env=closed).code == 1
    broken = make_emulator(
        sandbox_path=tmp_path / "app" / "broken.db",
        api_key=API_KEY,
        api_secret=SECRET,
        error_rate=1.0,
    )
    failed = runner.run(*d, "apply", "m", "--auto-approve", env=stream_env(runner, broken))
    assert failed.code == 1 and "500" in failed.err, failed.err
    assert runner.run(*d, "apply", "--plan", "plan.json", "--sandbox", "l.db", env=local).code == 1
    assert runner.run(*d, "plan", "m", "--api-secret", "", "--backend", "stream", env=local).code

    assert len(runner.results) >= 24
    scanned = scan_files(tmp_path)
    names = {p.name for p in scanned}
    assert {"plan.json", "exported.yaml", "emulator.db", "l.db"} <= names


@pytest.mark.timeout(60)
@pytest.mark.parametrize("via", ["flag", "env"])
def test_emulator_command_never_prints_its_secret(tmp_path: Path, via: str) -> None:
    argv = [sys.executable, "-m", "stagecfg", "--debug", "emulator", "--port", "0"]
    argv += ["--sandbox", str(tmp_path / "emu.db"), "--api-key", API_KEY]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    if via == "flag":
        argv += ["--api-secret", SECRET]
    else:
        env["STREAM_API_SECRET"] = SECRET
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "serving" in first, first
        url = first.split(" at ")[-1].strip()
        with httpx.Client(base_url=url, timeout=5) as client:
            for _ in range(500):
                # Any answer (even 401) means uvicorn is serving and its signal handlers are set.
                with contextlib.suppress(httpx.TransportError):
                    client.get("/api/v2/video/calltypes")
                    break
                time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert_no_secret(first + out, "emulator stdout")
    assert_no_secret(err, "emulator stderr")
    assert "emulator stopped" in out
    assert stat.S_IMODE((tmp_path / "emu.db").stat().st_mode) == 0o600
    scan_files(tmp_path)


def _run_in_process(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_crash_carrying_the_secret_is_masked(
    app: EmulatorHandle, work: Path, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    import stagecfg.pipeline

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"boom with {SECRET} and {server_token(SECRET)}")

    monkeypatch.setattr(stagecfg.pipeline, "make_plan", crash)
    monkeypatch.chdir(work)
    d = ["--debug"] if debug else []
    argv = [*d, "plan", "m", "--backend", "stream", "--base-url", app.url]
    code, out, err = _run_in_process(*argv, "--api-key", API_KEY, "--api-secret", SECRET)
    assert code == 3, err
    assert "Internal error" in err
    assert "boom with ***" in err
    assert ("Traceback" in err) is debug
    assert_no_secret(out + err, "crash report")


@contextlib.contextmanager
def _backend(handle: EmulatorHandle, secret: str) -> Iterator[Any]:
    from stagecfg.backends.stream import open_backend

    backend = open_backend(api_key=handle.api_key, api_secret=secret, base_url=handle.url)
    try:
        yield backend
    finally:
        backend.close()


def test_objects_and_errors_do_not_carry_the_secret(app: EmulatorHandle) -> None:
    from stagecfg.errors import BackendError

    shown = [repr(app), str(app)]
    with _backend(app, SECRET) as backend:
        shown += [repr(backend), str(backend), backend.describe(), backend.identity()]
        shown += [repr(backend.session), repr(backend.session.client.headers)]
        backend.read()
    with _backend(app, WRONG) as backend, pytest.raises(BackendError) as info:
        backend.read()
    error = info.value
    assert error.failure.status == 401
    shown += [str(error), repr(error), repr(error.failure), repr(error.args)]
    shown += [repr(vars(error))]
    for text in shown:
        assert_no_secret(text, text[:60])


def test_local_sandbox_file_is_private(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    os.umask(0o022)
    code, _, err = _run_in_process("apply", "m", "--auto-approve", "--sandbox", "new/s.db")
    assert code == 0, err
    assert stat.S_IMODE((work / "new" / "s.db").stat().st_mode) == 0o600
    # A file made readable by others is tightened when stagecfg opens it again.
    (work / "new" / "s.db").chmod(0o644)
    assert _run_in_process("plan", "m", "--sandbox", "new/s.db")[0] == 0
    assert stat.S_IMODE((work / "new" / "s.db").stat().st_mode) == 0o600


def test_plan_and_apply_mask_secret_named_variables_in_manifest_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A value taken from a secret-named variable is data Stream must receive, but the terminal,
    # CI logs and pull-request comments must not show it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOW_WEBHOOK_TOKEN", "tok-KNOWN-value-98765")
    (tmp_path / "m.yaml").write_text(
        "version: 1\n"
        "calls:\n"
        "  default:show:\n"
        "    created_by_id: alice\n"
        "    custom: {hook: '${SHOW_WEBHOOK_TOKEN}'}\n",
        encoding="utf-8",
    )
    for argv in (
        ["plan", "m.yaml", "--sandbox", "sb.db"],
        ["plan", "m.yaml", "--sandbox", "sb.db", "--format", "markdown"],
        ["apply", "m.yaml", "--sandbox", "sb.db", "--auto-approve"],
    ):
        code, out, err = _run_in_process(*argv)
        assert code == 0, err
        assert "tok-KNOWN-value-98765" not in out + err, argv
        assert "custom.hook" in out


def test_saved_plans_keep_secret_named_variables_as_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagecfg.backends.local import open_backend

    monkeypatch.chdir(tmp_path)
    value = "tok-SAVED-plan-value-4321"
    monkeypatch.setenv("SHOW_HOOK_TOKEN", value)
    (tmp_path / "m.yaml").write_text(
        "version: 1\n"
        "calls:\n"
        "  default:show:\n"
        "    created_by_id: alice\n"
        "    custom: {hook: 'Bearer ${SHOW_HOOK_TOKEN}'}\n",
        encoding="utf-8",
    )
    code, _, err = _run_in_process("plan", "m.yaml", "--sandbox", "sb.db", "--out", "plan.json")
    assert code == 0, err
    saved = (tmp_path / "plan.json").read_text(encoding="utf-8")
    assert value not in saved
    assert "Bearer ${SHOW_HOOK_TOKEN}" in saved
    assert '"secret_variables": [\n    "SHOW_HOOK_TOKEN"\n  ]' in saved

    monkeypatch.delenv("SHOW_HOOK_TOKEN")
    code, out, err = _run_in_process("apply", "--plan", "plan.json", "--sandbox", "sb.db")
    assert code == 1
    assert "needs SHOW_HOOK_TOKEN in the environment" in err

    monkeypatch.setenv("SHOW_HOOK_TOKEN", value)
    code, out, err = _run_in_process(
        "apply", "--plan", "plan.json", "--sandbox", "sb.db", "--auto-approve"
    )
    assert code == 0, err
    assert value not in out + err
    backend = open_backend(sandbox_path=str(tmp_path / "sb.db"))
    try:
        call = backend.read(cids=["default:show"]).calls["default:show"]
    finally:
        backend.close()
    assert call.custom["hook"] == f"Bearer {value}"


# --- masking never changes what the output means --------------------------------------------------


def _stagecfg(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``stagecfg ARGV`` in a fresh interpreter: secrets registered here stay out of this one."""
    return subprocess.run(
        [sys.executable, "-m", "stagecfg", *argv],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [["plan", "m"], ["export"]])
def test_an_api_secret_too_short_to_mask_is_refused(tmp_path: Path, command: list[str]) -> None:
    # With the secret `true`, masking it turned JSON plans and exported YAML into invalid text.
    write_manifests(tmp_path / "m", types=1, calls=1)
    result = _stagecfg(
        tmp_path,
        *command,
        "--backend",
        "stream",
        "--api-key",
        "k",
        "--base-url",
        "http://127.0.0.1:9",
        STREAM_API_SECRET="true",
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "at least 16" in result.stderr and "STREAM_API_SECRET" in result.stderr
    assert "***" not in result.stderr


def test_the_emulator_refuses_an_api_secret_too_short_to_mask(tmp_path: Path) -> None:
    result = _stagecfg(tmp_path, "emulator", "--port", "0", "--api-secret", "hunter2")
    assert result.returncode == 1
    assert "at least 16" in result.stderr and "hunter2" not in result.stderr + result.stdout


def _manifest_with_hook(path: Path) -> None:
    path.write_text(
        "version: 1\n"
        "call_types:\n"
        "  show:\n"
        "    settings: {backstage: {enabled: true}}\n"
        "calls:\n"
        "  show:one:\n"
        "    created_by_id: alice\n"
        "    live: false\n"
        "    custom: {hook: '${SHOW_HOOK_TOKEN}', note: 'the hook is ${SHOW_HOOK_TOKEN}'}\n",
        encoding="utf-8",
    )


def test_a_secret_variable_that_is_a_json_word_keeps_json_plans_valid(tmp_path: Path) -> None:
    _manifest_with_hook(tmp_path / "m.yaml")
    result = _stagecfg(
        tmp_path, "plan", "m.yaml", "--sandbox", "s.db", "--format", "json", SHOW_HOOK_TOKEN="true"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # did not parse when `true` was masked as text
    change = next(c for c in document["changes"] if c["name"] == "show:one")
    assert change["body"]["custom"]["hook"] == "***"
    assert change["body"]["custom"]["note"] == "the hook is ***"
    call_type = next(c for c in document["changes"] if c["name"] == "show")
    assert call_type["body"]["settings"]["backstage"]["enabled"] is True  # a boolean, unmasked


def test_a_short_secret_variable_is_masked_and_saved_as_a_reference(tmp_path: Path) -> None:
    # Values under 4 characters were neither masked nor stored as ${...}.
    _manifest_with_hook(tmp_path / "m.yaml")
    result = _stagecfg(
        tmp_path, "plan", "m.yaml", "--sandbox", "s.db", "--out", "p.json", SHOW_HOOK_TOKEN="x9z"
    )
    assert result.returncode == 0, result.stderr
    assert "x9z" not in result.stdout + result.stderr
    assert "custom.hook" in result.stdout and "***" in result.stdout
    saved = (tmp_path / "p.json").read_text(encoding="utf-8")
    assert "x9z" not in saved and "${SHOW_HOOK_TOKEN}" in saved
    for fmt in ("markdown", "github", "text"):
        shown = _stagecfg(
            tmp_path, "plan", "m.yaml", "--sandbox", "s.db", "--format", fmt, SHOW_HOOK_TOKEN="x9z"
        )
        assert shown.returncode == 0 and "x9z" not in shown.stdout + shown.stderr, fmt


def test_validate_json_masks_a_secret_inside_problems_and_still_parses(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "version: 1\n"
        "call_types:\n"
        "  show:\n"
        "    settings: {video: {camera_facing: '${CAM_TOKEN}'}}\n",
        encoding="utf-8",
    )
    result = _stagecfg(tmp_path, "validate", "m.yaml", "--format", "json", CAM_TOKEN="null")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["problems"] and "null" not in json.dumps(
        [p["message"] for p in report["problems"]]
    )
