"""`stagecfg plan` and `stagecfg apply` end to end through the error boundary, on a sandbox."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from backend_wrappers import Wrapped, install
from emulator_fixture import emulator, make_emulator  # noqa: F401

import stagecfg.backends as backends
from stagecfg.backends.base import Backend
from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.model import Json
from stagecfg.render import MARKDOWN_MARKER, NO_CHANGES

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def manifest(
    calls: Mapping[str, bool | None] = {"stage:show-1": False},
    *,
    project: str | None = "demo",
    join_ahead: int = 300,
    extra_types: tuple[str, ...] = (),
) -> str:
    lines = ["version: 1"]
    if project:
        lines.append(f"project: {project}")
    lines += [
        "users:",
        "  john: {role: user, name: John}",
        "call_types:",
        "  stage:",
        "    settings:",
        f"      backstage: {{enabled: true, join_ahead_time_seconds: {join_ahead}}}",
        "    grants:",
        "      host: [join-backstage, join-call, read-call, send-audio, send-video]",
    ]
    for name in extra_types:
        lines += [
            f"  {name}:",
            "    settings:",
            "      backstage: {enabled: true, join_ahead_time_seconds: 60}",
        ]
    if calls:
        lines.append("calls:")
    for cid, live in calls.items():
        lines += [
            f"  {cid}:",
            "    created_by_id: john",
            '    starts_at: "2027-03-01T18:00:00Z"',
            "    members: {john: host}",
        ]
        if live is not None:
            lines.append(f"    live: {'true' if live else 'false'}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    return tmp_path


def write(work: Path, text: str) -> str:
    (work / "m" / "stagecfg.yaml").write_text(text)
    return "m"


SB = ("--sandbox", "sb.db")


def test_plan_apply_idempotent_with_detailed_exitcode(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest({"stage:show-1": False, "stage:show-2": True}))
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0
    assert out.splitlines()[0] == f"backend: local sandbox {work / 'sb.db'}"
    assert "+ call_type stage  (m/stagecfg.yaml:" in out
    assert "> call stage:show-2 go-live" in out
    assert out.rstrip().endswith("Plan: 4 to create, 0 to update, 0 to delete, 1 live change.")
    assert run(capsys, "plan", path, *SB, "--detailed-exitcode")[0] == 2

    code, out, _ = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 0, out
    assert "Apply complete: 5 changes applied." in out

    spies = install(monkeypatch)
    code, out, _ = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 0
    assert NO_CHANGES in out
    assert spies[-1].writes == []
    assert run(capsys, "plan", path, *SB, "--detailed-exitcode")[0] == 0


def test_apply_without_tty_needs_auto_approve(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest())
    spies = install(monkeypatch)
    code, out, err = run(capsys, "apply", path, *SB)
    assert code == 1
    assert "stdin is not a terminal" in err and "--auto-approve" in err
    assert "Traceback" not in err
    assert spies[-1].writes == []
    assert "+ call stage:show-1" in out  # the plan was shown


def test_apply_on_tty_asks(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("click.confirm", lambda *a, **k: False)
    spies = install(monkeypatch)
    code, _, err = run(capsys, "apply", path, *SB)
    assert code == 1 and "apply cancelled" in err
    assert spies[-1].writes == []
    monkeypatch.setattr("click.confirm", lambda *a, **k: True)
    assert run(capsys, "apply", path, *SB)[0] == 0


def test_usage_errors_exit_1_never_2(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest())
    code, _, err = run(capsys, "plan", path, *SB, "--detailed-exitcode", "--no-such-flag")
    assert code == 1 and "no-such-flag" in err
    code, _, err = run(capsys, "plan", path, *SB, "--detailed-exitcode", "--target", "nope")
    assert code == 1
    assert "unknown target 'nope'" in err and "calltype:stage" in err and "stage:show-1" in err
    code, _, err = run(capsys, "plan", path, *SB, "--detailed-exitcode", "--format", "xml")
    assert code == 1
    assert run(capsys, "apply", *SB, "--auto-approve")[0] == 1
    code, _, err = run(capsys, "plan", "missing-dir", *SB, "--detailed-exitcode")
    assert code == 1 and "Traceback" not in err


def test_targets(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest({"stage:show-1": None}, extra_types=("other",)))
    code, out, _ = run(capsys, "apply", path, *SB, "--auto-approve", "--target", "calltype:other")
    assert code == 0
    assert "+ call_type other" in out
    assert "call_type stage" not in out and "call stage:show-1" not in out
    assert "Apply complete: 1 change applied." in out
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "call_type other" not in out
    assert "+ call_type stage" in out and "+ call stage:show-1" in out


def test_saved_plan_applies_what_was_reviewed(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest())
    code, out, _ = run(capsys, "plan", path, *SB, "--out", "plan.json", "--detailed-exitcode")
    assert code == 2
    assert stat.S_IMODE(os.stat("plan.json").st_mode) == 0o600
    code, out, _ = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 0, out
    assert "Apply complete" in out
    assert run(capsys, "plan", path, *SB, "--detailed-exitcode")[0] == 0
    # Applying it a second time is refused: planning again no longer gives its changes.
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 1
    assert "change 1 (user john create): not in the plan now" in err
    assert "call_type stage create): not in the plan now" in err


def test_saved_plan_refuses_changed_manifest(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest())
    run(capsys, "plan", path, *SB, "--out", "plan.json")
    write(work, manifest(join_ahead=600))
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 1 and "manifests changed since the plan was saved" in err
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "Plan: 3 to create" in out  # nothing was written


def test_saved_plan_refuses_other_backend(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest())
    run(capsys, "plan", path, *SB, "--out", "plan.json")
    code, _, err = run(
        capsys, "apply", "--plan", "plan.json", "--sandbox", "other.db", "--auto-approve"
    )
    assert code == 1 and "the saved plan was made for backend" in err


def test_saved_plan_refuses_object_changed_meanwhile(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest())
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest(join_ahead=600))
    run(capsys, "plan", path, *SB, "--out", "plan.json")
    # Someone else changes the call type between review and apply.
    other = work / "other"
    other.mkdir()
    (other / "x.yaml").write_text(manifest(join_ahead=120))
    assert run(capsys, "apply", "other", *SB, "--auto-approve")[0] == 0
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 1
    assert (
        "change 1 (call_type stage update): field settings.backstage.join_ahead_time_seconds: "
        "saved 300 -> 600, now 120 -> 600"
    ) in err


def test_saved_plan_rejects_plan_options(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest())
    run(capsys, "plan", path, *SB, "--out", "plan.json")
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--prune", "--auto-approve")
    assert code == 1 and "recorded in the saved plan" in err
    code, _, err = run(capsys, "apply", path, "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 1 and "not both" in err


def test_failure_mid_apply_reports_and_rerun_converges(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {f"stage:show-{i}": None for i in range(4)}
    path = write(work, manifest(calls))
    real = backends.open_backend
    install(monkeypatch, fail_names={"stage:show-1"})
    code, out, err = run(capsys, "apply", path, *SB, "--auto-approve", "--parallelism", "1")
    assert code == 1
    assert "failed: create call stage:show-1: injected failure (Stream code 4, HTTP 400)" in out
    assert "done:   + call stage:show-0" in out
    assert "1 failed, 2 not started" in out
    assert "run apply again to converge" in err
    monkeypatch.setattr(backends, "open_backend", real)
    code, out, _ = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 0
    assert "Plan: 3 to create, 0 to update" in out
    assert run(capsys, "plan", path, *SB, "--detailed-exitcode")[0] == 0


def test_a_failure_in_a_large_apply_ends_with_a_short_summary(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest({f"stage:ep-{i:03d}": None for i in range(220)}))
    install(monkeypatch, fail_names={"stage:ep-100"})
    code, out, err = run(capsys, "apply", path, *SB, "--auto-approve", "--parallelism", "1")
    assert code == 1
    summary = out.split("\nPlan: 222 to create, 0 to update, 0 to delete, 0 live changes.\n")[1]
    assert summary.splitlines() == [
        "Applied 102 of 222 changes; 1 failed, 119 not started.",
        "  failed: create call stage:ep-100: injected failure (Stream code 4, HTTP 400)",
        "  not started: calls: 119 to create",
        *(f"    + call stage:ep-{i:03d}" for i in range(101, 106)),
        "    ... and 114 more (--full to list all)",
        "Left for the next run: 120 changes (1 failed, 119 not started).",
        "Nothing else was changed. Fix the cause and run apply again to finish: it re-reads the "
        "backend and converges.",
    ]
    assert err.splitlines()[-1] == "Error: 1 of 222 changes failed; run apply again to converge"


def test_ctrl_c_exits_130(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest({f"stage:show-{i}": None for i in range(5)}))
    install(monkeypatch, interrupt_at=2, pause=0.01)
    code, out, err = run(capsys, "apply", path, *SB, "--auto-approve", "--parallelism", "1")
    assert code == 130
    assert "Interrupted" in out and "not started" in out
    assert "apply interrupted" in err


class Lossy(Wrapped):
    """A backend that silently ignores grants on create: apply must not call that success."""

    def create_call_type(self, name: str, body: Json) -> Any:
        return super().create_call_type(name, {k: v for k, v in body.items() if k != "grants"})


def test_inconsistent_result_after_apply_is_an_error(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest({}))
    real = backends.open_backend

    def lossy_open(name: str, **settings: Any) -> Backend:
        return Lossy(real(name, **settings))

    monkeypatch.setattr(backends, "open_backend", lossy_open)
    code, _, err = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 1
    assert "inconsistent result after apply" in err
    assert "call_type stage: grants.host is [], manifest says" in err


def test_prune_deletes_only_this_projects_calls(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = {"stage:a": None, "stage:b": None, "stage:c": None}
    path = write(work, manifest(calls))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    # A call of another project on the same type.
    other = work / "other"
    other.mkdir()
    (other / "x.yaml").write_text(manifest({"stage:theirs": None}, project="other"))
    assert run(capsys, "apply", "other", *SB, "--auto-approve")[0] == 0

    write(work, manifest({"stage:a": None, "stage:b": None}))
    code, out, _ = run(capsys, "plan", path, *SB)
    assert NO_CHANGES in out  # nothing is deleted without --prune
    code, out, _ = run(capsys, "apply", path, *SB, "--prune", "--auto-approve")
    assert code == 0, out
    assert "- call stage:c" in out
    assert "theirs" not in out
    code, out, _ = run(capsys, "plan", "other", *SB, "--detailed-exitcode")
    assert code == 0  # the other project's call is still there


def test_prune_without_project_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest({"stage:a": None, "stage:b": None}))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest({"stage:a": None}, project=None))
    code, _, err = run(capsys, "apply", path, *SB, "--prune", "--auto-approve")
    assert code == 1 and "needs a project" in err and "stage:b" in err
    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--project", "demo")
    assert "- call stage:b" in out


def test_delete_threshold_needs_force(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {f"stage:c{i}": None for i in range(5)}
    path = write(work, manifest(calls))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest({"stage:c0": None}))
    code, _, err = run(capsys, "apply", path, *SB, "--prune", "--auto-approve")
    assert code == 1 and "deletes 4 of" in err and "--force" in err
    assert run(capsys, "plan", path, *SB, "--prune", "--detailed-exitcode")[0] == 1
    code, out, _ = run(capsys, "apply", path, *SB, "--prune", "--auto-approve", "--force")
    assert code == 0 and "Plan: 0 to create, 0 to update, 4 to delete" in out


def test_disruptive_changes_need_flag(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest({"stage:show": True}, extra_types=("old",)))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    (work / "m" / "call.yaml").write_text(
        "version: 1\nproject: demo\ncalls:\n  old:x:\n    created_by_id: john\n"
    )
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    os.remove(work / "m" / "call.yaml")
    write(work, manifest({"stage:show": False}))
    code, out, err = run(capsys, "apply", path, *SB, "--prune", "--auto-approve", "--force")
    assert code == 1
    assert "< call stage:show stop-live" in out
    assert "stop-live call stage:show" in err and "--allow-disruptive" in err
    assert "delete call_type old" not in err  # its only call is pruned first: not disruptive
    code, out, _ = run(
        capsys, "apply", path, *SB, "--prune", "--auto-approve", "--force", "--allow-disruptive"
    )
    assert code == 0, out
    assert run(capsys, "plan", path, *SB, "--prune", "--detailed-exitcode")[0] == 0


def test_deleting_call_type_in_use_is_disruptive(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest({}, extra_types=("old",)))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    other = work / "other"
    other.mkdir()
    (other / "x.yaml").write_text(
        "version: 1\nproject: theirs\ncall_types:\n  old: {}\n"
        "calls:\n  old:x:\n    created_by_id: john\n"
    )
    assert run(capsys, "apply", "other", *SB, "--auto-approve")[0] == 0
    write(work, manifest({}))
    code, out, err = run(capsys, "apply", path, *SB, "--prune", "--auto-approve")
    assert code == 1
    assert "breaks 1 call of this type" in out and "--allow-disruptive" in err


def test_formats_and_colour(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest())
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "markdown")
    assert code == 0 and out.startswith(MARKDOWN_MARKER)
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "github")
    assert "::notice file=m/stagecfg.yaml,line=" in out
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "json")
    assert '"format_version": 1' in out
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "\033[" not in out  # not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "\033[32m+ call_type stage\033[0m" in out
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "\033[" not in out


def test_quick_start_example_applies_and_converges(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "examples" / "backstage", work / "backstage")
    code, out, err = run(capsys, "apply", "backstage", *SB, "--auto-approve")
    assert code == 0, out + err
    code, out, _ = run(capsys, "apply", "backstage", *SB, "--auto-approve")
    assert code == 0 and NO_CHANGES in out


def test_unwritable_out_is_a_one_line_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(work, manifest())
    (work / "afile").write_text("not a directory")
    code, _, err = run(capsys, "plan", path, *SB, "--out", "afile/plan.json")
    assert code == 1
    assert "cannot write afile/plan.json" in err and "--out" in err
    assert "Traceback" not in err and "Internal error" not in err
    code, _, err = run(capsys, "export", *SB, "--out", "afile/current.yaml")
    assert code == 1 and "cannot write afile/current.yaml" in err
    assert (work / "afile").read_text() == "not a directory"
    assert not list(work.glob("**/.stagecfg-plan-*"))


def test_default_sandbox_and_environment_choose_the_backend(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest())
    code, out, _ = run(capsys, "apply", path, "--auto-approve")
    assert code == 0, out
    default = work / ".stagecfg" / "sandbox.db"
    assert out.splitlines()[0] == f"backend: local sandbox {default}"
    assert stat.S_IMODE(os.stat(default).st_mode) == 0o600
    monkeypatch.setenv("STAGECFG_SANDBOX", str(work / "env.db"))
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode")
    assert code == 2 and out.splitlines()[0] == f"backend: local sandbox {work / 'env.db'}"
    monkeypatch.setenv("STAGECFG_BACKEND", "stream")
    code, out, err = run(capsys, "plan", path)
    assert code == 1 and out == ""
    assert "the stream backend needs the app's API key" in err
    assert run(capsys, "plan", path, "--backend", "local", "--detailed-exitcode")[0] == 2


def test_progress_goes_to_stderr_in_lines_for_a_log_and_in_place_on_a_terminal(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(work, manifest())
    code, out, err = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 0 and "Apply complete: 3 changes applied." in out
    # No terminal: a line per tenth of the changes (here each change is a third), no \r.
    progress = [line for line in err.splitlines() if not line.startswith("note: ")]
    assert [line.split(",")[0] for line in progress] == [
        "apply: 1/3 changes (33%)",
        "apply: 2/3 changes (66%)",
        "apply: 3/3 changes (100%)",
    ]
    assert "ETA" in progress[0] and "took" in progress[-1]
    assert "\r" not in err and "apply: " not in out
    write(work, manifest({"stage:show-1": False, "stage:show-2": None}, join_ahead=60))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "apply", path, *SB, "--auto-approve")
    assert code == 0
    # A terminal: one line, redrawn with a carriage return, ended by one newline.
    assert err.startswith("\rapply: 1/3 changes (33%)") and err.endswith("\n")
    assert err.count("\n") == 1
    assert "\rapply: 3/3 changes (100%)" in err
    assert "apply: " not in out


def test_a_large_plan_starts_with_counts_and_folds_and_full_lists_every_change(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    calls = {f"stage:ep-{i:03d}": None for i in range(60)}
    path = write(work, manifest(calls))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest(calls).replace("T18:00:00Z", "T19:00:00Z"))  # every start moves
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0
    lines = out.splitlines()
    assert lines[1:3] == ["calls: 60 to update", ""]
    start = lines.index("~ 60 calls to update: starts_at changed")
    assert lines[start + 1].startswith("    ~ call stage:ep-000  (m/stagecfg.yaml:")
    assert "    ... and 57 more (--full to list all)" in lines
    assert "    ... and 57 more calls whose join window moves (--full to list all)" in lines
    assert len(lines) < 30

    code, full, _ = run(capsys, "plan", path, *SB, "--full")
    titles = [line for line in full.splitlines() if line.startswith("~ call stage:ep-")]
    assert code == 0 and len(titles) == 60 and "--full to list all" not in full
    code, data, _ = run(capsys, "plan", path, *SB, "--format", "json")
    assert len(json.loads(data)["changes"]) == 60  # JSON is data: never folded

    code, out, _ = run(capsys, "apply", path, *SB, "--auto-approve", "--full")
    assert code == 0 and "Apply complete: 60 changes applied." in out
    assert sum(line.startswith("~ call stage:ep-") for line in out.splitlines()) == 60


def _run_in_terminal(work: Path, args: list[str], answer: bytes) -> tuple[int, str, str]:
    """Run stagecfg with stdin and stderr on a pseudo-terminal and stdout on a pipe."""
    import pty
    import subprocess

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stagecfg", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=work,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(slave)
    os.write(master, answer)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every holder of the terminal's other end has gone
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), terminal.decode().replace("\r\n", "\n")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_terminal_apply_asks_then_shows_progress(work: Path) -> None:
    path = write(work, manifest())
    code, out, terminal = _run_in_terminal(work, ["apply", path, *SB], b"n\n")
    assert code == 1
    assert "Apply these changes? [y/N]: " in out
    assert "apply cancelled; nothing was changed" in terminal
    assert "Apply complete" not in out and "apply: " not in terminal
    code, out, terminal = _run_in_terminal(work, ["apply", path, *SB], b"y\n")
    assert code == 0, out + terminal
    assert "Plan: 3 to create" in out  # the cancelled apply wrote nothing
    assert "Apply these changes? [y/N]: " in out
    assert "Apply complete: 3 changes applied." in out
    # The progress line is redrawn in place, never one line per change.
    # split("\n"), not splitlines(), which would also split at each carriage return.
    (progress,) = [line for line in terminal.split("\n") if "apply: " in line]
    draws = progress.split("\r")[1:]
    assert draws[0].startswith("apply: 1/3 changes (33%)") and draws[0].endswith("+ user john")
    assert draws[-1].startswith("apply: 3/3 changes (100%)")
    assert draws[-1].rstrip().endswith("+ call stage:show-1")
    code, out, terminal = _run_in_terminal(work, ["apply", path, *SB], b"")
    assert code == 0 and NO_CHANGES in out and "Apply these changes?" not in out


def test_readme_text_plan_example_is_real_output(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("<!-- section:plan -->", 1)[1].split("<!-- /section:plan -->", 1)[0]
    shown = section.split("Text output names the backend", 1)[1].split("```\n", 2)[1].splitlines()
    shutil.copytree(REPO / "examples" / "backstage", work / "examples" / "backstage")
    assert run(capsys, "apply", "examples/backstage", "--auto-approve")[0] == 0
    manifest_file = work / "examples" / "backstage" / "stagecfg.yaml"
    text = manifest_file.read_text()
    text = text.replace("join_ahead_time_seconds: 600", "join_ahead_time_seconds: 900")
    manifest_file.write_text(text.replace("live: false", "live: true"))
    code, out, _ = run(capsys, "plan", "examples/backstage", "--detailed-exitcode")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"backend: local sandbox {work / '.stagecfg' / 'sandbox.db'}"
    assert shown[0].startswith("backend: local sandbox /")
    assert shown[0].endswith("/.stagecfg/sandbox.db")
    assert lines[1:] == shown[1:]


def test_readme_documents_every_json_plan_field(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import re

    readme = (REPO / "README.md").read_text("utf-8")
    table = readme.split("### JSON plan format", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    documented = {
        name for row in table.splitlines() for name in re.findall(r"^\| `([^`]+)`", row)
    } | set(re.findall(r"`, `(changes\[\]\.\w+)`", table))
    path = write(work, manifest({"stage:show-1": True}))
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["format_version"] == 1
    top = {name.removesuffix("[]") for name in documented if "." not in name}
    # Rows that say "present only with ..." name fields this plain plan does not have.
    optional = set(re.findall(r"^\| `(\w+)` \| [^|]*\(present only with", table, re.M))
    assert optional == {"environment"}
    assert top - optional == set(document)
    fields = {
        name.split(".", 1)[1].removesuffix("[]")
        for name in documented
        if name.startswith("changes[].")
    }
    for change in document["changes"]:
        assert set(change) == fields


def test_stream_backend_header_names_the_app_and_url_never_the_secret(
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    path = write(work, manifest())
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)
    stream = ("--backend", "stream", "--api-key", emulator.api_key, "--base-url", emulator.url)
    code, out, err = run(capsys, "plan", path, *stream, "--detailed-exitcode")
    assert code == 2, err
    assert out.splitlines()[0] == f"backend: stream app {emulator.api_key} at {emulator.url}"
    assert emulator.api_secret not in out + err
    for fmt in ("json", "markdown", "github"):
        code, out, _ = run(capsys, "plan", path, *stream, "--format", fmt)
        assert f"stream app {emulator.api_key} at {emulator.url}" in out


def test_the_format_choices_of_plan_are_the_renderers_formats() -> None:
    # The CLI spells the list out so that `stagecfg --help` does not import the renderer.
    from stagecfg.cli.plan_apply_commands import _FORMATS
    from stagecfg.render import FORMATS

    assert tuple(_FORMATS) == FORMATS


# --- grants in full, default grants of undeclared roles, and what apply would refuse -------------

#: Long enough that its JSON text is far past the 80 characters a value is cut to.
LONG_GRANTS = [
    "end-call",
    "join-backstage",
    "join-call",
    "mute-users",
    "pin-call-track",
    "read-call",
    "screenshare",
    "send-audio",
    "send-video",
    "start-recording",
    "stop-recording",
    "update-call-settings",
]


def _long_grants_manifest() -> str:
    return (
        "version: 1\nproject: demo\ncall_types:\n  stage:\n    grants:\n"
        f"      host: [{', '.join(LONG_GRANTS)}]\n"
    )


def test_plan_shows_every_permission_of_a_new_call_types_grants_in_every_format(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, _long_grants_manifest())
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0
    block = out.split("+ call_type stage", 1)[1].split("\n\n", 1)[0]
    assert "..." not in block
    # Wrapped at the width, never cut: the lines of the block hold the whole list, in order.
    assert " ".join(block.split()).endswith(f"grants.host: [{', '.join(LONG_GRANTS)}]")
    assert all(len(line) <= 100 for line in block.splitlines())
    for fmt in ("markdown", "github"):
        code, out, _ = run(capsys, "plan", path, *SB, "--format", fmt)
        assert code == 0
        (line,) = [line for line in out.splitlines() if "grants.host:" in line]
        assert f"grants.host: [{', '.join(LONG_GRANTS)}]" in line, fmt
        assert "..." not in line, fmt


def test_creating_a_call_type_names_the_default_grants_of_each_undeclared_role(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stagecfg.rules.builtins import template_grants

    defaults = template_grants()
    assert "guest" in defaults and "host" not in defaults  # the template this test relies on
    path = write(work, _long_grants_manifest())
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0
    access = out.split("access:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # One line per role: the declared one and every role the template gives grants to.
    assert sorted(line.split("role ", 1)[1].split(" ", 1)[0] for line in access) == sorted(
        {"host", *defaults}
    )
    (guest,) = [line for line in access if "role guest" in line]
    assert guest.startswith(
        "    ! escalation: role guest gets Stream's default grants (not declared): "
        + ", ".join(sorted(defaults["guest"]))
    )
    assert guest.endswith(": every guest user (call type stage)")
    (host,) = [line for line in access if "role host" in line]
    assert f"role host gains {', '.join(LONG_GRANTS)}: privileged: " in host
    # The prediction is what the backend does: after apply, each role holds what its line named.
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    # Read from the backend itself: an export leaves out the roles that hold Stream's defaults.
    backend = backends.open_backend("local", sandbox_path="sb.db")
    try:
        held = backend.read().call_types["stage"].grants
    finally:
        backend.close()
    for line in access:
        role = line.split("role ", 1)[1].split(" ", 1)[0]
        listed = line.removesuffix(" (call type stage)")
        listed = listed.split("(not declared): ", 1)[-1].split(" gains ", 1)[-1]
        assert listed.split(":", 1)[0].split(", ") == sorted(held[role]), role


def test_prune_without_a_project_says_why_undeclared_calls_are_kept(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest({"stage:a": None, "stage:b": None, "stage:c": None}, project=None))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest({"stage:a": None}, project=None))
    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--detailed-exitcode")
    assert code == 0 and NO_CHANGES in out  # nothing to delete, and it says why
    for cid in ("stage:b", "stage:c"):
        assert (
            f"note: call {cid}: not declared, not deleted: it carries no project marker "
            "(custom.stagecfg_project), so prune keeps it; calls are pruned only for a project: "
            "set `project:` (or --project)"
        ) in out
    assert "stage:a:" not in out
    code, out, _ = run(capsys, "plan", path, *SB)
    assert "note:" not in out  # only --prune has anything to explain


def _many_calls_manifest(count: int) -> str:
    lines = ["version: 1", "project: demo", "users:", "  john: {role: user, name: John}"]
    if count:
        lines += ["call_types:", "  stage: {settings: {backstage: {enabled: true}}}", "calls:"]
        lines += [f"  stage:c{i}: {{created_by_id: john}}" for i in range(count)]
    return "\n".join(lines) + "\n"


def test_plan_says_at_the_top_what_apply_would_refuse_and_the_flag_that_allows_it(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path = write(work, _many_calls_manifest(8))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, _many_calls_manifest(0))  # 8 calls and their call type go: 9 of 10 objects
    code, out, err = run(capsys, "plan", path, *SB, "--prune")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[2] == "apply would refuse this plan:"
    assert lines[3] == (
        "    ! needs --force: the plan deletes 9 of 10 managed objects, more than the limit of 3 "
        "(max of 3 and 30%); review it and pass --force to go ahead"
    )
    assert "Plan: 0 to create, 0 to update, 9 to delete" in out

    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--format", "json")
    refusals = json.loads(out)["refusals"]
    assert [r["flag"] for r in refusals] == ["--force"]
    assert refusals[0]["message"].startswith("the plan deletes 9 of 10 managed objects")
    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--format", "markdown")
    assert "#### Apply would refuse this plan\n\n- :no_entry: needs --force: the plan" in out
    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--format", "github")
    # The summary first (GitHub drops annotations past 10 of a kind), then the refusal.
    summary, refusal = out.splitlines()[:2]
    assert summary.startswith("::notice title=stagecfg plan::backend: local sandbox ")
    assert "1 refusal by apply" in summary
    assert refusal.startswith("::error::apply would refuse this plan: needs --force: the plan")

    code, out, err = run(capsys, "plan", path, *SB, "--prune", "--detailed-exitcode")
    assert code == 1
    assert "apply would refuse this plan:" in out  # printed in full first
    assert "apply would refuse this plan: the plan deletes 9 of 10" in err and "--force" in err

    # Apply refuses it by the same rule; with the flag, plan and apply agree it goes ahead.
    code, _, err = run(capsys, "apply", path, *SB, "--prune", "--auto-approve")
    assert code == 1 and "deletes 9 of 10" in err
    code, out, _ = run(capsys, "plan", path, *SB, "--prune", "--out", "p.json")
    assert code == 0 and (work / "p.json").exists()  # saved: apply --plan --force may run it
    code, out, _ = run(capsys, "apply", "--plan", "p.json", *SB, "--auto-approve", "--force")
    assert code == 0, out
    assert run(capsys, "plan", path, *SB, "--prune", "--detailed-exitcode")[0] == 0


def test_plan_with_a_stop_live_says_it_needs_allow_disruptive(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(work, manifest({"stage:show": True}))
    assert run(capsys, "apply", path, *SB, "--auto-approve")[0] == 0
    write(work, manifest({"stage:show": False}))
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0
    top = out.split("\n\n", 2)[1].splitlines()
    assert top[0] == "apply would refuse this plan:"
    assert top[1].startswith(
        "    ! needs --allow-disruptive: the plan has 1 disruptive change: stop-live call "
        "stage:show ("
    )
    code, _, err = run(capsys, "plan", path, *SB, "--detailed-exitcode")
    assert code == 1 and "--allow-disruptive" in err
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "json")
    import json

    assert [r["flag"] for r in json.loads(out)["refusals"]] == ["--allow-disruptive"]


def test_plan_without_anything_to_refuse_has_no_refusals(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path = write(work, manifest())
    code, out, _ = run(capsys, "plan", path, *SB)
    assert code == 0 and "apply would refuse" not in out
    code, out, _ = run(capsys, "plan", path, *SB, "--format", "json")
    assert json.loads(out)["refusals"] == []
    assert run(capsys, "plan", path, *SB, "--detailed-exitcode")[0] == 2
