"""Golden files for ``stagecfg drift --write``: a live change made with Stream's Python SDK
against the emulator, and the manifest files a reviewer expects afterwards, byte for byte.

Each folder under ``tests/drift_golden/`` is one case:

* ``before/``: the manifests (one or more YAML files) as the team committed them;
* ``after/``: every file that ``drift --write`` must change, as it must read afterwards, written
  by hand. A file of ``before/`` missing from ``after/`` must come out unchanged, and a file only
  in ``after/`` must be created;
* ``change.py``: ``change(client)``, the live change (the dashboard or the product code), and
  what the case expects around it (see :class:`Case`).

The flow of a case: ``apply`` the manifests to a fresh emulator, make the change through the SDK,
see ``plan`` report it, run ``drift --write``, compare the files with ``after/``, then ``plan``
must be empty (but for a value that comes from a variable, which drift reports instead of
writing) and ``drift --detailed-exitcode`` must exit 0 (2 when such a value is left).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from getstream import Stream

from stagecfg.cli import main
from stagecfg.emulator.server import EmulatorHandle

CASES_DIR = Path(__file__).parent / "drift_golden"
CASE_NAMES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "change.py").is_file())


@dataclass(frozen=True)
class Case:
    """One golden case, read from its folder and its ``change.py``.

    ``change.py`` defines ``change(client: Stream) -> None`` and, where it needs them:
    ``ENV`` (the ``--env``), ``DRIFT_ARGS`` (more ``drift`` flags, e.g. ``--only``),
    ``PLANNED`` (``"kind name path"`` of the fields ``plan`` must show after the change),
    ``REPORTED`` (text the drift output must hold, e.g. the variable to change),
    ``LEFT`` (``"kind name path"`` that ``plan`` still shows after ``--write``: left on purpose),
    ``DRY_RUN`` (True: ``--dry-run``, the files stay as they were and the diff is printed),
    ``JSON_ITEMS`` (entries the ``--format json`` report must hold before ``--write``, each
    given by some of its keys),
    ``ONLY_REPORT`` (with ``DRIFT_ARGS`` of ``--only``: the report's entries, one by one, each
    given by some of its keys),
    ``ENVIRON`` (process environment variables the manifests read, ``${NAME}``),
    ``XFAIL`` (the reason, when the implementation is known to get ``--write`` wrong here),
    ``XFAIL_REPORT`` (the same for the report before ``--write``).
    """

    name: str
    folder: Path
    change: Callable[[Stream], None]
    env: str | None
    drift_args: tuple[str, ...]
    planned: frozenset[str]
    reported: tuple[str, ...]
    left: frozenset[str]
    dry_run: bool
    json_items: tuple[dict[str, object], ...]
    only_report: tuple[dict[str, object], ...]
    environ: dict[str, str]
    xfail: str | None
    xfail_report: str | None

    @property
    def env_args(self) -> tuple[str, ...]:
        return ("--env", self.env) if self.env else ()


def _load_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"drift_golden_{name}", CASES_DIR / name / "change.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_case(name: str) -> Case:
    module = _load_module(name)
    return Case(
        name=name,
        folder=CASES_DIR / name,
        change=module.change,
        env=getattr(module, "ENV", None),
        drift_args=tuple(getattr(module, "DRIFT_ARGS", ())),
        planned=frozenset(getattr(module, "PLANNED", ())),
        reported=tuple(getattr(module, "REPORTED", ())),
        left=frozenset(getattr(module, "LEFT", ())),
        dry_run=bool(getattr(module, "DRY_RUN", False)),
        json_items=tuple(getattr(module, "JSON_ITEMS", ())),
        only_report=tuple(getattr(module, "ONLY_REPORT", ())),
        environ=dict(getattr(module, "ENVIRON", {})),
        xfail=getattr(module, "XFAIL", None),
        xfail_report=getattr(module, "XFAIL_REPORT", None),
    )


def case_params(stage: str | None = None) -> list[object]:
    """Every case; for ``stage`` "report" or "write", marked xfail where the case says so."""
    params: list[object] = []
    for name in CASE_NAMES:
        case = load_case(name)
        reason = {"write": case.xfail, "report": case.xfail_report}.get(stage or "")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=name, marks=marks))
    return params


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def expected_tree(case: Case) -> dict[str, bytes]:
    files = tree(case.folder / "before")
    if not case.dry_run and (case.folder / "after").is_dir():
        files.update(tree(case.folder / "after"))
    return files


@dataclass
class Session:
    """The CLI, in process, against one emulator; the case's manifests copied to ``m/``."""

    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    emulator: EmulatorHandle
    manifests: Path

    def run(self, *argv: str) -> tuple[int, str, str]:
        backend = (
            "--backend", "stream", "--api-key", self.emulator.api_key,
            "--base-url", self.emulator.url,
        )  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main([*argv, *backend])
        out, err = self.capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 0), out, err

    def sdk(self) -> Stream:
        return Stream(
            api_key=self.emulator.api_key,
            api_secret=self.emulator.api_secret,
            base_url=self.emulator.url,
        )

    def planned_fields(self, case: Case) -> set[str]:
        code, out, err = self.run("plan", "m", *case.env_args, "--format", "json")
        assert code == 0, err
        return {
            f"{change['kind']} {change['name']} {field['path']}"
            for change in json.loads(out)["changes"]
            for field in change["fields"]
        }


