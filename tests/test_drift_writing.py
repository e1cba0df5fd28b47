"""``stagecfg drift --write`` on a real sandbox changed behind stagecfg's back: each value is
written where it is set (the overlay, else the base), variables are left and named, absent and
undeclared objects are adopted, every file is checked by loading and planning it again before
anything is written, and ``plan`` then shows no changes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagecfg.backends.local import LocalBackend, open_backend
from stagecfg.cli import main
from stagecfg.drift import edits as yaml_edits

BASE = """\
# The show's manifest.
version: 1
project: shows
variables:
  max_viewers: {type: integer, default: 100}

users:
  alice: {role: user, name: Alice}  # the host

call_types:
  shows:
    settings:
      # Viewers wait in backstage until the host goes live.
      backstage: {enabled: true, join_ahead_time_seconds: 120}
      limits: {max_participants: "${max_viewers}"}
    grants:
      host: [join-backstage, join-call, read-call]

calls:
  shows:keynote:
    created_by_id: alice
    starts_at: "2027-06-01T16:00:00Z"
    members: {alice: host}
    custom: {title: Keynote}
    live: false
"""
PRODUCTION = """\
version: 1
environment: production
values: {max_viewers: 5000}
overlay:
  call_types:
    shows:
      grants:
        # Moderators keep order in the chat.
        moderator: [join-backstage, join-call, mute-users]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def files(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "stagecfg").glob("*.yaml"))}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STAGECFG_SANDBOX", str(tmp_path / "app.db"))
    (tmp_path / "stagecfg").mkdir()
    (tmp_path / "stagecfg" / "base.yaml").write_text(BASE)
    (tmp_path / "stagecfg" / "production.yaml").write_text(PRODUCTION)
    return tmp_path


