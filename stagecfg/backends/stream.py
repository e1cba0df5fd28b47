"""The ``stream`` backend: a real Stream app (or the emulator) over Stream's REST API.

Every request goes through :class:`stagecfg.httpclient.ApiSession`, which owns retries, pacing
and timeouts; this module only maps Backend operations to endpoints and wire bodies to state.
Reads are batched: one list of call types, calls by ``cid $in`` in chunks of 100 sent in
parallel, users by ``id $in`` in chunks of 100.

Every answer is converted under :meth:`StreamBackend._shaped`, so an answer of the wrong shape is
a BackendError for that operation (exit 1), never a crash and never a read that became "absent".
Writes that must not run twice (creates, go_live, stop_live, member updates) pass ``recover``:
after a lost answer the object is re-read, and a write found to have landed is not sent again.

There is no advisory lock across applies: Stream offers no compare-and-set, so a marker (say a
call with an expiry) could be acquired but not safely taken over when stale, and it would be an
object in the app that nobody declared. Instead two applies converge: a create that loses the
race to an identical object counts as done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

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
    AppVocabulary,
    CallState,
    CallTypeState,
    Json,
    UserState,
    split_cid,
)

T = TypeVar("T")


def _shaped(target: Target, convert: Callable[[], T]) -> T:
    """``convert()``, with an answer of the wrong shape reported as the target's BackendError."""
    try:
        return convert()
    except wire.WireError as exc:
        raise BackendError(
            f"unexpected answer: {exc}",
            operation=target.operation,
            kind=target.kind,
            name=target.name,
            hint="the server at STREAM_BASE_URL does not answer as Stream's API does",
        ) from None


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
        all_users: bool = False,
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
        read_users = Target("read", "users")
        found_users: dict[str, UserState] = {}
        for user_job in user_jobs:
            body = user_job.result()
            found_users.update(_shaped(read_users, lambda: batches.users_from_wire(body)))  # noqa: B023
        if all_users:  # paged one after another (each page starts after the last id)
            every = _shaped(read_users, lambda: batches.query_every_user(self._query_users))
            found_users.update(every)
        return batches.actual_state(call_types, calls, found_users)

    def _list_call_types(self) -> dict[str, CallTypeState]:
        target = Target("list", "call_types")
        body = self.session.request("GET", "/api/v2/video/calltypes", target)
        return _shaped(target, lambda: batches.call_types_from_wire(body))

    def query_calls(self, filter_conditions: Json) -> list[CallState]:
        target = Target("query", "calls")

        def fetch(request: Json) -> Json:
            return self.session.request("POST", "/api/v2/video/calls", target, json_body=request)

        return _shaped(target, lambda: batches.query_all_calls(fetch, filter_conditions))

    def read_vocabulary(self) -> AppVocabulary:
        # Two small reads, each bounded and retried like any other, their shape checked.
        permissions_target = Target("list", "permissions")
        roles_target = Target("list", "roles")
        permissions = self._pool.submit(
            self.session.request, "GET", "/api/v2/permissions", permissions_target
        )
        roles = self._pool.submit(self.session.request, "GET", "/api/v2/roles", roles_target)
        permissions_body, roles_body = permissions.result(), roles.result()
        return AppVocabulary(
            permissions=_shaped(
                permissions_target, lambda: wire.permission_ids_from_wire(permissions_body)
            ),
            roles=_shaped(roles_target, lambda: wire.role_names_from_wire(roles_body)),
            source=self.describe(),
        )

    def _query_users(self, payload: Json) -> Json:
        """One QueryUsers answer, unread (the callers shape it)."""
        return self.session.request(
            "GET",
            "/api/v2/users",
            Target("read", "users"),
            params={"payload": json.dumps(payload, separators=(",", ":"))},
        )

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
        target = Target("create", KIND_CALL_TYPE, name)
        try:
            result = self.session.request(
                "POST",
                "/api/v2/video/calltypes",
                target,
                json_body={**body, "name": name},
                idempotent=False,
                recover=lambda: self._get_call_type(name),
            )
        except BackendError as exc:
            found = self._created_meanwhile(name, body, exc)
            if found is None:
                raise
            result = found
        return _shaped(target, lambda: wire.call_type_from_wire(result))

    def _created_meanwhile(self, name: str, body: Json, exc: BackendError) -> Json | None:
        """The call type another apply created just now, when it holds what ``body`` declares.

        Two applies of one manifest race to create it; the loser's create is refused as
        "already exists", yet what it wanted is there: that is done, not failed.
        """
        if exc.failure.status != 400 or "already exists" not in exc.failure.message:
            return None
        found = self._get_call_type(name)
        if found is None or not batches.holds_declared(found, body):
            return None
        return found

    def update_call_type(self, name: str, body: Json) -> CallTypeState:
        target = Target("update", KIND_CALL_TYPE, name)
        result = self.session.request(
            "PUT", f"/api/v2/video/calltypes/{_seg(name)}", target, json_body=body
        )
        return _shaped(target, lambda: wire.call_type_from_wire(result))

    def delete_call_type(self, name: str) -> None:
        self.session.request(
            "DELETE",
            f"/api/v2/video/calltypes/{_seg(name)}",
            Target("delete", KIND_CALL_TYPE, name),
            gone_ok=True,
        )

    # --- calls ----------------------------------------------------------------------------------

    def _read_call(self, cid: str, operation: str) -> tuple[Json, CallState]:
        """GetCall's answer and the call state it holds (its shape checked once)."""
        target = Target(operation, KIND_CALL, cid)
        body = self.session.request("GET", _call_path(cid), target)
        return body, _shaped(target, lambda: wire.call_from_wire(body))

    def _get_call(self, cid: str, operation: str) -> CallState:
        return self._read_call(cid, operation)[1]

    def create_call(self, cid: str, data: Json) -> CallState:
        # Get-or-create is idempotent by nature: a repeated attempt returns the call it made.
        target = Target("create", KIND_CALL, cid)
        body = self.session.request("POST", _call_path(cid), target, json_body={"data": data})
        return _shaped(target, lambda: wire.call_from_wire(body))

    def update_call(self, cid: str, body: Json) -> CallState:
        target = Target("update", KIND_CALL, cid)
        result = self.session.request("PATCH", _call_path(cid), target, json_body=body)
        return _shaped(target, lambda: wire.call_from_wire(result))

    def delete_call(self, cid: str) -> None:
        self.session.request(
            "POST",
            _call_path(cid, "/delete"),
            Target("delete", KIND_CALL, cid),
            json_body={"hard": False},
            gone_ok=True,
        )

    def _live(self, cid: str, action: str, options: Json) -> CallState:
        target = Target(action, KIND_CALL, cid)
        # go_live ends backstage and stop_live returns to it: a re-read showing that state after
        # a lost answer means the first attempt landed, and sending it again would restart the
        # live window (or stop it twice).
        landed_backstage = action == "stop_live"

        def recover() -> Json | None:
            body, state = self._read_call(cid, action)
            return body if state.backstage == landed_backstage else None

        answer = self.session.request(
            "POST",
            _call_path(cid, f"/{action}"),
            target,
            json_body=options,
            idempotent=False,
            recover=recover,
        )
        _shaped(target, lambda: wire.obj(answer.get("call"), "call"))
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
            target = Target("upsert", KIND_USER, name)
            answer = self.session.request("POST", "/api/v2/users", target, json_body=body)
            _shaped(target, lambda: batches.check_upserted(answer, body["users"]))  # noqa: B023

    def update_users_partial(self, users: Mapping[str, Json]) -> None:
        for name, body in batches.user_partial_updates(users):
            target = Target("update", KIND_USER, name)
            # Setting and unsetting fields is idempotent, so a retry after an ambiguous failure
            # is safe; the answer must name every user the request changed.
            answer = self.session.request("PATCH", "/api/v2/users", target, json_body=body)
            ids = [u["id"] for u in body["users"]]
            _shaped(target, lambda: batches.check_upserted(answer, ids))  # noqa: B023

    def update_members(self, cid: str, update: Collection[Json], remove: Collection[str]) -> None:
        target = Target("update-members", KIND_CALL, cid)
        for body in batches.member_updates(update, remove):

            def recover(body: Json = body) -> Json | None:
                # Members land all or nothing: if the re-read shows every requested role and
                # no removed member, the lost answer was a success.
                members = self._get_call(cid, "update-members").members
                for member in body["update_members"]:
                    role = member.get("role")
                    if member["user_id"] not in members or (
                        role and members[member["user_id"]] != role
                    ):
                        return None
                if any(uid in members for uid in body["remove_members"]):
                    return None
                return {"members": []}

            self.session.request(
                "POST",
                _call_path(cid, "/members"),
                target,
                json_body=body,
                idempotent=False,
                recover=recover,
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
    deadline: float | None = None,
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
    url = check_base_url(base_url or DEFAULT_BASE_URL)
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
        deadline=deadline,
        transport=transport,
        **extra,
    )
    return StreamBackend(session, parallelism=parallelism)


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, if it is one stagecfg may send credentials to.

    A user name or password in it (``https://user:pw@host``) would be printed in hints and sent
    as Basic auth beside Stream's token; it is refused without echoing any of the URL.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(
            "the base URL (--base-url or STREAM_BASE_URL) is not a valid URL"
        ) from None
    if "@" in parts.netloc:
        raise ConfigError(
            "the base URL (--base-url or STREAM_BASE_URL) holds a user name or password "
            "(user:password@host); remove it: the stream backend authenticates with the API key "
            "and secret"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {url!r} must start with http:// or https://")
    return url.rstrip("/")
