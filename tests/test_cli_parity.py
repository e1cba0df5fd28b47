"""The same CLI session against the local sandbox and, through ``--backend stream``, the emulator.

Issue 4's "done when": plan, apply, export and prune work identically on both. Each scenario runs
once per backend and the outputs (stdout, stderr, exit codes, exported files) must be equal once
the one line naming the backend is set aside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from emulator_fixture import MakeEmulator, make_emulator  # noqa: F401

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.render import NO_CHANGES

MANIFEST = """\
version: 1
project: parity
users:
  john: {role: user, name: John}
  amy: {role: admin}
call_types:
  stage:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 300}
    grants:
      host: [join-backstage, join-call, read-call]
calls:
  stage:one:
    created_by_id: john
    starts_at: "2027-03-01T19:00:00+01:00"
    members: {john: host, amy: user}
    custom: {title: One}
    settings_override:
      backstage: {join_ahead_time_seconds: 600}
  stage:two:
    created_by_id: john
    live: true
    go_live: {start_hls: true, start_recording: true}
  stage:three:
    created_by_id: amy
"""

#: The same project, one call dropped (pruned), one renamed, the live one sent back to backstage.
PRUNED = (
    MANIFEST.split("  stage:three:")[0]
    .replace("title: One", "title: Uno")
    .replace("live: true", "live: false")
)

Run = Callable[..., tuple[int, str, str]]


def cli(capsys: pytest.CaptureFixture[str], flags: tuple[str, ...]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main([*argv, *flags])
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 0), out, err

    return run


def neutral(text: str) -> str:
    """Output with the backend's description (path or URL) replaced by a placeholder.

    The sandbox's one-time "created a new, empty sandbox" notice has no HTTP counterpart, and
    apply's progress lines carry a rate and a time left that depend on the machine.
    """
    text = re.sub(r"(?m)^note: created a new, empty sandbox at .*\n", "", text)
    text = re.sub(r"(?m)^backend: .*$", "backend: <backend>", text)
    text = re.sub(r"(?m)^(apply: [\d,]+/[\d,]+ changes \(\d+%\)), .*$", r"\1", text)
    return re.sub(r'"backend": "[^"]*"', '"backend": "<backend>"', text)


def scenario(
    run: Run, work: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, int, str, str]]:
    """Plan, apply, re-apply, export round trip, prune, export: every step's result."""
    work.mkdir()
    monkeypatch.chdir(work)  # relative paths, so locations in the output read the same
    manifest = work / "m" / "stagecfg.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(MANIFEST, encoding="utf-8")
    m = "m"
    exported = "exported.yaml"
    steps: list[tuple[str, tuple[str, ...]]] = [
        ("plan", ("plan", m, "--detailed-exitcode")),
        ("plan-json", ("plan", m, "--format", "json")),
        ("apply", ("apply", m, "--auto-approve")),
        ("plan-after-apply", ("plan", m, "--detailed-exitcode")),
        ("apply-again", ("apply", m, "--auto-approve")),
        ("export", ("export", "--project", "parity", "--out", exported)),
        ("plan-export", ("plan", exported, "--detailed-exitcode")),
    ]
    results: list[tuple[str, int, str, str]] = []
    for label, argv in steps:
        code, out, err = run(*argv)
        results.append((label, code, neutral(out), neutral(err)))
    results.append(("exported-file", 0, (work / exported).read_text(encoding="utf-8"), ""))
    manifest.write_text(PRUNED, encoding="utf-8")
    steps = [
        ("prune-plan", ("plan", m, "--prune", "--detailed-exitcode")),
        ("prune-refused", ("apply", m, "--prune", "--auto-approve")),
        ("prune-apply", ("apply", m, "--prune", "--auto-approve", "--allow-disruptive")),
        ("prune-plan-after", ("plan", m, "--prune", "--detailed-exitcode")),
        ("export-all", ("export", "--include-builtin")),
    ]
    for label, argv in steps:
        code, out, err = run(*argv)
        results.append((label, code, neutral(out), neutral(err)))
    return results


