"""manifest.overlays: the merge rules, and every value keeping the location that set it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagecfg.errors import Location, ManifestError
from stagecfg.manifest import Selection, apply_overlays, load, merge
from stagecfg.model import ActualState
from stagecfg.plan import make_plan
from stagecfg.validation import load_desired, validate

BASE = """\
version: 1
users:
  alice: {role: user, name: Alice, custom: {team: blue, badge: gold}}
call_types:
  shows:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 120}
      recording: {mode: available, quality: 1080p}
      broadcasting: {enabled: true, hls: {quality_tracks: [720p, 1080p]}}
    grants:
      host: [join-backstage, join-call, read-call]
      user: [join-call, read-call]
calls:
  shows:keynote:
    created_by_id: alice
    members: {alice: host}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def prod(overlay: str) -> dict[str, str]:
    return {"base.yaml": BASE, "prod.yaml": "version: 1\nenvironment: production\n" + overlay}


def desired(root: Path, environment: str | None = "production") -> Any:
    state, warnings = load_desired(
        [str(root)], env={}, selection=Selection(environment=environment)
    )
    assert warnings == []
    return state


def problems(root: Path, environment: str | None = "production") -> list[str]:
    result = validate([str(root)], env={}, selection=Selection(environment=environment))
    return [p.render() for p in result.problems]


OVERLAY = """\
overlay:
  call_types:
    shows:
      settings:
        backstage: {join_ahead_time_seconds: 600}
        broadcasting: {hls: {quality_tracks: [1080p]}}
        recording: null
      grants:
        host: [join-call]
        moderator: [join-backstage, mute-users]
  users:
    alice: {custom: {badge: null, level: 3}}
"""


def test_maps_merge_lists_replace_and_null_removes(tmp_path: Path) -> None:
    shows = desired(write(tmp_path, prod(OVERLAY))).call_types["shows"]
    assert shows.settings == {
        "backstage": {"enabled": True, "join_ahead_time_seconds": 600},  # merged key by key
        "broadcasting": {"enabled": True, "hls": {"quality_tracks": ["1080p"]}},  # replaced
    }  # recording removed: no longer managed
    assert shows.grants == {
        "host": ["join-call"],  # a grant list is the role's complete list
        "user": ["join-call", "read-call"],
        "moderator": ["join-backstage", "mute-users"],
    }
    alice = desired(tmp_path).users["alice"]
    assert alice.custom == {"team": "blue", "level": 3} and alice.name == "Alice"


def test_the_base_is_unchanged_in_the_other_environment(tmp_path: Path) -> None:
    files = prod(OVERLAY) | {"staging.yaml": "version: 1\nenvironment: staging\n"}
    write(tmp_path, files)
    production, staging = desired(tmp_path), desired(tmp_path, "staging")
    assert "recording" in staging.call_types["shows"].settings
    assert "recording" not in production.call_types["shows"].settings
    assert staging.call_types["shows"].grants["host"] == [
        "join-backstage",
        "join-call",
        "read-call",
    ]


def test_null_for_a_whole_entry_removes_the_object(tmp_path: Path) -> None:
    state = desired(write(tmp_path, prod("overlay:\n  calls:\n    shows:keynote: null\n")))
    assert state.calls == {}
    assert set(state.call_types) == {"shows"}


def test_a_patch_of_an_undeclared_object_is_an_error_at_the_overlay(tmp_path: Path) -> None:
    write(tmp_path, prod("overlay:\n  call_types:\n    show:\n      grants: {user: []}\n"))
    (problem,) = problems(tmp_path)
    assert problem == (
        f"{tmp_path / 'prod.yaml'}:5:5: $.overlay.call_types.show: the overlay patches call type "
        "'show', which no loaded file declares (did you mean 'shows'?)"
    )
    with pytest.raises(ManifestError):
        desired(tmp_path)


def test_an_object_of_another_environment_is_not_declared(tmp_path: Path) -> None:
    files = prod("overlay:\n  calls:\n    shows:extra: {live: false}\n")
    files["staging.yaml"] = (
        "version: 1\nenvironment: staging\ncalls:\n  shows:extra: {created_by_id: alice}\n"
    )
    write(tmp_path, files)
    assert any("patches call 'shows:extra'" in p for p in problems(tmp_path))
    assert problems(tmp_path, "staging") == []


def test_an_overlay_may_patch_an_object_its_environment_declares(tmp_path: Path) -> None:
    files = prod("overlay:\n  calls:\n    shows:extra: {live: false}\n")
    files["prod-calls.yaml"] = (
        "version: 1\nenvironment: production\ncalls:\n  shows:extra: {created_by_id: alice}\n"
    )
    state = desired(write(tmp_path, files))
    assert state.calls["shows:extra"].live is False


