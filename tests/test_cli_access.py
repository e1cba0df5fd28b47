"""`stagecfg access` end to end: manifests on disk, the real CLI boundary, exit codes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from emulator_fixture import emulator, make_emulator, stream_backend_for  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from join_cases import JOIN_PERMS, JOIN_ROLES, SettableClock

from stagecfg import timestamps
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
        "admin, anonymous, call_member, host, user"
    )
    assert (
        lines[3]
        == "  after go-live: every role with join-call: admin, anonymous, call_member, host, user"
    )
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
    assert code == (0 if expected == "yes" else 1)  # a yes/no question, like kubectl auth can-i
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
        "role call_member": True,
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


# --- exit codes: a yes/no question answered no exits 1 (like `kubectl auth can-i`) -------------

AT_17 = ["--at", "2026-12-01T17:00:00Z"]  # the call is in backstage; its window opens at 17:55


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (["--role", "user", *AT_17], "no"),
        (["--role", "host", *AT_17], "yes"),
        (["--user", "carol", *AT_17], "no"),  # app role guest, not a member
        (["--user", "bob", *AT_17], "yes"),  # member role host: join-backstage
        (["--user", "alice", *AT_17], "yes"),  # the creator: join-backstage-owner
        (["--role", "user", *AT_17, "--live"], "yes"),
        (["--user", "carol", "--at", "2026-12-01T17:56:00Z"], "no"),  # guest lacks join-call
        (["--role", "anonymous", "--at", "2026-12-01T17:56:00Z"], "yes"),
    ],
)
def test_a_yes_no_question_exits_1_for_no_and_still_prints_the_answer(
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    question: list[str],
    answer: str,
    fmt: str,
) -> None:
    argv = ["access", "livestream:launch", str(manifest), *question, "--format", fmt]
    code, out, err = _run(capsys, *argv)
    assert (code, err) == ((0 if answer == "yes" else 1), "")
    if fmt == "json":
        (decision,) = json.loads(out)["decisions"]
        assert decision["allowed"] is (answer == "yes")
    else:
        assert f": {answer}: " in out.splitlines()[-1]


@pytest.mark.parametrize(
    "report",
    [
        [],  # the whole timeline
        AT_17,  # every listed role at one instant, several of them "no"
        ["--role", "user"],  # one role in every phase: no before 17:55, yes after
        ["--user", "carol"],  # one user in every phase, never admitted
        ["--user", "carol", "--format", "json"],
    ],
)
def test_reports_exit_0_whatever_they_answer(
    capsys: pytest.CaptureFixture[str], manifest: Path, report: list[str]
) -> None:
    code, out, err = _run(capsys, "access", "livestream:launch", str(manifest), *report)
    assert (code, err) == (0, "")
    assert out
    if report == AT_17:
        assert "role user: no" in out and "role host: yes" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["livestream:nope"], "is not declared in the manifests"),
        (["livestream:launch", "--at", "tomorrow"], "is not an RFC 3339 date-time"),
        (["livestream:launch", "--user", "zed"], "user 'zed' is unknown"),
        (["livestream:launch", "--user", "bob", "--role", "user"], "give one of them"),
        (["launch"], "must be <call type>:<call id>"),
        (["livestream:launch", "--live"], "--live and --backstage answer for one instant"),
        (["livestream:launch", "--backstage", "--role", "user"], "give --at TIME"),
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


# --- access in plans: escalations, join windows, blast radius ------------------------------------


def _plan_manifest(*, user_grants: str, call_ahead: int, starts_at: str) -> str:
    return f"""\
version: 1
project: review
users:
  alice: {{role: user}}
call_types:
  livestream:
    settings:
      backstage: {{enabled: true, join_ahead_time_seconds: 300}}
    grants:
      user: [{user_grants}]
  show:
    settings:
      backstage: {{enabled: false}}
calls:
  livestream:launch:
    created_by_id: alice
    starts_at: "{starts_at}"
    settings_override:
      backstage: {{join_ahead_time_seconds: {call_ahead}}}
