"""The drift writer edits YAML text in place: only the changed values' lines change, and the result
reads back, with stagecfg's own loader, as exactly the data the edits describe."""

from __future__ import annotations

import copy
import difflib
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stagecfg.drift.edits import Edit, EditRefused, apply_edits, refused_edits
from stagecfg.drift.yaml_tree import end_of, parse
from stagecfg.manifest import load

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    p for p in (REPO / "examples").rglob("*.yaml") if "ci" not in p.parts and "tests" not in p.parts
)


def read_back(text: str) -> Any:
    """The text as stagecfg's loader reads it (problems must be none)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_bytes(text.encode("utf-8"))
        doc, problems = load(path)
    assert doc is not None, problems
    assert not problems, [p.render() for p in problems]
    return doc.data


def changed_lines(old: str, new: str) -> tuple[list[int], list[str]]:
    """(1-based numbers of old lines removed or replaced, the new lines added)."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    removed: list[int] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag != "equal":
            removed += range(a1 + 1, a2 + 1)
            added += after[b1:b2]
    return removed, added


def edit(text: str, *edits: Edit) -> str:
    return apply_edits(text, list(edits), file="m.yaml")


def set_(*path: str | int, value: Any) -> Edit:
    return Edit(tuple(path), "set", value)


def delete(*path: str | int) -> Edit:
    return Edit(tuple(path), "delete")


BASE = """\
# yaml-language-server: $schema=../schemas/stagecfg.schema.json
# The shows.
version: 1
project: shows

call_types:
  shows:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 120}  # two minutes
      limits:
        max_participants: 100   # aligned comment
        max_duration_seconds: 3600

      recording: {mode: 'available', quality: "1080p"}
    grants:
      # hosts run the show
      host: [join-call, read-call, send-audio]
      user:
        - join-call   # everyone joins
        # and reads
        - read-call
"""


# -- scalars --------------------------------------------------------------------------------


def test_a_scalar_is_replaced_in_its_line_and_nothing_else_changes() -> None:
    new = edit(
        BASE, set_("call_types", "shows", "settings", "limits", "max_participants", value=80)
    )
    assert changed_lines(BASE, new) == (
        [11],
        ["        max_participants: 80   # aligned comment\n"],
    )
    assert read_back(new)["call_types"]["shows"]["settings"]["limits"]["max_participants"] == 80


def test_a_scalar_in_a_flow_mapping_keeps_the_braces_and_the_comment() -> None:
    path = ("call_types", "shows", "settings", "backstage", "join_ahead_time_seconds")
    new = edit(BASE, set_(*path, value=300))
    assert changed_lines(BASE, new)[1] == [
        "      backstage: {enabled: true, join_ahead_time_seconds: 300}  # two minutes\n"
    ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("auto", "{mode: 'auto', quality: \"1080p\"}"),
        ("it's", "{mode: 'it''s', quality: \"1080p\"}"),
        ("new\nline", '{mode: "new\\nline", quality: "1080p"}'),
    ],
)
def test_single_quotes_are_kept_where_the_value_allows(value: str, written: str) -> None:
    new = edit(BASE, set_("call_types", "shows", "settings", "recording", "mode", value=value))
    assert f"      recording: {written}\n" in new
    assert read_back(new)["call_types"]["shows"]["settings"]["recording"]["mode"] == value


def test_double_quotes_are_kept() -> None:
    new = edit(BASE, set_("call_types", "shows", "settings", "recording", "quality", value="720p"))
    assert "      recording: {mode: 'available', quality: \"720p\"}\n" in new


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("yes", '"yes"'),
        ("Off", '"Off"'),
        ("n", '"n"'),
        ("5", '"5"'),
        ("1.5", '"1.5"'),
        ("null", '"null"'),
        ("true", '"true"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        ("- x", '"- x"'),
        ("", '""'),
        (" padded", '" padded"'),
        ("2027-03-01T18:00:00Z", "2027-03-01T18:00:00Z"),
        ("join-call", "join-call"),
        (5, "5"),
        (1.5, "1.5"),
        (1e20, "1e+20"),
        (True, "true"),
        (None, "null"),
    ],
)
def test_a_plain_scalar_is_quoted_only_when_the_loader_would_read_it_as_something_else(
    value: Any, written: str
) -> None:
    text = "version: 1\nname: old  # c\n"
    new = edit(text, set_("name", value=value))
    assert new == f"version: 1\nname: {written}  # c\n"
    assert read_back(new)["name"] == value


def test_a_number_in_quotes_becomes_a_plain_number() -> None:
    assert edit("a: '5'\n", set_("a", value=6)) == "a: 6\n"


def test_an_empty_value_gets_the_new_one_after_its_colon() -> None:
    text = "a:\nb: 1  # b\n"
    assert edit(text, set_("a", value=2)) == "a: 2\nb: 1  # b\n"
    assert edit(text, set_("a", "x", value=2)) == "a:\n  x: 2\nb: 1  # b\n"


