"""``plan --out`` and ``export --out`` write only a regular file (or a new one), atomically.

Anything else at the path (a character device, a FIFO, a directory, a symlink) is refused in one
line and left exactly as it was: renaming over it would replace a device node or the symlink
``/proc/self/fd/1`` with a file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from stagecfg.cli import main

MANIFEST = """\
version: 1
call_types:
  stage:
    settings:
      backstage: {enabled: true, join_ahead_time_seconds: 60}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _char_device(work: Path) -> str:
    """A character device to write to. As root a fresh node in the test's directory (the
    issue's case; replacing the machine's /dev/null would hurt everyone on it); otherwise
    /dev/null, which an unprivileged process could not replace anyway."""
    path = work / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return "/dev/null"
    return str(path)


def _fifo(work: Path) -> str:
    os.mkfifo(work / "fifo")
    return str(work / "fifo")


def _directory(work: Path) -> str:
    (work / "dir").mkdir()
    (work / "dir" / "keep").write_text("kept")
    return str(work / "dir")


def _symlink(work: Path) -> str:
    (work / "target.txt").write_text("the target's own text")
    (work / "link.json").symlink_to(work / "target.txt")
    return str(work / "link.json")


def _dangling_symlink(work: Path) -> str:
    (work / "dangling.json").symlink_to(work / "nowhere.txt")
    return str(work / "dangling.json")


SPECIAL: dict[str, Callable[[Path], str]] = {
    "character device": _char_device,
    "FIFO": _fifo,
    "directory": _directory,
    "symlink": _symlink,
    "dangling symlink": _dangling_symlink,
}


def _state(path: str) -> tuple[int, int, int, str]:
    """What must not change: the inode, its type and mode, and where a symlink points."""
    info = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
    return info.st_ino, info.st_mode, info.st_rdev, link


@pytest.mark.parametrize("command", ["plan", "export"])
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_out_refuses_anything_but_a_regular_file_and_leaves_it_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    kind: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    target = SPECIAL[kind](tmp_path)
    before = _state(target)
    around = sorted(os.listdir(tmp_path))
    args = ["plan", "m.yaml"] if command == "plan" else ["export"]
    code, _, err = run(capsys, *args, "--sandbox", "sb.db", "--out", target)
    assert code == 1, err
    lines = [line for line in err.splitlines() if not line.startswith("note: created")]
    assert len(lines) == 1, err
    assert f"Error: cannot write {target}: it is a" in lines[0], err
    assert "Traceback" not in err
    assert _state(target) == before
    # No temp file is left beside it.
    assert sorted(p for p in os.listdir(tmp_path) if p != "sb.db" and p != "sb.db.lock") == [
        p for p in around if p != "sb.db"
    ]
    if kind == "symlink":
        assert (tmp_path / "target.txt").read_text() == "the target's own text"
    if kind == "directory":
        assert os.listdir(target) == ["keep"]


@pytest.mark.parametrize("kind", ["character device", "FIFO", "symlink", "directory"])
def test_the_refusal_names_what_is_at_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    target = SPECIAL[kind](tmp_path)
    _, _, err = run(capsys, "plan", "m.yaml", "--sandbox", "sb.db", "--out", target)
    word = {
        "character device": "a character device",
        "FIFO": "a FIFO",
        "symlink": "a symbolic link",
        "directory": "a directory",
    }
    assert f"it is {word[kind]}" in err
    assert "not a regular file, and is left as it is" in err


@pytest.mark.parametrize("command", ["plan", "export"])
def test_out_replaces_a_regular_file_atomically(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    (tmp_path / "out.txt").write_text("old")
    old_inode = os.lstat(tmp_path / "out.txt").st_ino
    args = ["plan", "m.yaml"] if command == "plan" else ["export"]
    code, _, err = run(capsys, *args, "--sandbox", "sb.db", "--out", "out.txt")
    assert code == 0, err
    info = os.lstat(tmp_path / "out.txt")
    assert stat.S_ISREG(info.st_mode) and info.st_ino != old_inode  # renamed over, not rewritten
    assert stat.S_IMODE(info.st_mode) == (0o600 if command == "plan" else 0o644)
    assert (tmp_path / "out.txt").read_text() != "old"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