"""


@pytest.fixture(params=["local", "emulator"])
def backend_flags(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_emulator: Any,  # noqa: F811
) -> list[str]:
    if request.param == "local":
        return ["--sandbox", str(tmp_path / "sandbox.db")]
    handle = make_emulator()
    return [
        "--backend",
        "stream",
        "--base-url",
        handle.url,
        "--api-key",
        handle.api_key,
        "--api-secret",
        handle.api_secret,
    ]


def test_plan_flags_escalations_windows_and_radius(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, backend_flags: list[str]
) -> None:
    soon = timestamps.normalize(timestamps.now_utc() + timedelta(hours=2)) or ""
    path = tmp_path / "stagecfg.yaml"
    path.write_text(
        _plan_manifest(user_grants="join-call, read-call", call_ahead=300, starts_at=soon)
    )
    code, _, err = _run(capsys, "apply", str(path), *backend_flags, "--auto-approve")
    assert code == 0, err

    path.write_text(
        _plan_manifest(user_grants="join-call, join-backstage", call_ahead=600, starts_at=soon)
    )
    code, out, err = _run(capsys, "plan", str(path), *backend_flags)
    assert code == 0, err
    access = out.split("access:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert access[0].startswith(
        "    ! escalation: role user gains join-backstage: every signed-in user may join "
        "while the call is in backstage (call type livestream)"
    )
    assert "    revoke: role user loses read-call (call type livestream)" in access
    assert (
        "    viewers of `livestream:launch` can now join 10 minutes before start instead of 5"
        in access
    )
    assert (
        "    call type livestream: update affects 1 call live now or starting within 24 h" in access
    )

    code, out, err = _run(capsys, "plan", str(path), *backend_flags, "--deny-escalation")
    assert code == 1
    assert "! escalation: role user gains join-backstage" in out  # printed before refusing
    assert "1 access escalation in the plan" in err

    code, out, _ = _run(capsys, "plan", str(path), *backend_flags, "--format", "markdown")
    assert code == 0
    top = out.split("#### Access changes (1 escalation)", 1)
    assert len(top) == 2 and "```diff" not in top[0]
    assert ":warning: **escalation: role user gains join-backstage" in top[1]

    _, out, _ = _run(capsys, "plan", str(path), *backend_flags, "--format", "json")
    data = json.loads(out)["access"]
    assert data["escalations"] == 1
    grant = [n for n in data["notes"] if n["category"] == "grant"]
    assert {(n["direction"], n["escalation"]) for n in grant} == {
        ("grant", True),
        ("revoke", False),
    }


def test_deleting_a_call_type_with_live_calls_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, backend_flags: list[str]
) -> None:
    soon = "2030-01-01T00:00:00Z"
    path = tmp_path / "stagecfg.yaml"
    path.write_text(_plan_manifest(user_grants="join-call", call_ahead=300, starts_at=soon))
    assert _run(capsys, "apply", str(path), *backend_flags, "--auto-approve")[0] == 0
    # a call stagecfg does not manage, live at once since backstage is disabled for `show`
    code, _, err = _run(
        capsys, "apply", str(_write_unmanaged(tmp_path)), *backend_flags, "--auto-approve"
    )
    assert code == 0, err
    path.write_text(
        _plan_manifest(user_grants="join-call", call_ahead=300, starts_at=soon).split(
            "  show:\n", 1
        )[0]
        + "calls:\n  livestream:launch:\n    created_by_id: alice\n"
        + f'    starts_at: "{soon}"\n'
        + "    settings_override:\n      backstage: {join_ahead_time_seconds: 300}\n"
    )
    code, out, err = _run(capsys, "plan", str(path), *backend_flags, "--prune")
    assert code == 1
    assert "- call_type show" in out
    assert "deleting call type show is refused: 1 of its calls are live now (show:x)" in err
    code, _, err = _run(
        capsys,
        "apply",
        str(path),
        *backend_flags,
        "--prune",
        "--auto-approve",
        "--force",
        "--allow-disruptive",
    )
    assert code == 1
    assert "deleting call type show is refused" in err


def _write_unmanaged(tmp_path: Path) -> Path:
    other = tmp_path / "other" / "stagecfg.yaml"
    other.parent.mkdir()
    other.write_text(
        "version: 1\nproject: someone-else\nusers:\n  bob: {role: user}\n"
        "call_types:\n  show: {}\ncalls:\n  show:x:\n    created_by_id: bob\n"
    )
    return other


# --- call members must be users that exist -------------------------------------------------------


def test_member_that_is_neither_declared_nor_on_the_backend_fails_the_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, backend_flags: list[str]
) -> None:
    path = tmp_path / "stagecfg.yaml"
    path.write_text(
        "version: 1\nproject: members\nusers:\n  alice: {role: user}\n"
        "calls:\n  livestream:x:\n    created_by_id: alice\n    members: {zed: host}\n"
    )
    for command in (["plan"], ["apply", "--auto-approve"]):
        code, out, err = _run(capsys, *command, str(path), *backend_flags)
        assert code == 1, out
        problems = [
            line
            for line in err.splitlines()
            if "warning" not in line and not line.startswith("note: created a new")
        ]
        assert problems == [
            f"{path}:8:15: $.calls['livestream:x'].members.zed: call member 'zed' is not a "
            "user: it is not declared under users and does not exist on the backend "
            "(declare users.zed, or upsert the user first)"
        ]
        assert "Traceback" not in err
    # nothing was written: alice was not upserted
    alice = tmp_path / "alice.yaml"
    alice.write_text("version: 1\nproject: members\nusers:\n  alice: {role: user}\n")
    code, out, _ = _run(capsys, "plan", str(alice), *backend_flags)
    assert code == 0
    assert "+ user alice" in out

    # once the user exists on the backend, the member needs no declaration
    other = tmp_path / "zed.yaml"
    other.write_text("version: 1\nproject: members\nusers:\n  zed: {role: user}\n")
    assert _run(capsys, "apply", str(other), *backend_flags, "--auto-approve")[0] == 0
    code, out, err = _run(capsys, "apply", str(path), *backend_flags, "--auto-approve")
    assert code == 0, err
    assert 'members.zed: "host"' in out


# --- `stagecfg access` agrees with the emulator's join endpoint ----------------------------------
#
# Manifests are generated, applied through the CLI to an emulator whose clock the test sets, and
# then one user asks to join through the client-side HTTP endpoint with a user JWT. The answer of
# `stagecfg access --at --user` (offline from the same manifests, and from the backend) must be
# the emulator's decision.

XSTART = "2026-12-01T18:00:00Z"


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SettableClock, str]]:
    """An emulator on 127.0.0.1 over an engine whose clock the test sets; yields (clock, url)."""
    from stagecfg.emulator.server import run_in_thread

    clock = SettableClock(XSTART)
    handle = run_in_thread(tmp_path_factory.mktemp("xcheck") / "sandbox.db", clock=clock)
    try:
        yield clock, handle.url
    finally:
        handle.stop()


_case = itertools.count()


def _x_manifest(
    n: int,
    *,
    grants: dict[str, list[str]],
    enabled: bool,
    ahead: int,
    has_start: bool,
    app_role: str,
    member_role: str | None,
    is_creator: bool,
    live: bool,
) -> str:
    creator = f"u{n}" if is_creator else f"owner{n}"
    lines = ["version: 1", "project: xcheck", "users:", f"  u{n}: {{role: {app_role}}}"]
    if not is_creator:
        lines.append(f"  owner{n}: {{role: user}}")
    lines += [
        "call_types:",
        f"  t{n}:",
        "    settings:",
        f"      backstage: {{enabled: {str(enabled).lower()}, join_ahead_time_seconds: {ahead}}}",
    ]
    if grants:
        lines.append("    grants:")
        lines += [f"      {role}: [{', '.join(perms)}]" for role, perms in sorted(grants.items())]
    lines += ["calls:", f"  t{n}:c{n}:", f"    created_by_id: {creator}"]
    if has_start:
        lines.append(f'    starts_at: "{XSTART}"')
    if member_role is not None:
        lines.append(f"    members: {{u{n}: {member_role}}}")
    if enabled:
        lines.append(f"    live: {str(live).lower()}")
    return "\n".join(lines) + "\n"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    grants=st.dictionaries(
        st.sampled_from(JOIN_ROLES), st.lists(st.sampled_from(JOIN_PERMS), max_size=4, unique=True)
    ),
    enabled=st.booleans(),
    ahead=st.sampled_from([0, 60, 300, 3600]),
    has_start=st.booleans(),
    app_role=st.sampled_from(["user", "guest", "viewer"]),
    member_role=st.none() | st.sampled_from(["host", "call_member", "viewer"]),
    is_creator=st.booleans(),
    lifecycle=st.sampled_from(["backstage", "live", "stopped"]),
    offset=st.integers(-7200, 7200),
)
def test_access_answers_match_the_emulator_join_endpoint(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    clocked: tuple[SettableClock, str],
    grants: dict[str, list[str]],
    enabled: bool,
    ahead: int,
    has_start: bool,
    app_role: str,
    member_role: str | None,
    is_creator: bool,
    lifecycle: str,
    offset: int,
) -> None:
    import httpx
    import jwt

    from stagecfg.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

    clock, url = clocked
    n = next(_case)
    cid, user = f"t{n}:c{n}", f"u{n}"
    flags = ["--backend", "stream", "--base-url", url, "--api-key", DEFAULT_API_KEY]
    flags += ["--api-secret", DEFAULT_API_SECRET]
    path = tmp_path / f"x{n}.yaml"
    shape = {
        "grants": grants,
        "enabled": enabled,
        "ahead": ahead,
        "has_start": has_start,
        "app_role": app_role,
        "member_role": member_role,
        "is_creator": is_creator,
    }
    clock.now = timestamps.parse(XSTART) - timedelta(hours=3)
    path.write_text(_x_manifest(n, **shape, live=lifecycle != "backstage"))
    apply = ["apply", str(path), *flags, "--auto-approve", "--allow-disruptive"]
    code, _, err = _run(capsys, *apply)
    assert code == 0, err
    if lifecycle == "stopped":
        path.write_text(_x_manifest(n, **shape, live=False))
        code, _, err = _run(capsys, *apply)
        assert code == 0, err

    clock.now = timestamps.parse(XSTART) + timedelta(seconds=offset)
    at = timestamps.normalize(clock.now) or ""
    token = jwt.encode({"user_id": user}, DEFAULT_API_SECRET, algorithm="HS256")
    joined = httpx.post(
        f"{url}/api/v2/video/call/t{n}/c{n}/join",
        params={"api_key": DEFAULT_API_KEY},
        headers={"Authorization": token, "Stream-Auth-Type": "jwt"},
        json={},
        timeout=10,
    )
    assert joined.status_code in (201, 403), joined.text
    admitted = joined.status_code == 201

    for source in ([str(path)], ["--from-backend", *flags]):
        argv = ["access", cid, *source, "--at", at, "--user", user, "--format", "json"]
        code, out, err = _run(capsys, *argv)
        assert code == (0 if admitted else 1), err
        (decision,) = json.loads(out)["decisions"]
        assert decision["allowed"] == admitted, (source[0], decision["reason"], joined.text)
