"""``stagecfg validate --online``: grants and roles checked against the app's own permission list
and roles, read from the backend (the emulator over HTTP, the local sandbox in-process, or a
hostile server on loopback), through the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from test_hostile_server import Reply, Server, ok, servers  # noqa: F401

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.sandbox import Engine

MANIFEST = """\
version: 1
users:
  ann: {role: user}
  bob: {role: hots}
call_types:
  stage:
    grants:
      host: [join-backstage, join-call]
      crew: [join-call, start-record-call]
      user: [join-cal]
calls:
  stage:show:
    created_by_id: ann
    members: {ann: stage_manager}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def stream_flags(handle: EmulatorHandle) -> list[str]:
    return ["--backend", "stream", "--base-url", handle.url, "--api-key", handle.api_key]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST, "utf-8")
    return path


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorHandle) -> None:  # noqa: F811
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)


def test_online_reports_unknown_permissions_and_roles_where_they_are(
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    emulator: EmulatorHandle,  # noqa: F811
    secret: None,
) -> None:
    code, out, err = run(capsys, "validate", "--online", *stream_flags(emulator), str(manifest))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == (
        f"checking grants and roles against stream app {emulator.api_key} at {emulator.url}: "
        "99 permission ids, 7 roles"
    )
    problems = [line.removeprefix(f"{manifest}:") for line in lines[1:-1]]
    create = "create it in the app first, with Stream's CreateRole, or use one of its roles"
    assert problems == [
        "4:9: $.users.bob.role: app role 'hots' is not a role of the app (checked online)"
        " (did you mean 'host'?)",
        "9:7: $.call_types.stage.grants.crew: granted role 'crew' is not a role of the app"
        f" (checked online) ({create})",
        "9:25: $.call_types.stage.grants.crew[1]: unknown permission id 'start-record-call'"
        " (not in the app's permission list, checked online) (did you mean 'start-recording'?"
        " ('start-record-call' is the capability name))",
        "10:14: $.call_types.stage.grants.user[0]: unknown permission id 'join-cal' (not in the"
        " app's permission list, checked online) (did you mean 'join-call'?)",
        "14:15: $.calls['stage:show'].members.ann: call role 'stage_manager' is not a role of"
        f" the app (checked online) ({create})",
    ]
    assert lines[-1] == "invalid: 5 errors, 0 warnings"


def test_roles_the_app_created_pass_online(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    emulator: EmulatorHandle,  # noqa: F811
    secret: None,
) -> None:
    emulator.emulator.engine.create_role({"name": "crew"})
    path = tmp_path / "ok.yaml"
    path.write_text(
        "version: 1\ncall_types:\n  stage:\n    grants:\n      crew: [join-call-any-team]\n"
    )
    code, out, err = run(capsys, "validate", "--online", *stream_flags(emulator), str(path))
    assert (code, out) == (0, "1 file valid: 1 call type, 0 calls, 0 users\n")
    assert "8 roles" in err
    # Against a sandbox without the role, the same file fails.
    other = tmp_path / "other.db"
    code, _, err = run(capsys, "validate", "--online", "--sandbox", str(other), str(path))
    assert code == 1 and "granted role 'crew' is not a role of the app" in err