def test_null_on_a_key_nothing_declares_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path, prod("overlay:\n  users:\n    alice: {custom: {badg: null}}\n"))
    (problem,) = problems(tmp_path)
    assert "$.overlay.users.alice.custom.badg: 'badg: null' removes nothing" in problem
    assert "(did you mean 'badge'?)" in problem


def test_an_unknown_key_removed_with_null_is_said_once(tmp_path: Path) -> None:
    write(tmp_path, prod("overlay:\n  call_types:\n    shows: {settings: {recordng: null}}\n"))
    (problem,) = problems(tmp_path)
    assert "unknown key 'recordng' (did you mean 'recording'?)" in problem


def test_overlays_of_base_files_apply_everywhere_and_first(tmp_path: Path) -> None:
    # No environments at all: an overlay in a base file patches the other base file.
    write(tmp_path / "plain", {"a.yaml": BASE, "b.yaml": "version: 1\n" + OVERLAY})
    plain = desired(tmp_path / "plain", None)
    assert plain.call_types["shows"].grants["host"] == ["join-call"]
    # With environments: the base's overlay first, then the environment's, which wins.
    files = {
        "a.yaml": BASE,
        "z-shared.yaml": "version: 1\noverlay:\n  users:\n    alice: {name: Shared, role: admin}\n",
        "prod.yaml": "version: 1\nenvironment: production\n"
        "overlay:\n  users:\n    alice: {name: Production}\n",
    }
    state = desired(write(tmp_path / "envs", files))
    assert (state.users["alice"].name, state.users["alice"].role) == ("Production", "admin")


# --- locations -----------------------------------------------------------------------------------


def _composed(root: Path) -> Any:
    result = validate([str(root)], env={}, selection=Selection(environment="production"))
    assert result.problems == []
    (composition,) = result.compositions
    return composition.merged


def test_every_path_an_overlay_sets_points_at_the_overlay(tmp_path: Path) -> None:
    merged = _composed(write(tmp_path, prod(OVERLAY)))
    overlay, base = str(tmp_path / "prod.yaml"), str(tmp_path / "base.yaml")
    at = "$.call_types.shows.settings"
    assert merged.locate(f"{at}.backstage.join_ahead_time_seconds") == Location(overlay, 7, 21)
    assert merged.locate(f"{at}.backstage.enabled") == Location(base, 7, 19)  # kept from the base
    assert merged.locate(f"{at}.broadcasting.hls.quality_tracks[0]", value=True) == Location(
        overlay, 8, 47
    )
    # The replaced list's second item is gone: its base location is dropped with it.
    assert f"{at}.broadcasting.hls.quality_tracks[1]" not in merged.values
    assert not any(path.startswith(f"{at}.recording") for path in merged.keys)
    assert merged.removed[f"{at}.recording"] == Location(overlay, 9, 20)
    assert merged.locate("$.call_types.shows.grants.moderator") == Location(overlay, 12, 9)


def test_a_plan_line_names_the_overlay_that_set_the_value(tmp_path: Path) -> None:
    state = desired(write(tmp_path, prod(OVERLAY)))
    plan = make_plan(state, ActualState())
    (shows,) = [c for c in plan.changes if c.name == "shows"]
    where = {f.path: f.location for f in shows.fields}
    overlay = str(tmp_path / "prod.yaml")
    assert where["settings.backstage.join_ahead_time_seconds"] == Location(overlay, 7, 21)
    assert where["settings.broadcasting.hls.quality_tracks"] == Location(overlay, 8, 30)
    assert where["grants.moderator"] == Location(overlay, 12, 9)
    assert where["settings.backstage.enabled"] is None  # the base set it: the change's location
    assert shows.location == Location(str(tmp_path / "base.yaml"), 5, 3)
    assert plan.environment == "production"


def test_check_and_schema_errors_about_an_overlay_value_point_at_the_overlay(
    tmp_path: Path,
) -> None:
    overlay = """\
overlay:
  call_types:
    shows:
      settings:
        backstage: {join_ahead_time_seconds: -5}
        recording: {mode: null}
        broadcasting: {enabled: "yes please"}
      grants: {host: [join-call, start-record-call]}
"""
    write(tmp_path, prod(overlay))
    here = str(tmp_path / "prod.yaml")
    assert problems(tmp_path) == [
        f"{here}:7:21: $.call_types.shows.settings.backstage.join_ahead_time_seconds: "
        "join_ahead_time_seconds is negative (-5) (use 0 or more)",
        f"{here}:8:27: $.call_types.shows.settings.recording: missing required key 'mode' "
        "(an overlay removed it) (set it instead of null)",
        f"{here}:9:33: $.overlay.call_types.shows.settings.broadcasting.enabled: expected a "
        "boolean (true or false), found a string 'yes please'",
        f"{here}:10:34: $.call_types.shows.grants.host[1]: unknown permission id "
        "'start-record-call' (did you mean 'start-recording'? ('start-record-call' is the "
        "capability name))",
    ]


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("overlay: [1]\n", "$.overlay: expected a mapping, found a list"),
        ("overlay:\n  callz: {}\n", "$.overlay.callz: unknown key 'callz' (did you mean 'calls'?)"),
        (
            "overlay:\n  users:\n    alice: 5\n",
            "$.overlay.users.alice: expected a mapping, found an integer 5",
        ),
        (
            "overlay:\n  users:\n    alice: {teams: web}\n",
            "$.overlay.users.alice.teams: expected a list, found a string 'web'",
        ),
        (
            "overlay:\n  calls:\n    shows:keynote: {members: [alice]}\n",
            "$.overlay.calls['shows:keynote'].members: expected a mapping, found a list",
        ),
    ],
)
def test_hostile_overlays_are_located_errors(tmp_path: Path, overlay: str, expected: str) -> None:
    write(tmp_path, prod(overlay))
    found = problems(tmp_path)
    assert len(found) == 1 and expected in found[0], found


