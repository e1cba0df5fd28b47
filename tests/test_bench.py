"""The benchmark harness's own pieces: the workload generator, measurement and reporting."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH_DIR))

import measure  # noqa: E402
import run  # noqa: E402
import workload  # noqa: E402


def _load_all(directory: Path) -> dict[str, dict[str, object]]:
    merged: dict[str, dict[str, object]] = {"calls": {}, "call_types": {}, "users": {}}
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text("utf-8"))
        assert data["version"] == 1
        assert data["project"] == workload.PROJECT
        for key in merged:
            for name, value in (data.get(key) or {}).items():
                assert name not in merged[key], f"{name} declared twice"
                merged[key][name] = value
    return merged


def test_workload_declares_every_object_once(tmp_path: Path) -> None:
    wl = workload.generate(tmp_path, call_types=7, calls=2345)
    merged = _load_all(tmp_path)
    assert sorted(merged["calls"]) == sorted(wl.cids())
    assert len(merged["calls"]) == 2345
    assert len(merged["call_types"]) == 7
    assert set(merged["users"]) == set(workload.USERS)
    # 1,000 calls per file plus the app file.
    assert len(list(tmp_path.glob("*.yaml"))) == 1 + 3
    types = {cid.split(":")[0] for cid in merged["calls"]}
    assert types == set(merged["call_types"])


def test_workload_mixes_the_optional_call_fields(tmp_path: Path) -> None:
    workload.generate(tmp_path, call_types=2, calls=12)
    calls = _load_all(tmp_path)["calls"]
    with_members = [c for c in calls.values() if "members" in c]  # type: ignore[operator]
    with_override = [c for c in calls.values() if "settings_override" in c]  # type: ignore[operator]
    assert 0 < len(with_members) < len(calls)
    assert 0 < len(with_override) < len(calls)
    for call in with_members:
        assert set(call["members"]) <= set(workload.USERS)  # type: ignore[index]
    for call in calls.values():
        assert isinstance(call["starts_at"], str)  # type: ignore[index]
        assert call["starts_at"].startswith("2031-")  # type: ignore[index]


def test_workload_is_deterministic_and_revision_changes_every_call(tmp_path: Path) -> None:
    workload.generate(tmp_path / "a", call_types=3, calls=50)
    workload.generate(tmp_path / "b", call_types=3, calls=50)
    workload.generate(tmp_path / "c", call_types=3, calls=50, revision=1)
    for name in ("00-app.yaml", "calls-0000.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    before = _load_all(tmp_path / "a")["calls"]
    after = _load_all(tmp_path / "c")["calls"]
    assert before.keys() == after.keys()
    for cid in before:
        assert before[cid]["starts_at"] != after[cid]["starts_at"]  # type: ignore[index]
        assert before[cid]["custom"] != after[cid]["custom"]  # type: ignore[index]


def test_regenerating_replaces_old_files(tmp_path: Path) -> None:
    workload.generate(tmp_path, call_types=2, calls=2500)
    workload.generate(tmp_path, call_types=2, calls=10)
    assert len(_load_all(tmp_path)["calls"]) == 10


def test_minimums_follow_stream_page_size(tmp_path: Path) -> None:
    wl = workload.generate(tmp_path, call_types=50, calls=5000)
    # one list of call types + 50 call queries + one user query
    assert wl.min_reads() == 1 + 50 + 1
    assert wl.min_creates() == 50 + 5000 + 1  # the four users go in one UpdateUsers request
    assert workload.generate(tmp_path, call_types=1, calls=101).min_reads() == 1 + 2 + 1


def test_sdk_bodies_match_the_manifest(tmp_path: Path) -> None:
    workload.generate(tmp_path, call_types=3, calls=9)
    calls = _load_all(tmp_path)["calls"]
    for index in range(9):
        cid, data = workload.call_requests(index, 3)
        declared = calls[cid]
        assert data["starts_at"] == declared["starts_at"]  # type: ignore[index]
        assert data["custom"] == declared["custom"]  # type: ignore[index]
        members = {m["user_id"]: m["role"] for m in data.get("members", [])}  # type: ignore[attr-defined]
        assert members == declared.get("members", {})  # type: ignore[attr-defined]
    types = _load_all(tmp_path)["call_types"]
    body = workload.call_type_request(1)
    assert types[str(body["name"])]["settings"] == body["settings"]  # type: ignore[index]


def test_zero_call_types_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="call type"):
        workload.generate(tmp_path, call_types=0, calls=5)


def test_run_measured_reports_the_child_alone(tmp_path: Path) -> None:
    burn = "import sys; x = bytearray(64 * 1024 * 1024); sys.stdout.write('ok'); sys.exit(3)"
    result = measure.run_measured(
        [sys.executable, "-c", burn], env=measure.child_env(), cwd=tmp_path
    )
    assert result.returncode == 3
    assert result.stdout == "ok"
    assert result.max_rss_mb >= 64
    assert result.cpu_s > 0
    assert result.wall_s > 0


def test_child_env_drops_stream_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_API_SECRET", "leak")
    monkeypatch.setenv("STAGECFG_BACKEND", "stream")
    env = measure.child_env({"EXTRA": "1"})
    assert "STREAM_API_SECRET" not in env
    assert "STAGECFG_BACKEND" not in env
    assert env["NO_COLOR"] == "1"
    assert env["EXTRA"] == "1"


def test_split_requests_counts_get_or_create_as_a_write() -> None:
    stats = {
        "requests": {
            "ListCallTypes": {"GET": 1},
            "QueryCalls": {"POST": 50},
            "QueryUsers": {"GET": 1},
            "GetOrCreateCall": {"POST": 5000},
            "CreateCallType": {"POST": 50},
            "UpdateCall": {"PATCH": 7},
        },
        "total": 5109,
    }
    reads, writes, per_op = measure.split_requests(stats)
    assert (reads, writes) == (52, 5057)
    assert per_op["GetOrCreateCall POST"] == 5000
    assert measure.split_requests({"requests": {}, "total": 0})[:2] == (0, 0)


def test_render_table_aligns_columns() -> None:
    table = run.render_table(["a", "long header"], [["wide cell", "x"], ["y", "z"]])
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[0].startswith("| a         | long header |")


def test_targets_flag_a_plan_over_the_minimum() -> None:
    args = run.parse_args(["--calls", "5000", "--call-types", "50"])
    phase = {
        "backend": "stream",
        "exit": 0,
        "min_reads": 52,
        "min_writes": 0,
        "reads": 52,
        "writes": 0,
        "wall_s": 1.0,
        "ideal_s": 0.13,
        "wall_over_ideal": 7.7,
    }
    report = {
        "phases": [
            {**phase, "phase": "plan (empty app)", "reads": 53},
            {**phase, "phase": "apply (create all)", "writes": 5051, "min_writes": 5051},
            {**phase, "phase": "apply (no-op)", "writes": 1},
            {**phase, "phase": "apply (update all calls)", "writes": 5000, "min_writes": 5000},
        ]
    }
    by_name = {t["target"]: t for t in run.evaluate_targets(report, args)}
    assert by_name["plan 5000 calls / 50 types: requests"]["ok"] is False
    assert by_name["apply (create all): writes"]["ok"] is True
    assert by_name["apply (create all): wall time"]["ok"] is False  # 1.0 s > 1.5 x 0.13 s
    assert by_name["apply (no-op): writes"]["ok"] is False
    assert by_name["apply (update all calls): writes"]["ok"] is True


def test_parse_args_quick_and_scale() -> None:
    quick = run.parse_args(["--quick"])
    assert (quick.calls, quick.call_types, quick.scale) == (500, 5, (1000, 10000))
    assert run.parse_args(["--scale-calls", "10,100"]).scale == (10, 100)
    with pytest.raises(SystemExit):
        run.parse_args(["--scale-calls", "10"])


def test_harness_end_to_end_meets_the_round_trip_minimums(tmp_path: Path) -> None:
    """A small real run: emulator + stream backend + CLI subprocesses, counted by the emulator."""
    out = tmp_path / "bench.json"
    argv = ["--calls", "150", "--call-types", "3", "--latency-ms", "0", "--skip-sdk"]
    argv += ["--skip-scale", "--skip-local", "--json", str(out)]
    assert run.main(argv) == 0
    report = json.loads(out.read_text("utf-8"))
    phases = {row["phase"]: row for row in report["phases"]}
    assert set(phases) == {
        "plan (empty app)",
        "apply (create all)",
        "plan (no-op)",
        "apply (no-op)",
        "drift (every call drifted)",
        "drift --write --dry-run",
        "apply (update all calls)",
    }
    for row in phases.values():
        assert row["exit"] == 0, row.get("stderr_tail")
    # drift reads the app (every call: the manifests name a project) and never writes to it.
    for name in ("drift (every call drifted)", "drift --write --dry-run"):
        assert phases[name]["writes"] == 0 and phases[name]["reads"] >= 4, name
    # 1 list of call types + 2 call queries (150 cids) + 1 user query
    assert phases["plan (empty app)"]["min_reads"] == 4
    for name in ("plan (empty app)", "plan (no-op)", "apply (no-op)"):
        assert (phases[name]["reads"], phases[name]["writes"]) == (4, 0), name
    assert phases["apply (create all)"]["writes"] == 3 + 150 + 1
    assert phases["apply (update all calls)"]["writes"] == 150
    assert report["machine"]["cores"] == os.cpu_count()
    assert report["command"].startswith("python bench/run.py --calls 150")
