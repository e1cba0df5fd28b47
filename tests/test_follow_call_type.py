"""Declared calls follow their call type: a type change reaches the declared calls of that type.

Stream snapshots settings into a call when it is created, so without this a raised
``join_ahead_time_seconds`` reached only new calls, while the manifests (and the offline
``access`` answer) said every call had it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stagecfg.cli import main

T = "2026-12-01T17:52:00Z"  # 8 minutes before the start: open with 600 s, closed with 300 s

MANIFEST = """\
version: 1
project: shows
users:
  alice: {{role: user}}
call_types:
  weekly-show:
    settings:
      backstage: {{enabled: true, join_ahead_time_seconds: {ahead}}}
    grants:
      user: [join-call, read-call]
calls:
  weekly-show:ep1:
    created_by_id: alice
    starts_at: "2026-12-01T18:00:00Z"
{extra}"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _write(tmp_path: Path, ahead: int, extra: str = "") -> str:
    path = tmp_path / "stagecfg.yaml"
    path.write_text(MANIFEST.format(ahead=ahead, extra=extra), encoding="utf-8")
    return str(path)


def _answer(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _run(capsys, "access", *argv, "--role", "user", "--at", T)
    assert (code, err) == (0, ""), err
    line = next(x for x in out.splitlines() if x.strip().startswith("role user:"))
    return line.split(":")[1].strip()


def test_a_raised_join_ahead_reaches_the_declared_scheduled_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sandbox = ["--sandbox", str(tmp_path / "sandbox.db")]
    path = _write(tmp_path, 300)
    assert _run(capsys, "apply", path, *sandbox, "--auto-approve")[0] == 0
    path = _write(tmp_path, 600)

    code, out, err = _run(capsys, "plan", path, *sandbox)
    assert (code, err) == (0, ""), err
    assert "follows call type weekly-show" in out
    assert "weekly-show:ep1" in out and "600" in out

    assert _run(capsys, "apply", path, *sandbox, "--auto-approve")[0] == 0
    code, out, _ = _run(capsys, "plan", path, *sandbox)
    assert code == 0 and "No changes" in out

    offline = _answer(capsys, "weekly-show:ep1", path)
    backend = _answer(capsys, "weekly-show:ep1", "--from-backend", *sandbox)
    assert (offline, backend) == ("yes", "yes")