def test_a_literal_block_scalar_stays_literal() -> None:
    text = "a:\n  text: |\n    one\n    two\n  # after\nb: 1\n"
    new = edit(text, set_("a", "text", value="uno\ndos\ntres\n"))
    assert new == "a:\n  text: |\n    uno\n    dos\n    tres\n  # after\nb: 1\n"
    assert read_back(new)["a"]["text"] == "uno\ndos\ntres\n"


def test_an_unchanged_value_leaves_the_text_identical() -> None:
    path = ("call_types", "shows", "settings", "limits", "max_participants")
    assert edit(BASE, set_(*path, value=100)) is BASE or edit(BASE, set_(*path, value=100)) == BASE


def test_an_integer_is_not_the_same_as_a_float_or_a_boolean() -> None:
    assert edit("a: 1\n", set_("a", value=1.0)) == "a: 1.0\n"
    assert edit("a: 1\n", set_("a", value=True)) == "a: true\n"


# -- mappings -------------------------------------------------------------------------------


def test_a_mapping_is_synced_key_by_key() -> None:
    limits = {"max_participants": 100, "max_duration_seconds": 60, "max_calls": 3}
    new = edit(BASE, set_("call_types", "shows", "settings", "limits", value=limits))
    removed, added = changed_lines(BASE, new)
    assert removed == [12]
    assert added == ["        max_duration_seconds: 60\n", "        max_calls: 3\n"]


def test_a_deleted_key_goes_with_its_inline_comment_and_comment_lines_stay() -> None:
    new = edit(BASE, delete("call_types", "shows", "grants", "host"))
    assert changed_lines(BASE, new) == ([17], [])
    assert "      # hosts run the show\n" in new


def test_a_deleted_block_keeps_the_comment_lines_inside_it() -> None:
    new = edit(BASE, delete("call_types", "shows", "grants", "user"))
    assert changed_lines(BASE, new) == ([18, 19, 21], [])
    assert "        # and reads\n" in new
    assert read_back(new)["call_types"]["shows"]["grants"] == {
        "host": ["join-call", "read-call", "send-audio"]
    }


def test_deleting_the_last_key_of_a_block_mapping_leaves_an_empty_mapping() -> None:
    text = "a:\n  b: 1\nc: 2\n"
    assert edit(text, delete("a", "b")) == "a: {}\nc: 2\n"
    assert edit("a: {b: 1}\n", delete("a", "b")) == "a: {}\n"


def test_a_deleted_key_in_a_flow_mapping_takes_its_comma() -> None:
    text = "a: {x: 1, y: 2, z: 3}\n"
    assert edit(text, delete("a", "x")) == "a: {y: 2, z: 3}\n"
    assert edit(text, delete("a", "y")) == "a: {x: 1, z: 3}\n"
    assert edit(text, delete("a", "z")) == "a: {x: 1, y: 2}\n"
    assert edit(text, set_("a", value={"w": 0})) == "a: {w: 0}\n"


def test_new_keys_follow_the_last_key_in_the_files_own_indentation() -> None:
    text = "a:\n    b:\n        c: 1\n    # trailing\nz: 0\n"
    new = edit(text, set_("a", "b", "d", "e", value=[1, 2]))
    assert new == (
        "a:\n    b:\n        c: 1\n        d:\n            e:\n                - 1\n"
        "                - 2\n    # trailing\nz: 0\n"
    )


def test_new_lists_are_dashed_like_the_files_lists() -> None:
    text = "a:\n  l:\n  - 1\n  m: x\n"
    assert edit(text, set_("a", "o", value=["p"])) == "a:\n  l:\n  - 1\n  m: x\n  o:\n  - p\n"


def test_a_new_list_among_flow_lists_is_a_flow_list() -> None:
    text = "grants:\n  host: [join-call]  # hosts\n  user: [read-call]\n"
    new = edit(text, set_("grants", "moderator", value=["mute-users", "kick-user"]))
    assert new == text + "  moderator: [mute-users, kick-user]\n"
    new = edit(BASE, set_("call_types", "shows", "grants", "moderator", value=["mute-users"]))
    assert changed_lines(BASE, new)[1] == ["      moderator:\n", "        - mute-users\n"]


def test_missing_parents_are_created_in_block_style_or_flow_inside_flow() -> None:
    text = "a: 1\nb: {c: 1}\n"
    assert edit(text, set_("x", "w", value=1)) == "a: 1\nb: {c: 1}\nx:\n  w: 1\n"
    assert edit(text, set_("b", "d", "e", value=1)) == "a: 1\nb: {c: 1, d: {e: 1}}\n"


