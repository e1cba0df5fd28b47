"""The stagecfg benchmark: round trips, wall time, CPU and memory of plan/apply at scale.

Run ``python bench/run.py --help``. Everything it starts (emulators, sandboxes, manifests) lives
in a temporary directory and listens on 127.0.0.1 only. The results are printed as tables;
``--json FILE`` also writes them as machine-readable JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import measure  # noqa: E402
import workload  # noqa: E402

Row = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--calls", type=int, default=5000, help="calls in the workload (M)")
    parser.add_argument("--call-types", type=int, default=50, help="call types (N)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="emulator latency")
    parser.add_argument("--parallelism", type=int, default=8, help="stagecfg --parallelism")
    parser.add_argument("--json", dest="json_out", type=Path, help="write results as JSON")
    parser.add_argument("--skip-sdk", action="store_true", help="no getstream SDK baseline")
    parser.add_argument(
        "--sdk-calls",
        type=int,
        default=250,
        help="calls the SDK loop really makes; the rest of M is extrapolated linearly",
    )
    parser.add_argument("--skip-emulator", action="store_true", help="no stream-backend phases")
    parser.add_argument("--skip-local", action="store_true", help="no local-backend phases")
    parser.add_argument("--skip-scale", action="store_true", help="no 100,000-call scale test")
    parser.add_argument(
        "--scale-calls",
        default="10000,100000",
        help="two comma-separated call counts for the sandbox scale/linearity test",
    )
    parser.add_argument(
        "--emulator-rps",
        action="store_true",
        help="also measure emulator throughput: 8 keep-alive clients on GET call type",
    )
    parser.add_argument("--rps-seconds", type=float, default=5.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small smoke run: 500 calls, 5 types, 50 SDK calls, scale 1,000/10,000",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.call_types, args.sdk_calls = 500, 5, 50
        args.scale_calls = "1000,10000"
        args.rps_seconds = 2.0
    if args.calls < 1 or args.call_types < 1 or args.parallelism < 1:
        parser.error("--calls, --call-types and --parallelism must be at least 1")
    try:
        small, big = (int(part) for part in args.scale_calls.split(","))
    except ValueError:
        parser.error("--scale-calls takes two integers, e.g. 10000,100000")
    args.scale = (small, big)
    return args


# --- phases against a backend through the CLI --------------------------------------------------


def _cli_phase(
    name: str,
    cli_args: list[str],
    *,
    backend: str,
    wl: workload.Workload,
    tmp: Path,
    env: dict[str, str],
    emulator: measure.Emulator | None,
    min_reads: int,
    min_writes: int,
    latency_ms: float,
    parallelism: int,
) -> Row:
    emulator_cpu = None
    if emulator is not None:
        emulator.reset()
        emulator_cpu = emulator.cpu_seconds()
    result = measure.run_measured([*measure.stagecfg_argv(), *cli_args], env=env, cwd=tmp)
    row: Row = {
        "phase": name,
        "backend": backend,
        "calls": wl.calls,
        "call_types": wl.call_types,
        "exit": result.returncode,
        "wall_s": round(result.wall_s, 3),
        "cpu_s": round(result.cpu_s, 3),
        "user_s": round(result.user_s, 3),
        "sys_s": round(result.sys_s, 3),
        "max_rss_mb": round(result.max_rss_mb, 1),
        "min_reads": min_reads,
        "min_writes": min_writes,
        "stdout_tail": result.stdout.strip().splitlines()[-1:] if result.stdout.strip() else [],
    }
    if result.returncode != 0:
        row["stderr_tail"] = result.stderr.strip().splitlines()[-5:]
    if emulator is not None:
        reads, writes, per_op = measure.split_requests(emulator.stats())
        after = emulator.cpu_seconds()
        if emulator_cpu is not None and after is not None:
            row["emulator_cpu_s"] = round(after - emulator_cpu, 2)
        minimum = min_reads if min_writes == 0 else min_writes
        ideal = minimum * latency_ms / 1000.0 / parallelism
        row.update(
            reads=reads,
            writes=writes,
            requests=per_op,
            ideal_s=round(ideal, 3),
            wall_over_ideal=round(result.wall_s / ideal, 2) if ideal else None,
        )
    return row


def run_backend_phases(
    args: argparse.Namespace, tmp: Path, *, backend: str, emulator: measure.Emulator | None
) -> list[Row]:
    manifests = tmp / f"manifests-{backend}"
    wl = workload.generate(manifests, call_types=args.call_types, calls=args.calls)
    env = measure.child_env()
    common = ["--backend", backend, "--parallelism", str(args.parallelism)]
    if backend == "stream":
        assert emulator is not None
        env.update(
            STREAM_API_KEY=measure.API_KEY,
            STREAM_API_SECRET=measure.API_SECRET,
            STREAM_BASE_URL=emulator.url,
        )
    else:
        common += ["--sandbox", str(tmp / "local-sandbox.db")]

    def phase(name: str, verb: list[str], min_reads: int, min_writes: int) -> Row:
        row = _cli_phase(
            name,
            [*verb, str(manifests), *common],
            backend=backend,
            wl=wl,
            tmp=tmp,
            env=env,
            emulator=emulator,
            min_reads=min_reads,
            min_writes=min_writes,
            latency_ms=args.latency_ms,
            parallelism=args.parallelism,
        )
        _progress(row)
        return row

    reads = wl.min_reads()
    rows = [
        phase("plan (empty app)", ["plan"], reads, 0),
        phase("apply (create all)", ["apply", "--auto-approve"], reads, wl.min_creates()),
        phase("plan (no-op)", ["plan"], reads, 0),
        phase("apply (no-op)", ["apply", "--auto-approve"], reads, 0),
    ]
    # Every call gets a new starts_at and custom: one PATCH per call, nothing else.
    workload.generate(manifests, call_types=args.call_types, calls=args.calls, revision=1)
    # Before that apply, every call has drifted from the new manifests (two fields each): drift
    # reads the app and writes nothing to it, and --write --dry-run works out every file edit.
    rows.append(phase("drift (every call drifted)", ["drift"], reads, 0))
    rows.append(phase("drift --write --dry-run", ["drift", "--write", "--dry-run"], reads, 0))
    rows.append(phase("apply (update all calls)", ["apply", "--auto-approve"], reads, wl.calls))
    return rows


def _progress(row: Row) -> None:
    print(
        f"  .. {row['backend']:6} {row['phase']:26} exit {row['exit']} wall {row['wall_s']:.2f}s",
        file=sys.stderr,
        flush=True,
    )


# --- the naive SDK loop ------------------------------------------------------------------------


def run_sdk_baseline(args: argparse.Namespace, tmp: Path) -> Row:
    """What a user would write with Stream's SDK: one request per object, in sequence."""
    import warnings
    from datetime import datetime

    from getstream import Stream
    from getstream.models import (
        BackstageSettingsRequest,
        CallRequest,
        CallSettingsRequest,
        EventNotificationSettingsRequest,
        LimitsSettingsRequest,
        MemberRequest,
        NotificationSettingsRequest,
        UserRequest,
    )

    def settings(raw: dict[str, Any]) -> CallSettingsRequest:
        backstage = raw.get("backstage")
        limits = raw.get("limits")
        return CallSettingsRequest(
            backstage=BackstageSettingsRequest(**backstage) if backstage else None,
            limits=LimitsSettingsRequest(**limits) if limits else None,
        )

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    # The SDK warns about every chat-only field a video response lacks; that is noise here.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="dataclasses_json")
    sample = min(args.sdk_calls, args.calls)
    with measure.Emulator(
        tmp / "sdk-sandbox.db", latency_ms=args.latency_ms, log=tmp / "sdk-emulator.log"
    ) as emulator:
        client = Stream(
            api_key=measure.API_KEY, api_secret=measure.API_SECRET, base_url=emulator.url
        )
        emulator.reset()
        start = time.perf_counter()
        client.upsert_users(
            *(UserRequest(id=user, role="user", name=user) for user in workload.USERS)
        )
        for index in range(args.call_types):
            body = workload.call_type_request(index)
            client.video.create_call_type(
                name=str(body["name"]),
                settings=settings(body["settings"]),  # type: ignore[arg-type]
                grants=body["grants"],  # type: ignore[arg-type]
                notification_settings=NotificationSettingsRequest(
                    call_live_started=EventNotificationSettingsRequest(enabled=True)
                ),
            )
        setup_s = time.perf_counter() - start

        start = time.perf_counter()
        for index in range(sample):
            cid, data = workload.call_requests(index, args.call_types)
            call_type, call_id = cid.split(":", 1)
            members = data.get("members")
            override = data.get("settings_override")
            client.video.call(call_type, call_id).get_or_create(
                data=CallRequest(
                    created_by_id=str(data["created_by_id"]),
                    starts_at=when(str(data["starts_at"])),
                    custom=data["custom"],  # type: ignore[arg-type]
                    members=[MemberRequest(**m) for m in members] if members else None,  # type: ignore[attr-defined]
                    settings_override=settings(override) if override else None,  # type: ignore[arg-type]
                )
            )
        create_s = time.perf_counter() - start

        start = time.perf_counter()
        for index in range(sample):
            cid, data = workload.call_requests(index, args.call_types, revision=1)
            call_type, call_id = cid.split(":", 1)
            client.video.call(call_type, call_id).update(
                starts_at=when(str(data["starts_at"])),
                custom=data["custom"],  # type: ignore[arg-type]
            )
        update_s = time.perf_counter() - start
        reads, writes, _ = measure.split_requests(emulator.stats())

    factor = args.calls / sample
    row: Row = {
        "sdk": "getstream 7.0.0",
        "sampled_calls": sample,
        "calls": args.calls,
        "extrapolated": sample < args.calls,
        "requests_sent": reads + writes,
        "setup_s": round(setup_s, 3),
        "create_s": round(setup_s + create_s * factor, 2),
        "update_s": round(update_s * factor, 2),
        "per_request_ms": round(1000 * (create_s + update_s) / (2 * sample), 2),
    }
    print(f"  .. sdk    create {row['create_s']}s update {row['update_s']}s", file=sys.stderr)
    return row


