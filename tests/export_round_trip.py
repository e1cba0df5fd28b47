"""What the export tests share: the CLI run as a user runs it, and the three export promises.

* diff-clean: the exported file, planned against the app it came from, shows no changes;
* idempotent: a second export is the same bytes, and so is the export of a fresh sandbox the
  file was applied to;
* valid: the exported file loads as a manifest.

``app`` is the CLI flags naming the backend (``--sandbox FILE``, or ``--backend stream ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from stagecfg.cli import main
from stagecfg.render import NO_CHANGES
from stagecfg.validation import load_desired


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``stagecfg ARGV`` in-process through its entry point: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def export(capsys: pytest.CaptureFixture[str], app: Sequence[str], *flags: str) -> str:
    """The exported manifest text (``stagecfg export`` on stdout)."""
    code, out, err = run(capsys, "export", *app, *flags)
    assert code == 0, out + err
    return out


def assert_plans_empty(capsys: pytest.CaptureFixture[str], app: Sequence[str], path: Path) -> None:
    load_desired([str(path)])  # valid: raises ManifestError otherwise
    code, out, err = run(capsys, "plan", str(path), *app, "--detailed-exitcode")
    assert code == 0 and NO_CHANGES in out, out + err


def assert_round_trip(
    capsys: pytest.CaptureFixture[str], app: Sequence[str], work: Path, *flags: str
) -> str:
    """Export twice (same bytes), then plan the export against the same app (no changes)."""
    first = export(capsys, app, *flags)
    assert export(capsys, app, *flags) == first
    path = work / "exported.yaml"
    path.write_text(first, "utf-8")
    assert_plans_empty(capsys, app, path)
    return first


def assert_fresh_apply_exports_the_same(
    capsys: pytest.CaptureFixture[str], text: str, work: Path, *flags: str
) -> None:
    """``text`` applied to a new sandbox exports to ``text`` again, and re-plans empty there."""
    path = work / "exported.yaml"
    path.write_text(text, "utf-8")
    fresh = ("--sandbox", str(work / f"fresh-{len(list(work.glob('fresh-*.db')))}.db"))
    code, out, err = run(capsys, "apply", str(path), *fresh, "--auto-approve")
    assert code == 0, out + err
    assert export(capsys, fresh, *flags) == text
    assert_plans_empty(capsys, fresh, path)
