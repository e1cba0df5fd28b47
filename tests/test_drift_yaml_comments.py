"""The writer never drops a comment inside a flow collection written over several lines: the
edit is refused, naming the comment; block entries still go with their own inline comment."""

from __future__ import annotations

import pytest

from stagecfg.drift.edits import Edit, EditRefused, apply_edits, refused_edits
from stagecfg.drift.yaml_comments import comments

MULTILINE_FLOW = """\
grants:
  host: [join-call,   # hosts join first
         read-call]
  user: [join-call]  # viewers
"""


def test_an_edit_that_would_drop_a_comment_inside_a_multiline_flow_list_is_refused() -> None:
    edit = Edit(("grants", "host"), "set", ["join-call"])
    with pytest.raises(EditRefused) as info:
        apply_edits(MULTILINE_FLOW, [edit], file="m.yaml")
    assert "it would lose the comment '# hosts join first'" in str(info.value)
    assert str(info.value).startswith("m.yaml:2:")
    assert [r.path for r in refused_edits(MULTILINE_FLOW, [edit], file="m.yaml")] == [
        ("grants", "host")
    ]


def test_the_other_values_of_that_file_are_still_edited() -> None:
    edit = Edit(("grants", "user"), "set", ["join-call", "read-call"])
    written = apply_edits(MULTILINE_FLOW, [edit], file="m.yaml")
    assert written == MULTILINE_FLOW.replace(
        "user: [join-call]  # viewers", "user: [join-call, read-call]  # viewers"
    )


def test_a_block_entry_still_goes_with_its_own_inline_comment() -> None:
    text = "host:\n  - join-call  # first\n  - send-event  # to go\n  - read-call\n"
    written = apply_edits(text, [Edit(("host",), "set", ["join-call", "read-call"])], file="m")
    assert written == "host:\n  - join-call  # first\n  - read-call\n"


def test_comments_are_found_outside_scalars_only() -> None:
    text = 'a: "x # not a comment"  # real\nb: |\n  # text of b\nc: d#e # end\n# full line\n'
    assert comments(text) == [(1, "# real"), (4, "# end"), (5, "# full line")]
