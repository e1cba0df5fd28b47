"""Saved plans: atomic 0600 files, round trip, and every refusal rule."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from stagecfg import savedplan
from stagecfg.errors import Location, PlanRefused, UsageError
from stagecfg.plan import Change, FieldChange, Plan
from stagecfg.savedplan import SavedPlan


def sample() -> SavedPlan:
    plan = Plan(
        changes=(
            Change(
                "call_type",
                "stage",
                "create",
                1,
                {"settings": {"backstage": {"enabled": True}}},
                (FieldChange("settings.backstage.enabled", None, True),),
                Location("m.yaml", 3, 3),
            ),
        ),
        fingerprints={"call_type:stage": "absent", "call_type:default": "f00"},
        prune=True,
        targets=("calltype:stage",),
        project="demo",
        managed=1,
    )
    return SavedPlan(
        plan, "d1g3st", ("m.yaml",), "local:/tmp/sb.db", "local sandbox x", ("m.yaml",)
    )


def test_write_read_round_trip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "out" / "plan.json"
    savedplan.write(str(path), sample())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert savedplan.read(str(path)) == sample()
    data = json.loads(path.read_text())
    assert data["format_version"] == 1
    assert data["backend"]["identity"] == "local:/tmp/sb.db"
    assert data["manifests"] == {"digest": "d1g3st", "sources": ["m.yaml"], "files": ["m.yaml"]}
    assert data["options"] == {"prune": True, "targets": ["calltype:stage"], "project": "demo"}
    assert data["changes"][0]["body"] == {"settings": {"backstage": {"enabled": True}}}
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]  # no temp file left


def test_write_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    savedplan.write(str(a), sample())
    savedplan.write(str(b), sample())
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a readable stagecfg saved plan"),
        ('{"kind": "other"}', "not a stagecfg saved plan"),
        ('{"kind": "stagecfg-saved-plan", "format_version": 99}', "format_version 99"),
        ('{"kind": "stagecfg-saved-plan", "format_version": 1}', "damaged saved plan"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        savedplan.read(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such saved plan"):
        savedplan.read(str(tmp_path / "nope.json"))


def test_verify_accepts_unchanged() -> None:
    saved = sample()
    savedplan.verify(
        saved,
        digest="d1g3st",
        identity="local:/tmp/sb.db",
        fingerprints={"call_type:default": "f00", "call_type:other": "new"},
    )


def test_verify_refusals() -> None:
    saved = sample()
    good = {"call_type:default": "f00"}
    with pytest.raises(PlanRefused, match="manifests changed"):
        savedplan.verify(saved, digest="x", identity="local:/tmp/sb.db", fingerprints=good)
    with pytest.raises(PlanRefused, match=r"made for backend 'local:/tmp/sb\.db'"):
        savedplan.verify(saved, digest="d1g3st", identity="local:/other", fingerprints=good)
    with pytest.raises(PlanRefused, match=r"1 object changed.*call_type:default"):
        savedplan.verify(
            saved,
            digest="d1g3st",
            identity="local:/tmp/sb.db",
            fingerprints={"call_type:default": "changed"},
        )
    with pytest.raises(PlanRefused, match="call_type:stage"):
        savedplan.verify(
            saved,
            digest="d1g3st",
            identity="local:/tmp/sb.db",
            fingerprints={**good, "call_type:stage": "now-exists"},
        )


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(data, list):
        return [s for item in data for s in _strings(item)]
    return []


@pytest.mark.parametrize("value", ['pä"ss-wörd-7731', "back\\slash-7731", "tab\there-7731"])
def test_secret_variable_values_that_json_escapes_stay_out_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # json.dumps escapes quotes, backslashes, control and non-ASCII characters, so such a value
    # never appears verbatim in the dumped text; it must still be found and replaced.
    from stagecfg.redact import register_secret

    register_secret(value, variable="SAVEDPLAN_ESCAPED_SECRET")
    base = sample()
    change = Change("user", "alice", "create", 0, {"id": "alice", "custom": {"hook": value}})
    saved = SavedPlan(
        Plan(changes=(change,), fingerprints={"user:alice": "absent"}, managed=1),
        base.digest,
        base.sources,
        base.identity,
        base.backend,
        base.files,
    )
    path = tmp_path / "plan.json"
    savedplan.write(str(path), saved)
    text = path.read_text(encoding="utf-8")
    assert not any(value in s for s in _strings(json.loads(text)))
    assert "${SAVEDPLAN_ESCAPED_SECRET}" in text
    monkeypatch.setenv("SAVEDPLAN_ESCAPED_SECRET", value)
    assert savedplan.read(str(path)).plan.changes[0].body["custom"]["hook"] == value


def test_a_secret_that_spells_part_of_another_variable_name_keeps_both_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replacing values one after another would rewrite "${COLLIDE_QZXV_TOKEN}" once the value
    # "QZXV" came up; one pass over the original text cannot. (Registered secrets are masked
    # process-wide, so the short value must not occur in other tests' output.)
    from stagecfg.redact import register_secret

    values = {"COLLIDE_QZXV_TOKEN": "long-secret-value-5512", "COLLIDE_SHORT_TOKEN": "QZXV"}
    for name, value in values.items():
        register_secret(value, variable=name)
        monkeypatch.setenv(name, value)
    base = sample()
    body = {"id": "alice", "custom": {"a": values["COLLIDE_QZXV_TOKEN"], "b": "QZXV"}}
    saved = SavedPlan(
        Plan(changes=(Change("user", "alice", "create", 0, body),), managed=1),
        base.digest,
        base.sources,
        base.identity,
        base.backend,
        base.files,
    )
    path = tmp_path / "plan.json"
    savedplan.write(str(path), saved)
    text = path.read_text(encoding="utf-8")
    assert "${COLLIDE_QZXV_TOKEN}" in text and "${COLLIDE_SHORT_TOKEN}" in text
    assert savedplan.read(str(path)).plan.changes[0].body["custom"] == body["custom"]
