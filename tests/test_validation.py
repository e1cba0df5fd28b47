"""validation: load_desired/validate_paths and the `stagecfg validate` command end to end."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from stagecfg.cli import main
from stagecfg.errors import ManifestError
from stagecfg.manifest import MAX_FILE_BYTES
from stagecfg.validation import load_desired, validate, validate_paths

INVALID = Path(__file__).parent / "data" / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.expected"))
#: Cases whose input cannot be a committed file: none at all, or one too big to commit.
ABSENT = {"missing-file"}
GENERATED = {"oversized": b"version: 1\n" + b"#" * (MAX_FILE_BYTES - 10)}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


GOOD = """\
version: 1
project: demo
users:
  john: {role: user, name: John}
call_types:
  livestream:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 300}
    grants:
      host: [join-backstage, join-call]
calls:
  livestream:show:
    created_by_id: john
    starts_at: "2099-01-01T18:00:00+01:00"
    members: {john: host}
    live: false
    go_live: {start_hls: true}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("case", CASES)
def test_each_invalid_file_fails_with_its_message(
    case: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STAGECFG_TEST_UNSET_NAME", raising=False)
    path = INVALID / f"{case}.yaml"
    if case in GENERATED:
        path = tmp_path / f"{case}.yaml"
        path.write_bytes(GENERATED[case])
    elif (INVALID / case).is_dir():
        path = INVALID / case
    assert path.exists() != (case in ABSENT), f"{case}: input file missing"
    expected = (INVALID / f"{case}.expected").read_text("utf-8").strip()
    # A "strict-" case is only warnings, which fail with --strict.
    strict = ["--strict"] if case.startswith("strict-") else []
    code, out, err = run(["validate", *strict, str(path)], capsys)
    assert code == 1
    assert out == ""
    # Every line of the expected file is printed: a second line such as the summary says that
    # no follow-on problem comes with the first.
    for line in expected.splitlines():
        assert line.replace("{file}", str(path)) in err.splitlines()
    assert "Traceback" not in err


def test_every_invalid_input_has_its_expected_message() -> None:
    inputs = {p.stem for p in INVALID.glob("*.yaml")} | {
        p.name for p in INVALID.iterdir() if p.is_dir()
    }
    assert inputs | ABSENT | set(GENERATED) == set(CASES)
    required = {"empty", "root-list", "tabs", "binary", "non-utf8", "wrong-type", "unknown-key"}
    required |= {"duplicate-key", "missing-file", "no-manifests", "oversized"}
    assert required <= set(CASES)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("binary.yaml", b"version: 1\n\x00\x01\x02\xff", "binary file (contains NUL bytes)"),
        ("latin1.yaml", b'version: 1\nusers:\n  j: {name: "Jos\xe9"}\n', "not UTF-8 text"),
    ],
)
def test_binary_and_non_utf8_files_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, _, err = run(["validate", str(path)], capsys)
    assert code == 1
    assert err.startswith(f"{path}:")
    assert message in err
    assert "Traceback" not in err


def test_non_utf8_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b'version: 1\nusers:\n  j: {name: "Jos\xe9"}\n')
    (problem,) = validate_paths([str(path)])
    assert problem.location is not None
    assert (problem.location.line, problem.location.col) == (3, 17)
    assert "0xe9" in problem.message


def test_oversized_file_names_the_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w") as handle:
        handle.write("version: 1\n")
        handle.write("# " + "x" * (MAX_FILE_BYTES + 10) + "\n")
    code, _, err = run(["validate", str(path)], capsys)
    assert code == 1
    assert "MiB file size cap" in err


def test_missing_file_and_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a manifest")
    missing = tmp_path / "nope.yaml"
    code, _, err = run(["validate", str(missing), str(empty)], capsys)
    assert code == 1
    assert f"{missing}: $: no such file or directory" in err
    assert f"{empty}: $: directory has no manifests" in err