def test_a_key_that_needs_quotes_is_quoted() -> None:
    assert edit("a: 1\n", set_("on", value=1)) == 'a: 1\n"on": 1\n'
    assert edit("a: 1\n", set_("livestream:show", value=1)) == "a: 1\nlivestream:show: 1\n"


# -- lists ----------------------------------------------------------------------------------


def test_list_entries_kept_keep_their_comments_others_go_and_new_ones_are_appended() -> None:
    path = ("call_types", "shows", "grants", "user")
    new = edit(BASE, set_(*path, value=["join-call", "send-audio"]))
    # The new entry follows the last one kept; the removed entry's comment line stays.
    assert new.endswith(
        "        - join-call   # everyone joins\n        - send-audio\n        # and reads\n"
    )


def test_a_reordered_list_moves_as_few_entries_as_it_can() -> None:
    text = "l:\n  - a  # a\n  - b  # b\n  - c  # c\n  - d  # d\n"
    new = edit(text, set_("l", value=["b", "c", "d", "a"]))
    assert new == "l:\n  - b  # b\n  - c  # c\n  - d  # d\n  - a\n"
    assert edit(text, set_("l", value=["a", "x", "b", "c", "d"])) == (
        "l:\n  - a  # a\n  - x\n  - b  # b\n  - c  # c\n  - d  # d\n"
    )
    assert edit(text, set_("l", value=["x", "a", "b", "c", "d"])) == (
        "l:\n  - x\n  - a  # a\n  - b  # b\n  - c  # c\n  - d  # d\n"
    )


def test_flow_lists_stay_flow() -> None:
    text = "l: [a, b, c]  # c\n"
    assert edit(text, set_("l", value=["a", "c"])) == "l: [a, c]  # c\n"
    assert edit(text, set_("l", value=["b", "c"])) == "l: [b, c]  # c\n"
    assert edit(text, set_("l", value=["a", "b"])) == "l: [a, b]  # c\n"
    assert edit(text, set_("l", value=["z", "a", "b", "c", "yes"])) == (
        'l: [z, a, b, c, "yes"]  # c\n'
    )
    assert edit(text, set_("l", value=[])) == "l: []  # c\n"
    assert edit(text, delete("l", 1)) == "l: [a, c]  # c\n"
    assert edit(text, set_("l", 3, value="d")) == "l: [a, b, c, d]  # c\n"


def test_emptying_a_block_list_leaves_an_empty_flow_list_and_the_comments() -> None:
    text = "l:\n  # why\n  - a\n  - b\nm: 1\n"
    assert edit(text, set_("l", value=[])) == "l: []\n  # why\nm: 1\n"


def test_a_changed_mapping_entry_is_edited_in_place() -> None:
    text = "l:\n  - name: a\n    # about a\n    role: user\n  - name: b\n    role: user\n"
    new = edit(
        text, set_("l", value=[{"name": "a", "role": "admin"}, {"name": "b", "role": "user"}])
    )
    assert new == "l:\n  - name: a\n    # about a\n    role: admin\n  - name: b\n    role: user\n"


def test_deleting_a_list_entry_removes_exactly_that_one() -> None:
    text = "l:\n- a\n- b\n- a\n"
    assert edit(text, delete("l", 0)) == "l:\n- b\n- a\n"
    assert edit(text, delete("l", 2)) == "l:\n- a\n- b\n"


def test_the_first_key_of_a_list_entry_can_go() -> None:
    # The "-" stays alone on its line, so that the next key's line is not touched.
    text = "l:\n  - name: a\n    role: user\n"
    assert edit(text, delete("l", 0, "name")) == "l:\n  -\n    role: user\n"
    text = "l:\n  - name: a\n    # c\n    role: user\n"
    new = edit(text, delete("l", 0, "name"))
    assert new == "l:\n  -\n    # c\n    role: user\n"
    assert read_back(new) == {"l": [{"role": "user"}]}


def test_a_type_change_rewrites_the_value_and_keeps_its_comment_lines() -> None:
    text = "a:\n  # c\n  b: 1\nz: 0\n"
    assert edit(text, set_("a", value=[1])) == "a:\n  - 1\n  # c\nz: 0\n"
    assert edit(text, set_("a", value="x")) == "a: x\n  # c\nz: 0\n"
    assert edit("a: x  # c\n", set_("a", value={"b": 1})) == "a:\n  b: 1  # c\n"


# -- anchors, aliases and merge keys ---------------------------------------------------------

ANCHORED = """\
defaults: &grants [join-call, read-call]
base: &base
  enabled: true
  seconds: 60
call_types:
  a:
    grants: *grants
    settings:
      <<: *base
      seconds: 120
  b:
    grants: *grants
    settings: *base
"""


