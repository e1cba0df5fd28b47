"""--env, --var and --var-file from the command line: validate, plan, apply, access and saved plans,
end to end through the error boundary, on a real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stagecfg.backends.local import open_backend
from stagecfg.cli import main

BASE = """\
version: 1
project: shows
variables:
  max_viewers: {type: integer, default: 100}
  record: {type: boolean, default: false}
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
    live: false
    go_live: {start_hls: true, start_recording: "${record}"}
"""
STAGING = "version: 1\nenvironment: staging\nvalues: {max_viewers: 50}\n"
PRODUCTION = """\
version: 1
environment: production
values: {max_viewers: 5000, record: true}
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
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STAGECFG_SANDBOX", str(tmp_path / "sandbox.db"))
    (tmp_path / "m" / "environments").mkdir(parents=True)
    (tmp_path / "m" / "base.yaml").write_text(BASE, "utf-8")
    (tmp_path / "m" / "environments" / "staging.yaml").write_text(STAGING, "utf-8")
    (tmp_path / "m" / "environments" / "production.yaml").write_text(PRODUCTION, "utf-8")
    return tmp_path


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("note: created")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_validate_checks_every_environment(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", "m")
    assert (code, err) == (0, "")
    assert out == (
        "3 files valid: production: 1 call type, 1 call, 1 user; "
        "staging: 1 call type, 1 call, 1 user\n"
    )
    (work / "m" / "environments" / "staging.yaml").write_text(
        STAGING.replace("50", "'50'"), "utf-8"
    )
    code, out, err = run(capsys, "validate", "m", "--format", "json")
    report = json.loads(out)
    assert code == 1 and not report["valid"]
    (problem,) = report["problems"]
    assert problem["file"] == "m/environments/staging.yaml" and problem["line"] == 3
    assert problem["message"].endswith("found a string '50' (environment staging)")


def test_backend_commands_refuse_without_env(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["plan", "m"],
        ["apply", "m", "--auto-approve"],
        ["access", "shows:keynote", "m"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == ""
        assert one_line_error(err) == (
            "Error: these manifests define environments production, staging; choose one with "
            "--env NAME (or STAGECFG_ENV)"
        )
    assert not (work / "sandbox.db").exists()  # refused before the backend was opened


def test_a_wrong_env_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "--env", "prod", "m")
    assert code == 1
    assert one_line_error(err) == (
        "Error: --env prod: no file declares environment 'prod'; the manifests define "
        "production, staging (did you mean 'production'?)"
    )
    code, _, err = run(capsys, "validate", "--env", "qa", "m")
    assert code == 1 and "define production, staging" in err
    (work / "plain.yaml").write_text("version: 1\nusers:\n  a: {role: user}\n", "utf-8")
    code, _, err = run(capsys, "plan", "--env", "production", "plain.yaml")
    assert code == 1 and "these manifests define no environments" in one_line_error(err)


def test_a_bad_var_flag_is_a_usage_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--env", "staging", "--var", "max_viewers", "m")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "Invalid value for '--var': 'max_viewers' is not NAME=VALUE" in err


def test_apply_an_environment_then_plan_the_other(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "apply", "--env", "staging", "--auto-approve", "m")
    assert code == 0, err
    assert out.splitlines()[1] == "environment: staging"
    assert "settings.limits.max_participants: 50" in out
    assert run(capsys, "apply", "--env", "staging", "--auto-approve", "m")[1].endswith(
        "No changes. The backend matches the manifests.\n"
    )
    monkeypatch.setenv("STAGECFG_ENV", "production")  # the flag's environment variable
    code, out, err = run(capsys, "plan", "m")
    assert code == 0, err
    overlay = "m/environments/production.yaml"
    assert "    settings.limits.max_participants: 50 -> 5000\n" in out
    assert f"grants.moderator: +[join-backstage, join-call, mute-users]  ({overlay}:8:9)" in (
        out.replace("\n        (", "  (")
    )
    backend = open_backend(sandbox_path=str(work / "sandbox.db"))
    try:
        settings = backend.read().call_types["shows"].settings
    finally:
        backend.close()
    assert settings["limits"]["max_participants"] == 50  # an integer on the backend


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github"])
def test_every_plan_format_names_the_environment(
    work: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, err = run(capsys, "plan", "--env", "production", "m", "--format", fmt)
    assert code == 0, err
    shown = {
        "text": "\nenvironment: production\n",
        # The environment names the sticky comment too: one comment per environment.
        "markdown": "<!-- stagecfg-plan:production -->\n### stagecfg plan (production): 3 to",
        "github": "environment: production: Plan: 3 to create",
    }
    if fmt == "json":
        document = json.loads(out)
        assert document["environment"] == "production"
        (shows,) = [c for c in document["changes"] if c["name"] == "shows"]
        (grant,) = [f for f in shows["fields"] if f["path"] == "grants.moderator"]
        assert grant["location"] == {
            "file": "m/environments/production.yaml",
            "line": 8,
            "col": 9,
        }
    else:
        assert shown[fmt] in out


def test_a_plan_without_environments_has_no_environment_field(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "plain.yaml").write_text("version: 1\nusers:\n  a: {role: user}\n", "utf-8")
    code, out, _ = run(capsys, "plan", "plain.yaml", "--format", "json")
    assert code == 0 and "environment" not in json.loads(out)
    assert "environment" not in run(capsys, "plan", "plain.yaml")[1]


# --- saved plans ---------------------------------------------------------------------------------


def _saved(work: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((work / "plan.json").read_text("utf-8"))
    return data


def test_a_saved_plan_records_the_selection_and_apply_reuses_it(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "vars.yaml").write_text("record: true\n", "utf-8")
    argv = ["plan", "--env", "staging", "m", "--out", "plan.json"]
    code, out, err = run(capsys, *argv, "--var", "max_viewers=80", "--var-file", "vars.yaml")
    assert code == 0, err
    manifests = _saved(work)["manifests"]
    assert manifests["environment"] == "staging"
    assert manifests["vars"] == ["max_viewers=80"]
    assert manifests["var_files"] == ["vars.yaml"]
    assert manifests["files"] == ["m/base.yaml", "m/environments/staging.yaml"]

    # --var and --var-file come from the plan; giving them again is refused, and so is another
    # environment (here through STAGECFG_ENV's flag).
    code, _, err = run(capsys, "apply", "--plan", "plan.json", "--var", "max_viewers=9")
    assert code == 1 and "--var and --var-file are recorded in the saved plan" in err
    code, _, err = run(capsys, "apply", "--plan", "plan.json", "--env", "production")
    assert code == 1
    assert "the saved plan was made for staging, not environment production" in err

    code, out, err = run(
        capsys, "apply", "--plan", "plan.json", "--env", "staging", "--auto-approve"
    )
    assert code == 0, err
    assert "settings.limits.max_participants: 80" in out
    assert "Apply complete: 3 changes applied." in out


def test_an_edited_var_file_makes_the_saved_plan_stale(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "vars.yaml").write_text("max_viewers: 70\n", "utf-8")
    code, _, err = run(
        capsys, "plan", "--env", "staging", "m", "--out", "plan.json", "--var-file", "vars.yaml"
    )
    assert code == 0, err
    (work / "vars.yaml").write_text("max_viewers: 7000\n", "utf-8")
    code, out, err = run(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1 and out == ""
    assert one_line_error(err).startswith(
        "Error: the manifests or the --var-file files changed since the plan was saved"
    )
    (work / "vars.yaml").unlink()
    code, _, err = run(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1 and "vars.yaml (recorded in the saved plan) no longer exists" in err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("environment", 5, "manifests.environment must be a string, not a number"),
        ("environment", ["staging"], "manifests.environment must be a string, not a list"),
        ("vars", "max_viewers=1", "manifests.vars must be a list of strings, not a string"),
        ("vars", ["max_viewers"], "manifests.vars[0] must be NAME=VALUE, not a string"),
        ("vars", [1], "manifests.vars[0] must be a string, not a number"),
        ("var_files", [None], "manifests.var_files[0] must be a string, not null"),
        ("var_file", [], "manifests.var_file must be absent (not a field of a saved plan)"),
    ],
)
def test_a_hostile_selection_in_a_saved_plan_is_refused_naming_the_field(
    work: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any, message: str
) -> None:
    code, _, err = run(capsys, "plan", "--env", "staging", "m", "--out", "plan.json")
    assert code == 0, err
    data = _saved(work)
    data["manifests"][key] = value
    (work / "plan.json").write_text(json.dumps(data), "utf-8")
    code, out, err = run(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1 and out == ""
    assert message in one_line_error(err)
    assert not (work / "sandbox.db").exists() or "Apply complete" not in out


def test_access_answers_for_the_selected_environment(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["access", "shows:keynote", "m", "--role", "moderator", "--at", "2027-06-01T16:00:00Z"]
    production = run(capsys, *argv, "--env", "production")
    staging = run(capsys, *argv, "--env", "staging")
    # Only production's overlay grants the moderator role; a "no" exits 1 (like kubectl auth can-i).
    assert (production[0], staging[0]) == (0, 1), (production, staging)
    assert "role moderator lacks join-call" in staging[1]


# --- secrets, in a fresh interpreter (the masking registry is per process) -----------------------

SECRET_BASE = """\
version: 1
variables:
  hook: {type: string, secret: true}
calls:
  default:show:
    created_by_id: alice
    custom: {hook: "${hook}", note: "hook is ${hook}"}
"""


def _stagecfg(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STAGECFG_VAR_")}
    return subprocess.run(
        [sys.executable, "-m", "stagecfg", *argv],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_secret_typed_variable_is_masked_everywhere_and_saved_as_a_reference(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.yaml").write_text(SECRET_BASE, "utf-8")
    value = "hook-SECRET-value-2718"
    secret = {"STAGECFG_VAR_hook": value}
    sandbox = ["--sandbox", "s.db"]
    for fmt in ("text", "json", "markdown", "github"):
        shown = _stagecfg(tmp_path, "plan", "m.yaml", *sandbox, "--format", fmt, **secret)
        assert shown.returncode == 0, shown.stderr
        assert value not in shown.stdout + shown.stderr and "***" in shown.stdout, fmt
        if fmt == "json":
            json.loads(shown.stdout)
    made = _stagecfg(tmp_path, "plan", "m.yaml", *sandbox, "--out", "p.json", **secret)
    assert made.returncode == 0, made.stderr
    saved = (tmp_path / "p.json").read_text("utf-8")
    assert value not in saved
    assert '"hook": "${STAGECFG_VAR_hook}"' in saved
    assert '"note": "hook is ${STAGECFG_VAR_hook}"' in saved
    assert json.loads(saved)["secret_variables"] == ["STAGECFG_VAR_hook"]

    refused = _stagecfg(tmp_path, "apply", "--plan", "p.json", *sandbox, "--auto-approve")
    assert refused.returncode == 1
    assert "needs STAGECFG_VAR_hook in the environment" in refused.stderr
    other = _stagecfg(
        tmp_path, "apply", "--plan", "p.json", *sandbox, "--auto-approve", STAGECFG_VAR_hook="x"
    )
    assert other.returncode == 1 and "STAGECFG_VAR_hook in the environment differs" in other.stderr
    flag = _stagecfg(tmp_path, "plan", "m.yaml", *sandbox, "--var", f"hook={value}")
    assert flag.returncode == 1 and value not in flag.stdout + flag.stderr
    assert "set it through STAGECFG_VAR_hook so it stays out of shell history" in flag.stderr

    applied = _stagecfg(tmp_path, "apply", "--plan", "p.json", *sandbox, "--auto-approve", **secret)
    assert applied.returncode == 0, applied.stderr
    assert value not in applied.stdout + applied.stderr
    backend = open_backend(sandbox_path=str(tmp_path / "s.db"))
    try:
        call = backend.read(cids=["default:show"]).calls["default:show"]
    finally:
        backend.close()
    assert call.custom["hook"] == value and call.custom["note"] == f"hook is {value}"


def test_masking_a_short_secret_keeps_where_an_overlay_set_a_field(work: Path) -> None:
    # Masking rebuilt every field change and dropped its location whenever a short secret was
    # registered, so the plan stopped naming the overlay.
    (work / "m" / "base.yaml").write_text(
        BASE.replace("users:\n", "users:\n  bob: {role: user, custom: {hook: '${SHOW_TOKEN}'}}\n"),
        "utf-8",
    )
    shown = _stagecfg(work, "plan", "--env", "production", "m", "--format", "json", SHOW_TOKEN="ab")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    (shows,) = [c for c in document["changes"] if c["name"] == "shows"]
    (grant,) = [f for f in shows["fields"] if f["path"] == "grants.moderator"]
    assert grant["location"]["file"] == "m/environments/production.yaml"
    (bob,) = [c for c in document["changes"] if c["name"] == "bob"]
    assert bob["body"]["custom"]["hook"] == "***"


def test_apply_on_merge_takes_the_environment_and_refuses_another(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "--env", "production", "m", "--out", "reviewed.json")
    assert code == 0, err
    code, out, err = run(
        capsys, "apply", "m", "--reviewed", "reviewed.json", "--env", "staging", "--auto-approve"
    )
    assert code == 1 and "Apply complete" not in out
    assert "--env: reviewed production, now staging" in one_line_error(err)
    code, out, err = run(
        capsys, "apply", "m", "--reviewed", "reviewed.json", "--env", "production", "--auto-approve"
    )
    assert code == 0, err
    assert out.splitlines()[1] == "environment: production"
    assert "Apply complete: 3 changes applied." in out