def test_all_problems_come_out_together_sorted(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\ncall_types:\n  livestream: {settngs: {}}\n")
    b = write(tmp_path, "b.yaml", "version: 2\nusers:\n  j: {nme: J}\n")
    problems = validate_paths([str(tmp_path)])
    assert [p.path for p in problems] == [
        "$.call_types.livestream.settngs",
        "$.version",
        "$.users.j.nme",
    ]
    assert [p.location.file for p in problems if p.location] == [str(a), str(b), str(b)]


def test_valid_manifest_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", GOOD)
    code, out, err = run(["validate", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out == "1 file valid: 1 call type, 1 call, 1 user\n"


def test_warnings_pass_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", GOOD.replace("members: {john: host}", "members: {ann: host}"))
    code, out, err = run(["validate", str(path)], capsys)
    assert code == 0
    assert out.endswith("(1 warning)\n")
    assert "warning: member 'ann' is not declared under users" in err
    code, out, err = run(["validate", "--strict", str(path)], capsys)
    assert code == 1
    assert out == ""
    assert "warnings fail with --strict" in err


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", GOOD.replace("live: false", "live: maybe"))
    code, out, _ = run(["validate", "--format", "json", str(path)], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["format_version"] == 1
    assert doc["valid"] is False
    (problem,) = doc["problems"]
    assert problem == {
        "file": str(path),
        "line": 16,
        "col": 11,
        "path": "$.calls['livestream:show'].live",
        "severity": "error",
        "message": "expected a boolean (true or false), found a string 'maybe'",
        "suggestion": None,
    }


def test_json_format_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", GOOD)
    code, out, _ = run(["validate", "--format", "json", str(path)], capsys)
    assert code == 0
    assert json.loads(out) == {"format_version": 1, "valid": True, "problems": []}


def test_github_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", "version: 1\ncall_types:\n  livestream: {settngs: {}}\n")
    code, out, _ = run(["validate", "--format", "github", str(path)], capsys)
    assert code == 1
    file_prop = str(path).replace(":", "%3A").replace(",", "%2C")
    assert out.splitlines() == [
        f"::error file={file_prop},line=3,col=16::$.call_types.livestream.settngs: "
        "unknown key 'settngs' (did you mean 'settings'?)"
    ]


def test_load_desired_builds_state(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", GOOD)
    desired, warnings = load_desired([str(path)], env={})
    assert warnings == []
    assert desired.project == "demo"
    assert desired.sources == (str(path),)
    call = desired.calls["livestream:show"]
    assert call.starts_at == "2099-01-01T18:00:00+01:00"  # exactly as written
    assert call.live is False
    assert call.go_live == {"start_hls": True}
    assert call.members == {"john": "host"}
    assert call.location is not None and (call.location.line, call.location.col) == (12, 3)
    call_type = desired.call_types["livestream"]
    assert call_type.settings == {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}}
    assert call_type.grants == {"host": ["join-backstage", "join-call"]}
    assert call_type.location is not None and call_type.location.line == 6
    assert desired.users["john"].name == "John"
    expected = hashlib.sha256(b"m.yaml\0" + path.read_bytes() + b"\0").hexdigest()
    assert desired.digest == expected


def test_load_desired_project_override_and_env(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", GOOD.replace("name: John", 'name: "${WHO:-Nobody}"'))
    desired, _ = load_desired([str(path)], env={"WHO": "Ada"}, project="other")
    assert desired.project == "other"
    assert desired.users["john"].name == "Ada"


def test_load_desired_defaults_to_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGECFG_TEST_WHO", "Grace")
    path = write(tmp_path, "m.yaml", GOOD.replace("name: John", 'name: "${STAGECFG_TEST_WHO}"'))
    desired, _ = load_desired([str(path)])
    assert desired.users["john"].name == "Grace"
    assert os.environ["STAGECFG_TEST_WHO"] == "Grace"


def test_load_desired_raises_with_every_error(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.yaml", GOOD.replace("live: false", "live: yes").replace("host:", "hst:")
    )
    with pytest.raises(ManifestError) as info:
        load_desired([str(path)], env={})
    messages = [p.message for p in info.value.problems]
    assert any("`yes` is read as boolean true" in m for m in messages)
    assert all(p.severity == "error" for p in info.value.problems)


def test_load_desired_strict_raises_on_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", GOOD.replace("{john: host}", "{ann: host}"))
    _, warnings = load_desired([str(path)], env={})
    assert [w.severity for w in warnings] == ["warning"]
    with pytest.raises(ManifestError) as info:
        load_desired([str(path)], env={}, strict=True)
    assert info.value.problems == warnings


def test_digest_depends_on_content_and_names(tmp_path: Path) -> None:
    write(tmp_path / "one", "m.yaml", GOOD)
    write(tmp_path / "two", "n.yaml", GOOD)
    first, _ = load_desired([str(tmp_path / "one")], env={})
    second, _ = load_desired([str(tmp_path / "two")], env={})
    assert first.digest != second.digest
    again, _ = load_desired([str(tmp_path / "one")], env={})
    assert again.digest == first.digest


def test_merging_directory_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b/calls.yml", "version: 1\ncalls:\n  default:x: {created_by_id: u}\n")
    write(tmp_path, "a.yaml", "version: 1\nproject: p\nusers:\n  u: {}\n")
    write(tmp_path, ".hidden/skip.yaml", "not: valid")
    result = validate([str(tmp_path)], env={})
    assert result.problems == []
    assert result.files == [str(tmp_path / "a.yaml"), str(tmp_path / "b" / "calls.yml")]
    assert result.summary() == "2 files valid: 0 call types, 1 call, 1 user"


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_secret_variables_are_masked_in_every_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.setenv("STREAM_API_SECRET", "hush-hush secret 1")
    monkeypatch.setenv("CDN_TOKEN", "tok en 2")
    path = write(
        tmp_path,
        "m.yaml",
        'version: 1\nproject: "${STREAM_API_SECRET}"\n'
        'users:\n  j: {name: "x", image: "${CDN_TOKEN}", role: "${CDN_TOKEN}", teams: 7}\n',
    )
    code, out, err = run(["validate", "--format", fmt, str(path)], capsys)
    assert code == 1
    shown = out + err
    assert "hush-hush" not in shown and "tok en" not in shown
    assert "'***' does not match" in shown  # the problem is still reported, the value masked
    assert "teams" in shown


def test_secret_variables_are_masked_when_plan_refuses_the_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAM_API_SECRET", "hush-hush secret 1")
    path = write(tmp_path, "m.yaml", 'version: 1\nproject: "${STREAM_API_SECRET}"\n')
    code, out, err = run(["plan", str(path), "--sandbox", str(tmp_path / "sb.db")], capsys)
    assert code == 1
    assert "hush-hush" not in out + err
    assert "$.project: '***' does not match" in err


_TRAILING_NEWLINE_IDS = {
    "cid": ('  "default:abc\\n": {}\n', "$.calls['default:abc\\n']", "not a valid cid"),
    "call type": (
        '  "stage\\n": {}\n',
        "$.call_types['stage\\n']",
        "may only use letters, digits",
    ),
    "user id": (
        '  "alice\\n": {role: user}\n',
        "$.users['alice\\n']",
        "not a valid user id",
    ),
    "member id": (
        '  "default:ok": {members: {"bob\\n": host}}\n',
        "$.calls['default:ok'].members['bob\\n']",
        "not a valid user id",
    ),
}


@pytest.mark.parametrize("fast", [True, False], ids=["jsonschema-rs first", "jsonschema only"])
@pytest.mark.parametrize("kind", sorted(_TRAILING_NEWLINE_IDS))
def test_an_id_with_a_trailing_newline_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, fast: bool
) -> None:
    # Python's $ matches before a final newline; jsonschema's pattern uses re.search.
    from stagecfg import schema

    if not fast:
        monkeypatch.setattr(schema, "_fast_validator", lambda: None)
    entry, path, words = _TRAILING_NEWLINE_IDS[kind]
    sections = {"users": "  bob: {role: user}\n", "call_types": "  stage: {}\n", "calls": ""}
    section = {"cid": "calls", "call type": "call_types", "user id": "users"}.get(kind, "calls")
    sections[section] = entry + sections[section]
    text = "version: 1\nproject: demo\n"
    for name in ("users", "call_types", "calls"):
        text += f"{name}:\n{sections[name]}" if sections[name] else f"{name}: {{}}\n"
    manifest = tmp_path / "ids.yaml"
    manifest.write_text(text, encoding="utf-8")
    line = text.splitlines().index(entry.rstrip("\n")) + 1
    errors = validate([str(manifest)], env={}).errors
    assert [(e.path, e.location.line if e.location else 0) for e in errors] == [(path, line)], (
        text,
        [e.render() for e in errors],
    )
    rendered = errors[0].render()
    assert words in rendered
    assert "\n" not in rendered  # the id is shown escaped, the error stays one line


@pytest.mark.parametrize(
    "starts_at",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "1677-01-01T00:00:00Z",
        "2262-12-31T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_starts_at_outside_int64_nanoseconds_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], starts_at: str
) -> None:
    # Stream holds instants as int64 nanoseconds; such a call used to fail only at apply.
    path = tmp_path / "when.yaml"
    path.write_text(
        "version: 1\nproject: demo\ncalls:\n  default:show:\n"
        f'    created_by_id: host\n    starts_at: "{starts_at}"\n',
        encoding="utf-8",
    )
    code, _, err = run(["validate", str(path)], capsys)
    assert code == 1, err
    assert err.splitlines()[0].startswith(
        f"{path}:6:5: $.calls['default:show'].starts_at: starts_at {starts_at} is outside what "
        "Stream can store"
    ), err
    assert "1677-09-21T00:12:43.145225Z .. 2262-04-11T23:47:16.854775Z" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("starts_at", ["1677-09-21T00:12:43.145225Z", "2262-04-11T23:47:16Z"])
def test_starts_at_at_the_edges_of_int64_nanoseconds_is_valid(
    tmp_path: Path, starts_at: str
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(
        "version: 1\nproject: demo\ncalls:\n  default:show:\n"
        f'    created_by_id: host\n    starts_at: "{starts_at}"\n',
        encoding="utf-8",
    )
    assert validate([str(path)], env={}).errors == []


@pytest.mark.parametrize(
    ("backstage", "misspelt"),
    [
        ("{enabled: true, join_ahead_time_second: 300}", "join_ahead_time_second"),
        ("{enable: true, join_ahead_time_seconds: 0}", "enable"),
    ],
)
def test_misspelt_backstage_key_gives_no_follow_on_warning(
    tmp_path: Path, backstage: str, misspelt: str
) -> None:
    manifest = write(
        tmp_path,
        "m.yaml",
        f"version: 1\ncall_types:\n  show:\n    settings:\n      backstage: {backstage}\n"
        "    grants:\n      host: [join-call]\n",
    )
    problems = validate([str(manifest)], env={}).problems
    assert [(p.severity, p.message.split(" (")[0]) for p in problems] == [
        ("error", f"unknown key '{misspelt}'")
    ]


def test_backstage_nobody_can_enter_still_warns_when_spelt_right(tmp_path: Path) -> None:
    manifest = write(
        tmp_path,
        "m.yaml",
        "version: 1\ncall_types:\n  show:\n    settings:\n      backstage: {enabled: true}\n"
        "    grants:\n      host: [join-call]\n",
    )
    (problem,) = validate([str(manifest)], env={}).problems
    assert problem.severity == "warning"
    assert "join_ahead_time_seconds is 0" in problem.message


MISSPELT_ROLES = """\
version: 1
users:
  john: {role: usr}
  alice: {}
calls:
  livestream:show:
    created_by_id: john
    starts_at: "2099-01-01T18:00:00Z"
    members: {alice: hots}
"""


def test_misspelt_roles_warn_and_fail_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "m.yaml", MISSPELT_ROLES)
    user = (
        f"{path}:3:10: $.users.john.role: warning: app role 'usr' is granted nothing by any "
        "declared or built-in call type (did you mean 'user'?)"
    )
    member = (
        f"{path}:9:15: $.calls['livestream:show'].members.alice: warning: call role 'hots' is "
        "granted nothing by any declared or built-in call type (did you mean 'host'?)"
    )
    code, out, err = run(["validate", str(path)], capsys)
    assert (code, err.splitlines()) == (0, [user, member])
    assert out == "1 file valid: 0 call types, 1 call, 2 users (2 warnings)\n"
    code, out, err = run(["validate", "--strict", str(path)], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        user,
        member,
        "invalid: 0 errors, 2 warnings (warnings fail with --strict)",
    ]


def test_custom_role_granted_by_a_declared_type_validates_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "version: 1\ncall_types:\n  shows:\n    grants: {presenter: [join-call]}\n"
        "users:\n  ann: {role: presenter}\n  bob: {role: presnter}\n"
        "calls:\n  shows:a:\n    members: {ann: presenter}\n",
    )
    code, _, err = run(["validate", "--strict", str(path)], capsys)
    assert code == 1
    assert err.splitlines()[:-1] == [
        f"{path}:7:9: $.users.bob.role: warning: app role 'presnter' is granted nothing by any "
        "declared or built-in call type (did you mean 'presenter'?)"
    ]