@pytest.fixture
def stream_flags(
    make_emulator: MakeEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[EmulatorHandle, tuple[str, ...]]:
    handle = make_emulator(sandbox_path=tmp_path / "emulator.db")
    monkeypatch.setenv("STREAM_API_SECRET", handle.api_secret)
    flags = ("--backend", "stream", "--base-url", handle.url, "--api-key", handle.api_key)
    return handle, flags


def test_plan_apply_export_prune_are_identical_on_sandbox_and_emulator(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stream_flags: tuple[EmulatorHandle, tuple[str, ...]],
) -> None:
    handle, flags = stream_flags
    # --backend local said outright: STREAM_API_SECRET is set (for the stream run), which with
    # the default backend gives a note on stderr that the stream run has not.
    local_flags = ("--backend", "local", "--sandbox", str(tmp_path / "local.db"))
    local = scenario(cli(capsys, local_flags), tmp_path / "local", monkeypatch)
    remote = scenario(cli(capsys, flags), tmp_path / "stream", monkeypatch)

    # The scenario means something: it changed things, converged, and pruned.
    outcome = {label: (code, out) for label, code, out, _ in local}
    assert outcome["plan"][0] == 2
    assert "Plan: 6 to create, 0 to update, 0 to delete, 1 live change." in outcome["plan"][1]
    assert "Apply complete: 7 changes applied." in outcome["apply"][1]
    assert outcome["plan-after-apply"] == (0, f"backend: <backend>\n\n{NO_CHANGES}\n")
    assert NO_CHANGES in outcome["apply-again"][1]
    assert outcome["plan-export"][0] == 0
    exported = yaml.safe_load(outcome["exported-file"][1])
    assert sorted(exported["calls"]) == ["stage:one", "stage:three", "stage:two"]
    assert exported["calls"]["stage:two"]["live"] is True
    # It stops a live call, so apply would refuse it: plan says so (exit 1), not "changes" (2).
    assert outcome["prune-plan"][0] == 1
    assert "! needs --allow-disruptive:" in outcome["prune-plan"][1]
    assert "- call stage:three" in outcome["prune-plan"][1]
    assert outcome["prune-refused"][0] == 1
    assert "Apply complete: 3 changes applied." in outcome["prune-apply"][1]
    assert outcome["prune-plan-after"][0] == 0
    after = yaml.safe_load(outcome["export-all"][1])
    assert sorted(c for c in after["calls"] if c.startswith("stage:")) == ["stage:one", "stage:two"]
    assert after["calls"]["stage:one"]["custom"]["title"] == "Uno"
    assert after["calls"]["stage:two"]["live"] is False
    assert json.loads(dict((r[0], r[2]) for r in local)["plan-json"])["summary"]["create"] == 6

    # ... and the emulator, through the stream backend, said exactly the same at every step.
    assert len(local) == len(remote)
    for mine, theirs in zip(local, remote, strict=True):
        assert mine == theirs, f"step {mine[0]} differs between local and stream"
    assert handle.api_secret not in "".join(out + err for _, _, out, err in remote)


def test_plan_against_the_emulator_only_lists_and_queries(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stream_flags: tuple[EmulatorHandle, tuple[str, ...]],
) -> None:
    handle, flags = stream_flags
    monkeypatch.chdir(tmp_path)
    calls = "".join(f"  stage:c{i:03d}:\n    created_by_id: john\n" for i in range(150))
    manifest = tmp_path / "many.yaml"
    manifest.write_text(MANIFEST.split("calls:\n")[0] + "calls:\n" + calls, encoding="utf-8")
    run = cli(capsys, flags)
    assert run("apply", str(manifest), "--auto-approve")[0] == 0
    handle.reset_stats()
    code, out, _ = run("plan", str(manifest), "--detailed-exitcode")
    assert (code, NO_CHANGES in out) == (0, True)
    requests = handle.stats()["requests"]
    # 150 declared calls, 2 users, 1 call type: list and query endpoints only, never a GET each.
    assert set(requests) <= {"ListCallTypes", "QueryCalls", "QueryUsers"}, requests
    assert handle.stats()["total"] <= 6, requests


def test_emulator_on_a_sandbox_serves_what_apply_backend_local_wrote(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stagecfg.yaml").write_text(MANIFEST, encoding="utf-8")
    db = tmp_path / "shared.db"
    local = cli(capsys, ("--backend", "local", "--sandbox", str(db)))
    assert local("apply", "stagecfg.yaml", "--auto-approve")[0] == 0
    local_export = local("export", "--include-builtin")

    handle = make_emulator(sandbox_path=db)
    monkeypatch.setenv("STREAM_API_SECRET", handle.api_secret)
    remote = cli(capsys, ("--backend", "stream", "--base-url", handle.url, "--api-key", "emulator"))
    code, out, err = remote("plan", "stagecfg.yaml", "--detailed-exitcode")
    assert (code, neutral(out)) == (0, f"backend: <backend>\n\n{NO_CHANGES}\n"), err
    assert remote("export", "--include-builtin") == local_export
    assert yaml.safe_load(local_export[1])["calls"]["stage:two"]["live"] is True
