"""`stagecfg access` end to end: manifests on disk, the real CLI boundary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_fixture import emulator, make_emulator, stream_backend_for  # noqa: F401

from stagecfg.backends.base import Backend
from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle

MANIFEST = """\
version: 1
project: launchday
users:
  alice: {role: user}
  bob: {role: user}
  carol: {role: guest}
call_types:
  livestream:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 300}
    grants:
      anonymous: [join-call, read-call]
calls:
  livestream:launch:
    created_by_id: alice
    starts_at: "2026-12-01T18:00:00Z"
    members: {bob: host}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "stagecfg.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def test_timeline_from_manifests(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, out, err = _run(capsys, "access", "livestream:launch", str(manifest))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "livestream:launch (backstage enabled, join_ahead_time_seconds 300, "
        "starts_at 2026-12-01T18:00:00Z, in backstage now)"
    )
    assert lines[1].startswith("  until 17:55:00Z: admin, host (join-backstage)")
    assert "creator only: user (join-backstage-owner)" in lines[1]
    assert lines[2] == (
        "  from 17:55:00Z (starts_at 18:00:00Z - 300 s): every role with join-call: "
        "admin, anonymous, host, user"
    )
    assert lines[3] == "  after go-live: every role with join-call: admin, anonymous, host, user"
    assert lines[4].startswith("  after stop-live: back to backstage")


@pytest.mark.parametrize(
    ("at", "expected"),
    [("2026-12-01T17:50:00Z", "no"), ("2026-12-01T17:56:00Z", "yes")],
)
def test_role_at_an_instant(
    capsys: pytest.CaptureFixture[str], manifest: Path, at: str, expected: str
) -> None:
    code, out, _ = _run(
        capsys, "access", "livestream:launch", str(manifest), "--at", at, "--role", "anonymous"
    )
    assert code == 0
    assert f"  at {at} (in backstage):" in out
    assert f"    role anonymous: {expected}: " in out