# --- the sandbox scale test --------------------------------------------------------------------


def populate_sandbox(sandbox: Path, manifests: Path, wl: workload.Workload) -> float:
    """Write the workload's call types, users and calls through the Engine in-process.

    The CLI's apply would do the same one change at a time; the scale test measures plan, so
    the fastest honest way in is the Engine itself (same semantics, same rows), in bulk.
    """
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "populate.py"),
            str(sandbox),
            str(wl.call_types),
            str(wl.calls),
        ],
        check=True,
        env=measure.child_env(),
    )
    return time.perf_counter() - start


def run_scale(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rows: list[Row] = []
    for calls in args.scale:
        manifests = tmp / f"scale-{calls}"
        wl = workload.generate(manifests, call_types=args.call_types, calls=calls)
        sandbox = tmp / f"scale-{calls}.db"
        populate_s = populate_sandbox(sandbox, manifests, wl)
        env = measure.child_env()
        for label, path in (
            ("plan (empty app)", tmp / f"empty-{calls}.db"),
            ("plan (no-op)", sandbox),
        ):
            result = measure.run_measured(
                [*measure.stagecfg_argv(), "plan", str(manifests), "--sandbox", str(path)],
                env=env,
                cwd=tmp,
            )
            row: Row = {
                "phase": label,
                "calls": calls,
                "exit": result.returncode,
                "wall_s": round(result.wall_s, 3),
                "cpu_s": round(result.cpu_s, 3),
                "max_rss_mb": round(result.max_rss_mb, 1),
                "populate_s": round(populate_s, 2),
            }
            if result.returncode != 0:
                row["stderr_tail"] = result.stderr.strip().splitlines()[-5:]
            rows.append(row)
            print(
                f"  .. scale  {label:26} {calls:>7} calls wall {row['wall_s']:.2f}s",
                file=sys.stderr,
            )
    small, big = args.scale
    linearity: dict[str, Any] = {}
    for label in ("plan (empty app)", "plan (no-op)"):
        t_small = next(r["wall_s"] for r in rows if r["calls"] == small and r["phase"] == label)
        t_big = next(r["wall_s"] for r in rows if r["calls"] == big and r["phase"] == label)
        linearity[label] = {
            "calls_ratio": round(big / small, 2),
            "time_ratio": round(t_big / t_small, 2) if t_small else None,
        }
    return {
        "populated_by": "Engine in-process, bulk (bench/populate.py)",
        "rows": rows,
        "linearity": linearity,
    }


# --- emulator throughput, startup, YAML -------------------------------------------------------


def run_emulator_rps(args: argparse.Namespace, tmp: Path, clients: int = 8) -> dict[str, Any]:
    import httpx
    import jwt

    token = jwt.encode({"server": True}, measure.API_SECRET, algorithm="HS256")
    headers = {"Authorization": token, "stream-auth-type": "jwt"}
    counts = [0] * clients
    errors = [0] * clients
    stop = threading.Event()

    with measure.Emulator(
        tmp / "rps-sandbox.db", latency_ms=0, log=tmp / "rps-emulator.log"
    ) as emulator:
        url = f"{emulator.url}/api/v2/video/calltypes/livestream"

        def hammer(slot: int) -> None:
            with httpx.Client(headers=headers, params={"api_key": measure.API_KEY}) as client:
                while not stop.is_set():
                    if client.get(url).status_code == 200:
                        counts[slot] += 1
                    else:
                        errors[slot] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
        cpu_before = emulator.cpu_seconds()
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(args.rps_seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        cpu_after = emulator.cpu_seconds()
    busy = None
    if cpu_before is not None and cpu_after is not None:
        busy = round((cpu_after - cpu_before) / elapsed, 2)
    row = {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": sum(counts),
        "errors": sum(errors),
        "req_per_s": round(sum(counts) / elapsed, 1),
        # 1.0 = the emulator kept one core busy the whole time (it is single-threaded).
        "emulator_cpu_utilisation": busy,
        "note": "the 8 client threads share this process's GIL and the machine's cores with "
        "the emulator, so this is a lower bound on the emulator's own capacity",
    }
    print(f"  .. rps    {row['req_per_s']} req/s", file=sys.stderr)
    return row


def run_startup(tmp: Path, repeats: int = 5) -> dict[str, Any]:
    env = measure.child_env()
    walls = []
    for _ in range(repeats):
        result = measure.run_measured([*measure.stagecfg_argv(), "--help"], env=env, cwd=tmp)
        walls.append(result.wall_s)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import stagecfg.cli"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    cumulative_us = 0
    heaviest: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        cum = int(parts[1])
        if name.strip() == "stagecfg.cli":
            cumulative_us = cum
        if name.startswith(" ") and not name.startswith("  "):
            heaviest.append((cum, name.strip()))
    heaviest.sort(reverse=True)
    return {
        "help_wall_s_median": round(statistics.median(walls), 3),
        "import_stagecfg_cli_ms": round(cumulative_us / 1000, 1),
        "heaviest_top_level_imports_ms": {n: round(us / 1000, 1) for us, n in heaviest[:5]},
    }


def check_yaml() -> dict[str, Any]:
    import yaml

    info: dict[str, Any] = {"libyaml_available": bool(getattr(yaml, "__with_libyaml__", False))}
    try:
        import stagecfg.manifest as manifest_module

        try:
            # The package layout keeps the loader choice in its own module.
            import stagecfg.manifest.loader as loader_module
        except ImportError:
            loader_module = manifest_module  # a stagecfg from before the package split
        source = Path(loader_module.__file__).read_text("utf-8")
        info["stagecfg_uses_CSafeLoader"] = "CSafeLoader" in source
    except ImportError:
        info["stagecfg_uses_CSafeLoader"] = None
    return info


# --- report ------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |" for r in rows
    ]
    return "\n".join(lines)


def phase_table(rows: list[Row]) -> str:
    headers = [
        "backend",
        "phase",
        "reads (min)",
        "writes (min)",
        "wall s",
        "ideal s",
        "CPU s",
        "emulator CPU s",
        "RSS MB",
        "exit",
    ]
    body = []
    for r in rows:
        has_counts = "reads" in r
        body.append(
            [
                r["backend"],
                r["phase"],
                f"{r['reads']} ({r['min_reads']})" if has_counts else "-",
                f"{r['writes']} ({r['min_writes']})" if has_counts else "-",
                _fmt(r["wall_s"]),
                _fmt(r.get("ideal_s")),
                _fmt(r["cpu_s"]),
                _fmt(r.get("emulator_cpu_s")),
                _fmt(r["max_rss_mb"], 0),
                str(r["exit"]),
            ]
        )
    return render_table(headers, body)


def evaluate_targets(report: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    targets: list[Row] = []

    def add(name: str, goal: str, measured: str, ok: bool | None) -> None:
        targets.append({"target": name, "goal": goal, "measured": measured, "ok": ok})

    stream = {r["phase"]: r for r in report.get("phases", []) if r["backend"] == "stream"}
    if stream:
        plan = stream["plan (empty app)"]
        add(
            f"plan {args.calls} calls / {args.call_types} types: requests",
            f"= minimum {plan['min_reads']}",
            str(plan["reads"] + plan["writes"]),
            plan["reads"] + plan["writes"] == plan["min_reads"] and plan["exit"] == 0,
        )
        add(
            "plan: wall time",
            "<= 3 s",
            f"{plan['wall_s']:.2f} s",
            plan["wall_s"] <= 3.0 and plan["exit"] == 0,
        )
        create = stream["apply (create all)"]
        add(
            "apply (create all): writes",
            f"= {create['min_writes']}",
            str(create["writes"]),
            create["writes"] == create["min_writes"] and create["exit"] == 0,
        )
        add(
            "apply (create all): wall time",
            f"<= 1.5 x ideal {create['ideal_s']:.2f} s",
            f"{create['wall_s']:.2f} s ({create['wall_over_ideal']} x)",
            create["wall_s"] <= 1.5 * create["ideal_s"] and create["exit"] == 0,
        )
        update = stream["apply (update all calls)"]
        add(
            "apply (update all calls): writes",
            f"= {update['min_writes']}",
            str(update["writes"]),
            update["writes"] == update["min_writes"] and update["exit"] == 0,
        )
        noop = stream["apply (no-op)"]
        add(
            "apply (no-op): writes",
            "0",
            f"{noop['writes']} writes, {noop['reads']} reads (min {noop['min_reads']})",
            noop["writes"] == 0 and noop["exit"] == 0,
        )
    scale = report.get("scale")
    if scale:
        small, big = args.scale
        for row in scale["rows"]:
            if row["calls"] == big and row["phase"] == "plan (no-op)":
                add(
                    f"sandbox plan {big} calls: wall",
                    "<= 20 s",
                    f"{row['wall_s']:.2f} s",
                    row["wall_s"] <= 20 and row["exit"] == 0,
                )
                add(
                    f"sandbox plan {big} calls: RSS",
                    "<= 1024 MB",
                    f"{row['max_rss_mb']:.0f} MB",
                    row["max_rss_mb"] <= 1024,
                )
        for label, lin in scale["linearity"].items():
            ratio = lin["time_ratio"]
            add(
                f"linearity {label} {small} -> {big}",
                f"time ratio <= 1.2 x {lin['calls_ratio']:.0f}",
                str(ratio),
                ratio is not None and ratio <= 1.2 * lin["calls_ratio"],
            )
    yaml_info = report.get("yaml")
    if yaml_info:
        add(
            "YAML via libyaml",
            "CSafeLoader",
            f"libyaml available {yaml_info['libyaml_available']}, "
            f"CSafeLoader used {yaml_info['stagecfg_uses_CSafeLoader']}",
            bool(yaml_info["libyaml_available"] and yaml_info["stagecfg_uses_CSafeLoader"]),
        )
    rps = report.get("emulator_rps")
    if rps:
        add(
            "emulator GET call type, 8 clients",
            ">= 1000 req/s",
            f"{rps['req_per_s']:.0f} req/s",
            rps["req_per_s"] >= 1000,
        )
    startup = report.get("startup")
    if startup:
        add(
            "stagecfg --help",
            "fast",
            f"{startup['help_wall_s_median']:.2f} s, "
            f"import {startup['import_stagecfg_cli_ms']:.0f} ms",
            None,
        )
    return targets


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"stagecfg benchmark — {report['command']}")
    print(
        f"machine: {m['cores']} cores, {m['cpu_model']}, {m['implementation']} {m['python']}, "
        f"{m['platform']}; load average {m['load_average_1m']} at start, "
        f"{m.get('load_average_1m_end')} at end"
    )
    cfg = report["config"]
    print(
        f"workload: {cfg['calls']} calls over {cfg['call_types']} call types, "
        f"{len(workload.USERS)} users; emulator latency {cfg['latency_ms']} ms; "
        f"--parallelism {cfg['parallelism']}\n"
    )
    if report.get("phases"):
        print(phase_table(report["phases"]))
        print(
            "\nreads/writes: requests the emulator counted (minimum in brackets); ideal = minimum "
            "round trips x latency / parallelism (plans: reads; applies: writes).\n"
        )
    sdk = report.get("sdk_baseline")
    if sdk:
        label = (
            f"extrapolated from {sdk['sampled_calls']} calls" if sdk["extrapolated"] else "measured"
        )
        print(
            f"SDK baseline ({sdk['sdk']}, one request per object in sequence, {label}): "
            f"create {sdk['create_s']:.1f} s, update {sdk['update_s']:.1f} s "
            f"({sdk['per_request_ms']} ms per request)\n"
        )
    scale = report.get("scale")
    if scale:
        body = [
            [
                r["phase"],
                str(r["calls"]),
                _fmt(r["wall_s"]),
                _fmt(r["cpu_s"]),
                _fmt(r["max_rss_mb"], 0),
                str(r["exit"]),
            ]
            for r in scale["rows"]
        ]
        print(f"sandbox scale (populated by {scale['populated_by']}):")
        print(render_table(["phase", "calls", "wall s", "CPU s", "RSS MB", "exit"], body))
        for label, lin in scale["linearity"].items():
            print(f"linearity {label}: {lin['calls_ratio']}x calls -> {lin['time_ratio']}x time")
        print()
    if report.get("targets"):
        body = [
            [
                t["target"],
                t["goal"],
                t["measured"],
                {True: "ok", False: "MISSED", None: "-"}[t["ok"]],
            ]
            for t in report["targets"]
        ]
        print(render_table(["target", "goal", "measured", ""], body))


def _section(name: str, func: Callable[[], Any], report: dict[str, Any], key: str) -> None:
    print(f"[{name}]", file=sys.stderr, flush=True)
    try:
        report[key] = func()
    except Exception as exc:  # a failed section is reported, the others still run
        report.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"
        print(f"  !! {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python bench/run.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    report: dict[str, Any] = {
        "format_version": 1,
        "command": command.strip(),
        "machine": measure.machine(),
        "config": {
            "calls": args.calls,
            "call_types": args.call_types,
            "latency_ms": args.latency_ms,
            "parallelism": args.parallelism,
            "sdk_calls": args.sdk_calls,
            "scale_calls": list(args.scale),
        },
        "phases": [],
    }
    with tempfile.TemporaryDirectory(prefix="stagecfg-bench-") as tmp_name:
        tmp = Path(tmp_name)

        def stream_phases() -> list[Row]:
            with measure.Emulator(
                tmp / "emulator.db", latency_ms=args.latency_ms, log=tmp / "emulator.log"
            ) as emulator:
                return run_backend_phases(args, tmp, backend="stream", emulator=emulator)

        if not args.skip_emulator:
            _section("stream backend via emulator", stream_phases, report, "stream_phases")
            report["phases"] += report.pop("stream_phases", [])
        if not args.skip_local:
            _section(
                "local backend",
                lambda: run_backend_phases(args, tmp, backend="local", emulator=None),
                report,
                "local_phases",
            )
            report["phases"] += report.pop("local_phases", [])
        if not args.skip_sdk and not args.skip_emulator:
            _section("SDK baseline", lambda: run_sdk_baseline(args, tmp), report, "sdk_baseline")
        if not args.skip_scale:
            _section("sandbox scale", lambda: run_scale(args, tmp), report, "scale")
        if args.emulator_rps:
            _section(
                "emulator throughput", lambda: run_emulator_rps(args, tmp), report, "emulator_rps"
            )
        _section("startup", lambda: run_startup(tmp), report, "startup")
        _section("yaml", check_yaml, report, "yaml")
    report["machine"]["load_average_1m_end"] = measure.load_average()
    report["targets"] = evaluate_targets(report, args)
    print_report(report)
    if report.get("errors"):
        print("\nsections that failed: " + json.dumps(report["errors"], indent=2))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", "utf-8")
    return 1 if report.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
