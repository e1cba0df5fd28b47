"""``stagecfg drift`` from the command line, on a real sandbox changed behind stagecfg's back
(through the backend's own calls, as the dashboard or product code would): every format, the
exit codes, ``--only``, environments, overlays and variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagecfg.backends.local import LocalBackend, open_backend
from stagecfg.cli import main

BASE = """\
# The show's manifest.
version: 1
project: shows
variables:
  max_viewers: {type: integer, default: 100}
users:
  alice: {role: user, name: Alice}
call_types:
  shows:
    settings:
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
        moderator: [join-backstage, join-call, mute-users]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


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


def test_no_drift_right_after_apply(app: LocalBackend, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--detailed-exitcode")
    assert code == 0
    assert "No drift. The app matches the manifests." in out


def test_each_changed_field_is_reported_from_manifest_to_live_at_its_declaration(
    app: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_call_type("shows", {"grants": {"host": ["join-call", "read-call"]}})
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    app.update_call("shows:keynote", {"custom": {"title": "Opening", "stagecfg_project": "shows"}})
    code, out, _ = run(capsys, "drift", "stagecfg", "--env", "production")
    assert code == 0  # drift alone is not an error without --detailed-exitcode
    assert '~ user:alice\n    name: "Alice" -> "Alice B."   (stagecfg/base.yaml:7:29)' in out
    assert (
        'grants.host: ["join-backstage", "join-call", "read-call"] -> ["join-call", "read-call"]'
        "   (stagecfg/base.yaml:14:13)"
    ) in out
    assert 'custom.title: "Keynote" -> "Opening"   (stagecfg/base.yaml:20:21)' in out
    assert "Drift: 3 objects drifted, 3 fields changed." in out
    code, _, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--detailed-exitcode")
    assert code == 2


def test_an_overlay_value_is_located_in_the_overlay_and_a_variable_is_named(
    app: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_call_type(
        "shows",
        {
            "grants": {"moderator": ["join-call"]},
            "settings": {"limits": {"max_participants": 80}},
        },
    )
    code, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["environment"] == "production" and report["drifted"] is True
    by_path = {(d["target"], d["path"]): d for d in report["drift"]}
    moderator = by_path[("calltype:shows", "grants.moderator")]
    assert moderator["location"]["file"] == "stagecfg/production.yaml"
    assert (moderator["manifest"], moderator["live"]) == (
        ["join-backstage", "join-call", "mute-users"],
        ["join-call"],
    )
    limit = by_path[("calltype:shows", "settings.limits.max_participants")]
    assert (limit["manifest"], limit["live"], limit["variable"]) == (5000, 80, "max_viewers")
    assert limit["variable_source"] == "stagecfg/production.yaml:3:23 (values:)"
    assert limit["location"] == {"file": "stagecfg/base.yaml", "line": 12, "col": 34}


def test_live_state_absent_objects_and_marked_calls_declared_nowhere(
    app: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    app.go_live("shows:keynote", {})
    app.create_call(
        "shows:extra", {"created_by_id": "alice", "custom": {"stagecfg_project": "shows"}}
    )
    app.create_call("shows:theirs", {"created_by_id": "alice"})  # no marker: not ours
    _, out, _ = run(capsys, "drift", "stagecfg", "--env", "production")
    assert "~ call:shows:keynote\n    live: false -> true" in out
    assert "+ call:shows:extra\n    in the app with this project's marker, declared nowhere" in out
    assert "shows:theirs" not in out


def test_a_declared_object_missing_from_the_app_is_absent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--format", "json")
    report = json.loads(out)
    assert {(d["target"], d["status"]) for d in report["drift"]} == {
        ("user:alice", "absent"),
        ("calltype:shows", "absent"),
        ("shows:keynote", "absent"),
    }
    assert report["summary"] == {"objects": 3, "fields": 0, "absent": 3, "undeclared": 0}


def test_only_selects_objects_and_fields_and_refuses_unknown_names(
    app: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_call_type("shows", {"settings": {"backstage": {"join_ahead_time_seconds": 60}}})
    app.update_users_partial({"alice": {"set": {"name": "Alice B."}}})
    code, out, _ = run(
        capsys, "drift", "stagecfg", "--env", "production", "--format", "json",
        "--only", "user:alice.name",
    )  # fmt: skip
    assert [d["target"] for d in json.loads(out)["drift"]] == ["user:alice"]
    code, out, _ = run(
        capsys, "drift", "stagecfg", "--env", "production", "--format", "json",
        "--only", "calltype:shows.settings",
    )  # fmt: skip
    assert [d["path"] for d in json.loads(out)["drift"]] == [
        "settings.backstage.join_ahead_time_seconds"
    ]
    code, _, err = run(capsys, "drift", "stagecfg", "--env", "production", "--only", "user:alise")
    assert code == 1
    assert "no such object in the manifests or the app (did you mean 'user:alice'?)" in err
    assert "Traceback" not in err


def test_markdown_starts_with_the_environment_s_marker_and_github_annotates(
    app: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    app.update_users_partial({"alice": {"set": {"name": "Alice | B."}}})
    _, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--format", "markdown")
    assert out.startswith("<!-- stagecfg-drift:production -->\n### stagecfg drift: production\n")
    assert '| `name` | `"Alice"` | `"Alice \\| B."` | stagecfg/base.yaml:7:29 |' in out
    _, out, _ = run(capsys, "drift", "stagecfg", "--env", "production", "--format", "github")
    assert out.splitlines()[0] == (
        "::warning file=stagecfg/base.yaml,line=7,col=29::user:alice: drifted: "
        'name: "Alice" -> "Alice | B."'
    )
    assert out.splitlines()[-1] == "::notice::Drift: 1 object drifted, 1 field changed."


def test_environments_must_be_chosen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "drift", "stagecfg")
    assert code == 1
    assert "choose one with --env NAME" in err
