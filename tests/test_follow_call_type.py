"""Declared calls follow their call type: a type change reaches the declared calls of that type.

Stream snapshots settings into a call when it is created, so without this a raised
``join_ahead_time_seconds`` reached only new calls, while the manifests (and the offline
``access`` answer) said every call had it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stagecfg.backends import open_backend
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
    line = next(x for x in out.splitlines() if x.strip().startswith("role user:"))
    answer = line.split(":")[1].strip()
    # A yes/no question: exit 0 for yes, 1 for no.
    assert (code, err) == ((0 if answer == "yes" else 1), ""), err
    return answer


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


def _read_ahead(sandbox: str, cid: str) -> int:
    backend = open_backend("local", sandbox_path=sandbox)
    try:
        call = backend.read(cids=[cid], users=[]).calls[cid]
    finally:
        backend.close()
    return int(call.settings["backstage"]["join_ahead_time_seconds"])


def test_follow_call_type_false_keeps_what_the_call_was_created_with(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    pinned = "    follow_call_type: false\n"
    path = _write(tmp_path, 300, pinned)
    assert _run(capsys, "apply", path, "--sandbox", db, "--auto-approve")[0] == 0
    path = _write(tmp_path, 600, pinned)
    code, out, err = _run(capsys, "plan", path, "--sandbox", db)
    assert (code, err) == (0, ""), err
    assert "call weekly-show:ep1" not in out.replace("theirs: weekly-show:ep1", "")
    assert "follow_call_type: false keeps theirs: weekly-show:ep1" in out
    assert _run(capsys, "apply", path, "--sandbox", db, "--auto-approve")[0] == 0
    assert _read_ahead(db, "weekly-show:ep1") == 300
    assert _answer(capsys, "weekly-show:ep1", "--from-backend", "--sandbox", db) == "no"


def test_a_live_call_that_follows_is_a_disruptive_change(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    path = _write(tmp_path, 300, "    live: true\n")
    assert _run(capsys, "apply", path, "--sandbox", db, "--auto-approve")[0] == 0
    path = _write(tmp_path, 600, "    live: true\n")
    code, out, _ = _run(capsys, "plan", path, "--sandbox", db)
    assert code == 0
    assert (
        "! disruptive: the call is live: its settings change while it is on air "
        "(follows call type weekly-show)" in out
    )
    code, _, err = _run(capsys, "apply", path, "--sandbox", db, "--auto-approve")
    assert code == 1 and "update call weekly-show:ep1" in err and "--allow-disruptive" in err
    assert _read_ahead(db, "weekly-show:ep1") == 300  # nothing half-written
    argv = ("apply", path, "--sandbox", db, "--auto-approve", "--allow-disruptive")
    assert _run(capsys, *argv)[0] == 0
    assert _read_ahead(db, "weekly-show:ep1") == 600


def test_calls_the_manifests_do_not_declare_are_untouched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    other = '  weekly-show:ep2:\n    created_by_id: alice\n    starts_at: "2026-12-01T18:00:00Z"\n'
    assert (
        _run(capsys, "apply", _write(tmp_path, 300, other), "--sandbox", db, "--auto-approve")[0]
        == 0
    )
    path = _write(tmp_path, 600)  # ep2 is no longer declared
    code, out, _ = _run(capsys, "plan", path, "--sandbox", db)
    assert code == 0 and "ep2" not in out
    assert _run(capsys, "apply", path, "--sandbox", db, "--auto-approve")[0] == 0
    assert (_read_ahead(db, "weekly-show:ep1"), _read_ahead(db, "weekly-show:ep2")) == (600, 300)


def test_a_field_the_call_overrides_does_not_follow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    own = "    settings_override: {backstage: {join_ahead_time_seconds: 120}}\n"
    assert (
        _run(capsys, "apply", _write(tmp_path, 300, own), "--sandbox", db, "--auto-approve")[0] == 0
    )
    code, out, _ = _run(capsys, "plan", _write(tmp_path, 600, own), "--sandbox", db)
    assert code == 0 and "call weekly-show:ep1" not in out
    assert _read_ahead(db, "weekly-show:ep1") == 120


def test_followed_settings_is_the_type_declaration_less_the_override() -> None:
    from stagecfg.rules.settings import call_settings_request, followed_settings

    declared = {
        "backstage": {"enabled": True, "join_ahead_time_seconds": 600},
        "geofencing": {"names": ["eu"]},
        "audio": None,
    }
    override = {"backstage": {"enabled": False, "join_ahead_time_seconds": None}, "geofencing": {}}
    assert followed_settings(declared, override) == {
        "backstage": {"join_ahead_time_seconds": 600},
        "geofencing": {"names": ["eu"]},
    }
    assert followed_settings(declared, {"geofencing": {"names": []}}) == {
        "backstage": {"enabled": True, "join_ahead_time_seconds": 600}
    }
    assert followed_settings(None, override) == {}
    assert call_settings_request(declared, override, follows=False) == override
    assert call_settings_request(declared, override, follows=True) == {
        "backstage": {"enabled": False, "join_ahead_time_seconds": 600},
        "geofencing": {"names": ["eu"]},
    }
