"""Time (and optionally cProfile) the plan pipeline in-process, stage by stage.

``python bench/hotspots.py --calls 100000 --populate --cprofile load`` prints the seconds spent in
load, read, diff and render for the local backend, then the top functions of the stage named
by ``--cprofile`` (or ``all``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import populate  # noqa: E402
import workload  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/hotspots.py")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--call-types", type=int, default=50)
    parser.add_argument("--populate", action="store_true", help="sandbox holds every call")
    parser.add_argument("--cprofile", choices=["load", "read", "diff", "render", "all"])
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    import gc

    gc.set_threshold(1_000_000, 100, 100)  # as stagecfg.cli.main does

    from stagecfg.backends import open_backend
    from stagecfg.plan import make_plan
    from stagecfg.render import render_text
    from stagecfg.validation import load_desired

    with tempfile.TemporaryDirectory(prefix="stagecfg-profile-") as tmp_name:
        tmp = Path(tmp_name)
        wl = workload.generate(tmp / "m", call_types=args.call_types, calls=args.calls)
        sandbox = tmp / "sandbox.db"
        if args.populate:
            start = time.perf_counter()
            populate.main(str(sandbox), args.call_types, args.calls)
            print(f"populate  {time.perf_counter() - start:7.2f} s")
        backend = open_backend("local", sandbox_path=str(sandbox))
        state: dict[str, Any] = {}

        def stage(name: str, func: Callable[[], Any]) -> Any:
            profiler = cProfile.Profile() if args.cprofile in (name, "all") else None
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            result = func()
            if profiler:
                profiler.disable()
            print(f"{name:9} {time.perf_counter() - start:7.2f} s")
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
                state.setdefault("profiles", []).append(out.getvalue())
            return result

        desired, _ = stage("load", lambda: load_desired([str(wl.directory)]))
        actual = stage(
            "read", lambda: backend.read(cids=list(desired.calls), users=list(desired.users))
        )
        plan = stage("diff", lambda: make_plan(desired, actual))
        text = stage("render", lambda: render_text(plan, backend=backend.describe()))
        backend.close()
        print(f"changes   {len(plan.changes)}; text {len(text)} chars")
        for profile in state.get("profiles", []):
            print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
