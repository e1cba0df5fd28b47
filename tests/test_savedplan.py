"""Saved plans: atomic 0600 files, round trip, and every refusal rule."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

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


def test_check_origin_refuses_other_manifests_or_backend() -> None:
    saved = sample()
    savedplan.check_origin(saved, digest="d1g3st", identity="local:/tmp/sb.db")
    with pytest.raises(PlanRefused, match="manifests changed"):
        savedplan.check_origin(saved, digest="x", identity="local:/tmp/sb.db")
    with pytest.raises(PlanRefused, match=r"made for backend 'local:/tmp/sb\.db'"):
        savedplan.check_origin(saved, digest="d1g3st", identity="local:/other")


def test_check_matches_ignores_objects_only_read() -> None:
    saved = sample()
    fresh = dataclasses.replace(
        saved.plan,
        fingerprints={"call_type:stage": "absent", "call_type:default": "moved", "x": "y"},
        notes=(),
    )
    savedplan.check_matches(saved, fresh)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"body": {"settings": {"backstage": {"enabled": False}}}},
            "change 1 (call_type stage create): body.settings.backstage.enabled: saved false, "
            "now true",
        ),
        (
            {"fields": (FieldChange("settings.backstage.enabled", None, False),)},
            "field settings.backstage.enabled: saved null -> false, now null -> true",
        ),
        ({"stage": 2}, "stage: saved 2, now 1"),
        ({"disruptive": True}, "disruptive: saved true, now false"),
        ({"reason": "because"}, 'reason: saved "because", now ""'),
        ({"action": "delete"}, "change 1 (call_type stage delete): not in the plan now"),
        ({"name": "other"}, "the plan now also has call_type stage create"),
    ],
)
def test_check_matches_names_what_differs(edit: dict[str, object], message: str) -> None:
    saved = sample()
    edited = dataclasses.replace(
        saved,
        plan=dataclasses.replace(
            saved.plan, changes=(dataclasses.replace(saved.plan.changes[0], **edit),)
        ),
    )
    with pytest.raises(PlanRefused) as caught:
        savedplan.check_matches(edited, saved.plan)
    assert message in str(caught.value)
    assert "nothing was changed" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_check_matches_refuses_a_changed_object_the_plan_touches_and_other_counts() -> None:
    saved = sample()
    moved = dataclasses.replace(saved.plan, fingerprints={"call_type:stage": "now-exists"})
    with pytest.raises(PlanRefused, match="call_type:stage changed on the backend"):
        savedplan.check_matches(saved, moved)
    with pytest.raises(PlanRefused, match="managed objects: saved 1, now 7"):
        savedplan.check_matches(saved, dataclasses.replace(saved.plan, managed=7))
    many = dataclasses.replace(
        saved.plan,
        changes=tuple(dataclasses.replace(saved.plan.changes[0], name=f"t{i}") for i in range(6)),
    )
    with pytest.raises(PlanRefused, match=r"and 4 more differences"):
        savedplan.check_matches(saved, many)


def test_true_and_1_differ_as_they_do_on_the_wire() -> None:
    saved = sample()
    change = dataclasses.replace(
        saved.plan.changes[0], body={"settings": {"backstage": {"enabled": 1}}}
    )
    edited = dataclasses.replace(saved, plan=dataclasses.replace(saved.plan, changes=(change,)))
    with pytest.raises(PlanRefused, match="saved 1, now true"):
        savedplan.check_matches(edited, saved.plan)


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


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    if value is _DELETE:
        del data[path[-1]]
    else:
        data[path[-1]] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("changes",), "x", "changes must be a list"),
        (("changes", 0), 5, "changes[0] must be an object"),
        (("changes", 0, "stage"), "1", "changes[0].stage must be a whole number"),
        (("changes", 0, "stage"), True, "changes[0].stage must be a whole number"),
        (("changes", 0, "body"), [], "changes[0].body must be an object, not a list"),
        (("changes", 0, "fields"), {}, "changes[0].fields must be a list"),
        (("changes", 0, "fields", 0, "path"), 3, "changes[0].fields[0].path must be a string"),
        (("changes", 0, "fields", 0, "before"), _DELETE, "changes[0].fields[0].before"),
        (("changes", 0, "kind"), "cat", "changes[0].kind must be one of user, call_type, call"),
        (("changes", 0, "action"), None, "changes[0].action must be one of"),
        (("changes", 0, "name"), ["x"], "changes[0].name must be a string"),
        (("changes", 0, "disruptive"), "false", "changes[0].disruptive must be true or false"),
        (("changes", 0, "reason"), 0, "changes[0].reason must be a string"),
        (("changes", 0, "location"), "m.yaml:3", "changes[0].location must be an object"),
        (("changes", 0, "body2"), {}, "changes[0].body2 must be absent"),
        (("options", "prune"), "false", "options.prune must be true or false"),
        (("options", "targets"), "calltype:stage", "options.targets must be a list of strings"),
        (("options", "targets"), [1], "options.targets[0] must be a string"),
        (("options", "project"), 5, "options.project must be a string"),
        (("options",), _DELETE, "options must be present"),
        (("managed",), "1", "managed must be a whole number"),
        (("managed",), -1, "managed must be a whole number"),
        (("summary",), [], "summary must be an object"),
        (("summary", "create"), "x", "summary.create must be a whole number"),
        (("notes",), {}, "notes must be a list"),
        (("notes",), [{"kind": "call"}], "notes[0].name must be present"),
        (("fingerprints",), [], "fingerprints must be an object"),
        (("fingerprints", "call_type:stage"), 1, "fingerprints.call_type:stage must be a string"),
        (("backend",), "local", "backend must be an object"),
        (("backend", "identity"), 1, "backend.identity must be a string"),
        (("manifests",), [], "manifests must be an object"),
        (("manifests", "digest"), 1, "manifests.digest must be a string"),
        (("manifests", "sources"), [], "manifests.sources must be a list of paths"),
        (("manifests", "sources"), "m.yaml", "manifests.sources must be a list of strings"),
        (("manifests", "files"), None, "manifests.files must be a list of strings"),
        (("secret_variables",), "TOKEN", "secret_variables must be a list of strings"),
        (("secret_checks",), [], "secret_checks must be an object"),
        (("junk",), 1, "junk must be absent"),
    ],
)
def test_a_broken_shape_is_a_one_line_refusal_naming_the_field(
    tmp_path: Path, path: tuple[Any, ...], value: Any, field: str
) -> None:
    file = tmp_path / "plan.json"
    savedplan.write(str(file), sample())
    data = json.loads(file.read_text())
    _set(data, path, value)
    file.write_text(json.dumps(data))
    with pytest.raises(UsageError) as caught:
        savedplan.read(str(file))
    message = str(caught.value)
    assert f"{file}: damaged saved plan: {field}" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        (
            '{"kind": "stagecfg-saved-plan", "format_version": 1, "managed": NaN}',
            "NaN is not JSON",
        ),
        ('{"kind": "stagecfg-saved-plan", "format_version": "1"}', "format_version '1'"),
        ('{"kind": "stagecfg-saved-plan", "format_version": true}', "format_version True"),
        (b"\xff\xfe", "not a readable stagecfg saved plan"),
    ],
)
def test_unreadable_json_is_a_one_line_refusal(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    file = tmp_path / "plan.json"
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content)
    with pytest.raises(UsageError, match=message):
        savedplan.read(str(file))
