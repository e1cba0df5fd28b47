"""examples/: each validates with stagecfg and with the independent check-jsonschema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    for manifest in sorted(example.glob("*.yaml")):
        lines = manifest.read_text("utf-8").splitlines()
        modeline = next(line for line in lines if "yaml-language-server" in line)
        target = modeline.split("$schema=", 1)[1].strip()
        assert (manifest.parent / target).resolve() == SCHEMA.resolve()


def test_examples_pass_check_jsonschema() -> None:
    files = [str(p) for example in OWN for p in sorted(example.glob("*.yaml"))]
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
    livestream = desired.call_types["livestream"]
    assert livestream.settings is not None
    assert livestream.settings["backstage"] == {"enabled": True, "join_ahead_time_seconds": 300}
    assert livestream.grants is not None and "join-backstage" in livestream.grants["host"]


def test_multi_env_uses_variables() -> None:
    staging, _ = load_desired([str(EXAMPLES / "multi-env")], env={})
    prod, _ = load_desired(
        [str(EXAMPLES / "multi-env")], env={"RECORDING_STORAGE": "prod-rec", "TEAM": "prod"}
    )
    assert staging.call_types["shows"].external_storage == "staging-recordings"
    assert prod.call_types["shows"].external_storage == "prod-rec"
    assert prod.calls["shows:keynote"].team == "prod"
    assert len(prod.sources) == 2