def test_online_against_the_local_sandbox(
    capsys: pytest.CaptureFixture[str], manifest: Path, tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox.db"
    engine = Engine(sandbox)
    try:
        for role in ("crew", "stage_manager"):
            engine.create_role({"name": role})
    finally:
        engine.close()
    code, _, err = run(capsys, "validate", "--online", "--sandbox", str(sandbox), str(manifest))
    assert code == 1
    assert f"against local sandbox {sandbox}" in err
    # The sandbox has both roles; stage_manager is granted nothing, which is only a warning.
    assert "is not a role of the app" not in err.replace("'hots' is not a role of the app", "")
    assert "call role 'stage_manager' is granted nothing" in err
    assert "'hots' is not a role of the app" in err and "'join-cal'" in err
    assert "invalid: 3 errors, 1 warning" in err


def test_online_checks_every_environments_overlay_once_where_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = "version: 1\ncall_types:\n  stage:\n    grants:\n      user: [join-call]\n"
    (tmp_path / "base.yaml").write_text(base, "utf-8")
    overlay = (
        "version: 1\nenvironment: {env}\noverlay:\n  call_types:\n    stage:\n"
        "      grants:\n        {role}: [join-call, {permission}]\n"
    )
    files = {"prod": ("moderatr", "kick-usr"), "dev": ("host", "read-call")}
    for env, (role, permission) in files.items():
        text = overlay.format(env=env, role=role, permission=permission)
        (tmp_path / f"{env}.yaml").write_text(text, "utf-8")
    sandbox = ["--sandbox", str(tmp_path / "sandbox.db")]
    code, out, err = run(capsys, "validate", "--online", *sandbox, str(tmp_path))
    assert code == 1 and out == ""
    problems = [line for line in err.splitlines() if line.startswith(str(tmp_path))]
    prod = f"{tmp_path / 'prod.yaml'}:7:"
    assert problems == [
        f"{prod}9: $.call_types.stage.grants.moderatr: granted role 'moderatr' is not a role of"
        " the app (checked online) (environment prod) (did you mean 'moderator'?)",
        f"{prod}31: $.call_types.stage.grants.moderatr[1]: unknown permission id 'kick-usr' (not"
        " in the app's permission list, checked online) (environment prod) (did you mean"
        " 'kick-user'?)",
    ]
    # --env dev alone is clean; offline, the schema reports the unknown id (once) instead.
    assert run(capsys, "validate", "--online", *sandbox, "--env", "dev", str(tmp_path))[0] == 0
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 1 and err.count("unknown permission id 'kick-usr'") == 1
    assert "checked online" not in err


def test_the_apps_list_is_the_authority(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    servers: object,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An app whose permission list has an id stagecfg does not know yet, and lacks join-call.
    server = servers(  # type: ignore[operator]
        {
            "GET /api/v2/permissions": lambda n: ok(
                {"permissions": [{"id": "join-backstage"}, {"id": "send-hologram"}]}
            ),
            "GET /api/v2/roles": lambda n: ok({"roles": [{"name": "host"}, {"name": "user"}]}),
        }
    )
    monkeypatch.setenv("STREAM_API_SECRET", "online-check-secret-0123456789abcdef")
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\ncall_types:\n  stage:\n    grants:\n"
        "      host: [send-hologram, join-backstage]\n      user: [join-call]\n"
    )
    flags = ["--backend", "stream", "--base-url", server.url, "--api-key", "k"]
    assert run(capsys, "validate", str(path))[0] == 1  # offline: send-hologram is unknown
    code, _, err = run(capsys, "validate", "--online", *flags, str(path))
    assert code == 1
    assert "'send-hologram'" not in err
    assert "unknown permission id 'join-call' (not in the app's permission list" in err
    assert "2 permission ids, 2 roles" in err


@pytest.mark.parametrize(
    ("path", "reply", "words"),
    [
        ("/api/v2/permissions", ok({"permissions": {}}), "permissions is an object"),
        ("/api/v2/permissions", ok({"permissions": [{"id": 5}]}), "permissions[].id is a number"),
        ("/api/v2/roles", ok({"roles": [{}]}), "roles[].name is null"),
        ("/api/v2/roles", Reply(401, b'{"code": 5, "message": "bad token"}'), "HTTP 401"),
    ],
)
def test_a_wrong_answer_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    servers: object,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    reply: Reply,
    words: str,
) -> None:
    good = {
        "GET /api/v2/permissions": lambda n: ok({"permissions": [{"id": "join-call"}]}),
        "GET /api/v2/roles": lambda n: ok({"roles": [{"name": "user"}]}),
    }
    server = servers({**good, f"GET {path}": lambda n: reply})  # type: ignore[operator]
    monkeypatch.setenv("STREAM_API_SECRET", "online-check-secret-0123456789abcdef")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\n")
    flags = ["--backend", "stream", "--base-url", server.url, "--api-key", "k"]
    code, out, err = run(capsys, "validate", "--online", *flags, str(manifest))
    assert (code, out) == (1, "")
    assert err.startswith("Error: list ") and words in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_credentials_stop_before_any_request(
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    servers: object,  # noqa: F811
) -> None:
    server = servers()  # type: ignore[operator]
    code, _, err = run(capsys, "validate", "--online", "--backend", "stream", str(manifest))
    assert code == 1 and "API key" in err and server.requests == []


def test_validate_online_runs_as_a_user_runs_it(
    manifest: Path,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    env = {
        **os.environ,
        "STREAM_API_KEY": emulator.api_key,
        "STREAM_API_SECRET": emulator.api_secret,
        "STREAM_BASE_URL": emulator.url,
    }
    argv = [sys.executable, "-m", "stagecfg", "validate", "--online", "--backend", "stream"]
    proc = subprocess.run(
        [*argv, "--format", "json", str(manifest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["valid"] is False
    assert [(p["line"], p["path"]) for p in report["problems"]][:2] == [
        (4, "$.users.bob.role"),
        (9, "$.call_types.stage.grants.crew"),
    ]
    assert "checking grants and roles against" in proc.stderr
    assert emulator.api_secret not in proc.stdout + proc.stderr
