"""The shared backend flags: credentials of the real app set while the backend is the sandbox
by default give a note on stderr naming them (never their values)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from test_faults import write_manifests

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle

KEY = "key-VALUE-0123456789"
SECRET = "secret-VALUE-0123456789abcdef"
URL = "http://127.0.0.1:9/value-url"
VALUES = {"STREAM_API_KEY": KEY, "STREAM_API_SECRET": SECRET, "STREAM_BASE_URL": URL}
NOTE = "but the backend is local (the sandbox "
ADVICE = "pass --backend stream (or set STAGECFG_BACKEND=stream) to use the real app"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if NOTE in line]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_manifests(tmp_path / "m", types=1, calls=2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["STREAM_API_KEY"], "note: STREAM_API_KEY is set, "),
        (["STREAM_API_SECRET"], "note: STREAM_API_SECRET is set, "),
        (["STREAM_BASE_URL"], "note: STREAM_BASE_URL is set, "),
        (
            ["STREAM_API_KEY", "STREAM_API_SECRET", "STREAM_BASE_URL"],
            "note: STREAM_API_KEY, STREAM_API_SECRET and STREAM_BASE_URL are set, ",
        ),
    ],
)
def test_credentials_in_the_environment_with_the_default_backend_give_a_note(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    work: Path,
    names: list[str],
    expected: str,
) -> None:
    for name in names:
        monkeypatch.setenv(name, VALUES[name])
    code, out, err = _run(capsys, "plan", "m")
    assert code == 0, err
    (note,) = _notes(err)
    assert note.startswith(expected)
    assert f"{NOTE}.stagecfg/sandbox.db), the default; {ADVICE}" in note
    assert note.endswith("or --backend local to silence this note")
    assert out.startswith("backend: local sandbox ")  # the plan itself is unchanged
    for value in VALUES.values():
        assert value not in out + err


def test_every_command_that_opens_the_backend_gives_the_note(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, work: Path
) -> None:
    monkeypatch.setenv("STREAM_API_KEY", KEY)
    commands = [
        ["plan", "m"],
        ["apply", "m", "--auto-approve"],
        ["export"],
        ["access", "ft_type_00:show-0000", "--from-backend"],
    ]
    for argv in commands:
        code, out, err = _run(capsys, *argv)
        assert code == 0, (argv, err)
        assert len(_notes(err)) == 1, (argv, err)
        assert KEY not in out + err
    # Offline, nothing uses a backend: no note.
    for argv in (["validate", "m"], ["access", "ft_type_00:show-0000", "m"], ["schema"]):
        code, _, err = _run(capsys, *argv)
        assert (code, _notes(err)) == (0, []), argv


def test_credential_flags_with_the_default_backend_are_named_as_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, work: Path
) -> None:
    monkeypatch.setenv("STREAM_API_SECRET", SECRET)
    code, _, err = _run(capsys, "plan", "m", "--api-key", KEY, "--base-url", URL)
    assert code == 0, err
    (note,) = _notes(err)
    assert note.startswith("note: --api-key, STREAM_API_SECRET and --base-url are set, ")
    assert KEY not in err and SECRET not in err and URL not in err


@pytest.mark.parametrize(
    "chosen",
    [["--backend", "local"], ["--sandbox", "other.db", "--backend", "local"]],
    ids=["flag", "flag-and-sandbox"],
)
def test_no_note_when_the_sandbox_is_chosen_explicitly(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    work: Path,
    chosen: list[str],
) -> None:
    for name, value in VALUES.items():
        monkeypatch.setenv(name, value)
    code, _, err = _run(capsys, "plan", "m", *chosen)
    assert (code, _notes(err)) == (0, []), err
    monkeypatch.setenv("STAGECFG_BACKEND", "local")
    code, _, err = _run(capsys, "plan", "m")
    assert (code, _notes(err)) == (0, []), err


def test_no_note_without_credentials(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, _, err = _run(capsys, "plan", "m")
    assert code == 0
    assert _notes(err) == []
    assert "STREAM_" not in err


def test_no_note_with_the_stream_backend(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    work: Path,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    monkeypatch.setenv("STREAM_API_KEY", emulator.api_key)
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)
    monkeypatch.setenv("STREAM_BASE_URL", emulator.url)
    code, out, err = _run(capsys, "plan", "m", "--backend", "stream")
    assert code == 0, err
    assert out.startswith(f"backend: stream app {emulator.api_key} at {emulator.url}")
    assert _notes(err) == [] and err == ""
    monkeypatch.setenv("STAGECFG_BACKEND", "stream")
    code, _, err = _run(capsys, "plan", "m")
    assert (code, err) == (0, "")


def test_the_note_in_a_shell_as_a_user_sees_it(work: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "stagecfg", "plan", "m"],
        cwd=work,
        env={**env, "STREAM_API_KEY": KEY, "STREAM_API_SECRET": SECRET},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (note,) = _notes(proc.stderr)
    assert note.startswith("note: STREAM_API_KEY and STREAM_API_SECRET are set, ")
    assert KEY not in proc.stdout + proc.stderr and SECRET not in proc.stdout + proc.stderr