def test_an_edit_through_a_shared_anchor_is_refused_with_the_anchor_and_its_uses() -> None:
    with pytest.raises(EditRefused) as refused:
        edit(ANCHORED, set_("defaults", value=["join-call"]))
    assert "anchor &grants" in refused.value.reason
    assert "line 7, 12" in refused.value.reason
    assert refused.value.path == ("defaults",)
    assert str(refused.value).startswith("m.yaml:1:11: cannot edit $.defaults: ")


def test_an_alias_target_is_written_out_and_the_anchor_stays_for_the_others() -> None:
    new = edit(ANCHORED, set_("call_types", "a", "grants", value=["join-call"]))
    assert changed_lines(ANCHORED, new) == ([7], ["    grants: [join-call]\n"])
    new = edit(ANCHORED, set_("call_types", "b", "settings", "seconds", value=5))
    assert changed_lines(ANCHORED, new) == (
        [13],
        ["    settings:\n", "      enabled: true\n", "      seconds: 5\n"],
    )
    data = read_back(new)
    assert data["call_types"]["a"]["settings"] == {"enabled": True, "seconds": 120}


def test_a_merged_key_is_overridden_in_the_mapping_itself() -> None:
    new = edit(ANCHORED, set_("call_types", "a", "settings", "enabled", value=False))
    assert changed_lines(ANCHORED, new) == ([], ["      enabled: false\n"])
    assert read_back(new)["base"] == {"enabled": True, "seconds": 60}


def test_a_merged_key_cannot_be_deleted() -> None:
    with pytest.raises(EditRefused, match="merge key"):
        edit(ANCHORED, delete("call_types", "a", "settings", "enabled"))
    with pytest.raises(EditRefused, match="merged"):
        edit(ANCHORED, delete("call_types", "a", "settings", "seconds"))


def test_an_anchor_that_is_used_cannot_be_deleted_but_an_unused_one_can() -> None:
    with pytest.raises(EditRefused, match="&base"):
        edit(ANCHORED, delete("base"))
    text = "a: &x 1\nb: 2\n"
    assert edit(text, set_("a", value=3)) == "a: &x 3\nb: 2\n"


# -- refusals -------------------------------------------------------------------------------


def test_a_variable_reference_is_never_overwritten() -> None:
    text = "limits:\n  max_participants: ${max_viewers}\n"
    with pytest.raises(EditRefused, match=r"variable reference '\$\{max_viewers\}'") as refused:
        edit(text, set_("limits", "max_participants", value=80))
    assert (refused.value.line, refused.value.col) == (2, 21)
    with pytest.raises(EditRefused, match="variable"):
        edit(text, delete("limits"))
    with pytest.raises(EditRefused, match="variable reference"):
        edit("a: 1\n", set_("a", value="${x}"))


def test_a_missing_path_cannot_be_deleted_and_a_scalar_cannot_be_gone_through() -> None:
    with pytest.raises(EditRefused, match="no 'nope'"):
        edit(BASE, delete("call_types", "nope"))
    with pytest.raises(EditRefused, match="goes through an integer at line 3"):
        edit(BASE, set_("version", "x", value=1))
    with pytest.raises(EditRefused, match="no entry 5"):
        edit(BASE, delete("call_types", "shows", "grants", "user", 5))


def test_a_file_that_is_not_one_yaml_mapping_is_refused() -> None:
    for text in ("a: [\n", "a: 1\n---\nb: 2\n", "- a\n"):
        with pytest.raises(EditRefused, match="cannot be edited"):
            edit(text, set_("a", value=2))


def test_refused_edits_lists_the_refusals_and_the_rest_apply() -> None:
    edits = [
        set_("call_types", "shows", "settings", "limits", "max_participants", value=5),
        delete("call_types", "nope"),
        set_("version", "x", value=1),
        delete("call_types", "shows", "grants", "host"),
    ]
    refused = refused_edits(BASE, edits, file="m.yaml")
    assert [r.path for r in refused] == [edits[1].path, edits[2].path]
    with pytest.raises(EditRefused):
        apply_edits(BASE, edits, file="m.yaml")
    ok = [e for e in edits if e.path not in {r.path for r in refused}]
    new = apply_edits(BASE, ok, file="m.yaml")
    assert changed_lines(BASE, new) == (
        [11, 17],
        ["        max_participants: 5   # aligned comment\n"],
    )


# -- the file around the values --------------------------------------------------------------


