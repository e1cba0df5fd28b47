"""The error boundary (`stagecfg.cli.root.main`): `--debug` before or after the subcommand.

An internal error is injected (the only mock here), and the real CLI runs against a real
emulator, with the API secret inside the error's message.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from test_faults import write_manifests

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.httpclient import server_token


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def crashing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: EmulatorHandle) -> str:  # noqa: F811
    """A bug inside `plan` whose message carries the secret and a token; the manifests' path."""
    import stagecfg.pipeline

    secret = emulator.api_secret

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"boom with {secret} and {server_token(secret)}")

    monkeypatch.setattr(stagecfg.pipeline, "plan_manifests", crash)
    write_manifests(tmp_path / "m", types=1, calls=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAM_API_KEY", emulator.api_key)
    monkeypatch.setenv("STREAM_API_SECRET", secret)
    monkeypatch.setenv("STREAM_BASE_URL", emulator.url)
    return secret


PLAN = ["plan", "m", "--backend", "stream"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", *PLAN],  # before the subcommand
        ["plan", "--debug", "m", "--backend", "stream"],  # right after it
        [*PLAN, "--debug"],  # at the end
        ["--debug", *PLAN, "--debug"],  # both: still one traceback
    ],
    ids=["before", "after", "last", "both"],
)
def test_debug_anywhere_prints_the_traceback_but_never_the_secret(
    crashing: str, argv: list[str]
) -> None:
    code, out, err = _run(*argv)
    assert code == 3, err
    assert err.count("Traceback (most recent call last)") == 1
    assert "RuntimeError: boom with *** and ***" in err
    assert "This is a bug in stagecfg" in err
    for value in (crashing, server_token(crashing)):
        assert value not in out + err


def test_without_debug_a_bug_is_one_message_without_traceback(crashing: str) -> None:
    code, out, err = _run(*PLAN)
    assert code == 3
    assert "Traceback" not in err
    assert "Internal error: RuntimeError: boom with *** and ***" in err
    assert "run again with --debug" in err
    assert crashing not in out + err


def test_debug_as_the_value_of_another_flag_is_not_debug(crashing: str) -> None:
    # `--project --debug` names a project; the old argv scan took it for --debug.
    code, _, err = _run(*PLAN, "--project", "--debug")
    assert code == 3
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "plan"], ["plan", "--debug"]])
def test_debug_does_not_turn_usage_errors_into_tracebacks(argv: list[str]) -> None:
    code, _, err = _run(*argv)
    assert code == 1
    assert "Missing argument 'PATHS...'" in err
    assert "Traceback" not in err


def test_debug_changes_nothing_when_nothing_fails(tmp_path: Path) -> None:
    write_manifests(tmp_path / "m", types=1, calls=1)
    sandbox = ["--sandbox", str(tmp_path / "s.db")]
    plain = _run("validate", str(tmp_path / "m"))
    assert plain[0] == 0
    assert _run("validate", str(tmp_path / "m"), "--debug") == plain
    assert _run("--debug", "validate", str(tmp_path / "m")) == plain
    code, out, _ = _run("plan", str(tmp_path / "m"), *sandbox, "--debug")
    assert code == 0 and out.startswith("backend: local sandbox ")
