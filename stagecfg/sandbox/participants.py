"""Who is in a call now: QueryCallParticipants, and GetActiveCallsStatus across the app.

Participants are the current session's, as joining (:mod:`.join`) records them; a filter on
them compiles to SQL over the session's JSON with the same filter grammar as QueryCalls
(:mod:`.query`), so ``$eq``, ``$in``, ``$ne``, ``$nin``, comparisons and ``$and`` / ``$or``
all work. Filterable: ``user_id``, ``role``, ``user_session_id``, ``joined_at``, and
``published_tracks``, which matches nobody, since no one publishes media in the sandbox.

Choices where Stream's behaviour is not documented:

* Participants come in the order they joined; ``total_participants`` counts every participant
  the filter matches, before ``limit`` (default 25, at most 100) cuts the page.
* GetActiveCallsStatus is a snapshot (``start_time`` = ``end_time`` = now): calls with someone
  in them are active, ``participants`` counts those people, and with no media there are no
  publishers or subscribers. Stream's SDKs read its ``metrics`` without checking for them, so
  they are sent, every figure 0: no media flows, so nothing is measured (:data:`NO_METRICS`).
"""

from __future__ import annotations

import copy
from typing import Any

from stagecfg.model import Json
from stagecfg.rules.limits import PAGE_LIMIT
from stagecfg.rules.roles import own_capabilities
from stagecfg.sandbox import query
from stagecfg.sandbox.apierror import input_error
from stagecfg.sandbox.context import Context
from stagecfg.sandbox.grants import control
from stagecfg.sandbox.requests import check_request
from stagecfg.sandbox.responses import call_state

QUERY_KEYS = {"filter_conditions"}
_LATENCY = {"p50": 0, "p90": 0}
_FPS = {"p05": 0, "p10": 0, "p50": 0, "p90": 0}
#: ActiveCallsMetrics with every statistic Stream's spec names, measured over no media.
NO_METRICS: Json = {
    "join_call_api": {"total": 0, "failures": 0, "latency": _LATENCY},
    "publishers": {
        "all": {
            "audio": {"jitter_ms": _LATENCY},
            "rtt_ms": _LATENCY,
            "video": {
                "bitrate": {"p10": 0, "p50": 0},
                "fps_30": _FPS,
                "frame_encoding_time_ms": _LATENCY,
                "jitter_ms": _LATENCY,
                "resolution": {"p10": 0, "p50": 0},
            },
        }
    },
    "subscribers": {
        "all": {
            "audio": {
                "concealment_pct": _LATENCY,
                "jitter_ms": _LATENCY,
                "packets_lost_pct": _LATENCY,
            },
            "rtt_ms": _LATENCY,
            "video": {"fps_30": _FPS, "jitter_ms": _LATENCY, "packets_lost_pct": _LATENCY},
        }
    },
}
_ITEM = "participant.value"
PARTICIPANT_FIELDS: dict[str, query.Field] = {
    "user_id": query.Field(f"json_extract({_ITEM}, '$.user_id')", "text"),
    "role": query.Field(f"json_extract({_ITEM}, '$.role')", "text"),
    "user_session_id": query.Field(f"json_extract({_ITEM}, '$.user_session_id')", "text"),
    "joined_at": query.Field(f"json_extract({_ITEM}, '$.joined_at')", "time"),
    # No published tracks: every condition compares against SQL NULL.
    "published_tracks": query.Field("NULL", "text"),
}


def _limit(op: str, limit: Any) -> int:
    if isinstance(limit, str):
        if not (limit.isascii() and limit.isdigit()) or len(limit) > 10:
            raise input_error(op, f"limit must be an integer between 0 and {PAGE_LIMIT}")
        limit = int(limit)
    try:
        return query.parse_limit(limit)
    except query.QueryError as exc:
        raise input_error(op, str(exc)) from None


def query_call_participants(
    ctx: Context,
    call_type: str,
    call_id: str,
    body: Json,
    limit: Any = None,
    caller: str | None = None,
) -> Json:
    op = "QueryCallParticipants"
    body = check_request(op, body, QUERY_KEYS)
    page_size = _limit(op, limit)
    params: list[object] = []
    try:
        where = query.compile_filter(body.get("filter_conditions"), PARTICIPANT_FIELDS, params)
    except query.QueryError as exc:
        raise input_error(op, str(exc)) from None
    with control(ctx, op, call_type, call_id, caller) as c:
        found = c.tx.execute(
            "SELECT json_extract(participant.value, '$.user_session_id') FROM calls,"
            " json_each(calls.data, '$.session.participants') AS participant"
            f" WHERE calls.seq = ? AND ({where}) ORDER BY participant.key",
            [c.row[0], *params],
        ).fetchall()
        state = call_state(c.tx, c.row)
        state["own_capabilities"] = own_capabilities(c.access)
    session = state["call"].get("session") or {}
    by_id = {p["user_session_id"]: p for p in session.get("participants", [])}
    matched = [by_id[r[0]] for r in found if r[0] in by_id]
    return {
        **state,
        "participants": matched[:page_size],
        "total_participants": len(matched),
    }


def active_calls_status(ctx: Context) -> Json:
    """GetActiveCallsStatus: how many calls have someone in them, and how many people."""
    now = ctx.now()
    with ctx.store.read() as tx:
        calls, people = tx.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_array_length(data, '$.session.participants')), 0)"
            " FROM calls WHERE deleted_at IS NULL AND ongoing = 1 AND ended_at IS NULL"
        ).fetchone()
    return {
        "start_time": now,
        "end_time": now,
        "summary": {
            "active_calls": calls,
            "active_publishers": 0,
            "active_subscribers": 0,
            "participants": people,
        },
        "metrics": copy.deepcopy(NO_METRICS),
    }