# --- the merge rules, for any data -------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "c", "d"])
_LEAVES = st.one_of(st.integers(-5, 5), st.text("xy", max_size=2), st.booleans())
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=8,
)
_PATCHES = st.recursive(
    st.one_of(_LEAVES, st.none()),
    lambda inner: st.one_of(
        st.lists(_LEAVES, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


def _reference(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The rules as README states them: maps merge, anything else replaces, null removes."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _reference(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _paths(value: Any, path: str) -> set[str]:
    found = {path}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= _paths(item, f"{path}[{index}]")
    return found


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.dictionaries(_KEYS, _VALUES, max_size=4),
    patch=st.dictionaries(_KEYS, _PATCHES, max_size=4),
)
def test_merge_rules_and_locations_hold_for_any_data(
    tmp_path: Path, base: dict[str, Any], patch: dict[str, Any]
) -> None:
    # JSON is YAML: the loader gives every path of both files a location.
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(json.dumps({"version": 1, "users": {"u": {"custom": base}}}), "utf-8")
    b.write_text(
        json.dumps({"version": 1, "overlay": {"users": {"u": {"custom": patch}}}}), "utf-8"
    )
    docs = [load(a)[0], load(b)[0]]
    assert all(doc is not None for doc in docs)
    merged, _ = merge(docs)  # type: ignore[arg-type]
    patched, _ = apply_overlays(merged, docs)  # type: ignore[arg-type]
    result = merged.data["users"]["u"]["custom"]
    assert result == _reference(base, patch)
    assert docs[0].data["users"]["u"]["custom"] == base  # the base file's data is untouched
    # Every path of the result is located; none outside it is; what the overlay set is located
    # in the overlay, and the rest in the base.
    root = "$.users.u.custom"
    expected = _paths(result, root)
    located = {p for p in merged.values if p == root or p.startswith((root + ".", root + "["))}
    assert located == expected
    for path in expected - {root}:
        where = merged.values[path]
        set_by_overlay = _set_by(patch, base, path.removeprefix(root))
        assert where.file == str(b if set_by_overlay else a), path
    assert patched.objects == {("users", "u")}


def _set_by(patch: Any, base: Any, rest: str) -> bool:
    """Whether the overlay set the value at ``rest`` (a path below custom)."""
    if not rest:
        return not (isinstance(patch, dict) and isinstance(base, dict))
    if not isinstance(patch, dict) or not rest.startswith("."):
        return True  # inside a value the overlay replaced
    key, _, tail = rest[1:].partition(".")
    key, bracket, index = key.partition("[")
    tail = (f"[{index}" + ("." + tail if tail else "")) if bracket else ("." + tail if tail else "")
    if key not in patch:
        return False
    inner_base = base.get(key) if isinstance(base, dict) else None
    return _set_by(patch[key], inner_base, tail)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text("ab$", max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text("abz", max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
_AIMED = st.fixed_dictionaries(
    {},
    optional={
        "call_types": st.dictionaries(st.sampled_from(["shows", "show"]), _JSON, max_size=2),
        "users": st.dictionaries(st.sampled_from(["alice", "bob"]), _JSON, max_size=2),
        "calls": st.dictionaries(st.sampled_from(["shows:keynote", "x"]), _JSON, max_size=2),
    },
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    environment=st.one_of(st.sampled_from(["production", "staging"]), _JSON),
    overlay=st.one_of(_AIMED, _JSON),
    values=_JSON,
    variables=_JSON,
)
def test_random_overlays_values_and_variables_never_crash(
    tmp_path: Path, environment: Any, overlay: Any, values: Any, variables: Any
) -> None:
    document = {"version": 1, "environment": environment, "overlay": overlay, "values": values}
    write(
        tmp_path,
        {
            "base.yaml": BASE + f"variables: {json.dumps(variables)}\n",
            "env.yaml": json.dumps(document),
        },
    )
    result = validate([str(tmp_path)], env={})
    for problem in result.problems:
        assert problem.location is not None and problem.location.line >= 1, problem
        assert "\n" not in problem.render()
