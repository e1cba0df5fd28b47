"""The ``stream`` backend: a real Stream app (or the emulator) over Stream's REST API.

Every request goes through :class:`stagecfg.httpclient.ApiSession`, which owns retries, pacing
and timeouts; this module only maps Backend operations to endpoints and wire bodies to state.
Reads are batched: one list of call types, calls by ``cid $in`` in chunks of 100 sent in
parallel, users by ``id $in`` in chunks of 100.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from stagecfg import wire
from stagecfg.backends import batches
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
        types_job = self._pool.submit(self._list_call_types)
        call_jobs = [
            self._pool.submit(self.query_calls, conditions)
            for conditions in batches.call_filters(cids, all_calls=all_calls)
        ]
        user_jobs = [
            self._pool.submit(self._query_users, payload) for payload in batches.user_queries(users)
        ]
        call_types = types_job.result()
        calls: dict[str, CallState] = {}
        for job in call_jobs:
            calls.update((call.cid, call) for call in job.result())
        found_users: dict[str, UserState] = {}
        for user_job in user_jobs:
            found_users.update(user_job.result())
        return batches.actual_state(call_types, calls, found_users)

    def _list_call_types(self) -> dict[str, CallTypeState]:
        body = self.session.request("GET", "/api/v2/video/calltypes", Target("list", "call_types"))
        return batches.call_types_from_wire(body)

    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        def fetch(request: Json) -> Json:
            return self.session.request(
                "POST", "/api/v2/video/calls", Target("query", KIND_CALL), json_body=request
            )

        return batches.query_all_calls(fetch, filter_conditions)

    def _query_users(self, payload: Json) -> dict[str, UserState]:
        body = self.session.request(
            "GET",
            "/api/v2/users",
            Target("read", KIND_USER),
            params={"payload": json.dumps(payload, separators=(",", ":"))},
        )
        return batches.users_from_wire(body)

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
        for name, body in batches.user_upserts(users):
            self.session.request(
                "POST", "/api/v2/users", Target("upsert", KIND_USER, name), json_body=body
            )

    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        for body in batches.member_updates(update, remove):
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
