"""Property-based tests: whatever the manifests hold, stagecfg answers with exit 0 or 1 and
located problems, never a traceback; and whatever the backend holds, one apply of a plan
converges (a re-plan is empty).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stagecfg import validation
from stagecfg.cli import main

PROBLEM_LINE = re.compile(r"^.+:\d+:\d+: \$.*: .+$")
SUMMARY_LINE = re.compile(r"^invalid: \d+ errors?, \d+ warnings?")

VALID_MANIFEST: dict[str, Any] = {
    "version": 1,
    "project": "props",
    "users": {"host-1": {"role": "user", "name": "Host"}},
    "call_types": {
        "show": {
            "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}},
            "grants": {"user": ["join-call", "read-call"]},
        }
    },
    "calls": {
        "show:ep-1": {
            "created_by_id": "host-1",
            "starts_at": "2031-01-01T18:00:00Z",
            "custom": {"title": "Episode 1"},
            "members": {"host-1": "host"},
        }
    },
}

weird_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "${",
            "${HOME}",
            "${UNSET_VAR_X}",
            "$${x}",
            "${a:-b}",
            "\x00",
            "\x1b[31m",
            "\u202e",
            "\ufeff",
            "é",
            "日本",
            "yes",
            "on",
            "n",
            "~",
            "null",
            "0o17",
            "0x1f",
            ".inf",
            ".nan",
            "1e999",
            "2031-01-01",
            "2031-13-45T99:99:99Z",
            "*alias",
            "&anchor",
            "!!python/object:os.system",
            "a\nb",
            "'",
            '"',
            "-",
            "? x",
            ": ",
            "#",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    weird_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(weird_text, children, max_size=4),
    ),
    max_leaves=20,
)


def _run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


def _check_validate(text: str) -> None:
    """Validate ``text`` as a manifest file, in-process, and check the promises."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = validation.validate([str(path)], env=dict(os.environ))
        for problem in result.problems:
            assert problem.location is not None, problem
            assert problem.location.line >= 1, problem
            assert problem.path.startswith("$"), problem
            assert "\n" not in problem.render(), problem
        code, out, err = _run_cli("validate", str(path))
    assert code in (0, 1), (code, err)
    assert "Traceback" not in err + out
    assert "Internal error" not in err
    if code == 1:
        lines = [line for line in err.splitlines() if line]
        assert lines, "exit 1 without a message"
        assert SUMMARY_LINE.match(lines[-1]), lines[-1]
        for line in lines[:-1]:
            assert PROBLEM_LINE.match(line), line
            assert line.startswith(str(path)) or line.startswith("m.yaml"), line
    else:
        assert result.valid()


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.timeout(120)
@PROPERTY_SETTINGS
@given(data=json_values)
def test_random_documents_never_crash_the_validator(data: Any) -> None:
    _check_validate(_dump(data))


@pytest.mark.timeout(120)
@PROPERTY_SETTINGS
@given(extra=st.dictionaries(weird_text, json_values, max_size=3))
def test_random_top_level_keys_are_located(extra: dict[str, Any]) -> None:
    doc = dict(VALID_MANIFEST)
    doc.update(extra)
    _check_validate(_dump(doc))


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _set(copy[head], rest, value)
    return copy


mutations = st.sampled_from(["replace", "add_key", "delete", "bad_enum"])


@pytest.mark.timeout(120)
@PROPERTY_SETTINGS
@given(
    target=st.sampled_from(_paths(VALID_MANIFEST)[1:]),
    how=mutations,
    value=json_values,
    key=weird_text,
)
def test_mutated_valid_manifest_is_valid_or_located(
    target: tuple[Any, ...], how: str, value: Any, key: str
) -> None:
    doc: Any = json.loads(json.dumps(VALID_MANIFEST))
    if how == "replace":
        doc = _set(doc, target, value)
    elif how == "bad_enum":
        doc = _set(doc, target, "not-a-valid-choice-é")
    elif how == "delete":
        parent_path, last = target[:-1], target[-1]
        parent = doc
        for part in parent_path:
            parent = parent[part]
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    else:
        parent = doc
        for part in target:
            parent = parent[part]
        assume(isinstance(parent, dict))
        parent[key] = value
    _check_validate(_dump(doc))


@pytest.mark.timeout(120)
@PROPERTY_SETTINGS
@given(
    position=st.integers(min_value=0, max_value=10_000),
    fragment=st.one_of(
        weird_text,
        st.sampled_from(["\t", ": :", "- - -", "{", "]", "&a", "*a", "<<: *a", "!!binary", "%"]),
    ),
)
def test_text_splices_never_crash(position: int, fragment: str) -> None:
    text = _dump(VALID_MANIFEST)
    at = position % (len(text) + 1)
    _check_validate(text[:at] + fragment + text[at:])


def test_valid_manifest_is_valid() -> None:
    # The mutation tests start from this document; it must itself be clean.
    _check_validate(_dump(VALID_MANIFEST))
    code, out, _err = _run_cli("schema")
    assert code == 0 and json.loads(out)


# --- the planner: generated desired x actual states converge in one apply ------------------------

