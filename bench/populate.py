"""Fill a sandbox with the benchmark workload through the Engine, in-process and in bulk.

Every object goes through the same Engine methods the `local` backend and the emulator use
(create_call_type, upsert_users, get_or_create_call), so the rows are exactly what an apply
would leave. Only the transaction boundaries differ: the whole population runs inside one
SQLite transaction instead of one per call, which turns 100,000 commits into one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import workload  # noqa: E402


def _single_transaction(engine: Any) -> Any:
    """Make the engine's store run every write inside one outer transaction; return the store."""
    from stagecfg.sandbox.store import Transaction

    store = engine.store if hasattr(engine, "store") else engine._store
    conn = store.connection()

    @contextmanager
    def write() -> Iterator[Transaction]:
        yield Transaction(conn)

    store.write = write
    return store, conn


def main(sandbox: str, call_types: int, calls: int) -> None:
    from stagecfg.model import PROJECT_MARKER_KEY
    from stagecfg.sandbox.engine import Engine

    engine = Engine(sandbox)
    store, conn = _single_transaction(engine)
    conn.execute("BEGIN IMMEDIATE")
    engine.upsert_users(
        {"users": {user: {"id": user, "role": "user", "name": user} for user in workload.USERS}}
    )
    for index in range(call_types):
        engine.create_call_type(workload.call_type_request(index))
    for index in range(calls):
        cid, data = workload.call_requests(index, call_types)
        # The planner adds the project marker to every call it creates; so does this.
        data["custom"] = {**data["custom"], PROJECT_MARKER_KEY: workload.PROJECT}  # type: ignore[dict-item]
        call_type, call_id = cid.split(":", 1)
        engine.get_or_create_call(call_type, call_id, {"data": data})
    conn.execute("COMMIT")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
