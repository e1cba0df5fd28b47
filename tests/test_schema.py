"""schema: the committed JSON Schema itself, and schema problems as located messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import OPENAPI_DIR, REPO_ROOT
from jsonschema import Draft202012Validator

from stagecfg import schema
from stagecfg.manifest import Document, load
from stagecfg.schema_document import strip_variable_references

SCHEMA_FILE = REPO_ROOT / "schemas" / "stagecfg.schema.json"
PACKAGE_COPY = REPO_ROOT / "stagecfg" / "stagecfg.schema.json"
SETTINGS_KEYS = 17
#: Objects whose keys Stream leaves free (JSON path of the property in the schema).
FREE_FORM = {"custom", "options", "data"}


def walk(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, f"{path}/{index}"))
    return found


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (OPENAPI_DIR / "video-serverside-api.json").read_text("utf-8")
    )
    return data["components"]["schemas"]


def test_package_copy_is_byte_identical() -> None:
    assert SCHEMA_FILE.read_bytes() == PACKAGE_COPY.read_bytes()


def test_schema_is_valid_draft_2020_12(committed: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(committed)
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_property_has_a_description(committed: dict[str, Any]) -> None:
    missing = [
        f"{path}/{name}"
        for path, node in walk(committed)
        if isinstance(node.get("properties"), dict) and not path.endswith("/properties")
        for name, prop in node["properties"].items()
        if not (isinstance(prop, dict) and prop.get("description"))
    ]
    assert missing == []


def test_objects_are_closed_unless_free_form(committed: dict[str, Any]) -> None:
    open_objects = []
    for path, node in walk(committed):
        if node.get("type") != "object" or path.endswith("/properties"):
            continue
        extra = node.get("additionalProperties")
        if extra is False:
            continue
        if isinstance(extra, dict) and extra:
            continue  # a map: its values have a schema of their own
        # A patch definition's field is `anyOf: [<the field>, null]`: name it by the field.
        if re.sub(r"(/anyOf/\d+)+$", "", path).rsplit("/", 1)[-1] in FREE_FORM:
            continue
        open_objects.append(path)
    assert open_objects == []


def test_top_level_keys(committed: dict[str, Any]) -> None:
    assert sorted(committed["properties"]) == [
        "call_types",
        "calls",
        "environment",
        "overlay",
        "project",
        "users",
        "values",
        "variables",
        "version",
    ]
    call = committed["$defs"]["Call"]["properties"]
    for key in ("live", "go_live", "members", "starts_at", "settings_override"):
        assert key in call


def _resolve(defs: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        resolved: dict[str, Any] = defs[node["$ref"].rsplit("/", 1)[-1]]
        return resolved
    return node


def _compare(
    defs: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], spec: dict[str, Any]
) -> list[str]:
    """Property sets, enums, bounds and required keys of a component, recursively."""
    diffs: list[str] = []
    mine, spec_props = ours.get("properties", {}), theirs.get("properties", {})
    if sorted(mine) != sorted(spec_props):
        diffs.append(f"properties {sorted(mine)} != {sorted(spec_props)}")
    if sorted(ours.get("required", [])) != sorted(theirs.get("required", [])):
        diffs.append("required differs")
    for name, prop in spec_props.items():
        if name not in mine:
            continue
        if "$ref" in prop:
            target = spec[prop["$ref"].rsplit("/", 1)[-1]]
            diffs += [
                f"{name}.{d}" for d in _compare(defs, _resolve(defs, mine[name]), target, spec)
            ]
            continue
        for key in ("minimum", "maximum", "minItems", "maxItems"):
            if prop.get(key) != mine[name].get(key):
                diffs.append(f"{name}.{key}")
        enum = prop.get("enum") or prop.get("items", {}).get("enum")
        our_enum = mine[name].get("enum") or mine[name].get("items", {}).get("enum")
        if enum and [str(v) for v in enum] != [str(v) for v in our_enum or []]:
            diffs.append(f"{name}.enum")
        if prop.get("type") != mine[name].get("type"):
            diffs.append(f"{name}.type")
    return diffs


@pytest.mark.parametrize(
    "component",
    ["CallSettingsRequest", "NotificationSettingsRequest", "GoLiveRequest"],
)
def test_sub_schemas_match_openapi(
    committed: dict[str, Any], openapi: dict[str, Any], component: str
) -> None:
    # As stagecfg checks data: without the editor's ${variable} alternatives of typed fields.
    defs = strip_variable_references(committed)["$defs"]
    assert _compare(defs, defs[component], openapi[component], openapi) == []


def test_all_seventeen_settings_sub_objects(committed: dict[str, Any]) -> None:
    assert len(committed["$defs"]["CallSettingsRequest"]["properties"]) == SETTINGS_KEYS


def test_user_fields_come_from_user_request(
    committed: dict[str, Any], openapi: dict[str, Any]
) -> None:
    ours = committed["$defs"]["User"]["properties"]
    # Every UserRequest field but the id (the user's key in the manifest) may be declared.
    assert set(ours) == set(openapi["UserRequest"]["properties"]) - {"id"}


def doc_of(tmp_path: Path, text: str) -> Document:
    path = tmp_path / "m.yaml"
    path.write_text(text, "utf-8")
    doc, problems = load(path, env={})
    assert problems == [] and doc is not None
    return doc


def test_unknown_key_gets_did_you_mean(tmp_path: Path) -> None:
    doc = doc_of(tmp_path, "version: 1\ncall_types:\n  x:\n    settings: {backstge: {}}\n")
    (problem,) = schema.validate(doc)
    assert problem.path == "$.call_types.x.settings.backstge"
    assert problem.suggestion == "did you mean 'backstage'?"
    assert problem.location is not None
    assert (problem.location.line, problem.location.col) == (4, 16)


def test_enum_gets_did_you_mean(tmp_path: Path) -> None:
    doc = doc_of(
        tmp_path, "version: 1\ncall_types:\n  x:\n    settings: {video: {camera_facing: frnt}}\n"
    )
    (problem,) = schema.validate(doc)
    assert "'frnt' is not one of: front, back, external" in problem.message
    assert problem.suggestion == "did you mean 'front'?"


def test_every_valid_value_of_each_enum_is_listed_whole() -> None:
    # Every enum in the schema: its message names each value in full (none cut to "portrait-1...").
    enums = [(path, node["enum"]) for path, node in walk(schema.load_schema()) if "enum" in node]
    assert enums
    for path, options in enums:
        shown = schema._one_of(options)
        assert "..." not in shown, path
        listed = shown.rsplit(" and ", 1)[0].split(", ")
        assert listed == [str(o) for o in options][: len(listed)], path
        if len(listed) < len(options):
            assert shown.endswith(f" and {len(options) - len(listed)} more"), path


def test_long_choices_are_shortened_by_whole_values() -> None:
    options = [f"value-{n:03d}-long" for n in range(40)]
    shown = schema._one_of(options)
    assert shown.startswith("value-000-long, value-001-long, ")
    kept = shown.removesuffix(" more").rsplit(" and ", 1)
    assert kept[0].split(", ") == options[: len(kept[0].split(", "))]
    assert int(kept[1]) == 40 - len(kept[0].split(", "))
    assert len(kept[0]) <= 160


def test_every_problem_of_a_document(tmp_path: Path) -> None:
    doc = doc_of(
        tmp_path,
        "version: 1\n"
        "calls:\n"
        "  livestream:a:\n"
        "    live: 1\n"
        "    members: {j: 7}\n"
        "    go_live: {start_hls: true, start_everything: true}\n",
    )
    problems = schema.validate(doc)
    assert [p.path for p in problems] == [
        "$.calls['livestream:a'].live",
        "$.calls['livestream:a'].members.j",
        "$.calls['livestream:a'].go_live.start_everything",
    ]


def test_suggest() -> None:
    assert schema.suggest("setings", ["settings", "grants"]) == "did you mean 'settings'?"
    assert schema.suggest("zzz", ["settings"]) is None


def test_date_time_uses_rfc3339_rules(tmp_path: Path) -> None:
    ok = doc_of(
        tmp_path, "version: 1\ncalls:\n  default:a: {starts_at: '2026-12-01T18:00:00.5+02:00'}\n"
    )
    assert schema.validate(ok) == []
    bad = doc_of(tmp_path, "version: 1\ncalls:\n  default:a: {starts_at: '2026-13-01T18:00:00Z'}\n")
    (problem,) = schema.validate(bad)
    assert "not an RFC 3339 date-time" in problem.message


def test_schema_command_prints_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    from stagecfg.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["schema"])
    assert exit_info.value.code in (0, None)
    assert capsys.readouterr().out.encode("utf-8") == SCHEMA_FILE.read_bytes()


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('{enabled: "true", join_ahead_time_seconds: 5}', "write true without quotes"),
        ("{join_ahead_time_seconds: '300'}", "write 300 without quotes"),
        ("{join_ahead_time_seconds: 5m}", None),
    ],
)
def test_quoted_scalar_of_the_wrong_type_suggests_unquoting(
    tmp_path: Path, text: str, hint: str | None
) -> None:
    doc = doc_of(tmp_path, f"version: 1\ncall_types:\n  x:\n    settings: {{backstage: {text}}}\n")
    (problem,) = schema.validate(doc)
    assert problem.message.startswith("expected ")
    if hint is None:
        assert problem.suggestion is None
    else:
        assert problem.suggestion is not None and problem.suggestion.startswith(hint)
        assert "${VAR}" in problem.suggestion  # the usual cause: a variable always gives text


def test_empty_value_suggests_an_empty_mapping_or_removing_the_key(tmp_path: Path) -> None:
    doc = doc_of(tmp_path, "version: 1\nusers:\ncall_types:\n  x: {grants: {host: }}\n")
    problems = schema.validate(doc)
    assert [(p.path, p.suggestion) for p in problems] == [
        ("$.users", "write {} or remove the key"),
        ("$.call_types.x.grants.host", "write [] or remove the key"),
    ]
    assert problems[0].message == "expected a mapping, found null (an empty value)"


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


_CANDIDATES = [
    "abc",
    "a-b_9",
    "default:abc",
    "alice@example.com",
    "2026-12-01T18:00:00Z",
    "",
    "\u0662\u0660\u0662\u0666-12-01T18:00:00Z",  # Arabic-Indic digits
    "caf\u00e9",
    "a\u00a0b",
    "a\x1cb",
]


@pytest.mark.parametrize(
    "pattern", sorted(set(_patterns(json.loads(SCHEMA_FILE.read_text("utf-8")))))
)
def test_both_validators_read_every_schema_pattern_alike(pattern: str) -> None:
    # jsonschema-rs answers "valid" first and jsonschema gives the messages: a text one accepts
    # and the other refuses (Python's $ before a final newline) would pass unreported.
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    fast = jsonschema_rs.Draft202012Validator({"type": "string", "pattern": pattern})
    slow = schema._Draft({"type": "string", "pattern": pattern})
    for text in _CANDIDATES:
        for variant in (text, text + "\n", "\n" + text, text + "\r\n"):
            assert fast.is_valid(variant) == slow.is_valid(variant), (pattern, variant)


def _vocabulary() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_vocabulary", REPO_ROOT / "tools" / "gen_vocabulary.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schema_vocabulary_equals_the_rules() -> None:
    # Permission ids and built-in roles live in stagecfg/rules/; the schema holds a generated
    # copy for editors. After changing the rules, run `python tools/gen_vocabulary.py`.
    generator = _vocabulary()
    committed_text = SCHEMA_FILE.read_text("utf-8")
    assert generator.render(generator.patch(json.loads(committed_text))) == committed_text


def test_grant_lists_offer_every_permission_id_with_a_description(
    committed: dict[str, Any],
) -> None:
    from stagecfg.rules import permissions

    permission = committed["$defs"]["PermissionId"]
    expected = {p + s for p in permissions.PERMISSION_IDS for s in ("", *permissions.SUFFIXES)}
    assert set(permission["enum"]) == expected
    assert len(permission["enumDescriptions"]) == len(permission["enum"])
    assert all(permission["enumDescriptions"])
    grants = committed["$defs"]["CallType"]["properties"]["grants"]
    assert grants["additionalProperties"] == {"$ref": "#/$defs/GrantList"}
    assert {"host", "call_member", "user", "admin"} <= set(grants["properties"])


def test_schema_refuses_a_capability_name_in_a_grant_list(committed: dict[str, Any]) -> None:
    validator = Draft202012Validator(committed)

    def grants(*ids: str) -> dict[str, Any]:
        return {"version": 1, "call_types": {"livestream": {"grants": {"host": list(ids)}}}}

    assert not validator.is_valid(grants("join-backstage", "start-record-call"))
    assert validator.is_valid(
        grants("join-backstage-owner", "start-recording", "join-call-any-team")
    )
    assert validator.is_valid({"version": 1, "call_types": {"x": {"grants": {"my-role": []}}}})


def test_an_unknown_grant_is_one_problem_in_the_semantic_checks_words(tmp_path: Path) -> None:
    from stagecfg.validation import validate

    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\ncall_types:\n  livestream:\n    grants: {host: [start-record-call, 7]}\n"
    )
    doc = doc_of(tmp_path, path.read_text("utf-8"))
    messages = [(p.path, p.message, p.suggestion) for p in schema.validate(doc)]
    assert messages == [
        (
            "$.call_types.livestream.grants.host[0]",
            "unknown permission id 'start-record-call'",
            "did you mean 'start-recording'? ('start-record-call' is the capability name)",
        ),
        ("$.call_types.livestream.grants.host[1]", "expected a string, found an integer 7", None),
    ]
    problems = validate([str(path)], env={}).problems
    assert [p.path for p in problems] == [m[0] for m in messages]


def test_roles_are_suggested_and_custom_roles_allowed(committed: dict[str, Any]) -> None:
    from stagecfg.rules import roles

    defs = committed["$defs"]
    assert defs["User"]["properties"]["role"]["examples"] == list(roles.APP_ROLES)
    member_role = defs["Call"]["properties"]["members"]["additionalProperties"]
    assert member_role["examples"] == list(roles.CALL_ROLES)
    validator = Draft202012Validator(committed)
    assert validator.is_valid(
        {
            "version": 1,
            "users": {"a": {"role": "producer"}},
            "calls": {"x:y": {"members": {"a": "director"}}},
        }
    )


#: starts_at texts at the edges of JSON Schema's date-time; validate and check-jsonschema must
#: give each the same verdict.
STARTS_AT = [
    "2027-01-07 18:00:00Z",
    "2027-01-07T18:00:00Z",
    "2027-01-07t18:00:00z",
    "2027-01-07T18:00:00.123456789+05:30",
    "2027-01-07T18:00:00,5Z",
    "2027-01-07T18:00Z",
    "2027-01-07T18:00:00",
    "2027-01-07T24:00:00Z",
    "2027-01-07T23:59:60Z",
    "2027-02-29T18:00:00Z",
    "2028-02-29T18:00:00Z",
    "2027-01-07T18:00:00+24:00",
    "2027-01-07T18:00:00+23:59",
    "2027-1-07T18:00:00Z",
    "2027-01-07  18:00:00Z",
    "2027-01-07T18:00:00Z\n",
    " 2027-01-07T18:00:00Z",
]


def test_starts_at_is_refused_by_validate_exactly_when_check_jsonschema_refuses_it(
    tmp_path: Path,
) -> None:
    from jsonschema_cli import refused

    from stagecfg.validation import validate

    files = []
    for index, text in enumerate(STARTS_AT):
        path = tmp_path / f"case{index}.yaml"
        path.write_text(f"version: 1\ncalls:\n  default:a:\n    starts_at: {json.dumps(text)}\n")
        files.append(path)
    by_schema = refused(files)
    verdicts = []
    for text, path in zip(STARTS_AT, files, strict=True):
        problems = validate([str(path)], env={}).problems
        errors = [p for p in problems if p.severity == "error"]
        if errors:  # refused where it is written
            assert errors[0].location is not None and errors[0].location.line == 4, text
        verdicts.append((text, bool(errors), path.name in by_schema))
    assert [v for v in verdicts if v[1] != v[2]] == []


def test_year_zero_is_refused_by_the_schema_as_by_stagecfg(committed: dict[str, Any]) -> None:
    # check-jsonschema's date-time takes year 0000; Python has no such date, so the pattern
    # refuses it for every checker.
    validator = Draft202012Validator(committed)
    doc = {"version": 1, "calls": {"default:a": {"starts_at": "0000-01-01T00:00:00Z"}}}
    assert not validator.is_valid(doc)
    assert validator.is_valid(
        {"version": 1, "calls": {"default:a": {"starts_at": "0001-01-01T00:00:00Z"}}}
    )


# --- derived parts: variable references for editors, patch definitions for overlays -------------


def _variants() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_schema_variants", REPO_ROOT / "tools" / "gen_schema_variants.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_derived_parts_are_generated_from_the_rest() -> None:
    # After editing a definition, run `python tools/gen_schema_variants.py` (gen_vocabulary.py
    # runs it too): the patch definitions and the ${variable} alternatives are made from it.
    generator = _variants()
    committed_text = SCHEMA_FILE.read_text("utf-8")
    assert generator.render(generator.derive(json.loads(committed_text))) == committed_text


def test_every_object_a_patch_reaches_has_a_patch_definition(committed: dict[str, Any]) -> None:
    defs = committed["$defs"]
    for name in ("UserPatch", "CallTypePatch", "CallPatch", "CallSettingsRequestPatch"):
        assert "required" not in json.dumps(defs[name]), name
    referenced = {
        ref.rsplit("/", 1)[-1]
        for path, node in walk(committed)
        for ref in [node.get("$ref")]
        if isinstance(ref, str)
    }
    assert referenced <= set(defs)


def test_editors_take_a_typed_reference_but_stagecfg_checks_the_filled_in_value(
    committed: dict[str, Any], tmp_path: Path
) -> None:
    editor = Draft202012Validator(committed)
    reference = {
        "version": 1,
        "call_types": {"x": {"settings": {"limits": {"max_participants": "${max_viewers}"}}}},
    }
    assert list(editor.iter_errors(reference)) == []
    # A `$${...}` is text, so the same characters reach stagecfg as a string, and are refused.
    doc = doc_of(
        tmp_path,
        "version: 1\ncall_types:\n  x:\n    settings: {limits: {max_participants: '$${x}'}}\n",
    )
    (problem,) = schema.validate(doc)
    assert problem.message == "expected an integer, found a string '${x}'"


def test_an_overlay_entry_is_checked_as_a_patch(tmp_path: Path) -> None:
    doc = doc_of(
        tmp_path,
        "version: 1\noverlay:\n  call_types:\n    x:\n"
        "      settings: {recording: {mode: null}, limits: {max_participants: 'many'}}\n"
        "      grants: {host: null, user: [join-call]}\n"
        "  calls:\n    x:y: null\n",
    )
    (problem,) = schema.validate(doc)  # no required keys, null removes: only the real mistake
    assert problem.path == "$.overlay.call_types.x.settings.limits.max_participants"
    assert problem.message == "expected an integer, found a string 'many'"
    assert (problem.location.line, problem.location.col) == (5, 70)  # type: ignore[union-attr]
