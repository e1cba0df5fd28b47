"""The ``stream`` backend: a real Stream app (or the emulator) over Stream's REST API.

Every request goes through :class:`stagecfg.httpclient.ApiSession`, which owns retries, pacing
and timeouts; this module only maps Backend operations to endpoints and wire bodies to state.
Reads are batched: one list of call types, calls by ``cid $in`` in chunks of 100 sent in
parallel, users by ``id $in`` in chunks of 100.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from stagecfg import wire
from stagecfg.backends.base import Backend
from stagecfg.errors import BackendError, ConfigError
from stagecfg.httpclient import DEFAULT_BASE_URL, ApiSession, RetryPolicy, Target
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    ActualState,
    CallState,
    CallTypeState,
    Json,
    UserState,
    split_cid,
)

#: Stream caps QueryCalls ``limit``, member updates and user upserts at 100 per request.
BATCH = 100

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _seg(text: str) -> str:
    return quote(text, safe="")


def _call_path(cid: str, suffix: str = "") -> str:
    call_type, call_id = split_cid(cid)
    return f"/api/v2/video/call/{_seg(call_type)}/{_seg(call_id)}{suffix}"


class StreamBackend(Backend):
    """A Stream app reached over HTTP; safe to use from several threads."""

    name = "stream"

    def __init__(self, session: ApiSession, *, parallelism: int = 8) -> None:
        self.session = session
        self.parallelism = parallelism
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="stream-read")

    def __repr__(self) -> str:
        return f"StreamBackend({self.describe()!r})"

    def describe(self) -> str:
        return f"stream app {self.session.api_key} at {self.session.base_url}"

    def identity(self) -> str:
        return f"stream:{self.session.api_key}@{self.session.base_url}"

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.session.close()

    # --- reads ----------------------------------------------------------------------------------

    def read(
        self,
        *,
        cids: Collection[str] = (),
        users: Collection[str] = (),
        all_calls: bool = False,
    ) -> ActualState:
        jobs: list[Future[Any]] = [self._pool.submit(self._list_call_types)]
        call_jobs: list[Future[list[CallState]]] = []
        if all_calls:
            call_jobs.append(self._pool.submit(self.query_calls, {}))
        else:
            for chunk in _chunks(sorted(set(cids))):
                call_jobs.append(self._pool.submit(self.query_calls, {"cid": {"$in": chunk}}))
        user_jobs = [
            self._pool.submit(self._query_users, chunk) for chunk in _chunks(sorted(set(users)))
        ]
        call_types: dict[str, CallTypeState] = jobs[0].result()
        calls: dict[str, CallState] = {}
        for job in call_jobs:
            for call in job.result():
                calls[call.cid] = call
        found_users: dict[str, UserState] = {}
        for user_job in user_jobs:
            found_users.update(user_job.result())
        return ActualState(
            call_types=dict(sorted(call_types.items())),
            calls=dict(sorted(calls.items())),
            users=dict(sorted(found_users.items())),
        )

    def _list_call_types(self) -> dict[str, CallTypeState]:
        body = self.session.request("GET", "/api/v2/video/calltypes", Target("list", "call_types"))
        return {
            name: wire.call_type_from_wire({**ct, "name": ct.get("name") or name})
            for name, ct in (body.get("call_types") or {}).items()
        }

    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        calls: list[CallState] = []
        cursor: str | None = None
        while True:
            request: Json = {"filter_conditions": filter_conditions, "limit": BATCH}
            if cursor:
                request["next"] = cursor
            body = self.session.request(
                "POST", "/api/v2/video/calls", Target("query", KIND_CALL), json_body=request
            )
            calls.extend(wire.call_from_wire(state) for state in body.get("calls") or ())
            cursor = body.get("next") or None
            if not cursor or not body.get("calls"):
                return calls

    def _query_users(self, ids: list[str]) -> dict[str, UserState]:
        payload = {"filter_conditions": {"id": {"$in": ids}}, "limit": BATCH}
        body = self.session.request(
            "GET",
            "/api/v2/users",
            Target("read", KIND_USER),
            params={"payload": json.dumps(payload, separators=(",", ":"))},
        )
        found = (wire.user_from_wire(u) for u in body.get("users") or ())
        return {u.id: u for u in found}

    # --- call types -----------------------------------------------------------------------------

    def _get_call_type(self, name: str) -> Json | None:
        try:
            return self.session.request(
                "GET", f"/api/v2/video/calltypes/{_seg(name)}", Target("read", KIND_CALL_TYPE, name)
            )
        except BackendError as exc:
            if exc.failure.status == 404:
                return None
            raise

    def create_call_type(self, name: str, body: Json) -> CallTypeState:
        result = self.session.request(
            "POST",
            "/api/v2/video/calltypes",
            Target("create", KIND_CALL_TYPE, name),
            json_body={**body, "name": name},
            idempotent=False,
            recover=lambda: self._get_call_type(name),
        )
        return wire.call_type_from_wire(result)

    def update_call_type(self, name: str, body: Json) -> CallTypeState:
        result = self.session.request(
            "PUT",
            f"/api/v2/video/calltypes/{_seg(name)}",
            Target("update", KIND_CALL_TYPE, name),
            json_body=body,
        )
        return wire.call_type_from_wire(result)

    def delete_call_type(self, name: str) -> None:
        self.session.request(
            "DELETE",
            f"/api/v2/video/calltypes/{_seg(name)}",
            Target("delete", KIND_CALL_TYPE, name),
            gone_ok=True,
        )

    # --- calls ----------------------------------------------------------------------------------

    def _get_call(self, cid: str, operation: str) -> CallState:
        body = self.session.request("GET", _call_path(cid), Target(operation, KIND_CALL, cid))
        return wire.call_from_wire(body)

    def create_call(self, cid: str, data: Json) -> CallState:
        # Get-or-create is idempotent by nature: a repeated attempt returns the call it made.
        body = self.session.request(
            "POST", _call_path(cid), Target("create", KIND_CALL, cid), json_body={"data": data}
        )
        return wire.call_from_wire(body)

    def update_call(self, cid: str, body: Json) -> CallState:
        result = self.session.request(
            "PATCH", _call_path(cid), Target("update", KIND_CALL, cid), json_body=body
        )
        return wire.call_from_wire(result)

    def delete_call(self, cid: str) -> None:
        self.session.request(
            "POST",
            _call_path(cid, "/delete"),
            Target("delete", KIND_CALL, cid),
            json_body={"hard": False},
            gone_ok=True,
        )

    def _live(self, cid: str, action: str, options: Json) -> CallState:
        self.session.request(
            "POST", _call_path(cid, f"/{action}"), Target(action, KIND_CALL, cid), json_body=options
        )
        # GoLive/StopLive answer with the call but not its members; read both back so the
        # returned state is complete, as the Backend contract asks.
        return self._get_call(cid, action)

    def go_live(self, cid: str, options: Json) -> CallState:
        return self._live(cid, "go_live", options)

    def stop_live(self, cid: str, options: Json) -> CallState:
        return self._live(cid, "stop_live", options)

    # --- users and members ----------------------------------------------------------------------

    def upsert_users(self, users: Mapping[str, Json]) -> None:
        ids = sorted(users)
        for chunk in _chunks(ids):
            body = {"users": {uid: {**users[uid], "id": uid} for uid in chunk}}
            self.session.request(
                "POST",
                "/api/v2/users",
                Target("upsert", KIND_USER, ",".join(chunk) if len(chunk) <= 3 else ""),
                json_body=body,
            )

    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        updates = list(update)
        removals = sorted(remove)
        rounds = max(1, -(-len(updates) // BATCH), -(-len(removals) // BATCH))
        for i in range(rounds):
            body: Json = {
                "update_members": updates[i * BATCH : (i + 1) * BATCH],
                "remove_members": removals[i * BATCH : (i + 1) * BATCH],
            }
            self.session.request(
                "POST",
                _call_path(cid, "/members"),
                Target("update-members", KIND_CALL, cid),
                json_body=body,
            )


def open_backend(
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    base_url: str | None = None,
    parallelism: int = 8,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    **_ignored: Any,
) -> StreamBackend:
    """Build the backend from settings; complain about missing credentials before any request."""
    missing = [
        label
        for label, value in (
            ("API key (--api-key or STREAM_API_KEY)", api_key),
            ("API secret (STREAM_API_SECRET or --api-secret)", api_secret),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            "the stream backend needs the app's " + " and ".join(missing) + "; find both in the "
            "Stream dashboard, or point STREAM_BASE_URL at `stagecfg emulator`"
        )
    assert api_key is not None and api_secret is not None
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base URL {url!r} must start with http:// or https://")
    extra: dict[str, Any] = {}
    if sleep is not None:
        extra["sleep"] = sleep
    session = ApiSession(
        api_key=api_key,
        api_secret=api_secret,
        base_url=url,
        timeout=timeout,
        parallelism=parallelism,
        retry=retry,
        transport=transport,
        **extra,
    )
    return StreamBackend(session, parallelism=parallelism)
