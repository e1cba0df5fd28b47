"""Oversized and pathological manifests end in one clear error, in bounded memory and time.

Each case runs the real CLI in a subprocess under an address-space limit (RLIMIT_AS) and a
wall-clock timeout, so a loader that expands an alias bomb or recurses without bound fails the
test by being killed instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY_LIMIT = 512 * 1024 * 1024
TIMEOUT_S = 60


def _limit_memory() -> None:
    # macOS does not enforce RLIMIT_AS and may refuse it; the timeout still bounds the run there.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _validate(
    path: Path, *more: str, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return _stagecfg("validate", str(path), cwd=path.parent, timeout=timeout)


def _stagecfg(
    *argv: str, cwd: Path, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "STAGECFG_"))}
    return subprocess.run(
        [sys.executable, "-m", "stagecfg", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
        check=False,
    )


def _assert_clean_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert "Internal error" not in proc.stderr
    assert "MemoryError" not in proc.stderr
    assert "RecursionError" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "no error message"
    # One clear error, not a flood of one line per item.
    assert len(lines) <= 5, lines[:10]
    text = proc.stderr.lower()
    assert any(word in text for word in words), proc.stderr
    return proc.stderr


def _header() -> str:
    return "version: 1\nproject: hostile\n"


def test_file_over_size_cap_is_refused_naming_the_cap(tmp_path: Path) -> None:
    from stagecfg.manifest import MAX_FILE_BYTES

    path = tmp_path / "big.yaml"
    filler = "# " + "x" * 98 + "\n"
    path.write_text(_header() + filler * (MAX_FILE_BYTES // len(filler) + 10), encoding="utf-8")
    assert path.stat().st_size > MAX_FILE_BYTES
    err = _assert_clean_refusal(_validate(path), "size cap")
    assert "big.yaml" in err


def test_million_item_list_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text(_header() + "users: [" + ",".join("0" for _ in range(1_000_000)) + "]\n")
    err = _assert_clean_refusal(_validate(path), "node cap")
    assert "wide.yaml:" in err


def test_million_key_mapping_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    pairs = ",".join(f"a{i:x}: 0" for i in range(400_000))
    path.write_text(_header() + "users: {" + pairs + "}\n")
    assert path.stat().st_size < 5 * 1024 * 1024
    _assert_clean_refusal(_validate(path), "node cap")


@pytest.mark.parametrize(
    ("opener", "closer"),
    [("[", "]"), ("{a: ", "}")],
    ids=["sequences", "mappings"],
)
def test_deep_nesting_is_refused(tmp_path: Path, opener: str, closer: str) -> None:
    path = tmp_path / "deep.yaml"
    depth = 100_000
    path.write_text(_header() + "users: " + opener * depth + "1" * (opener != "[") + closer * depth)
    _assert_clean_refusal(_validate(path), "depth", "nesting")


def test_indented_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "indented.yaml"
    lines = [f"{' ' * i}k{i}:" for i in range(2_000)]
    path.write_text(_header() + "users:\n" + "\n".join(" " + line for line in lines) + " 1\n")
    _assert_clean_refusal(_validate(path), "depth", "nesting")


def test_billion_laughs_alias_bomb_is_refused(tmp_path: Path) -> None:
    levels = "abcdefghi"
    lines = [f'{levels[0]}: &{levels[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in itertools.pairwise(levels):
        refs = ",".join(f"*{prev}" for _ in range(9))
        lines.append(f"{name}: &{name} [{refs}]")
    path = tmp_path / "lol.yaml"
    path.write_text(_header() + "\n".join(lines) + "\n")
    _assert_clean_refusal(_validate(path), "alias cap", "node cap")


def test_wide_alias_fanout_is_refused(tmp_path: Path) -> None:
    # Few aliases, each naming a large anchored list: caught by the expanded-node cap.
    items = ",".join(["x"] * 2_500)
    refs = "".join(f"  b{i}: *a\n" for i in range(900))
    path = tmp_path / "fanout.yaml"
    path.write_text(_header() + f"users:\n  a: &a [{items}]\n" + refs)
    _assert_clean_refusal(_validate(path), "node cap", "alias cap")


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    refs = "".join(f"  u{i}: *x\n" for i in range(5_000))
    path = tmp_path / "aliases.yaml"
    path.write_text(_header() + "calls: {}\nusers:\n  base: &x {role: user}\n" + refs)
    _assert_clean_refusal(_validate(path), "alias cap")


def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"version: 1\n\0\0\0")
    _assert_clean_refusal(_validate(nul), "binary", "nul")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"version: 1\nproject: caf\xe9\n")
    err = _assert_clean_refusal(_validate(latin), "utf-8")
    assert "latin.yaml:2:" in err


def test_string_alias_bomb_is_refused_by_the_expanded_size_cap(tmp_path: Path) -> None:
    # Few aliases and few nodes, but each names a 4 MB string: 4 GB once anything copies it.
    big = "x" * 4_000_000
    refs = "".join(f"  u{i}: {{name: *s, role: user}}\n" for i in range(999))
    path = tmp_path / "strings.yaml"
    path.write_text(_header() + f"anchors: &s {big}\nusers:\n{refs}", encoding="utf-8")
    assert path.stat().st_size < 5 * 1024 * 1024
    err = _assert_clean_refusal(_validate(path), "expanded size cap")
    assert len(err.strip().splitlines()) == 2, err  # the problem, then the summary line
    assert err.startswith(f"{path}:3:"), err


def test_aliased_long_keys_count_towards_the_expanded_size_cap(tmp_path: Path) -> None:
    key = "k" * 100_000
    # An implicit key is at most 1024 characters; an explicit one (``? key``) may be longer.
    refs = "".join(f"  u{i}:\n    ? *k\n    : 1\n" for i in range(999))
    path = tmp_path / "keys.yaml"
    path.write_text(_header() + f"users:\n  u:\n    ? &k {key}\n    : 1\n{refs}", encoding="utf-8")
    _assert_clean_refusal(_validate(path), "expanded size cap")


def test_long_keys_nested_deep_are_refused_by_the_path_cap(tmp_path: Path) -> None:
    # No alias at all: 60 keys of 1,000 characters, then 100,000 values under them, each of
    # which would keep a 60 kB JSON path for its location.
    opening = "  " + "".join(f"{' ' * (2 * i)}{chr(97 + i % 26) * 1000}:\n" for i in range(60))
    leaves = " " * 122 + "{" + ", ".join(f"v{i}: 1" for i in range(100_000)) + "}\n"
    path = tmp_path / "paths.yaml"
    path.write_text(_header() + "users:\n" + opening.replace("\n", "\n  ").rstrip(" ") + leaves)
    assert path.stat().st_size < 5 * 1024 * 1024
    _assert_clean_refusal(_validate(path), "path cap")


@pytest.mark.parametrize("kind", ["fifo", "char-device"])
def test_non_regular_files_are_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)  # nobody ever writes to it: opening it to read would wait forever
    else:
        path = Path("/dev/zero")  # endless: reading it to the end never ends
    proc = _stagecfg("validate", str(path), cwd=tmp_path, timeout=20)
    err = _assert_clean_refusal(proc, "not a regular file")
    assert err.startswith(f"{path}:1:1: "), err
    assert len(err.strip().splitlines()) == 2, err


def test_a_manifest_of_20000_calls_validates_and_plans_against_the_sandbox(tmp_path: Path) -> None:
    # One ~4 MB file, as a project that keeps its calls together writes it: under the size cap,
    # so it must load however many values it holds.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import workload

    parts = workload.generate(tmp_path / "parts", call_types=10, calls=20_000).directory
    app = (parts / "00-app.yaml").read_text(encoding="utf-8")
    calls = "".join(
        f.read_text(encoding="utf-8").split("calls:\n", 1)[1]
        for f in sorted(parts.glob("calls-*.yaml"))
    )
    path = tmp_path / "all.yaml"
    path.write_text(app + "calls:\n" + calls, encoding="utf-8")
    assert 3_500_000 < path.stat().st_size < 5 * 1024 * 1024
    proc = _validate(path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "20000 calls" in proc.stdout
    proc = _stagecfg("plan", "all.yaml", "--sandbox", "sb.db", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Plan: 20014 to create, 0 to update, 0 to delete" in proc.stdout, proc.stdout[-500:]
