"""The job summary file: appended, bounded by GitHub's 1 MiB per step, regular files only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagecfg.github import summary as summary_module
from stagecfg.github.client import GithubError
from stagecfg.github.summary import append_step_summary


def test_the_markdown_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("# earlier step\n")
    assert append_step_summary(str(path), "## plan\n") is None
    assert append_step_summary(str(path), "## again") is None
    assert path.read_text() == "# earlier step\n## plan\n\n## again\n\n"


def test_a_summary_that_would_pass_the_limit_is_skipped_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_module, "MAX_SUMMARY_BYTES", 100)
    path = tmp_path / "summary.md"
    path.write_text("x" * 60)
    notice = append_step_summary(str(path), "y" * 50)
    assert notice is not None and "would pass GitHub's 0 KiB per step" in notice
    assert path.read_text() == "x" * 60


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "summary.fifo"
    os.mkfifo(fifo)
    with pytest.raises(GithubError, match="cannot write the job summary"):
        append_step_summary(str(fifo), "x")


def test_a_symlink_or_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.md"
    target.write_text("")
    link = tmp_path / "summary.md"
    link.symlink_to(target)
    with pytest.raises(GithubError, match="cannot write the job summary"):
        append_step_summary(str(link), "x")
    assert target.read_text() == ""
    with pytest.raises(GithubError, match="cannot write the job summary"):
        append_step_summary(str(tmp_path), "x")