def test_crlf_line_endings_a_missing_final_newline_a_bom_and_document_markers_are_kept() -> None:
    text = "\ufeff%YAML 1.2\n---\n# head\na: 1\r\nb:\r\n  c: 2\r\n...\n"
    text = text.replace("\n", "\r\n").replace("\r\r\n", "\r\n")
    new = edit(text, set_("b", "d", value=3), set_("a", value=9))
    assert new == "\ufeff%YAML 1.2\r\n---\r\n# head\r\na: 9\r\nb:\r\n  c: 2\r\n  d: 3\r\n...\r\n"
    assert edit("a: 1\nb: 2", set_("c", value=3)) == "a: 1\nb: 2\nc: 3"
    assert edit("a: 1\nb: 2", delete("b")) == "a: 1"
    assert edit("a: 1\nb: 2\n", delete("b")) == "a: 1\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_scalar_of_the_examples_changes_on_its_own_line_only(path: Path) -> None:
    text = path.read_text("utf-8")
    doc, _ = load(path)
    assert doc is not None
    for json_path, value in _leaves(doc.data, ()):
        if isinstance(value, str) and "${" in value:
            continue
        new_value: Any = (
            not value
            if isinstance(value, bool)
            else (value + 7 if isinstance(value, int) else f"{value}-x")
        )
        new = edit(text, Edit(json_path, "set", new_value))
        removed, added = changed_lines(text, new)
        line = doc.locate(_dotted(json_path), value=True).line
        assert removed == [line], json_path
        assert len(added) == 1
        old_line = text.splitlines(keepends=True)[line - 1]
        assert _common_ends(old_line, added[0]) >= len(old_line) - len(json.dumps(value)) - 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_deleting_any_key_of_the_examples_removes_only_its_lines(path: Path) -> None:
    text = path.read_text("utf-8")
    doc, _ = load(path)
    assert doc is not None
    lines = text.splitlines()
    for json_path, value in _keys(doc.data, ()):
        if "${" in json.dumps(value):
            continue  # refused: a variable reference is never overwritten
        new = edit(text, Edit(json_path, "delete"))
        removed, added = changed_lines(text, new)
        line = doc.locate(_dotted(json_path)).line
        key_line = lines[line - 1]
        if not key_line.strip().startswith(str(json_path[-1])):
            # Inside a flow mapping: that one line changes, and only the entry goes from it.
            assert removed == [line] and len(added) == 1, json_path
            assert len(added[0]) < len(key_line) + 1, json_path
        elif added:  # the parent's only key went: "{}" after the parent's key
            assert removed[:1] == [line - 1], json_path
            assert len(added) == 1 and added[0].rstrip().endswith("{}"), json_path
        else:
            assert removed[0] == line, json_path
            assert removed == list(range(line, removed[-1] + 1)), json_path


def _leaves(data: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))
    else:
        yield path, data


def _keys(data: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key), value
            yield from _keys(value, (*path, key))


def _dotted(path: tuple[str | int, ...]) -> str:
    from stagecfg.manifest import join_path

    return join_path(path)


def _common_ends(a: str, b: str) -> int:
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return start + end


# -- properties: generated manifests and edits -------------------------------------------------

_TEXTS = [
    "join-call",
    "yes",
    "No",
    "on",
    "y",
    "5",
    "1.5",
    "0x1F",
    "null",
    "True",
    "~",
    "",
    " lead",
    "a: b",
    "x #y",
    "it's",
    'say "hi"',
    "2027-03-01T18:00:00Z",
    "-dash",
    "{brace}",
    "a,b",
    "[x]",
    "multi\nline",
    "ünïcode",
    "tab\there",
    "trailing ",
    "*star",
    "&amp",
    "!bang",
    "%pct",
    "@at",
    "`tick",
    "|bar",
    ">gt",
    "?q",
    "k: v: w",
    "# hash",
    "l\u2028s",
    "n\x85l",
    "b\ufeffom",
    "del\x7f",
    "ctl\x01",
    "emoji \U0001f600",
]
SCALARS = st.one_of(
    st.integers(-1000, 10**6),
    st.booleans(),
    st.none(),
    st.sampled_from([1.5, -0.25, 1e20, 0.0]),
    st.sampled_from(_TEXTS),
    st.text(alphabet="abcxyz -_:#'\".,", max_size=6),
)
KEYS = st.sampled_from(
    ["a", "b", "c", "name", "role", "limits", "x-y", "max_participants", "k k", "on", "5"]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)
MANIFESTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=4)
_SIMPLE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*( [A-Za-z0-9_-]+)*$")
_NOT_TEXT = {"yes", "no", "on", "off", "y", "n", "true", "false", "null"}


