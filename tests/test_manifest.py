"""manifest: YAML with locations, YAML 1.1 traps, caps, variables, sources and merging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stagecfg.errors import Location, Problem
from stagecfg.manifest import (
    Document,
    child_path,
    collect_sources,
    join_path,
    load,
    merge,
    parent_path,
    substitute_variables,
)
from stagecfg.manifest.loader import _Loader


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None, name: str = "m.yaml"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return load(path, env=env or {})


def data_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Any:
    doc, problems = load_text(tmp_path, text, env)
    assert problems == []
    assert doc is not None
    return doc.data


def test_scalars_follow_yaml_1_2_core(tmp_path: Path) -> None:
    data = data_of(
        tmp_path,
        "a: true\nb: False\nc: 12\nd: -1.5\ne: ~\nf: null\ng: 2026-12-01T18:00:00Z\n"
        "h: 2026-12-01\ni: '12'\nj: 0x1f\nk: 1_000\nl: text\nm:\n",
    )
    assert data == {
        "a": True,
        "b": False,
        "c": 12,
        "d": -1.5,
        "e": None,
        "f": None,
        "g": "2026-12-01T18:00:00Z",
        "h": "2026-12-01",
        "i": "12",
        "j": 31,
        "k": "1_000",
        "l": "text",
        "m": None,
    }


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")
def test_libyaml_c_loader_is_used_when_present() -> None:
    assert issubclass(_Loader, yaml.CSafeLoader)
    # Safe construction only: the full and unsafe constructors derive from FullConstructor.
    assert not issubclass(_Loader, yaml.constructor.FullConstructor)


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "y", "N"])
def test_yaml_1_1_booleans_are_reported(tmp_path: Path, word: str) -> None:
    _, problems = load_text(tmp_path, f"version: 1\nflag: {word}\n")
    (problem,) = problems
    meaning = "true" if word.lower() in ("yes", "on", "y") else "false"
    assert problem.message == (
        f"`{word}` is read as boolean {meaning} by YAML 1.1; write {meaning} or quote it"
    )
    assert problem.location == Location(str(tmp_path / "m.yaml"), 2, 7)
    assert problem.path == "$.flag"


def test_quoted_yaml_1_1_words_are_strings(tmp_path: Path) -> None:
    assert data_of(tmp_path, "a: 'yes'\nb: \"on\"\n") == {"a": "yes", "b": "on"}


def test_locations_of_keys_and_values(tmp_path: Path) -> None:
    doc, _ = load_text(tmp_path, "version: 1\ncalls:\n  livestream:a:\n    live: true\n")
    assert isinstance(doc, Document)
    key = doc.locate("$.calls['livestream:a']")
    assert (key.line, key.col) == (3, 3)
    value = doc.locate("$.calls['livestream:a'].live", value=True)
    assert (value.line, value.col) == (4, 11)
    # A path that does not exist falls back to its nearest parent.
    assert doc.locate("$.calls['livestream:a'].live.deeper") == doc.locate(
        "$.calls['livestream:a'].live"
    )


def test_duplicate_keys_name_both_places(tmp_path: Path) -> None:
    doc, problems = load_text(tmp_path, "a: 1\nb: 2\na: 3\n")
    (problem,) = problems
    assert problem.location is not None and problem.location.line == 3
    assert "duplicate key 'a' (first defined at line 1, col 1)" in problem.message
    assert doc is not None and doc.data["a"] == 1


def test_non_string_keys_are_rejected(tmp_path: Path) -> None:
    _, problems = load_text(tmp_path, "version: 1\ntrue: x\n")
    assert ["keys must be strings" in p.message for p in problems] == [True]


def test_merge_keys_and_anchors(tmp_path: Path) -> None:
    data = data_of(tmp_path, "base: &b {p: 1, q: 2}\nother:\n  <<: *b\n  q: 3\n")
    assert data["other"] == {"p": 1, "q": 3}


def test_alias_bomb_stops_quickly(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = "a" if i == 1 else f"b{i - 1}"
        lines.append(f"b{i}: &b{i} [" + ", ".join([f"*{prev}"] * 9) + "]")
    doc, problems = load_text(tmp_path, "\n".join(lines) + "\n")
    assert doc is None
    (problem,) = problems
    assert "(alias cap)" in problem.message or "(node cap)" in problem.message


def test_many_small_aliases_are_fine(tmp_path: Path) -> None:
    text = "a: &a {k: 1}\nlist: [" + ", ".join(["*a"] * 50) + "]\n"
    assert len(data_of(tmp_path, text)["list"]) == 50


def test_depth_cap(tmp_path: Path) -> None:
    doc, problems = load_text(tmp_path, "a: " + "[" * 65 + "]" * 65 + "\n")
    assert doc is None
    assert "depth cap" in problems[0].message
    assert data_of(tmp_path, "a: " + "[" * 60 + "]" * 60 + "\n")


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    doc, problems = load_text(tmp_path, "a: &a [*a]\n")
    assert doc is None
    assert problems and "cap" in problems[0].message


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    doc, problems = load(path, env={})
    assert problems == [] and doc is not None and doc.data == {"version": 1}


# --- variables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("x-${A}-y", {"A": "v"}, "x-v-y"),
        ("${A:-fallback}", {}, "fallback"),
        ("${A:-}", {}, ""),
        ("${A:-d}", {"A": ""}, ""),
        ("$${A}", {"A": "no"}, "${A}"),
        ("cost $5", {}, "cost $5"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
    ],
)
def test_substitute_variables(text: str, env: dict[str, str], expected: str) -> None:
    assert substitute_variables(text, env) == (expected, [])


def test_unset_variable_is_an_error() -> None:
    value, errors = substitute_variables("${MISSING}", {})
    assert value == "${MISSING}"
    assert errors[0][0] == "environment variable MISSING is not set and has no default"


def test_unclosed_variable_is_an_error() -> None:
    _, errors = substitute_variables("${OOPS", {})
    assert "unclosed" in errors[0][0]


def test_variable_value_stays_a_string(tmp_path: Path) -> None:
    data = data_of(tmp_path, "num: ${N}\nflag: ${B}\n", env={"N": "42", "B": "true"})
    assert data == {"num": "42", "flag": "true"}


def test_unset_variable_located(tmp_path: Path) -> None:
    _, problems = load_text(tmp_path, "version: 1\nusers:\n  u: {name: '${WHO}'}\n")
    (problem,) = problems
    assert problem.path == "$.users.u.name"
    assert problem.location is not None and (problem.location.line, problem.location.col) == (3, 13)


def test_keys_are_not_substituted(tmp_path: Path) -> None:
    assert data_of(tmp_path, "${A}: 1\n", env={"A": "x"}) == {"${A}": 1}


def only_problem(tmp_path: Path, text: str) -> tuple[int, int, str, str | None]:
    _, problems = load_text(tmp_path, text)
    (problem,) = problems
    assert problem.location is not None
    return problem.location.line, problem.location.col, problem.message, problem.suggestion


def test_key_indented_too_deep_is_reported_at_itself(tmp_path: Path) -> None:
    # 4-space file: `name` (line 4) is 8 deeper than `show`, its sibling `grants` the usual 4.
    text = "version: 1\ncall_types:\n    show:\n            settings: {}\n        grants: {}\n"
    line, col, message, suggestion = only_problem(tmp_path, text)
    assert (line, col) == (4, 13)
    assert "indented deeper (col 13) than the next key of its mapping at line 5 (col 9)" in message
    assert suggestion == "indent line 4 to col 9, like the other keys of that mapping"


def test_key_indented_too_shallow_is_still_reported_at_itself(tmp_path: Path) -> None:
    # `role` is off the 2-space step while `name` is on it: `role` is the line to change.
    text = "version: 1\nusers:\n  john:\n    name: John\n   role: user\n"
    line, col, message, _ = only_problem(tmp_path, text)
    assert (line, col) == (5, 4)
    assert message.startswith("invalid YAML: did not find expected key")


@pytest.mark.parametrize(
    ("text", "col", "value", "bracket"),
    [
        ("u: {name: ${WHO}}\n", 11, "${WHO}", "{...}"),
        ("p: [a, ${P}-x]\n", 8, "${P}-x", "[...]"),
    ],
)
def test_unquoted_variable_in_flow_says_to_quote_it(
    tmp_path: Path, text: str, col: int, value: str, bracket: str
) -> None:
    line, found_col, message, suggestion = only_problem(tmp_path, text)
    assert (line, found_col) == (1, col)
    assert message.startswith(f"invalid YAML: unquoted variable '{value}' inside {bracket}")
    assert suggestion == f'quote the value: "{value}"'


# --- paths ---------------------------------------------------------------------------------------


def test_json_paths() -> None:
    assert (
        join_path(["calls", "livestream:a", "members", "j"]) == "$.calls['livestream:a'].members.j"
    )
    assert child_path("$.x", 3) == "$.x[3]"
    assert parent_path("$.calls['livestream:a'].live") == "$.calls['livestream:a']"
    assert parent_path("$.calls['livestream:a']") == "$.calls"
    assert parent_path("$.a[2]") == "$.a"
    assert parent_path("$.a") == "$"
    assert parent_path("$") == "$"


# --- sources and merging -------------------------------------------------------------------------


def test_collect_sources_recursive_sorted_and_deduplicated(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "sub/d.txt", ".git/e.yaml", "Z.YAML"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("version: 1\n")
    sources, problems = collect_sources([str(tmp_path), str(tmp_path / "b.yaml")])
    assert problems == []
    assert [s.relative for s in sources] == ["Z.YAML", "a.yml", "b.yaml", "sub/c.yaml"]


def _doc(tmp_path: Path, name: str, text: str) -> Document:
    doc, problems = load_text(tmp_path, text, name=name)
    assert problems == [] and doc is not None
    return doc


def test_merge_unions_resources(tmp_path: Path) -> None:
    a = _doc(tmp_path, "a.yaml", "version: 1\nproject: p\ncall_types:\n  t: {}\n")
    b = _doc(tmp_path, "b.yaml", "version: 1\nproject: p\ncalls:\n  t:x: {}\nusers:\n  u: {}\n")
    merged, problems = merge([a, b])
    assert problems == []
    assert merged.data == {
        "version": 1,
        "project": "p",
        "call_types": {"t": {}},
        "calls": {"t:x": {}},
        "users": {"u": {}},
    }
    loc = merged.locate("$.calls['t:x']")
    assert loc is not None and loc.file.endswith("b.yaml") and loc.line == 4


def test_resource_declared_twice_names_both_places(tmp_path: Path) -> None:
    a = _doc(tmp_path, "a.yaml", "version: 1\ncall_types:\n  t: {}\n")
    b = _doc(tmp_path, "b.yaml", "version: 1\n\ncall_types:\n  t: {}\n")
    _, problems = merge([a, b])
    (problem,) = problems
    assert isinstance(problem, Problem)
    assert problem.location == Location(str(tmp_path / "b.yaml"), 4, 3)
    assert f"declared twice: here and at {tmp_path / 'a.yaml'}:3:3" in problem.message


def test_projects_must_agree(tmp_path: Path) -> None:
    a = _doc(tmp_path, "a.yaml", "version: 1\nproject: one\n")
    b = _doc(tmp_path, "b.yaml", "version: 1\nproject: two\n")
    c = _doc(tmp_path, "c.yaml", "version: 1\n")
    _, problems = merge([a, b, c])
    (problem,) = problems
    assert problem.path == "$.project"
    assert "project 'two' differs from project 'one'" in problem.message
    # The suggestion is printed inside parentheses, so it must not nest another pair.
    assert problem.suggestion == "every file must name the same project, or none"


def test_a_directory_read_as_a_manifest_file_is_one_clear_problem(tmp_path: Path) -> None:
    folder = tmp_path / "named.yaml"
    folder.mkdir()
    doc, problems = load(folder, env={})
    assert doc is None
    assert [p.render() for p in problems] == [
        f"{folder}:1:1: $: is a directory, not a regular file: manifests are read from regular "
        "files only (point stagecfg at a manifest file or a directory of them)"
    ]