@pytest.fixture
def app(project: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[LocalBackend]:
    code, _, err = run(capsys, "apply", "stagecfg", "--env", "production", "--auto-approve")
    assert code == 0, err
    backend = open_backend(sandbox_path=str(project / "app.db"))
    yield backend
    backend.close()


def plan_is_empty(capsys: pytest.CaptureFixture[str]) -> bool:
    code, out, err = run(capsys, "plan", "stagecfg", "--env", "production", "--detailed-exitcode")
    assert code in (0, 2), err
    return code == 0 and "No changes" in out


def test_values_are_written_where_they_are_set_and_plan_is_then_empty(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_call_type(
        "shows",
        {
            "settings": {"backstage": {"join_ahead_time_seconds": 60}},
            "grants": {"moderator": ["join-call", "mute-users"]},
        },
    )
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    code, out, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 0, err
    # The sandbox, like Stream, keeps a call's settings when its type changes: the call is
    # pinned at what it has, so that plan shows no changes.
    pinned = "    settings_override:\n      backstage:\n        join_ahead_time_seconds: 120\n"
    assert files(project) == {
        "base.yaml": BASE.replace(
            "join_ahead_time_seconds: 120", "join_ahead_time_seconds: 60"
        ).replace("name: Alice}", "name: Alice B.}")
        + pinned,
        "production.yaml": PRODUCTION.replace(
            "[join-backstage, join-call, mute-users]", "[join-call, mute-users]"
        ),
    }
    assert "--- a/stagecfg/production.yaml\n+++ b/stagecfg/production.yaml\n" in out
    assert "-        moderator: [join-backstage, join-call, mute-users]\n" in out
    assert "+        moderator: [join-call, mute-users]\n" in out
    assert (
        "adopted 4, left 0 of the differences (3 found, 1 more once adopting them); "
        "changed stagecfg/base.yaml, stagecfg/production.yaml"
    ) in err
    assert plan_is_empty(capsys)
    code, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--detailed-exitcode")
    assert (code, "No drift" in out) == (0, True)


def test_a_value_a_variable_gives_is_left_and_named_and_its_call_is_not_pinned(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_call_type("shows", {"settings": {"limits": {"max_participants": 80}}})
    before = files(project)
    code, out, err = run(
        capsys, "drift", "stagecfg", "--env", "production", "--write", "--detailed-exitcode"
    )
    assert code == 2  # drift is left
    assert files(project) == before and out == ""
    assert (
        "not adopted: calltype:shows.settings.limits.max_participants: "
        "settings.limits.max_participants: 5000 -> 80: the manifest's value comes from "
        "${max_viewers} at stagecfg/base.yaml:15:34 (max_viewers is set by "
        "stagecfg/production.yaml:3:23 (values:)): change the variable there to the live value; "
        "stagecfg does not overwrite a variable"
    ) in err
    # With the variable at the live value, the type matches; its call keeps what it had.
    code, out, err = run(
        capsys, "drift", "stagecfg", "--env", "production", "--var", "max_viewers=80",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert [(d["target"], d["path"]) for d in json.loads(out)["drift"]] == [
        ("shows:keynote", "settings.limits.max_participants")
    ]


def test_dry_run_prints_the_diff_and_writes_nothing(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_users_partial({"alice": {"set": {"role": "admin"}}})
    before = files(project)
    code, out, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write", "--dry-run")
    assert code == 0, err
    assert files(project) == before
    assert "-  alice: {role: user, name: Alice}  # the host\n" in out
    assert "+  alice: {role: admin, name: Alice}  # the host\n" in out
    assert "(dry run: nothing written)" in err


def test_a_type_change_a_call_did_not_follow_is_pinned_on_the_call(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The dashboard changes the call type only: the call keeps the settings it was created with.
    app.update_call_type("shows", {"settings": {"backstage": {"join_ahead_time_seconds": 30}}})
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 0, err
    base = files(project)["base.yaml"]
    assert "join_ahead_time_seconds: 30}" in base
    assert base.endswith(
        "    live: false\n    settings_override:\n      backstage:\n"
        "        join_ahead_time_seconds: 120\n"
    )
    assert plan_is_empty(capsys)


def test_an_absent_object_is_removed_from_the_environment_only(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.delete_call("shows:keynote")
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 0, err
    assert files(project)["base.yaml"] == BASE  # staging and the rest still declare it
    assert files(project)["production.yaml"].endswith(
        "        moderator: [join-backstage, join-call, mute-users]\n  calls:\n"
        "    shows:keynote: null\n"
    )
    assert plan_is_empty(capsys)


def test_without_environments_an_absent_object_and_its_overlays_are_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STAGECFG_SANDBOX", str(tmp_path / "app.db"))
    (tmp_path / "stagecfg").mkdir()
    plain = BASE.replace('"${max_viewers}"', "100")
    (tmp_path / "stagecfg" / "base.yaml").write_text(plain)
    patch = "version: 1\noverlay:\n  users:\n    alice: {name: Alice A.}\n"
    (tmp_path / "stagecfg" / "patch.yaml").write_text(patch)
    assert run(capsys, "apply", "stagecfg", "--auto-approve")[0] == 0
    backend = open_backend(sandbox_path=str(tmp_path / "app.db"))
    try:
        backend.delete_call("shows:keynote")
    finally:
        backend.close()
    code, _, err = run(capsys, "drift", "stagecfg", "--write")
    assert code == 0, err
    written = (tmp_path / "stagecfg" / "base.yaml").read_text()
    assert "shows:keynote" not in written and "# The show's manifest." in written
    assert (tmp_path / "stagecfg" / "patch.yaml").read_text() == patch  # alice is still there
    code, out, _ = run(capsys, "plan", "stagecfg", "--detailed-exitcode")
    assert code == 0, out


def test_marked_calls_declared_nowhere_go_to_the_new_objects_file(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.create_call(
        "shows:encore",
        {
            "created_by_id": "alice",
            "starts_at": "2027-06-02T16:00:00Z",
            "custom": {"stagecfg_project": "shows", "title": "Encore"},
        },
    )
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 0
    assert "give --new-objects-file FILE to add it to the manifests" in err
    code, _, err = run(
        capsys, "drift", "stagecfg", "--env", "production", "--write",
        "--new-objects-file", "elsewhere.yaml",
    )  # fmt: skip
    assert code == 1 and "not one of the manifests loaded" in err
    code, out, err = run(
        capsys, "drift", "stagecfg", "--env", "production", "--write",
        "--new-objects-file", "stagecfg/adopted.yaml",
    )  # fmt: skip
    assert code == 0, err
    adopted = (project / "stagecfg" / "adopted.yaml").read_text()
    assert "shows:encore" in adopted and "title: Encore" in adopted
    assert "stagecfg_project" not in adopted  # the project puts its marker back
    assert "--- /dev/null\n+++ b/stagecfg/adopted.yaml\n" in out
    assert plan_is_empty(capsys)


def test_only_adopts_what_it_selects(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    app.update_call("shows:keynote", {"custom": {"title": "Opening", "stagecfg_project": "shows"}})
    code, _, err = run(
        capsys, "drift", "stagecfg", "--env", "production", "--write", "--only", "user:alice"
    )
    assert code == 0, err
    base = files(project)["base.yaml"]
    assert "name: Alice B.}" in base and "custom: {title: Keynote}" in base


def test_nothing_is_written_when_the_edited_files_would_not_match_the_app(
    app: LocalBackend,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    before = files(project)
    # A writer that makes no edit at all: the check after the edits must catch it.
    monkeypatch.setattr(yaml_edits, "apply_possible", lambda text, edits, *, file: (text, []))
    code, out, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 1
    assert "nothing was written" in err and "user:alice.name" in err
    assert "Traceback" not in err and out == ""
    assert files(project) == before


def test_a_written_file_keeps_its_mode(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "stagecfg" / "base.yaml"
    os.chmod(path, 0o640)
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    assert run(capsys, "drift", "stagecfg", "--env", "production", "--write")[0] == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert "name: Alice B.}" in path.read_text()


def test_write_flags_need_write(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--dry-run")
    assert code == 1 and "--dry-run and --new-objects-file go with --write" in err


def test_write_does_not_take_report_flags(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in (["--format", "json"], ["--github-issue"], ["--github-comment"]):
        code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write", *flag)
        assert code == 1 and "--write prints a diff of the files it changes" in err, flag


def test_a_file_that_cannot_be_written_stops_the_write_before_any_file_changes(
    app: LocalBackend, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # production.yaml becomes a symbolic link: it must not be replaced, and base.yaml (written
    # first in sorted order) must not change either, or the adoption would be half made.
    real = project / "elsewhere.yaml"
    os.replace(project / "stagecfg" / "production.yaml", real)
    os.symlink(real, project / "stagecfg" / "production.yaml")
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    app.update_call_type("shows", {"grants": {"moderator": ["join-call"]}})
    before = files(project)
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--write")
    assert code == 1
    assert "cannot write stagecfg/production.yaml: it is a symbolic link" in err
    assert "Traceback" not in err
    assert files(project) == before and real.read_text() == PRODUCTION
