"""manifest.references (and paths.split_path): references found while reading, filled in later
without changing the file's own data."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from stagecfg.manifest import join_path, load, split_path
from stagecfg.manifest.references import substitute
from stagecfg.manifest.variables import Value


@given(st.lists(st.one_of(st.text(max_size=6), st.integers(0, 99)), max_size=5))
def test_split_path_reads_back_what_join_path_writes(parts: list[str | int]) -> None:
    path = join_path(parts)
    found = split_path(path)
    assert found is not None
    assert "$" + "".join(written for _, written in found) == path
    # A key with a control character is written escaped, so only its written form names it.
    if all(not isinstance(p, str) or p.isprintable() for p in parts):
        assert [p for p, _ in found] == parts


def test_split_path_refuses_what_is_not_a_path() -> None:
    assert split_path("calls.x") is None
    assert split_path("$.calls[") is None
    assert split_path("$") == []


def _doc(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "m.yaml"
    path.write_text(text, "utf-8")
    doc, problems = load(path)
    assert problems == [] and doc is not None
    return doc


def test_only_strings_with_a_reference_are_recorded_and_data_keeps_the_text(
    tmp_path: Path,
) -> None:
    doc = _doc(
        tmp_path,
        "version: 1\nusers:\n  a: {name: '${who}', custom: {cost: $5, count: '${count}'}}\n"
        "  '${key}': {name: plain}\n",
    )
    assert [(r.path, r.text) for r in doc.references] == [
        ("$.users.a.name", "${who}"),
        ("$.users.a.custom.count", "${count}"),
    ]  # keys are never references, and "$5" is not one
    assert doc.data["users"]["a"]["name"] == "${who}"


def test_substitute_copies_only_what_it_changes(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "version: 1\nusers:\n"
        "  a: {name: '${who}', custom: {count: '${count}', k: [1, '${count}']}}\n"
        "  b: {name: untouched}\n",
    )
    before = doc.data
    data, problems = substitute(
        doc.data, doc.references, {}, {"who": Value("Ada"), "count": Value(3)}
    )
    assert problems == []
    assert data["users"]["a"] == {"name": "Ada", "custom": {"count": 3, "k": [1, 3]}}
    assert before["users"]["a"]["name"] == "${who}"  # the file's data is shared: unchanged
    assert data["users"]["b"] is before["users"]["b"]  # and what has no reference is not copied


def test_a_merge_key_fills_in_only_the_value_the_mapping_keeps(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "version: 1\nusers:\n  a: &base {name: '${who}', language: '${lang}'}\n"
        "  b: {<<: *base, name: own}\n",
    )
    data, _ = substitute(doc.data, doc.references, {}, {"who": Value("Ada"), "lang": Value("de")})
    assert data["users"]["a"] == {"name": "Ada", "language": "de"}
    assert data["users"]["b"] == {"name": "own", "language": "de"}


def test_the_literal_sections_are_not_filled_in(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "version: 1\nvariables:\n  x: {type: string, default: '${HOME}'}\nvalues: {x: '${HOME}'}\n",
    )
    data, problems = substitute(doc.data, doc.references, {"HOME": "/h"}, {})
    assert problems == [] and data["variables"]["x"]["default"] == "${HOME}"
    assert data["values"]["x"] == "${HOME}"


def test_unresolvable_references_are_located(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "version: 1\nusers:\n  a: {name: '${MISSING_ONE}'}\n")
    _, problems = substitute(doc.data, doc.references, {}, {})
    (problem,) = problems
    assert problem.path == "$.users.a.name" and (problem.location.line, problem.location.col) == (
        3,
        13,
    )