def _double(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escapes, and YAML's for what JSON leaves raw)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(ch if ch.isprintable() or ch == " " else f"\\u{ord(ch):04x}" for ch in quoted)


class _Writer:
    """Writes data as a YAML manifest with drawn styles, comments and blank lines."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw
        self.indent = draw(st.sampled_from([2, 4]))
        self.offset = draw(st.sampled_from([0, 2]))
        self.lines: list[str] = []
        self.notes = 0

    def chance(self, one_in: int) -> bool:
        return bool(self.draw(st.integers(0, one_in - 1)) == 0)

    def comment(self, col: int) -> None:
        if self.chance(3):
            self.notes += 1
            self.lines.append(" " * col + f"# note {self.notes}")
        if self.chance(6):
            self.lines.append("")

    def tail(self) -> str:
        if self.chance(4):
            self.notes += 1
            return f"  # tail {self.notes}"
        return ""

    def scalar(self, value: Any, *, flow: bool, empty_ok: bool = False) -> str:
        if value is None:
            return self.draw(st.sampled_from(["null", "~", ""] if empty_ok else ["null", "~"]))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        simple = bool(_SIMPLE.match(value)) and value.lower() not in _NOT_TEXT
        style = self.draw(st.sampled_from(["plain", "single", "double"]))
        if style == "plain" and simple:
            return str(value)
        if style == "single" and value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return _double(value)

    def key(self, name: str) -> str:
        return name if _SIMPLE.match(name) and name.lower() not in _NOT_TEXT else _double(name)

    def flow(self, value: Any) -> str:
        if isinstance(value, dict):
            inner = ", ".join(f"{self.key(k)}: {self.flow(v)}" for k, v in value.items())
            return "{" + inner + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.flow(v) for v in value) + "]"
        return self.scalar(value, flow=True)

    def mapping(self, data: dict[str, Any], col: int, first: str | None = None) -> None:
        for index, (name, value) in enumerate(data.items()):
            if first is None or index:
                self.comment(col)
            head = (first if first is not None and not index else " " * col) + self.key(name) + ":"
            self.value(head, value, col)

    def value(self, head: str, value: Any, col: int) -> None:
        if isinstance(value, (dict, list)) and value and not self.chance(3):
            self.lines.append(head + self.tail())
            if isinstance(value, dict):
                self.mapping(value, col + self.indent)
            else:
                self.sequence(value, col + self.offset)
            return
        text = (
            self.flow(value)
            if isinstance(value, (dict, list))
            else self.scalar(value, flow=False, empty_ok=True)
        )
        self.lines.append(head + (" " + text if text else "") + self.tail())

    def sequence(self, items: list[Any], col: int) -> None:
        for item in items:
            self.comment(col)
            dash = " " * col + "- "
            if isinstance(item, dict) and item and not self.chance(3):
                self.mapping(item, col + 2, first=dash)
            elif isinstance(item, (dict, list)):
                self.lines.append(dash + self.flow(item) + self.tail())
            else:
                self.lines.append(dash + self.scalar(item, flow=False) + self.tail())


@st.composite
def manifests(draw: Any) -> tuple[dict[str, Any], str]:
    data = draw(MANIFESTS)
    writer = _Writer(draw)
    if draw(st.booleans()):
        writer.lines.append("# header")
    writer.mapping(data, 0)
    newline = "\r\n" if draw(st.integers(0, 4)) == 0 else "\n"
    end = "" if draw(st.integers(0, 4)) == 0 else newline
    return data, newline.join(writer.lines) + end


def _paths(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def edits_for(draw: Any, data: dict[str, Any]) -> list[Edit]:
    """1-3 edits on paths none of which is inside another: changes, deletes, new keys."""
    chosen: list[Edit] = []
    existing = _paths(data)
    containers = [()] + [p for p in existing if isinstance(_at(data, p), (dict, list))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "mutate", "delete", "add"]))
        if kind in ("set", "mutate", "delete") and existing:
            path = draw(st.sampled_from(existing))
            old = _at(data, path)
            if kind == "delete":
                if all(_apart(path, e.path) for e in chosen):
                    chosen.append(Edit(path, "delete"))
                continue
            value = draw(VALUES) if kind == "set" else draw(_mutated(old))
        else:
            parent = draw(st.sampled_from(containers))
            holder = _at(data, parent)
            key: str | int = len(holder) if isinstance(holder, list) else draw(KEYS)
            path, value = (*parent, key), draw(VALUES)
            if draw(st.booleans()) and isinstance(key, str):
                path = (*path, draw(KEYS))
        if all(_apart(path, e.path) for e in chosen):
            chosen.append(Edit(path, "set", value))
    return chosen


def _mutated(old: Any) -> Any:
    """A value near the old one: a list reordered, shortened or grown; a mapping with one key
    changed, dropped or added; a scalar replaced."""
    if isinstance(old, list) and old:
        return st.permutations(old).flatmap(
            lambda items: st.tuples(st.integers(0, len(items)), st.lists(SCALARS, max_size=2)).map(
                lambda cut: [*items[: cut[0]], *cut[1], *items[cut[0] + 1 :]]
            )
        )
    if isinstance(old, dict) and old:
        return st.tuples(
            st.sampled_from(sorted(old)), st.one_of(st.none(), VALUES), KEYS, VALUES
        ).map(
            lambda c: {
                **{k: v for k, v in old.items() if k != c[0] or c[1] is not None},
                **({c[0]: c[1]} if c[1] is not None else {}),
                c[2]: c[3],
            }
        )
    return VALUES


def _apart(a: tuple[str | int, ...], b: tuple[str | int, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] != b[:n]


def _apply_data(data: Any, path: tuple[str | int, ...], edit: Edit) -> Any:
    """The edit made on plain data (LookupError if its path cannot be there); a null or a
    missing key on the way becomes a mapping."""
    key, rest = path[0], path[1:]
    if isinstance(key, str):
        if data is None and edit.action == "set":
            data = {}
        if not isinstance(data, dict) or (edit.action == "delete" and key not in data):
            raise LookupError(key)
        result = dict(data)
        if rest:
            result[key] = _apply_data(data.get(key), rest, edit)
        elif edit.action == "delete":
            del result[key]
        else:
            result[key] = copy.deepcopy(edit.value)
        return result
    room = 1 if edit.action == "set" and not rest else 0
    if not isinstance(data, list) or not 0 <= key < len(data) + room:
        raise LookupError(key)
    items = list(data)
    if rest:
        items[key] = _apply_data(items[key], rest, edit)
    elif edit.action == "delete":
        del items[key]
    else:
        items[key : key + 1] = [copy.deepcopy(edit.value)]
    return items


def _typed(data: Any) -> str:
    """Data compared by JSON type and value, whatever the mappings' key order."""
    return json.dumps(data, sort_keys=True)


def _comment_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip().startswith("#")]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_edits_read_back_keep_comments_and_are_idempotent(drawn: st.DataObject) -> None:
    data, text = drawn.draw(manifests())
    assert _typed(read_back(text)) == _typed(data), text
    edits = drawn.draw(edits_for(data))
    expected: Any = data
    should_refuse: list[tuple[str | int, ...]] = []
    for one in edits:
        try:
            expected = _apply_data(expected, one.path, one)
        except LookupError:
            should_refuse.append(one.path)
    refused = refused_edits(text, edits, file="m.yaml")
    assert [r.path for r in refused] == should_refuse, [str(r) for r in refused]
    made = [e for e in edits if e.path not in should_refuse]
    new = apply_edits(text, made, file="m.yaml")
    assert _typed(read_back(new)) == _typed(expected), new
    kept = _comment_lines(new.replace("\r\n", "\n"))
    assert all(line in kept for line in _comment_lines(text.replace("\r\n", "\n"))), new
    if "\r\n" in text:
        assert new.count("\n") == new.count("\r\n"), new
    if new.split("\n")[-1:] == text.split("\n")[-1:]:
        assert new.endswith("\n") == text.endswith("\n"), new
    # Again, the same values change nothing (list deletes and appends move positions: not those).
    sets = [e for e in made if e.action == "set"]
    if not any((isinstance(e.path[-1], int) and e not in sets) or _appends(e, data) for e in made):
        assert apply_edits(new, sets, file="m.yaml") == new


