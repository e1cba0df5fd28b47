"""`stagecfg export`: a valid manifest whose plan against the same backend has no changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stagecfg.cli import main
from stagecfg.export import fit_to_schema
from stagecfg.render import NO_CHANGES
from stagecfg.validation import load_desired

REPO = Path(__file__).resolve().parent.parent

SHOWS = """\
version: 1
project: demo
users:
  john: {role: user, name: John, custom: {tier: gold}}
  amy: {role: admin}
call_types:
  stage:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 300}
      audio: {default_device: speaker, mic_default_on: false}
    grants:
      host: [join-backstage, join-call, read-call, send-audio, send-video]
calls:
  stage:waiting:
    created_by_id: john
    starts_at: "2027-03-01T19:00:00+01:00"
    custom: {title: Waiting}
    members: {john: host, amy: user}
    live: false
  stage:on-air:
    created_by_id: john
    team: red
    settings_override:
      audio: {default_device: speaker, mic_default_on: true}
    live: true
  default:plain:
    created_by_id: amy
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
    return tmp_path


def apply(capsys: pytest.CaptureFixture[str], path: str, sandbox: str = "sb.db") -> None:
    code, out, err = run(capsys, "apply", path, "--sandbox", sandbox, "--auto-approve")
    assert code == 0, out + err


def assert_round_trip(
    capsys: pytest.CaptureFixture[str], path: str, sandbox: str = "sb.db"
) -> None:
    load_desired([path])  # valid: raises ManifestError otherwise
    code, out, err = run(capsys, "plan", path, "--sandbox", sandbox, "--detailed-exitcode")
    assert code == 0, out + err
    assert NO_CHANGES in out


def test_round_trip_after_example_is_applied(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "examples" / "backstage", work / "backstage")
    apply(capsys, "backstage")
    code, _, _ = run(capsys, "export", "--sandbox", "sb.db", "--out", "export.yaml")
    assert code == 0
    text = (work / "export.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=stagecfg.schema.json\n")
    assert "stagecfg schema > stagecfg.schema.json" in text
    data = yaml.safe_load(text)
    assert data["version"] == 1
    assert data["calls"]["livestream:launch-show"]["live"] is False
    assert "livestream" not in data.get("call_types", {})  # built-ins only on request
    assert_round_trip(capsys, "export.yaml")
    code, _, _ = run(
        capsys, "export", "--sandbox", "sb.db", "--include-builtin", "--out", "all.yaml"
    )
    assert code == 0
    assert set(yaml.safe_load((work / "all.yaml").read_text())["call_types"]) == {
        "audio_room",
        "default",
        "development",
        "livestream",
    }
    assert_round_trip(capsys, "all.yaml")


def test_round_trip_with_live_calls_overrides_and_later_type_edits(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    # Edit the call type after the calls exist: calls that opt out keep the old settings.
    (work / "shows.yaml").write_text(
        SHOWS.replace("join_ahead_time_seconds: 300", "join_ahead_time_seconds: 900")
        .replace("  stage:waiting:\n", "  stage:waiting:\n    follow_call_type: false\n")
        .replace("  stage:on-air:\n", "  stage:on-air:\n    follow_call_type: false\n")
    )
    apply(capsys, "shows.yaml")
    code, out, _ = run(capsys, "export", "--sandbox", "sb.db")
    assert code == 0
    data = yaml.safe_load(out)
    calls = data["calls"]
    assert calls["stage:on-air"]["live"] is True
    assert calls["stage:on-air"]["team"] == "red"
    assert calls["stage:waiting"]["starts_at"] == "2027-03-01T18:00:00Z"
    assert calls["stage:waiting"]["members"] == {"amy": "user", "john": "host"}
    # The calls' snapshot still says 300; the type now says 900.
    assert calls["stage:waiting"]["settings_override"]["backstage"] == {
        "join_ahead_time_seconds": 300
    }
    # Only mic_default_on differs; default_device comes along because the schema requires it.
    assert calls["stage:on-air"]["settings_override"]["audio"] == {
        "default_device": "speaker",
        "mic_default_on": True,
    }
    assert data["users"]["john"] == {"role": "user", "name": "John", "custom": {"tier": "gold"}}
    assert data["call_types"]["stage"]["grants"]["host"] == sorted(
        ["join-backstage", "join-call", "read-call", "send-audio", "send-video"]
    )
    (work / "export.yaml").write_text(out)
    assert_round_trip(capsys, "export.yaml")
    # Deterministic output.
    assert run(capsys, "export", "--sandbox", "sb.db")[1] == out


def test_export_applies_to_a_fresh_backend(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    code, _, _ = run(capsys, "export", "--sandbox", "sb.db", "--out", "export.yaml")
    assert code == 0
    apply(capsys, "export.yaml", sandbox="fresh.db")
    assert_round_trip(capsys, "export.yaml", sandbox="fresh.db")


def test_export_project_filters_calls_and_drops_marker(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "shows.yaml").write_text(SHOWS)
    apply(capsys, "shows.yaml")
    (work / "other.yaml").write_text(
        "version: 1\nproject: other\ncalls:\n  default:theirs:\n    created_by_id: amy\n"
    )
    apply(capsys, "other.yaml")
    code, out, _ = run(capsys, "export", "--sandbox", "sb.db", "--project", "demo")
    assert code == 0
    data = yaml.safe_load(out)
    assert data["project"] == "demo"
    assert set(data["calls"]) == {"default:plain", "stage:on-air", "stage:waiting"}
    assert data["calls"]["stage:waiting"]["custom"] == {"title": "Waiting"}
    (work / "export.yaml").write_text(out)
    assert_round_trip(capsys, "export.yaml")
    code, out, _ = run(capsys, "export", "--sandbox", "sb.db")
    everything = yaml.safe_load(out)
    assert "default:theirs" in everything["calls"]
    assert everything["calls"]["default:theirs"]["custom"] == {"stagecfg_project": "other"}


def test_export_of_empty_sandbox(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--sandbox", "sb.db")
    assert code == 0
    assert yaml.safe_load(out) == {"version": 1}


def test_fit_to_schema_drops_nulls_and_unknown_keys() -> None:
    root = {
        "$defs": {
            "S": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"a": {"$ref": "#/$defs/T"}, "b": {"type": "integer"}},
            },
            "T": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"x": {"type": "boolean"}},
            },
        }
    }
    value = {"a": {"x": True, "response_only": 1}, "b": None, "c": 3}
    assert fit_to_schema(value, {"$ref": "#/$defs/S"}, root) == {"a": {"x": True}}
