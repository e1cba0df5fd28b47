"""examples/: each validates with stagecfg and with the independent check-jsonschema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from stagecfg.validation import load_desired, validate

EXAMPLES = REPO_ROOT / "examples"
SCHEMA = REPO_ROOT / "schemas" / "stagecfg.schema.json"
OWN = sorted(
    p for p in EXAMPLES.iterdir() if p.is_dir() and p.name != "ci" and any(p.glob("*.yaml"))
)


def test_required_examples_exist() -> None:
    assert {"backstage", "multi-env", "audio-room"} <= {p.name for p in OWN}


@pytest.mark.parametrize("example", OWN, ids=lambda p: p.name)
def test_example_is_valid_without_warnings(example: Path) -> None:
    result = validate([str(example)], env={})
    assert result.problems == []
    assert (example / "README.md").is_file()


@pytest.mark.parametrize("example", OWN, ids=lambda p: p.name)
def test_example_files_point_editors_at_the_schema(example: Path) -> None:
    for manifest in sorted(example.rglob("*.yaml")):
        lines = manifest.read_text("utf-8").splitlines()
        modeline = next(line for line in lines if "yaml-language-server" in line)
        target = modeline.split("$schema=", 1)[1].strip()
        assert (manifest.parent / target).resolve() == SCHEMA.resolve()


def test_examples_pass_check_jsonschema() -> None:
    files = [str(p) for example in OWN for p in sorted(example.rglob("*.yaml"))]
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_rejects_a_bad_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncall_types:\n  livestream: {settngs: {}}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1


def test_backstage_quick_start_state() -> None:
    desired, warnings = load_desired([str(EXAMPLES / "backstage")], env={}, strict=True)
    assert warnings == []
    assert desired.project == "backstage-demo"
    (call,) = desired.calls.values()
    assert call.live is False and call.go_live and call.members == {"john": "host"}
    assert call.starts_at and call.settings_override and "backstage" in call.settings_override
    livestream = desired.call_types["livestream"]
    assert livestream.settings is not None
    assert livestream.settings["backstage"] == {"enabled": True, "join_ahead_time_seconds": 300}
    assert livestream.grants is not None and "join-backstage" in livestream.grants["host"]


def test_multi_env_differs_in_a_number_a_boolean_and_a_grant() -> None:
    from stagecfg.manifest import Selection

    def load(name: str) -> Any:
        desired, warnings = load_desired(
            [str(EXAMPLES / "multi-env")], env={}, selection=Selection(environment=name)
        )
        assert warnings == []
        return desired

    staging, production = load("staging"), load("production")
    assert (staging.environment, production.environment) == ("staging", "production")
    limits = [d.call_types["shows"].settings["limits"] for d in (staging, production)]
    assert limits == [{"max_participants": 50}, {"max_participants": 5000}]  # integers
    go_live = [d.calls["shows:keynote"].go_live["start_recording"] for d in (staging, production)]
    assert go_live == [False, True]
    grants = [d.call_types["shows"].grants for d in (staging, production)]
    assert "moderator" not in grants[0] and "kick-user" in grants[1]["moderator"]
    assert staging.call_types["shows"].external_storage == "staging-recordings"
    assert production.call_types["shows"].external_storage == "prod-recordings"
    assert [Path(s).name for s in production.sources] == [
        "base.yaml",
        "production.yaml",
        "shows.yaml",
    ]


# --- the access walkthroughs in the READMEs run as written ---------------------------------------


def _run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    from stagecfg.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """Fenced blocks of a Markdown text: (info string, lines)."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    info = ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                info, current = line[3:].strip(), []
            else:
                blocks.append((info, current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _commands(lines: list[str]) -> list[list[str]]:
    import shlex

    return [shlex.split(line, comments=True) for line in lines if line.startswith("stagecfg ")]


def _access_section() -> str:
    text = (REPO_ROOT / "README.md").read_text("utf-8")
    return text.split("<!-- section:access -->", 1)[1].split("<!-- /section:access -->", 1)[0]


def test_readme_access_commands_run_and_print_what_is_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    blocks = _blocks(_access_section())
    (commands, shown) = (blocks[0][1], blocks[1][1])
    offline = [c for c in _commands(commands) if "--from-backend" not in c]
    assert offline, "the README shows no offline access command"
    for argv in offline:
        code, out, err = _run_cli(capsys, [*argv[1:], "--sandbox", str(tmp_path / "s.db")])
        assert (code, err) == (0, ""), (argv, err)
    _, out, _ = _run_cli(capsys, offline[0][1:])
    assert out.splitlines() == shown


def test_backstage_readme_walkthrough(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    sandbox = ["--sandbox", str(tmp_path / "sandbox.db")]
    text = (EXAMPLES / "backstage" / "README.md").read_text("utf-8")
    access_part, plan_part = text.split("## A plan that widens access", 1)
    blocks = _blocks(access_part.split("(`stagecfg access`)", 1)[1])
    (first,) = _commands(blocks[0][1])
    code, out, err = _run_cli(capsys, first[1:])
    assert (code, err) == (0, "")
    assert out.splitlines() == blocks[1][1]
    # the one-instant examples: each command, then the start of the answer it prints
    lines = blocks[2][1]
    for index, line in enumerate(lines):
        if not line.startswith("stagecfg ") or "--from-backend" in line:
            continue
        (argv,) = _commands([line])
        code, out, err = _run_cli(capsys, argv[1:])
        assert (code, err) == (0, ""), (line, err)
        expected = lines[index + 1].lstrip("#").strip()
        for piece in expected.split("..."):
            assert piece.strip() in out, (line, piece, out)

    blocks = _blocks(plan_part)
    for argv in _commands(blocks[0][1]):
        code, out, err = _run_cli(capsys, [*argv[1:], *sandbox])
        assert code == 0, (argv, err)
    shown = [line.strip() for line in blocks[1][1] if line.strip() and "..." not in line]
    for line in shown:
        assert line in [o.strip() for o in out.splitlines()], (line, out)
    code, denied, err = _run_cli(
        capsys, ["plan", "--deny-escalation", "examples/backstage-open", *sandbox]
    )
    assert code == 1
    assert denied == out
    assert "1 access escalation in the plan" in err
    # after apply, --from-backend reads the same call (the example's last access command)
    code, backend_out, err = _run_cli(
        capsys, ["access", "livestream:launch-show", "--from-backend", *sandbox]
    )
    assert (code, err) == (0, "")
    assert backend_out.splitlines()[0].startswith("livestream:launch-show (backstage enabled")


def test_multi_env_readme_commands_run_as_written(tmp_path: Path) -> None:
    # Each command of the example's README, in a shell as a user types it, from the repository
    # root; /tmp/ and the default sandbox are moved into this test's directory.
    text = (EXAMPLES / "multi-env" / "README.md").read_text("utf-8")
    commands, shown = (lines for info, lines in _blocks(text) if info in ("sh", ""))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "STAGECFG_SANDBOX": str(tmp_path / "default.db"),
    }
    outputs = {}
    run = [line for line in commands if line.startswith(("stagecfg ", "STAGECFG_VAR_"))]
    assert len(run) >= 6
    for line in run:
        command = line.replace("/tmp/", f"{tmp_path}/")
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        outputs[line] = proc.stdout
    saved = next(out for line, out in outputs.items() if "--out" in line)
    for expected in shown:
        assert expected in saved.splitlines(), (expected, saved)


def test_readme_offline_testing_example_is_the_example_project() -> None:
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Test your Stream app offline", 1)[1].split("\n### ", 1)[0]
    shown = section.split("```python\n", 1)[1].split("```\n", 1)[0]
    example = REPO_ROOT / "examples" / "testing" / "tests" / "test_shows.py"
    assert shown == example.read_text("utf-8")