PERMISSIONS = ["join-call", "read-call", "send-audio", "send-video", "join-backstage"]
TYPE_NAMES = ["prop_a", "prop_b", "livestream"]
USER_IDS = ["u1", "u2", "u3"]
TIMES = ["2031-01-01T18:00:00Z", "2031-01-01T19:00:00+01:00", "2032-06-30T23:59:59.5Z"]

call_type_specs = st.fixed_dictionaries(
    {},
    optional={
        "settings": st.fixed_dictionaries(
            {},
            optional={
                "backstage": st.fixed_dictionaries(
                    {"enabled": st.booleans()},
                    optional={"join_ahead_time_seconds": st.sampled_from([0, 60, 300])},
                ),
                "limits": st.fixed_dictionaries(
                    {"max_participants": st.sampled_from([10, 100, 1000])}
                ),
            },
        ),
        "grants": st.dictionaries(
            st.sampled_from(["user", "host", "admin"]),
            st.lists(st.sampled_from(PERMISSIONS), unique=True, max_size=3),
            max_size=2,
        ),
    },
)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(st.dictionaries(st.sampled_from(TYPE_NAMES), call_type_specs, max_size=3))
    users = draw(
        st.dictionaries(
            st.sampled_from(USER_IDS),
            st.fixed_dictionaries(
                {"role": st.just("user")}, optional={"name": st.sampled_from(["A", "Bé", "日"])}
            ),
            min_size=1,
            max_size=3,
        )
    )
    call_types_for_calls = sorted(set(types) | {"default"})
    cids = draw(
        st.lists(
            st.tuples(st.sampled_from(call_types_for_calls), st.sampled_from(["c1", "c2", "c3"])),
            unique=True,
            max_size=4,
        )
    )
    calls: dict[str, Any] = {}
    for call_type, call_id in cids:
        spec: dict[str, Any] = {"created_by_id": sorted(users)[0]}
        spec.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "starts_at": st.sampled_from(TIMES),
                        "custom": st.dictionaries(
                            st.sampled_from(["title", "num"]),
                            st.one_of(st.integers(-5, 5), st.sampled_from(["x", "é"])),
                            max_size=2,
                        ),
                        "members": st.dictionaries(
                            st.sampled_from(sorted(users)),
                            st.sampled_from(["host", "user"]),
                            max_size=2,
                        ),
                        "settings_override": st.fixed_dictionaries(
                            {"backstage": st.fixed_dictionaries({"enabled": st.booleans()})}
                        ),
                    },
                )
            )
        )
        calls[f"{call_type}:{call_id}"] = spec
    doc: dict[str, Any] = {"version": 1, "project": "props", "users": users}
    if types:
        doc["call_types"] = types
    if calls:
        doc["calls"] = calls
    return doc


def _desired(doc: dict[str, Any], directory: Path) -> Any:
    path = directory / "m.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    result = validation.validate([str(path)], env={})
    assert not result.errors, [p.render() for p in result.errors]
    return validation.build_desired(result.merged)


def _converge(backend: Any, desired: Any) -> Any:
    from stagecfg.apply import execute, read_state
    from stagecfg.plan import make_plan

    plan = make_plan(desired, read_state(backend, desired), project=desired.project)
    report = execute(plan, backend, parallelism=2)
    assert report.ok, report.render()
    return make_plan(desired, read_state(backend, desired), project=desired.project)


def _assert_subset(declared: Any, actual: Any, where: str) -> None:
    if isinstance(declared, dict):
        assert isinstance(actual, dict), where
        for key, value in declared.items():
            assert key in actual, f"{where}.{key} missing"
            _assert_subset(value, actual[key], f"{where}.{key}")
    else:
        assert declared == actual, f"{where}: {declared!r} != {actual!r}"


def _assert_backend_matches(doc: dict[str, Any], backend: Any) -> None:
    """An independent check (not the planner's) that every declared value is on the backend."""
    from stagecfg.timestamps import same_instant

    actual = backend.read(cids=sorted(doc.get("calls", {})), users=sorted(doc["users"]))
    for name, spec in doc.get("call_types", {}).items():
        state = actual.call_types[name]
        _assert_subset(spec.get("settings", {}), state.settings, f"{name}.settings")
        for role, perms in spec.get("grants", {}).items():
            assert sorted(state.grants.get(role, [])) == sorted(perms), (name, role)
    for cid, spec in doc.get("calls", {}).items():
        call = actual.calls[cid]
        _assert_subset(spec.get("custom", {}), call.custom, f"{cid}.custom")
        if "starts_at" in spec:
            assert same_instant(call.starts_at, spec["starts_at"]), cid
        assert dict(call.members).items() >= spec.get("members", {}).items(), cid
    for user_id, spec in doc["users"].items():
        assert actual.users[user_id].role == spec["role"], user_id
        if "name" in spec:
            assert actual.users[user_id].name == spec["name"], user_id


@pytest.mark.timeout(180)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=manifests(), after=manifests())
def test_one_apply_converges_from_any_prior_state(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    from stagecfg.backends.local import open_backend

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        backend = open_backend(sandbox_path=str(directory / "s.db"))
        try:
            # The prior state is whatever another manifest left behind.
            assert _converge(backend, _desired(before, directory)).empty
            replan = _converge(backend, _desired(after, directory))
            assert replan.empty, [(c.kind, c.name, c.action, c.fields) for c in replan.changes]
            _assert_backend_matches(after, backend)
        finally:
            backend.close()