@pytest.fixture
def session(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    emulator: EmulatorHandle,  # noqa: F811
) -> Iterator[Session]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAM_API_SECRET", emulator.api_secret)
    yield Session(capsys, monkeypatch, emulator, tmp_path / "m")


def set_up(session: Session, case: Case) -> None:
    """Apply the case's manifests, then make its live change; plan must show the change."""
    for name, value in case.environ.items():
        session.monkeypatch.setenv(name, value)
    shutil.copytree(case.folder / "before", session.manifests)
    code, out, err = session.run("apply", "m", *case.env_args, "--auto-approve")
    assert code == 0, out + err
    assert session.planned_fields(case) == set(), "apply left changes"
    case.change(session.sdk())
    planned = session.planned_fields(case)
    assert case.planned <= planned, planned


def diff_lines(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """The +/- lines of a unified diff from ``before`` to ``after``, file by file."""
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        old = before.get(name, b"").decode().splitlines()
        new = after.get(name, b"").decode().splitlines()
        for line in difflib.unified_diff(old, new, lineterm="", n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                lines.append(line)
    return lines


def printed_diff_lines(out: str) -> list[str]:
    """The +/- lines inside the hunks of the unified diffs in ``out``."""
    lines: list[str] = []
    in_hunk = False
    for line in out.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line[:1] in "+-" and not line.startswith(("+++ ", "--- ")):
            lines.append(line)
        elif line[:1] not in (" ", "\\") or line.startswith(("+++ ", "--- ")):
            in_hunk = False
    return lines


# --- the cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", case_params())
def test_the_live_change_shows_in_plan(case: Case, session: Session) -> None:
    set_up(session, case)


@pytest.mark.parametrize("case", case_params())
def test_the_after_files_are_what_the_changed_app_holds(case: Case, session: Session) -> None:
    """The golden files themselves are right: written over the manifests, plan against the
    changed app is empty (but for what the case leaves on purpose)."""
    set_up(session, case)
    for name, text in tree(case.folder / "after").items():
        target = session.manifests / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
    assert session.planned_fields(case) == set(case.left)


@pytest.mark.parametrize("case", case_params("report"))
def test_drift_reports_the_live_change(case: Case, session: Session) -> None:
    set_up(session, case)
    code, out, err = session.run("drift", "m", *case.env_args, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["version"] == 1 and report["drifted"] is True
    for want in case.json_items:
        assert any(want.items() <= item.items() for item in report["drift"]), report["drift"]
    code, out, err = session.run("drift", "m", *case.env_args, "--detailed-exitcode")
    assert code == 2, out + err
    for text in case.reported:
        assert text in out, out
    if case.only_report:
        code, out, err = session.run(
            "drift", "m", *case.env_args, "--format", "json", *case.drift_args
        )
        assert code == 0, err
        items = json.loads(out)["drift"]
        assert len(items) == len(case.only_report), items
        for want, item in zip(case.only_report, items, strict=True):
            assert want.items() <= item.items(), item


@pytest.mark.parametrize("case", case_params("write"))
def test_drift_write_gives_the_golden_files(case: Case, session: Session) -> None:
    set_up(session, case)
    before = tree(session.manifests)
    flags = ("--write", "--dry-run") if case.dry_run else ("--write",)
    code, out, err = session.run("drift", "m", *case.env_args, *flags, *case.drift_args)
    assert code == 0, out + err
    assert "Traceback" not in err and session.emulator.api_secret not in out + err
    expected = expected_tree(case)
    assert tree(session.manifests) == expected
    for text in case.reported:
        assert text in out + err, out + err

    # The diff printed is the change made (or, with --dry-run, the change it would make).
    would = tree(case.folder / "before")
    if (case.folder / "after").is_dir():
        would.update(tree(case.folder / "after"))
    assert sorted(printed_diff_lines(out)) == sorted(diff_lines(before, would)), out

    if case.dry_run:
        return
    assert session.planned_fields(case) == set(case.left)
    code, out, err = session.run("drift", "m", *case.env_args, "--detailed-exitcode")
    assert code == (2 if case.left else 0), out + err


def test_every_case_has_files_and_after_holds_only_changed_files() -> None:
    assert len(CASE_NAMES) >= 12
    for name in CASE_NAMES:
        folder = CASES_DIR / name
        before = tree(folder / "before")
        assert before, f"{name}: before/ is empty"
        after = tree(folder / "after") if (folder / "after").is_dir() else {}
        assert after, f"{name}: after/ is empty"
        for path, text in after.items():
            assert before.get(path) != text, f"{name}: after/{path} is the same as before/"
