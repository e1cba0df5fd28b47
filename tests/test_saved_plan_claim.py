"""A saved plan is a claim that `apply --plan` checks by re-planning, never a list of orders.

Every field of a saved plan is edited in turn: an edit that could change what runs is refused in
one line with nothing written; an edit that cannot (summary, notes, fingerprints of objects the
plan only reads) applies exactly what a fresh plan gives.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from backend_wrappers import Wrapped, install

import stagecfg.backends as backends
from stagecfg.backends.base import Backend
from stagecfg.backends.local import open_backend
from stagecfg.cli import main
from stagecfg.errors import BackendError, BackendFailure
from stagecfg.model import ActualState

Plan = dict[str, Any]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def manifest(*, join_ahead: int, calls: dict[str, bool], grants: str = "") -> str:
    lines = [
        "version: 1",
        "project: demo",
        "users:",
        "  john: {role: user, name: John}",
        "call_types:",
        "  stage:",
        "    settings:",
        f"      backstage: {{enabled: true, join_ahead_time_seconds: {join_ahead}}}",
        "    grants:",
        "      host: [join-backstage, join-call, read-call, send-audio, send-video]",
    ]
    if grants:
        lines.append(f"      user: [{grants}]")
    lines.append("calls:")
    for cid, live in calls.items():
        lines += [
            f"  {cid}:",
            "    created_by_id: john",
            '    starts_at: "2027-03-01T18:00:00Z"',
            "    members: {john: host}",
            f"    live: {'true' if live else 'false'}",
            # These tests are about saved plans: calls that followed the type's join-ahead
            # change would add an update per call to every plan below.
            "    follow_call_type: false",
        ]
    return "\n".join(lines) + "\n"


SB = ("--sandbox", "sb.db")


def dump(db: Path) -> list[str]:
    """Every row of the sandbox, so "nothing was written" is checked on the data itself."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def change_index(plan: Plan, kind: str, name: str, action: str) -> int:
    for index, change in enumerate(plan["changes"]):
        if (change["kind"], change["name"], change["action"]) == (kind, name, action):
            return index
    raise AssertionError(f"no {kind} {name} {action} in {plan['changes']}")


@pytest.fixture
def work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A sandbox holding stage, john, stage:a, stage:b and stage:old; plan.json, saved with
    --prune, updates the call type, creates stage:c, takes stage:a live and deletes stage:old."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    before = {"stage:a": False, "stage:b": False, "stage:old": False}
    (tmp_path / "m" / "stagecfg.yaml").write_text(manifest(join_ahead=300, calls=before))
    assert run(capsys, "apply", "m", *SB, "--auto-approve")[0] == 0
    after = {"stage:a": True, "stage:b": False, "stage:c": False}
    (tmp_path / "m" / "stagecfg.yaml").write_text(manifest(join_ahead=600, calls=after))
    code, _, err = run(capsys, "plan", "m", *SB, "--prune", "--out", "plan.json")
    assert code == 0, err
    plan = load(tmp_path)
    assert [(c["kind"], c["name"], c["action"]) for c in plan["changes"]] == [
        ("call_type", "stage", "update"),
        ("call", "stage:c", "create"),
        ("call", "stage:a", "go-live"),
        ("call", "stage:old", "delete"),
    ]
    shutil.copy(tmp_path / "sb.db", tmp_path / "initial.db")
    return tmp_path


def load(work: Path) -> Plan:
    data: Plan = json.loads((work / "plan.json").read_text("utf-8"))
    return data


def save(work: Path, plan: Plan) -> None:
    (work / "plan.json").write_text(json.dumps(plan), "utf-8")


def restore(work: Path) -> None:
    shutil.copy(work / "initial.db", work / "sb.db")


Edit = Callable[[Plan], None]


def _set(*path: Any, value: Any) -> Edit:
    def edit(plan: Plan) -> None:
        item = plan
        for key in path[:-1]:
            item = item[key]
        item[path[-1]] = value

    return edit


def _in_change(kind: str, name: str, action: str, *path: Any, value: Any) -> Edit:
    def edit(plan: Plan) -> None:
        _set("changes", change_index(plan, kind, name, action), *path, value=value)(plan)

    return edit


def _drop_change(kind: str, name: str, action: str) -> Edit:
    def edit(plan: Plan) -> None:
        del plan["changes"][change_index(plan, kind, name, action)]

    return edit


def _add_delete(name: str) -> Edit:
    def edit(plan: Plan) -> None:
        plan["changes"].append(
            {
                "kind": "call",
                "name": name,
                "action": "delete",
                "stage": 4,
                "body": {},
                "fields": [],
                "location": None,
                "disruptive": False,
                "reason": "",
            }
        )

    return edit


def _drop_fingerprint(key: str) -> Edit:
    def edit(plan: Plan) -> None:
        del plan["fingerprints"][key]

    return edit


CT = ("call_type", "stage", "update")
CREATE = ("call", "stage:c", "create")
LIVE = ("call", "stage:a", "go-live")
DELETE = ("call", "stage:old", "delete")

