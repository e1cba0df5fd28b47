"""The exported YAML text: loaded by stagecfg it is the exported data again, whatever text the
backend held (YAML 1.1 booleans, YAML 1.2 numbers, ``${``), and its key order is fixed."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagecfg.export import dump_manifest
from stagecfg.validation import load_desired

# Text a product may store: printable, with the characters YAML and variables give meaning to.
TEXT = st.text(alphabet=string.printable.replace("\x0b", "").replace("\x0c", ""), max_size=12)
TRAPS = st.sampled_from(
    [
        "y",
        "N",
        "yes",
        "Off",
        "on",
        "~",
        "null",
        "1e3",
        "0o17",
        "0x1F",
        ".5",
        "-.inf",
        ".NaN",
        "true",
        "12:30",
        "2020-01-01",
        "${HOME}",
        "$${x}",
        "$",
        "<<",
        "- a",
        "#",
        "'",
        '"',
        "",
    ]
)
SCALARS = st.one_of(
    TEXT,
    TRAPS,
    st.integers(-(2**53), 2**53),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
JSON: Any = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.one_of(TEXT, TRAPS).filter(bool), inner, max_size=3)
    ),
    max_leaves=8,
)


def load(text: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exported.yaml"
        path.write_text(text, "utf-8")
        desired, _ = load_desired([str(path)], env={})
    return desired


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(custom=st.dictionaries(st.one_of(TEXT, TRAPS).filter(bool), JSON, max_size=4), name=TRAPS)
def test_any_custom_data_and_user_text_load_back_as_exported(custom: Any, name: str) -> None:
    manifest = {
        "version": 1,
        "users": {"u": {"role": "user", "name": name or "x", "custom": custom}},
        "calls": {"default:c": {"created_by_id": "u", "custom": custom, "live": True}},
    }
    desired = load(dump_manifest(manifest))
    assert desired.calls["default:c"].custom == custom
    assert desired.users["u"].custom == custom
    assert desired.users["u"].name == (name or "x")


def test_keys_are_sorted_and_a_modeline_comes_first() -> None:
    text = dump_manifest({"version": 1, "calls": {"b:b": {"live": True}, "a:a": {"live": False}}})
    assert text.splitlines()[0] == "# yaml-language-server: $schema=stagecfg.schema.json"
    assert text.index("a:a") < text.index("b:b")
    assert "'n': 'y'" in dump_manifest({"n": "y"})
    assert "v: $${HOME}" in dump_manifest({"v": "${HOME}"})
