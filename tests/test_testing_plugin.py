"""The pytest plugin (``stagecfg.testing``) as a user's project meets it.

Most tests write a small project into a temp directory and run the real ``pytest`` of this
environment on it in a subprocess: no ``-p``, no conftest pointing at stagecfg, so the fixtures
can only come from the ``pytest11`` entry point that installing stagecfg registers. The last ones
use the fixture in this very session (the plugin is registered here too) for the helpers' edges.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from getstream.models import CallRequest

from stagecfg.testing import StreamEmulator

PYTEST = str(Path(sys.executable).parent / "pytest")

BACKSTAGE = REPO_ROOT / "examples" / "backstage" / "stagecfg.yaml"
MULTI_ENV = REPO_ROOT / "examples" / "multi-env"

REINSTALL = (
    "the stream_emulator fixture was not found: reinstall stagecfg (pip install -e .) so that "
    "its pytest11 entry point is registered"
)


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [PYTEST, "-q", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def write(project: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return project


def _outcome(proc: subprocess.CompletedProcess[str]) -> str:
    """The last line of ``pytest -q`` without its duration: ``2 passed, 1 failed``."""
    last = proc.stdout.strip().splitlines()[-1]
    return re.sub(r" in [0-9.]+s.*$", "", last).strip("= ")


def test_the_example_project_passes_with_the_plugin_from_its_entry_point(tmp_path: Path) -> None:
    project = tmp_path / "shows"
    shutil.copytree(REPO_ROOT / "examples" / "testing", project)
    proc = run_pytest(project)
    assert "fixture 'stream_emulator' not found" not in proc.stdout, REINSTALL
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert _outcome(proc) == "3 passed"
    # Without the entry point's plugin (named stagecfg) the fixture is not there at all.
    without = run_pytest(project, "-p", "no:stagecfg")
    assert without.returncode == 1
    assert "fixture 'stream_emulator' not found" in without.stdout


def test_reset_isolates_tests_and_the_session_fixture_keeps_state(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "pyproject.toml": f"""
                [tool.pytest.ini_options]
                stream_emulator_manifests = ["{BACKSTAGE}"]
                """,
            "tests/test_isolation.py": """
                from getstream.models import (
                    BackstageSettingsRequest, CallRequest, CallSettingsRequest
                )

                def test_a_changes_everything(stream_emulator):
                    sdk = stream_emulator.client()
                    sdk.video.create_call_type(name="extra")
                    sdk.video.update_call_type(
                        name="livestream",
                        settings=CallSettingsRequest(
                            backstage=BackstageSettingsRequest(enabled=False)
                        ),
                    )
                    sdk.video.call("livestream", "launch-show").delete(hard=True)
                    call = sdk.video.call("default", "c1")
                    call.get_or_create(data=CallRequest(created_by_id="zoe"))
                    assert len(stream_emulator.requests()) == 4
                    kinds = [e["event"]["type"] for e in stream_emulator.events()]
                    assert "call.deleted" in kinds and "call.created" in kinds

                def test_b_starts_from_the_manifests_again(stream_emulator):
                    sdk = stream_emulator.client()
                    assert stream_emulator.requests() == []
                    assert stream_emulator.stats() == {"requests": {}, "total": 0}
                    assert stream_emulator.events() == []  # not even the seed's
                    types = sdk.video.list_call_types().data.call_types
                    assert "extra" not in types
                    assert types["livestream"].settings.backstage.enabled is True
                    calls = sdk.video.query_calls().data.calls
                    assert [c.call.cid for c in calls] == ["livestream:launch-show"]

                def test_c_reset_empty_is_an_app_with_only_the_builtins(stream_emulator):
                    stream_emulator.reset(empty=True)
                    sdk = stream_emulator.client()
                    types = sdk.video.list_call_types().data.call_types
                    assert sorted(types) == ["audio_room", "default", "development", "livestream"]
                    assert types["livestream"].settings.backstage.join_ahead_time_seconds == 0
                    assert sdk.video.query_calls().data.calls == []

                def test_d_session_fixture_is_another_server(
                    stream_emulator_session, stream_emulator
                ):
                    assert stream_emulator_session.base_url != stream_emulator.base_url
                    stream_emulator_session.client().video.create_call_type(name="kept")

                def test_e_session_fixture_keeps_what_tests_did(stream_emulator_session):
                    types = stream_emulator_session.client().video.list_call_types().data.call_types
                    assert "kept" in types and "livestream" in types
                    assert "launch-show" in str(
                        stream_emulator_session.client().video.query_calls().data.calls
                    )
                """,
        },
    )
    proc = run_pytest(project)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert _outcome(proc) == "5 passed"


def test_load_seeds_with_env_and_variables_and_options_override_the_ini(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "pyproject.toml": f"""
                [tool.pytest.ini_options]
                stream_emulator_manifests = ["{BACKSTAGE}"]
                """,
            "tests/test_load.py": f"""
                import pytest

                def test_load_applies_and_reports_the_changes(stream_emulator):
                    multi_env = {str(MULTI_ENV)!r}
                    values = {{"max_viewers": "7"}}
                    applied = stream_emulator.load(multi_env, env="staging", variables=values)
                    assert applied == 3
                    shows = stream_emulator.client().video.get_call_type(name="shows").data
                    assert shows.settings.limits.max_participants == 7
                    again = stream_emulator.load([multi_env], env="staging", variables=values)
                    assert again == 0
                    # Seeding is not traffic of the app: the log shows only the SDK's read.
                    assert [r["operation"] for r in stream_emulator.requests()] == ["GetCallType"]

                def test_the_next_test_does_not_see_it(stream_emulator):
                    types = stream_emulator.client().video.list_call_types().data.call_types
                    assert "shows" not in types

                def test_manifests_with_environments_need_env(stream_emulator):
                    stream_emulator.load({str(MULTI_ENV)!r})
                """,
        },
    )
    proc = run_pytest(project, "-rf")
    assert _outcome(proc) == "1 failed, 2 passed", proc.stdout[-4000:]
    assert "choose one with --env NAME" in proc.stdout
    # --stream-emulator-load / --stream-emulator-env replace the ini's manifests.
    write(
        project,
        {
            "tests/test_load.py": """
                def test_started_from_the_command_line_manifests(stream_emulator):
                    types = stream_emulator.client().video.list_call_types().data.call_types
                    assert types["shows"].settings.limits.max_participants == 5000
                    # not the ini's backstage example
                    assert types["livestream"].settings.backstage.join_ahead_time_seconds == 0
                """
        },
    )
    args = ("--stream-emulator-load", str(MULTI_ENV), "--stream-emulator-env", "production")
    proc = run_pytest(project, *args)
    assert proc.returncode == 0, proc.stdout[-4000:]


BROKEN = "version: 1\ncall_types:\n  stage:\n    settngs: {}\n"


def test_a_broken_manifest_fails_the_test_at_its_file_line_col(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "bad.yaml": BROKEN,
            "tests/test_broken.py": """
                def test_loads_a_broken_manifest(stream_emulator):
                    stream_emulator.load("bad.yaml")

                def test_still_works_afterwards(stream_emulator):
                    stream_emulator.client().video.list_call_types()
                """,
        },
    )
    proc = run_pytest(project)
    assert _outcome(proc) == "1 failed, 1 passed", proc.stdout[-4000:]
    assert "bad.yaml:4:5: $.call_types.stage.settngs: unknown key 'settngs'" in proc.stdout
    assert "did you mean 'settings'" in proc.stdout
    assert "stagecfg/validation.py" not in proc.stdout  # the problem, not stagecfg's traceback

    # Configured for every test: those asking for the fixture error at setup, the others run.
    write(
        project,
        {
            "pyproject.toml": """
                [tool.pytest.ini_options]
                stream_emulator_manifests = ["bad.yaml"]
                """,
            "tests/test_broken.py": """
                def test_one(stream_emulator):
                    pass

                def test_two(stream_emulator):
                    pass

                def test_without_the_fixture():
                    pass
                """,
        },
    )
    proc = run_pytest(project)
    assert _outcome(proc) == "1 passed, 2 errors", proc.stdout[-4000:]
    errors = proc.stdout.split("short test summary info")[0].split("ERROR at setup of ")[1:]
    assert [e.splitlines()[0].split()[0] for e in errors] == ["test_one", "test_two"]
    for error in errors:
        assert "\nbad.yaml:4:5: $.call_types.stage.settngs: unknown key 'settngs'" in error
        assert "During handling" not in error and "Traceback" not in error


# A conftest that records, at the very end of the run, what the run left behind.
_RECORDER = """
    import json, os, sys, threading

    def _fds():
        if not os.path.isdir("/proc/self/fd"):
            return {}
        found = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                found[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass  # the descriptor listdir itself used
        return found

    def pytest_configure(config):
        config._fds_before = _fds()

    def pytest_unconfigure(config):
        heavy = ("stagecfg", "uvicorn", "starlette")
        modules = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        record = {
            "threads": sorted(t.name for t in threading.enumerate()),
            "fds_before": config._fds_before,
            "fds_after": _fds(),
            "modules": modules,
        }
        with open(os.environ["RECORD_TO"], "w") as f:
            json.dump(record, f)
"""


def _recorded(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
    record = project.parent / f"record-{len(list(project.parent.glob('record-*')))}.json"
    os.environ["RECORD_TO"] = str(record)
    try:
        proc = run_pytest(project, *args)
    finally:
        del os.environ["RECORD_TO"]
    return proc, json.loads(record.read_text())


def test_nothing_happens_for_projects_that_do_not_use_the_fixture(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "conftest.py": _RECORDER,
            "tests/test_plain.py": """
                import pytest

                def test_ok():
                    assert 1 + 1 == 2

                @pytest.mark.parametrize("n", [1, 2, 3])
                def test_many(n):
                    assert n

                def test_fails():
                    assert False

                @pytest.mark.skip(reason="skipped")
                def test_skipped():
                    pass
                """,
        },
    )
    with_plugin, seen = _recorded(project, "-v", "-rA")
    without, seen_without = _recorded(project, "-v", "-rA", "-p", "no:stagecfg")

    def normal(proc: subprocess.CompletedProcess[str]) -> list[str]:
        lines = proc.stdout.splitlines()
        # The header lists installed plugins (stagecfg among them, as every plugin is listed).
        lines = [line for line in lines if not line.startswith(("plugins:", "rootdir:"))]
        return [re.sub(r" in [0-9.]+s", "", line) for line in lines]

    assert with_plugin.returncode == without.returncode == 1
    assert normal(with_plugin) == normal(without)
    assert with_plugin.stderr == without.stderr
    # No server, no thread, no sandbox: only the plugin module itself was imported.
    assert seen["threads"] == ["MainThread"]
    assert seen["modules"] == ["stagecfg", "stagecfg.testing", "stagecfg.testing.plugin"]
    assert seen_without["modules"] == []
    assert not list(tmp_path.rglob("*.db"))


def test_the_emulator_stops_and_leaves_no_thread_or_descriptor(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "conftest.py": _RECORDER,
            "tests/test_used.py": """
                import urllib.request

                def _health(emulator):
                    with urllib.request.urlopen(emulator.base_url + "/_emulator/health") as r:
                        return r.status

                def test_function_scoped(stream_emulator):
                    assert _health(stream_emulator) == 200

                def test_session_scoped(stream_emulator_session):
                    assert _health(stream_emulator_session) == 200
                """,
        },
    )
    proc, seen = _recorded(project)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "stagecfg-emulator" not in seen["threads"]
    assert seen["threads"] == ["MainThread"]
    before, after = seen["fds_before"], seen["fds_after"]
    left = {fd: target for fd, target in after.items() if before.get(fd) != target}
    # No listening or accepted socket, no sandbox file stays open. (uvloop keeps one pipe pair
    # per process once any loop ran; the test below shows it is not one per emulator.)
    assert not [t for t in left.values() if t.startswith("socket:") or ".db" in t], left
    assert all(t.startswith("pipe:") for t in left.values()), left


def test_client_without_the_sdk_says_how_to_get_it(tmp_path: Path) -> None:
    project = write(
        tmp_path / "p",
        {
            "conftest.py": """
                import sys
                sys.modules["getstream"] = None  # as if Stream's SDK were not installed
                """,
            "tests/test_client.py": """
                def test_client(stream_emulator):
                    stream_emulator.client()

                def test_raw_credentials_still_work(stream_emulator):
                    assert stream_emulator.base_url.startswith("http://127.0.0.1:")
                    assert stream_emulator.environ()["STREAM_BASE_URL"] == stream_emulator.base_url
                """,
        },
    )
    proc = run_pytest(project)
    assert _outcome(proc) == "1 failed, 1 passed", proc.stdout[-3000:]
    assert "stream_emulator.client() needs Stream's Python SDK: pip install getstream" in (
        proc.stdout
    )


# --- the fixture in this session (the plugin is registered here as in any project) -------------


def test_requests_filters_by_operation_and_since(stream_emulator: StreamEmulator) -> None:
    sdk = stream_emulator.client()
    sdk.video.call("default", "a").get_or_create(data=CallRequest(created_by_id="ann"))
    (first,) = stream_emulator.requests()
    sdk.video.call("default", "a").get()
    sdk.video.list_call_types()
    later = stream_emulator.requests(since=first["seq"])
    assert [r["operation"] for r in later] == ["GetCall", "ListCallTypes"]
    assert [r["operation"] for r in stream_emulator.requests("GetCall")] == ["GetCall"]
    at = datetime.fromisoformat(later[0]["time"].replace("Z", "+00:00"))
    assert [r["seq"] for r in stream_emulator.requests(since=at)][-2:] == [r["seq"] for r in later]
    assert stream_emulator.requests(since=datetime(2999, 1, 1, tzinfo=timezone.utc)) == []
    with pytest.raises(pytest.fail.Exception, match="did you mean GetCall"):
        stream_emulator.requests("GetCal")
    assert stream_emulator.stats()["requests"]["GetCall"] == {"GET": 1}


def test_the_fixture_is_reset_before_each_test(stream_emulator: StreamEmulator) -> None:
    # The test above made a call; this one starts without it.
    assert stream_emulator.client().video.query_calls().data.calls == []
    assert [r["operation"] for r in stream_emulator.requests()] == ["QueryCalls"]


def test_load_needs_a_path(stream_emulator: StreamEmulator) -> None:
    with pytest.raises(pytest.fail.Exception, match="needs at least one manifest"):
        stream_emulator.load()


def test_load_warnings_are_pytest_warnings(stream_emulator: StreamEmulator, tmp_path: Path) -> None:
    manifest = tmp_path / "warn.yaml"
    manifest.write_text("version: 1\nusers:\n  zoe: {role: usr}\n")
    with pytest.warns(UserWarning, match=r"warn.yaml:3:.*role.*did you mean"):
        assert stream_emulator.load(manifest) == 1


def test_the_handle_never_shows_the_secret(stream_emulator: StreamEmulator) -> None:
    assert stream_emulator.api_secret not in repr(stream_emulator)
    assert stream_emulator.api_secret not in str(stream_emulator)


def _open_descriptors() -> dict[str, str]:
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_starting_and_stopping_emulators_leaks_no_descriptor(tmp_path: Path) -> None:
    first = StreamEmulator.start(tmp_path / "0", manifests=[str(BACKSTAGE)])
    first.reset()
    first.stop()
    settled = _open_descriptors()
    threads = set(threading.enumerate())  # this session's own emulator may be among them
    for n in range(1, 4):
        emulator = StreamEmulator.start(tmp_path / str(n), manifests=[str(BACKSTAGE)])
        emulator.client().video.list_call_types()
        emulator.reset()
        emulator.stop()
    assert _open_descriptors() == settled
    assert set(threading.enumerate()) == threads


def test_environ_points_an_app_that_reads_the_environment_at_the_emulator(
    stream_emulator: StreamEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from getstream import Stream

    for name, value in stream_emulator.environ().items():
        monkeypatch.setenv(name, value)
    app_client = Stream(base_url=None)  # as an app configured by STREAM_* would make it
    try:
        assert "livestream" in app_client.video.list_call_types().data.call_types
    finally:
        app_client.close()
    assert [r["operation"] for r in stream_emulator.requests()] == ["ListCallTypes"]


def test_events_show_what_stream_would_send_for_the_test(stream_emulator: StreamEmulator) -> None:
    sdk = stream_emulator.client()
    call = sdk.video.call("livestream", "show")
    call.get_or_create(data=CallRequest(created_by_id="ann"))
    call.go_live()
    kinds = [e["event"]["type"] for e in stream_emulator.events(call_cid="livestream:show")]
    assert kinds[0] == "call.created" and "call.live_started" in kinds
    (live,) = stream_emulator.events("call.live_started")
    assert live["event"]["call_cid"] == "livestream:show"
    assert stream_emulator.events(since=live["id"]) == [
        e for e in stream_emulator.events() if e["id"] > live["id"]
    ]
    with pytest.raises(pytest.fail.Exception, match="call_cid must be"):
        stream_emulator.events(call_cid="")


def test_events_of_a_load_in_the_test_are_kept(
    stream_emulator: StreamEmulator,
) -> None:
    assert stream_emulator.events() == []  # the test above's are gone
    stream_emulator.load(BACKSTAGE)
    # The changes happened in the app, so Stream would have sent their events.
    assert [e["event"]["type"] for e in stream_emulator.events()] == [
        "user.updated",
        "call.created",
    ]