#: Each edit with a word the refusal must contain.
REFUSED: dict[str, tuple[Edit, str]] = {
    "body": (
        _in_change(*CT, "body", "settings", "backstage", "join_ahead_time_seconds", value=5),
        "body.settings.backstage.join_ahead_time_seconds: saved 5, now 600",
    ),
    "body added key": (
        _in_change(*CT, "body", "grants", value={"user": ["update-call-permissions"]}),
        'body.grants: saved {"user": ["update-call-permissions"]}, not in the plan now',
    ),
    "field after": (
        _in_change(*CT, "fields", 0, "after", value=5),
        "field settings.backstage.join_ahead_time_seconds: saved 300 -> 5, now 300 -> 600",
    ),
    "field before": (
        _in_change(*CT, "fields", 0, "before", value=5),
        "saved 5 -> 600, now 300 -> 600",
    ),
    "fields emptied": (_in_change(*CT, "fields", value=[]), "not in the saved plan"),
    "action": (_in_change(*LIVE, "action", value="stop-live"), "stage:a stop-live): not in"),
    "kind": (_in_change(*CREATE, "kind", value="user"), "user stage:c create): not in"),
    "name": (_in_change(*CREATE, "name", value="stage:z"), "stage:z create): not in"),
    "stage": (_in_change(*CREATE, "stage", value=3), "stage: saved 3, now 2"),
    "disruptive": (_in_change(*LIVE, "disruptive", value=True), "disruptive: saved true"),
    "reason": (_in_change(*DELETE, "reason", value="trust me"), 'reason: saved "trust me"'),
    "change added": (_add_delete("stage:b"), "call stage:b delete): not in the plan now"),
    "change removed": (_drop_change(*DELETE), "the plan now also has call stage:old delete"),
    "change twice": (
        lambda plan: plan["changes"].append(plan["changes"][0]),
        "change 5 (call_type stage update): not in the plan now",
    ),
    "prune": (_set("options", "prune", value=False), "(call stage:old delete): not in the plan"),
    "targets": (
        _set("options", "targets", value=["calltype:stage"]),
        "change 2 (call stage:c create): not in the plan now",
    ),
    "project": (_set("options", "project", value="other"), "stage:c create): body.custom"),
    "managed": (_set("managed", value=99), "managed objects: saved 99, now"),
    "fingerprint of a changed object": (
        _set("fingerprints", "call_type:stage", value="0" * 64),
        "call_type:stage changed on the backend",
    ),
    "fingerprint of a changed object dropped": (
        _drop_fingerprint("call:stage:a"),
        "call:stage:a changed on the backend",
    ),
    "digest": (_set("manifests", "digest", value="0" * 64), "manifests changed"),
    "files": (_set("manifests", "files", value=["m/other.yaml"]), "other manifest files"),
    "sources": (_set("manifests", "sources", value=["elsewhere"]), "elsewhere (recorded"),
    "identity": (_set("backend", "identity", value="local:/else.db"), "made for backend"),
    "format_version": (_set("format_version", value=2), "format_version 2 is not supported"),
    "stage as text": (_in_change(*CREATE, "stage", value="2"), "stage must be a whole number"),
    "body as list": (_in_change(*CT, "body", value=[]), "body must be an object"),
    "disruptive as text": (_in_change(*LIVE, "disruptive", value="no"), "true or false"),
    "prune as text": (_set("options", "prune", value="false"), "options.prune must be"),
    "targets as text": (_set("options", "targets", value="calltype:stage"), "list of strings"),
    "project as number": (_set("options", "project", value=1), "options.project must be"),
    "managed as text": (_set("managed", value="99"), "managed must be a whole number"),
    "changes as object": (_set("changes", value={}), "changes must be a list"),
    "fingerprints as list": (_set("fingerprints", value=[]), "fingerprints must be an object"),
    "notes as text": (_set("notes", value="x"), "notes must be a list"),
    "summary as list": (_set("summary", value=[]), "summary must be an object"),
}