def _appends(one: Edit, data: Any) -> bool:
    *parent, last = one.path
    try:
        holder = _at(data, tuple(parent))
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(holder, list) and last == len(holder)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_generated_scalar_change_touches_only_its_own_line(drawn: st.DataObject) -> None:
    data, text = drawn.draw(manifests())
    leaves = [p for p in _paths(data) if not isinstance(_at(data, p), (dict, list))]
    assume(leaves)
    path = drawn.draw(st.sampled_from(leaves))
    value = drawn.draw(SCALARS)
    old = _at(data, path)
    new = apply_edits(text, [Edit(path, "set", value)], file="m.yaml")
    if _typed(old) == _typed(value):
        assert new == text
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "m.yaml").write_text(text, "utf-8")
        doc, _ = load(Path(folder) / "m.yaml")
    assert doc is not None
    where = doc.keys if old is None and isinstance(path[-1], str) else doc.values
    before, after = text.split("\n"), new.split("\n")
    assert len(before) == len(after), (text, new)
    differ = [n + 1 for n, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert differ == [where[_dotted(path)].line], (text, new)


def _entry_lines(text: str, path: tuple[str | int, ...]) -> tuple[int, int, bool]:
    """(first, last) line of the entry at ``path`` (its key or "-" to the end of its value), or
    of the deepest entry that exists on the way, and whether the whole path exists."""
    tree = parse(text)
    node, first, last = tree.root, 1, len(text.split("\n"))
    for key in path:
        if node.kind == "map" and isinstance(key, str):
            found = [(k, v) for k, v in node.pairs if k.value == key]
            if not found:
                return first, last, False
            start, node = found[0][0].start, found[0][1]
        elif node.kind == "seq" and isinstance(key, int) and key < len(node.items):
            start = node.start if node.flow else node.dashes[key]
            node = node.items[key]
            start = node.start if node.flow else start
        else:
            return first, last, False
        first, last = tree.line_of(start), tree.line_of(max(end_of(text, node) - 1, start))
    return first, last, True


def _lines(text: str) -> list[str]:
    """The lines without their line breaks (only \\n and \\r\\n break a YAML line here)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _only_between(old: str, new: str, first: int, last: int) -> bool:
    """Whether every old line outside ``first``..``last`` is in the new text, in place: the new
    text is the lines before them, any new lines, then the lines after them."""
    a, b = _lines(old), _lines(new)
    before, after = a[: first - 1], a[last:]
    return (
        len(b) >= len(before) + len(after)
        and b[: len(before)] == before
        and b[len(b) - len(after) :] == after
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_generated_edit_changes_only_the_lines_of_its_value(drawn: st.DataObject) -> None:
    data, text = drawn.draw(manifests())
    edits = drawn.draw(edits_for(data))
    one = edits[0]
    assume(not refused_edits(text, [one], file="m.yaml"))
    new = apply_edits(text, [one], file="m.yaml")
    entry_first, entry_last, exists = _entry_lines(text, one.path)
    parent_first, parent_last, _ = _entry_lines(text, one.path[:-1])
    after = _apply_data(data, one.path, one)
    parent_after = _at(after, one.path[:-1]) if exists else None
    if exists and parent_after not in ({}, []):
        assert _only_between(text, new, entry_first, entry_last), (text, new)
    else:
        # A new key or entry (after the last, or in a flow or null value), or the last entry
        # gone ("{}" after the parent's key): within the parent.
        assert _only_between(text, new, parent_first, parent_last), (text, new)


_ANCHORS = """\
# shared values
defaults: &d {x: 1, z: [a, b]}
grants: &g
  - join-call  # all
  - read-call
use1: *d
use2:
  <<: *d
  # own z
  z: [c]
roles:
  host: *g
  user: [*g]
"""
_ANCHORED_DATA = {
    "defaults": {"x": 1, "z": ["a", "b"]},
    "grants": ["join-call", "read-call"],
    "use1": {"x": 1, "z": ["a", "b"]},
    "use2": {"z": ["c"], "x": 1},
    "roles": {"host": ["join-call", "read-call"], "user": [["join-call", "read-call"]]},
}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_edits_near_anchors_are_made_exactly_or_refused(drawn: st.DataObject) -> None:
    assert _typed(read_back(_ANCHORS)) == _typed(_ANCHORED_DATA)
    one = drawn.draw(edits_for(_ANCHORED_DATA))[0]
    try:
        expected = _apply_data(_ANCHORED_DATA, one.path, one)
    except LookupError:
        assert refused_edits(_ANCHORS, [one], file="m.yaml")
        return
    refused = refused_edits(_ANCHORS, [one], file="m.yaml")
    if refused:
        reason = refused[0].reason
        assert "anchor &" in reason or "merge" in reason, reason
        assert one.path[0] in ("defaults", "grants", "use2"), reason
        return
    new = apply_edits(_ANCHORS, [one], file="m.yaml")
    assert _typed(read_back(new)) == _typed(expected), new
    assert all(line in new.splitlines() for line in _comment_lines(_ANCHORS)), new
    assert "&d" in new and "&g" in new


def test_an_overlay_value_is_edited_in_the_overlay_file() -> None:
    path = REPO / "examples" / "multi-env" / "environments" / "production.yaml"
    text = path.read_text("utf-8")
    grants = ("overlay", "call_types", "shows", "grants", "moderator")
    new = edit(text, set_(*grants, value=["join-call", "read-call", "mute-users"]))
    line = "        moderator: [join-call, read-call, mute-users]\n"
    assert changed_lines(text, new) == ([15], [line])
    new = edit(text, set_("overlay", "call_types", "shows", "grants", "user", value=["join-call"]))
    assert changed_lines(text, new) == ([], ["        user: [join-call]\n"])


def test_edits_in_separate_places_are_made_together_like_one_at_a_time() -> None:
    text = "a: 1  # one\nb:\n  c: [x, y]\n  d: keep\ne: 'quoted'\n"
    edits = [
        Edit(("a",), "set", 2),
        Edit(("b", "c"), "set", ["x"]),
        Edit(("e",), "set", "new"),
        Edit(("b", "d"), "delete"),
    ]
    together = apply_edits(text, edits, file="m.yaml")
    one_by_one = text
    for edit in edits:
        one_by_one = apply_edits(one_by_one, [edit], file="m.yaml")
    assert together == one_by_one == "a: 2  # one\nb:\n  c: [x]\ne: 'new'\n"


def test_edits_that_build_on_each_other_still_apply_in_order() -> None:
    # The second edit writes into the mapping the first one creates.
    text = "call:\n  live: false\n"
    edits = [
        Edit(("call", "settings_override"), "set", {"limits": {}}),
        Edit(("call", "settings_override", "limits", "max"), "set", 5),
    ]
    written = apply_edits(text, edits, file="m.yaml")
    assert read_back(written) == {
        "call": {"live": False, "settings_override": {"limits": {"max": 5}}}
    }