def test_live_flag_overrides_the_declared_state(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    argv = ["access", "livestream:launch", str(manifest), "--at", "2026-12-01T12:00:00Z"]
    _, out, _ = _run(capsys, *argv, "--role", "user", "--live")
    assert "(live):" in out
    assert "role user: yes" in out
    _, out, _ = _run(capsys, *argv, "--role", "user", "--backstage")
    assert "role user: no" in out


def test_user_combines_app_role_and_member_role(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    argv = ["access", "livestream:launch", str(manifest), "--at", "2026-12-01T17:00:00Z"]
    _, out, _ = _run(capsys, *argv, "--user", "bob")
    assert "user bob (app role user, member role host): yes" in out
    assert "holds join-backstage" in out
    _, out, _ = _run(capsys, *argv, "--user", "alice")
    assert "holds join-backstage-owner" in out  # the creator
    _, out, _ = _run(capsys, *argv, "--user", "carol")
    assert "user carol (app role guest): no" in out


def test_json_output_is_machine_readable(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    code, out, _ = _run(
        capsys,
        "access",
        "livestream:launch",
        str(manifest),
        "--at",
        "2026-12-01T17:56:00Z",
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["call"]["join_opens_at"] == "2026-12-01T17:55:00Z"
    allowed = {d["principal"]: d["allowed"] for d in data["decisions"]}
    assert allowed == {
        "role admin": True,
        "role anonymous": True,
        "role host": True,
        "role user": True,
    }


def test_json_timeline_for_one_role(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, out, _ = _run(
        capsys, "access", "livestream:launch", str(manifest), "--role", "user", "--format", "json"
    )
    data = json.loads(out)
    verdicts = [(p["label"], p["decision"]["allowed"]) for p in data["phases"]]
    assert verdicts[:3] == [
        ("until 17:55:00Z", False),
        ("from 17:55:00Z (starts_at 18:00:00Z - 300 s)", True),
        ("after go-live", True),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["livestream:nope"], "is not declared in the manifests"),
        (["livestream:launch", "--at", "tomorrow"], "is not an RFC 3339 date-time"),
        (["livestream:launch", "--user", "zed"], "user 'zed' is unknown"),
        (["livestream:launch", "--user", "bob", "--role", "user"], "give one of them"),
        (["launch"], "must be <call type>:<call id>"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], manifest: Path, argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "access", argv[0], str(manifest), *argv[1:])
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_invalid_manifest_reports_location(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncalls:\n  livestream:x:\n    live: yes\n", encoding="utf-8")
    code, _, err = _run(capsys, "access", "livestream:x", str(bad))
    assert code == 1
    assert f"{bad}:4:" in err or "bad.yaml:4:" in err


# --- reading the call from a backend -------------------------------------------------------------


def _seed(backend: Backend) -> None:
    """The manifest's call, created through the backend interface, then taken live."""
    backend.upsert_users({"alice": {"id": "alice", "role": "user"}, "bob": {"id": "bob"}})
    backend.update_call_type(
        "livestream",
        {
            "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}},
            "grants": {"anonymous": ["join-call", "read-call"]},
        },
    )
    backend.create_call(
        "livestream:launch",
        {
            "created_by_id": "alice",
            "starts_at": "2026-12-01T18:00:00Z",
            "members": [{"user_id": "bob", "role": "host"}],
        },
    )


def _backend_checks(
    capsys: pytest.CaptureFixture[str], backend: Backend, flags: list[str], secret: str = ""
) -> None:
    seen: list[str] = []

    def run(*argv: str) -> tuple[int, str, str]:
        code, out, err = _run(capsys, *argv)
        seen.extend((out, err))
        return code, out, err

    code, out, err = run("access", "livestream:launch", *flags)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "livestream:launch (backstage enabled, join_ahead_time_seconds 300, "
        "starts_at 2026-12-01T18:00:00Z, in backstage now)"
    )
    at = ["--at", "2026-12-01T17:00:00Z"]
    _, out, _ = run("access", "livestream:launch", *flags, *at, "--user", "bob")
    assert "user bob (app role user, member role host): yes" in out
    _, out, _ = run("access", "livestream:launch", *flags, *at, "--role", "user")
    assert "role user: no" in out

    backend.go_live("livestream:launch", {})
    _, out, _ = run("access", "livestream:launch", *flags, *at, "--role", "user")
    assert "live now" in out.splitlines()[0]
    assert "role user: yes" in out

    code, _, err = run("access", "livestream:other", *flags)
    assert code == 1
    assert "does not exist on the backend" in err
    if secret:
        assert not any(secret in text for text in seen)


def test_from_the_local_sandbox(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from stagecfg.backends import open_backend

    sandbox = str(tmp_path / "sandbox.db")
    backend = open_backend("local", sandbox_path=sandbox)
    try:
        _seed(backend)
        _backend_checks(capsys, backend, ["--sandbox", sandbox])
    finally:
        backend.close()


def test_from_backend_flag_wins_over_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, manifest: Path
) -> None:
    from stagecfg.backends import open_backend

    sandbox = str(tmp_path / "sandbox.db")
    backend = open_backend("local", sandbox_path=sandbox)
    backend.close()
    code, _, err = _run(
        capsys, "access", "livestream:launch", str(manifest), "--from-backend", "--sandbox", sandbox
    )
    assert code == 1
    assert "does not exist on the backend" in err


def test_from_the_emulator(
    capsys: pytest.CaptureFixture[str],
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    backend = stream_backend_for(emulator)
    flags = ["--backend", "stream", "--base-url", emulator.url, "--api-key", emulator.api_key]
    try:
        _seed(backend)
        secret = emulator.api_secret
        _backend_checks(capsys, backend, [*flags, "--api-secret", secret], secret=secret)
    finally:
        backend.close()