#: Edits that cannot change what runs: the apply is exactly the fresh plan's.
HARMLESS: dict[str, Edit] = {
    "summary": _set("summary", value={"create": 0, "update": 0, "delete": 0, "live": 0}),
    "notes": _set("notes", value=[{"kind": "call", "name": "x", "message": "all is well"}]),
    "fingerprint of an object only read": _set("fingerprints", "call:stage:b", value="0" * 64),
    "fingerprint of an object only read dropped": _drop_fingerprint("user:john"),
    "fingerprint of an unknown object": _set("fingerprints", "call:stage:zz", value="absent"),
    "description": _set("backend", "description", value="prod, honest"),
    "location": _in_change(*CREATE, "location", value={"file": "x.yaml", "line": 9, "col": 1}),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_an_edited_saved_plan_is_refused_in_one_line_writing_nothing(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    edit, expected = REFUSED[name]
    plan = load(work)
    edit(plan)
    save(work, plan)
    before = dump(work / "sb.db")
    spies = install(monkeypatch)
    code, out, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve", "--force")
    assert code == 1, (out, err)
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert all(spy.writes == [] for spy in spies)
    assert dump(work / "sb.db") == before


def _apply_writes(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str]]:
    spies = install(monkeypatch)
    code, out, err = run(
        capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve", "--parallelism", "1"
    )
    assert code == 0, (out, err)
    monkeypatch.setattr(backends, "open_backend", _real_open)
    return [write for spy in spies for write in spy.writes]


_real_open = backends.open_backend


def test_edits_that_cannot_change_what_runs_apply_exactly_the_fresh_plan(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reviewed = load(work)
    expected = _apply_writes(work, capsys, monkeypatch)
    assert len(expected) == 4
    for name, edit in HARMLESS.items():
        restore(work)
        plan = json.loads(json.dumps(reviewed))
        edit(plan)
        save(work, plan)
        assert _apply_writes(work, capsys, monkeypatch) == expected, name
        code, out, _ = run(capsys, "plan", "m", *SB, "--prune", "--detailed-exitcode")
        assert code == 0, (name, out)


def test_the_issues_hand_edited_plan_is_refused(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Problem 1 of the issue: one edited file deleted calls, widened role `user` and stopped
    # live calls without --allow-disruptive. Live calls to stop, and more calls to delete:
    plan = load(work)
    ct = plan["changes"][change_index(plan, *CT)]
    ct["body"]["grants"] = {"user": ["join-backstage", "update-call-permissions"]}
    ct["fields"].append({"path": "grants.user", "before": [], "after": ["join-backstage"]})
    for cid in ("stage:a", "stage:b", "stage:old"):
        _add_delete(cid)(plan)
    plan["changes"].append({**plan["changes"][change_index(plan, *LIVE)], "action": "stop-live"})
    plan["options"]["prune"] = True
    plan["managed"] = 1000  # far under the delete threshold
    save(work, plan)
    before = dump(work / "sb.db")
    spies = install(monkeypatch)
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve")
    assert code == 1
    assert "Error: the saved plan is not what planning its manifests" in err
    assert "change 1 (call_type stage update): body.grants: saved" in err
    assert "more differences" in err
    assert len(err.strip().splitlines()) == 1
    assert all(spy.writes == [] for spy in spies)
    assert dump(work / "sb.db") == before


def test_a_stale_plan_is_refused_naming_the_object(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone else sets the call type's join-ahead to 120 after the review.
    backend = open_backend(sandbox_path=str(work / "sb.db"))
    try:
        body = {"settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 120}}}
        backend.update_call_type("stage", body)
    finally:
        backend.close()
    before = dump(work / "sb.db")
    spies = install(monkeypatch)
    code, _, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve", "--force")
    assert code == 1
    assert (
        "change 1 (call_type stage update): field settings.backstage.join_ahead_time_seconds: "
        "saved 300 -> 600, now 120 -> 600"
    ) in err
    assert spies[-1].writes == []
    assert dump(work / "sb.db") == before


def test_a_plan_applies_after_an_object_it_only_read_changed(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every call type is read (and with --prune every call); activity on ones the plan does not
    # change must not make a reviewed plan stale.
    backend = open_backend(sandbox_path=str(work / "sb.db"))
    try:
        backend.update_call_type(
            "default", {"settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 9}}}
        )
        backend.create_call("default:theirs", {"created_by_id": "john"})
    finally:
        backend.close()
    code, out, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve", "--force")
    assert code == 0, (out, err)
    assert "Apply complete: 4 changes applied." in out


class ConfirmReadFails(Wrapped):
    """Takes every write, then fails the read that confirms them (the issue's HTTP 502)."""

    def read(self, **kwargs: Any) -> ActualState:
        if self.writes:
            raise BackendError(
                "HTTP 502", operation="query call", failure=BackendFailure(status=502)
            )
        return super().read(**kwargs)


def test_a_failed_confirm_read_still_reports_the_finished_apply(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_failing(name: str, **settings: Any) -> Backend:
        return ConfirmReadFails(_real_open(name, **settings))

    monkeypatch.setattr(backends, "open_backend", open_failing)
    code, out, err = run(capsys, "apply", "--plan", "plan.json", *SB, "--auto-approve", "--force")
    assert code == 1
    assert "Applied 4 of 4 changes; 0 failed, 0 not started." in out
    assert "done:   + call stage:c" in out
    *progress, error = err.strip().splitlines()
    assert all(line.startswith("apply: ") for line in progress), progress  # stderr is no tty
    assert error == (
        "Error: all 4 changes were applied, but reading the backend to confirm them failed: "
        "query call: HTTP 502; run `stagecfg plan` to see whether the backend holds them"
    )
    monkeypatch.setattr(backends, "open_backend", _real_open)
    assert run(capsys, "plan", "m", *SB, "--prune", "--detailed-exitcode")[0] == 0
