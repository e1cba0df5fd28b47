"""A property of ``stagecfg drift --write``: for generated manifests (call types with settings and
grants, users, calls; comments on many lines, some flow style, sometimes an environment overlay
and a typed variable) and generated live changes made through the sandbox's own API (as the
dashboard and product code would, never by editing files), ``drift --write`` then ``plan`` is
empty, but for a value that comes from the variable, and every comment line of the original
files is still there, in order.

Beside it, the report: every generated change is an entry at its field, naming the variable when
one gives the value. And a check of the generator itself: the manifests apply clean and every
change shows in plan. The manifests and changes come from tests/drift_generators.py.

The backend is the local sandbox in-process, one fresh file per example, so the test stays fast
(100 examples each, 200 for --write: about 12 s here).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import tempfile
from pathlib import Path

import yaml
from drift_generators import (
    Project,
    Writer,
    comment_lines,
    expected_item,
    is_subsequence,
    left_after_write,
    live_changes,
    make_change,
    projects,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stagecfg.cli import main
from stagecfg.sandbox import Engine

# --- the run -----------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
    return (
        int(code or 0) if isinstance(code, (int, type(None))) else 1,
        out.getvalue(),
        err.getvalue(),
    )


def planned_fields(root: Path, sandbox: Path, env: str | None) -> set[str]:
    env_args = ("--env", env) if env else ()
    code, out, err = run(
        "plan", str(root / "m"), *env_args, "--backend", "local", "--sandbox", str(sandbox),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    return {
        f"{change['kind']} {change['name']} {item['path']}"
        for change in json.loads(out)["changes"]
        for item in change["fields"]
    }


def set_up(root: Path, project: Project, seed: int) -> tuple[Path, dict[str, str]]:
    writer = Writer(random.Random(seed))
    texts: dict[str, str] = {}
    for name, document in project.files.items():
        text = writer.document(document)
        assert yaml.safe_load(text) == document, text  # the writer is right
        path = root / "m" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        texts[name] = text
    sandbox = root / "sandbox.db"
    env_args = ("--env", project.env) if project.env else ()
    code, out, err = run(
        "apply", str(root / "m"), *env_args, "--backend", "local", "--sandbox", str(sandbox),
        "--auto-approve",
    )  # fmt: skip
    assert code == 0, out + err
    assert planned_fields(root, sandbox, project.env) == set()
    return sandbox, texts


PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(data=st.data(), project=projects(), seed=st.integers(0, 2**32))
def test_generated_live_changes_show_in_plan(
    data: st.DataObject, project: Project, seed: int
) -> None:
    """The generator's own check: the manifests apply clean and every change shows in plan."""
    changes = data.draw(live_changes(project))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox, _ = set_up(root, project, seed)
        engine = Engine(sandbox)
        for change in changes:
            make_change(engine, change)
        engine.close()
        assert planned_fields(root, sandbox, project.env), changes


@PROPERTY
@given(data=st.data(), project=projects(), seed=st.integers(0, 2**32))
def test_drift_reports_every_generated_change(
    data: st.DataObject, project: Project, seed: int
) -> None:
    changes = data.draw(live_changes(project))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox, _ = set_up(root, project, seed)
        engine = Engine(sandbox)
        for change in changes:
            make_change(engine, change)
        engine.close()
        env_args = ("--env", project.env) if project.env else ()
        backend = ("--backend", "local", "--sandbox", str(sandbox))
        code, out, err = run("drift", str(root / "m"), *env_args, *backend, "--format", "json")
        assert code == 0, err
        items = {(i["kind"], i["name"], i["path"]): i for i in json.loads(out)["drift"]}
        for change in changes:
            item = items.get(expected_item(change))
            assert item is not None, (change, sorted(items))
            assert item["status"] == "changed" and item["manifest"] != item["live"], item
            assert item["variable"] == ("cap" if left_after_write(project, [change]) else None)
        code, out, err = run("drift", str(root / "m"), *env_args, *backend, "--detailed-exitcode")
        assert code == 2, out + err


@settings(PROPERTY, max_examples=200)
@given(data=st.data(), project=projects(), seed=st.integers(0, 2**32))
def test_drift_write_then_plan_is_empty_and_comments_stay(
    data: st.DataObject, project: Project, seed: int
) -> None:
    changes = data.draw(live_changes(project))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox, texts = set_up(root, project, seed)
        engine = Engine(sandbox)
        for change in changes:
            make_change(engine, change)
        engine.close()
        env_args = ("--env", project.env) if project.env else ()
        backend = ("--backend", "local", "--sandbox", str(sandbox))
        code, out, err = run("drift", str(root / "m"), *env_args, *backend, "--write")
        assert code == 0 and "Traceback" not in err, out + err
        left = left_after_write(project, changes)
        event("with an environment overlay" if project.env else "base files only")
        event("a variable-backed change left" if left else "every change adoptable")
        assert planned_fields(root, sandbox, project.env) == left, (changes, out, err)
        for name, text in texts.items():
            now = (root / "m" / name).read_text("utf-8")
            assert is_subsequence(comment_lines(text), comment_lines(now)), (name, text, now)
        code, out, err = run("drift", str(root / "m"), *env_args, *backend, "--detailed-exitcode")
        assert code == (2 if left else 0), out + err
