"""The sandbox engine: Stream Video's server-side semantics over one SQLite file.

Methods take Stream wire request bodies (dicts as the REST API receives them) and return wire
response bodies (timestamps as integer nanoseconds) without ``duration``; the HTTP emulator adds
that. Refusals raise :class:`~stagecfg.sandbox.apierror.StreamAPIError` with Stream's codes.

Choices where Stream's behaviour is not documented or not verified:

* Built-in call types cannot be deleted: 400 code 4.
* New call types start from the built-in ``default`` type's settings, grants and notification
  settings; the request's settings merge into them and its grant roles replace theirs.
* ``null`` inside a settings request leaves the field as it is (the SDK never sends null).
* PATCH of ``settings_override.backstage.enabled`` changes the call's settings only; the current
  ``backstage`` flag moves only with go_live / stop_live.
* go_live on a live call is allowed and restarts the live window (``live_started_at``).
* A soft-deleted call is invisible; get_or_create on its cid makes a fresh call.
* A member added without a role gets ``call_member``.
* go_live also starts HLS when ``broadcasting.hls.auto_on`` and recording when
  ``recording.mode`` is ``auto-on``; stop_live stops each egress unless its ``continue_*`` flag.
* QueryCalls ``limit`` 0 means the default (25), so a client following ``next`` always advances.
  The default order (created_at, cid) pages by keyset; an explicit sort pages by offset.
* ``ongoing`` is true while the current session has participants and the call has not ended.
* Client-side join (:meth:`Engine.join_call`): grants are the union over the user's app role and
  call member role from the call type's *current* grants; an unknown user joins as role
  ``user`` (Stream creates users on connect); ``create: true`` creates the call when the user's
  app role holds ``create-call``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from stagecfg import timestamps
from stagecfg.rules.builtins import (
    BUILTIN_CALL_TYPES,
    builtin_call_types,
    changed_call_type,
    template_call_type,
)
from stagecfg.rules.join import (
    JOIN_BACKSTAGE,
    JOIN_CALL,
    JOIN_ENDED_CALL,
    admitting_grant,
    join_window,
    stage_of,
)
from stagecfg.rules.permissions import OWN_CAPABILITIES
from stagecfg.rules.roles import capabilities, holds, roles_of
from stagecfg.rules.settings import (
    NOTIFICATION_EVENTS,
    SETTINGS_KEYS,
    backstage_of,
    merge_settings,
)
from stagecfg.sandbox import query
from stagecfg.sandbox.apierror import input_error, not_allowed, not_found
from stagecfg.sandbox.store import Store, Transaction

Json = dict[str, Any]

DEFAULT_MEMBER_ROLE = "call_member"
MAX_MEMBERS = 100
_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

_CALL_TYPE_CREATE_KEYS = {"name", "settings", "grants", "notification_settings", "external_storage"}
_CALL_TYPE_UPDATE_KEYS = _CALL_TYPE_CREATE_KEYS - {"name"}
_GET_OR_CREATE_KEYS = {"data", "members_limit", "notify", "ring", "video"}
_CALL_REQUEST_KEYS = {
    "channel_cid",
    "created_by",
    "created_by_id",
    "custom",
    "members",
    "settings_override",
    "starts_at",
    "team",
    "video",
}
_UPDATE_CALL_KEYS = {"starts_at", "custom", "settings_override"}
_USER_REQUEST_KEYS = {
    "id",
    "role",
    "name",
    "image",
    "custom",
    "teams",
    "teams_role",
    "language",
    "invisible",
    "privacy_settings",
}
_GO_LIVE_KEYS = {
    "start_hls",
    "start_recording",
    "start_composite_recording",
    "start_individual_recording",
    "start_raw_recording",
    "start_transcription",
    "start_closed_caption",
    "recording_storage_name",
    "transcription_storage_name",
}
_STOP_LIVE_KEYS = {
    "continue_hls",
    "continue_recording",
    "continue_composite_recording",
    "continue_individual_recording",
    "continue_raw_recording",
    "continue_rtmp_broadcasts",
    "continue_transcription",
    "continue_closed_caption",
}
_NOTIFICATION_KEYS = {"enabled", *NOTIFICATION_EVENTS}

#: JoinCall's refusal per stage, as the sandbox words it ({who}: the user and their roles).
_REFUSALS: Mapping[str, str] = {
    "ended": f"call has ended: {{who}} lacks {JOIN_ENDED_CALL}",
    "backstage": f"call is not live: {{who}} lacks {JOIN_BACKSTAGE}",
    "join-ahead": f"{{who}} lacks {JOIN_CALL} and {JOIN_BACKSTAGE}",
    "live": f"{{who}} lacks {JOIN_CALL}",
}

_CALL_COLUMNS = (
    "seq, cid, type, id, created_by_id, backstage, ongoing, team, starts_at, ended_at,"
    " created_at, updated_at, data, settings"
)


def _stored(row: Sequence[Any]) -> Json:
    """A call row's JSON state with its settings, decoded."""
    stored: Json = json.loads(row[12])
    stored["settings"] = json.loads(row[13]) if row[13] is not None else stored.get("settings")
    return stored


def _check_keys(op: str, what: str, body: Any, allowed: Iterable[str]) -> Json:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise input_error(op, f"{what} must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise input_error(op, f"{what} has unknown field(s): {', '.join(unknown)}")
    return body


def _check_settings(op: str, what: str, settings: Any) -> Json:
    body = _check_keys(op, what, settings, SETTINGS_KEYS)
    for key, value in body.items():
        if value is not None and not isinstance(value, dict):
            raise input_error(op, f"{what}.{key} must be an object")
    return body


def _check_grants(op: str, grants: Any) -> dict[str, list[str]]:
    if grants is None:
        return {}
    if not isinstance(grants, dict):
        raise input_error(op, "grants must be an object mapping role to a list of permissions")
    for role, ids in grants.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise input_error(op, f"grants.{role} must be a list of permission strings")
    return grants


def _check_notifications(op: str, body: Any) -> Json:
    checked = _check_keys(op, "notification_settings", body, _NOTIFICATION_KEYS)
    for key, value in checked.items():
        if key != "enabled" and value is not None and not isinstance(value, dict):
            raise input_error(op, f"notification_settings.{key} must be an object")
    return checked


def _instant(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise input_error(op, f"{name} must be an RFC 3339 timestamp")
    try:
        return timestamps.to_nanos(value)
    except ValueError:
        raise input_error(op, f"{name} must be an RFC 3339 timestamp, got {value!r}") from None


def _user_response(row: Sequence[Any] | None, user_id: str) -> Json:
    if row is None:
        # Only reachable for a user row removed by hand; keep the response well-formed.
        return {
            "id": user_id,
            "role": "user",
            "custom": {},
            "language": "",
            "teams": [],
            "created_at": 0,
            "updated_at": 0,
            "banned": False,
            "online": False,
            "blocked_user_ids": [],
            "shadow_banned": False,
            "invisible": False,
        }
    uid, role, data, created_at, updated_at = row
    stored = json.loads(data)
    user: Json = {
        "id": uid,
        "role": role,
        "custom": stored.get("custom") or {},
        "language": stored.get("language") or "",
        "teams": list(stored.get("teams") or []),
        "created_at": created_at,
        "updated_at": updated_at,
        "banned": False,
        "online": False,
        "blocked_user_ids": [],
        "shadow_banned": False,
        "invisible": bool(stored.get("invisible", False)),
    }
    for key in ("name", "image"):
        if stored.get(key):
            user[key] = stored[key]
    if stored.get("teams_role"):
        user["teams_role"] = stored["teams_role"]
    return user


class Engine:
    """A Stream Video app held in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = Store(path)
        self._clock = clock or timestamps.now_utc
        self._seed()

    @property
    def path(self) -> str:
        return str(self._store.path)

    def close(self) -> None:
        self._store.close()

    def _now(self) -> int:
        return timestamps.to_nanos(self._clock())

    def _seed(self) -> None:
        with self._store.write() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
            if row is not None:
                return
            now = self._now()
            for name, data in builtin_call_types().items():
                tx.execute(
                    "INSERT OR IGNORE INTO call_types VALUES (?, ?, ?, ?)",
                    (name, json.dumps(data), now, now),
                )
            tx.execute(
                "INSERT INTO meta VALUES ('seeded', ?), ('schema', ?)",
                (str(now), "1"),
            )

    # --- call types -----------------------------------------------------------------------

    @staticmethod
    def _call_type_response(row: Sequence[Any]) -> Json:
        name, data, created_at, updated_at = row
        stored = json.loads(data)
        body: Json = {
            "name": name,
            "settings": stored["settings"],
            "grants": stored["grants"],
            "notification_settings": stored["notification_settings"],
            "created_at": created_at,
            "updated_at": updated_at,
        }
        if stored.get("external_storage"):
            body["external_storage"] = stored["external_storage"]
        return body

    @staticmethod
    def _call_type_row(tx: Transaction, name: str, op: str) -> Sequence[Any]:
        row = tx.execute(
            "SELECT name, data, created_at, updated_at FROM call_types WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise not_found(op, "call type does not exist")
        return tuple(row)

    def list_call_types(self) -> Json:
        with self._store.read() as tx:
            rows = tx.execute(
                "SELECT name, data, created_at, updated_at FROM call_types ORDER BY name"
            ).fetchall()
        return {"call_types": {row[0]: self._call_type_response(row) for row in rows}}

    def get_call_type(self, name: str) -> Json:
        with self._store.read() as tx:
            return self._call_type_response(self._call_type_row(tx, name, "GetCallType"))

    def create_call_type(self, body: Json) -> Json:
        op = "CreateCallType"
        body = _check_keys(op, "request", body, _CALL_TYPE_CREATE_KEYS)
        name = body.get("name")
        if not isinstance(name, str) or not _ID_RE.match(name):
            raise input_error(op, "name is required: 1-64 letters, digits, underscores or dashes")
        settings = _check_settings(op, "settings", body.get("settings"))
        grants = _check_grants(op, body.get("grants"))
        notifications = _check_notifications(op, body.get("notification_settings"))
        data = changed_call_type(
            template_call_type(),
            settings=settings,
            grants=grants,
            notification_settings=notifications,
        )
        storage = body.get("external_storage")
        if storage:
            data["external_storage"] = str(storage)
        with self._store.write() as tx:
            exists = tx.execute("SELECT 1 FROM call_types WHERE name = ?", (name,)).fetchone()
            if exists:
                raise input_error(op, f"call type {name} already exists")
            now = self._now()
            tx.execute(
                "INSERT INTO call_types VALUES (?, ?, ?, ?)", (name, json.dumps(data), now, now)
            )
            return self._call_type_response(self._call_type_row(tx, name, op))

    def update_call_type(self, name: str, body: Json) -> Json:
        op = "UpdateCallType"
        body = _check_keys(op, "request", body, _CALL_TYPE_UPDATE_KEYS)
        settings = _check_settings(op, "settings", body.get("settings"))
        grants = _check_grants(op, body.get("grants"))
        notifications = _check_notifications(op, body.get("notification_settings"))
        with self._store.write() as tx:
            row = self._call_type_row(tx, name, op)
            data = json.loads(row[1])
            data.update(
                changed_call_type(
                    data, settings=settings, grants=grants, notification_settings=notifications
                )
            )
            if "external_storage" in body:
                if body["external_storage"]:
                    data["external_storage"] = str(body["external_storage"])
                else:
                    data.pop("external_storage", None)
            tx.execute(
                "UPDATE call_types SET data = ?, updated_at = ? WHERE name = ?",
                (json.dumps(data), self._now(), name),
            )
            return self._call_type_response(self._call_type_row(tx, name, op))

    def delete_call_type(self, name: str) -> Json:
        op = "DeleteCallType"
        with self._store.write() as tx:
            self._call_type_row(tx, name, op)
            if name in BUILTIN_CALL_TYPES:
                raise input_error(op, f"built-in call type {name} cannot be deleted")
            tx.execute("DELETE FROM call_types WHERE name = ?", (name,))
        return {}

    # --- users ----------------------------------------------------------------------------

    @staticmethod
    def _users_by_id(tx: Transaction, ids: Iterable[str]) -> dict[str, Json]:
        wanted = sorted(set(ids))
        out: dict[str, Json] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = tx.execute(
                "SELECT id, role, data, created_at, updated_at FROM users"
                f" WHERE id IN ({', '.join('?' * len(chunk))})",
                list(chunk),
            ).fetchall()
            for row in rows:
                out[row[0]] = _user_response(row, row[0])
        return out

    def _write_user(self, tx: Transaction, op: str, user: Any, now: int) -> str:
        user = _check_keys(op, "user", user, _USER_REQUEST_KEYS)
        uid = user.get("id")
        if not isinstance(uid, str) or not uid:
            raise input_error(op, "user.id is required")
        role = user.get("role") or "user"
        if not isinstance(role, str):
            raise input_error(op, f"user {uid}: role must be a string")
        stored = {k: v for k, v in user.items() if k not in ("id", "role") and v is not None}
        tx.execute(
            "INSERT INTO users (id, role, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET role = excluded.role, data = excluded.data,"
            " updated_at = excluded.updated_at",
            (uid, role, json.dumps(stored), now, now),
        )
        return uid

    @staticmethod
    def _ensure_user(tx: Transaction, uid: str, now: int) -> None:
        tx.execute(
            "INSERT OR IGNORE INTO users (id, role, data, created_at, updated_at)"
            " VALUES (?, 'user', '{}', ?, ?)",
            (uid, now, now),
        )

    def upsert_users(self, body: Json) -> Json:
        op = "UpdateUsers"
        body = _check_keys(op, "request", body, {"users"})
        users = body.get("users")
        if not isinstance(users, dict):
            raise input_error(op, "users must be an object mapping user id to user")
        with self._store.write() as tx:
            now = self._now()
            ids = []
            for key, user in users.items():
                if isinstance(user, dict) and user.get("id", key) != key:
                    raise input_error(op, f"users.{key}.id does not match its key")
                ids.append(self._write_user(tx, op, {"id": key, **(user or {})}, now))
            found = self._users_by_id(tx, ids)
        # UpdateUsers answers with FullUserResponse: the chat counters and lists, all empty.
        full: Json = {
            "devices": [],
            "mutes": [],
            "channel_mutes": [],
            "unread_count": 0,
            "total_unread_count": 0,
            "unread_channels": 0,
            "unread_threads": 0,
        }
        users_out = {uid: {**found[uid], **full} for uid in sorted(found)}
        return {"users": users_out, "membership_deletion_task_id": ""}

    def query_users(self, body: Json) -> Json:
        """QueryUsers with a filter on id / role; ``limit`` (<=100) and ``offset`` page."""
        op = "QueryUsers"
        allowed = {
            "filter_conditions",
            "include_deactivated_users",
            "limit",
            "offset",
            "presence",
            "sort",
            "user",
            "user_id",
        }
        if isinstance(body, dict):
            # Stream's SDKs send every payload field, unset ones as null (getstream 7 adds id_gt,
            # id_gte, id_lt and id_lte); the API reads null as absent.
            body = {key: value for key, value in body.items() if value is not None}
        body = _check_keys(op, "request", body, allowed)
        params: list[object] = []
        try:
            where = query.compile_filter(body.get("filter_conditions"), query.USER_FIELDS, params)
            limit = query.parse_limit(body.get("limit"))
        except query.QueryError as exc:
            raise input_error(op, str(exc)) from None
        offset = body.get("offset") or 0
        if not isinstance(offset, int) or offset < 0:
            raise input_error(op, "offset must be a non-negative integer")
        with self._store.read() as tx:
            rows = tx.execute(
                "SELECT id, role, data, created_at, updated_at FROM users"
                f" WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return {"users": [_user_response(row, row[0]) for row in rows]}

    # --- calls: reading and rendering -----------------------------------------------------

    def _live_call(self, tx: Transaction, op: str, call_type: str, call_id: str) -> Any:
        row = tx.execute(
            f"SELECT {_CALL_COLUMNS} FROM calls WHERE cid = ? AND deleted_at IS NULL",
            (f"{call_type}:{call_id}",),
        ).fetchone()
        if row is None:
            raise not_found(op, f"Can't find call with id {call_type}:{call_id}")
        return row

    def _render_calls(self, tx: Transaction, rows: Sequence[Any]) -> list[Json]:
        """CallStateResponseFields for each row, with members and users read in batches."""
        seqs = [row[0] for row in rows]
        members: dict[int, list[Sequence[Any]]] = {seq: [] for seq in seqs}
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            for m in tx.execute(
                "SELECT call_seq, user_id, role, custom, created_at, updated_at FROM members"
                f" WHERE call_seq IN ({', '.join('?' * len(chunk))}) ORDER BY call_seq, user_id",
                list(chunk),
            ).fetchall():
                members[m[0]].append(m)
        user_ids: set[str] = {row[4] for row in rows}
        for ms in members.values():
            user_ids.update(m[1] for m in ms)
        decoded: list[Json] = []
        # Calls made from one call type mostly carry identical settings: decode each distinct
        # text once per response (the dicts are shared only within this one response).
        settings_memo: dict[str, Json] = {}
        for row in rows:
            stored = json.loads(row[12])
            text = row[13]
            if text is not None:
                if text not in settings_memo:
                    settings_memo[text] = json.loads(text)
                stored["settings"] = settings_memo[text]
            decoded.append(stored)
            session = stored.get("session") or {}
            user_ids.update(p["user_id"] for p in session.get("participants", []))
        users = self._users_by_id(tx, user_ids)
        out = []
        for row, stored in zip(rows, decoded, strict=True):
            out.append(
                {
                    "call": self._call_response(row, stored, users),
                    "members": [self._member_response(m, users) for m in members[row[0]]],
                    "own_capabilities": list(OWN_CAPABILITIES),
                }
            )
        return out

    @staticmethod
    def _member_response(m: Sequence[Any], users: Mapping[str, Json]) -> Json:
        _seq, user_id, role, custom, created_at, updated_at = m
        return {
            "user_id": user_id,
            "user": users.get(user_id) or _user_response(None, user_id),
            "custom": json.loads(custom),
            "role": role,
            "created_at": created_at,
            "updated_at": updated_at,
        }

    @staticmethod
    def _call_response(row: Sequence[Any], stored: Json, users: Mapping[str, Json]) -> Json:
        (
            _seq,
            cid,
            call_type,
            call_id,
            created_by_id,
            backstage,
            _ongoing,
            team,
            starts_at,
            ended_at,
            created_at,
            updated_at,
            _data,
            _settings,
        ) = row
        settings = stored["settings"]
        call: Json = {
            "type": call_type,
            "id": call_id,
            "cid": cid,
            "backstage": bool(backstage),
            "blocked_user_ids": [],
            "captioning": bool(stored.get("captioning")),
            "created_at": created_at,
            "created_by": users.get(created_by_id) or _user_response(None, created_by_id),
            "current_session_id": "",
            "custom": stored.get("custom") or {},
            "egress": stored.get("egress") or {"broadcasting": False, "rtmps": []},
            "ingress": {
                "rtmp": {"address": f"rtmps://ingress.sandbox.invalid:443/{call_type}/{call_id}"},
                "srt": {"address": f"srt://ingress.sandbox.invalid:7001?streamid={cid}"},
                "whip": {"address": f"https://ingress.sandbox.invalid/whip/{call_type}/{call_id}"},
            },
            "recording": bool(stored.get("recording")),
            "settings": settings,
            "transcribing": bool(stored.get("transcribing")),
            "translating": bool(stored.get("translating")),
            "updated_at": updated_at,
            "join_ahead_time_seconds": int(
                settings.get("backstage", {}).get("join_ahead_time_seconds") or 0
            ),
        }
        if starts_at is not None:
            call["starts_at"] = starts_at
        if ended_at is not None:
            call["ended_at"] = ended_at
        if team:
            call["team"] = team
        session = stored.get("session")
        if session:
            call["current_session_id"] = session["id"]
            call["session"] = Engine._session_response(session, users)
        return call

    @staticmethod
    def _session_response(session: Json, users: Mapping[str, Json]) -> Json:
        participants = []
        by_role: dict[str, int] = {}
        for p in session.get("participants", []):
            participants.append(
                {
                    "user": users.get(p["user_id"]) or _user_response(None, p["user_id"]),
                    "user_session_id": p["user_session_id"],
                    "role": p["role"],
                    "joined_at": p["joined_at"],
                }
            )
            by_role[p["role"]] = by_role.get(p["role"], 0) + 1
        out: Json = {
            "id": session["id"],
            "participants": participants,
            "participants_count_by_role": dict(sorted(by_role.items())),
            "anonymous_participant_count": 0,
            "accepted_by": {},
            "rejected_by": {},
            "missed_by": {},
        }
        for key in ("started_at", "ended_at", "live_started_at", "live_ended_at"):
            if session.get(key) is not None:
                out[key] = session[key]
        return out

    def _state(self, tx: Transaction, row: Any) -> Json:
        return self._render_calls(tx, [row])[0]

    def _reload(self, tx: Transaction, seq: int) -> Any:
        return tx.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE seq = ?", (seq,)).fetchone()

    def get_call(self, call_type: str, call_id: str) -> Json:
        with self._store.read() as tx:
            return self._state(tx, self._live_call(tx, "GetCall", call_type, call_id))

    # --- calls: writing -------------------------------------------------------------------

    def _check_member_requests(self, op: str, members: Any) -> list[Json]:
        if members is None:
            return []
        if not isinstance(members, list):
            raise input_error(op, "members must be a list")
        if len(members) > MAX_MEMBERS:
            raise input_error(op, f"at most {MAX_MEMBERS} members per request")
        out = []
        for m in members:
            m = _check_keys(op, "member", m, {"user_id", "role", "custom"})
            if not isinstance(m.get("user_id"), str) or not m["user_id"]:
                raise input_error(op, "member.user_id is required")
            if m.get("custom") is not None and not isinstance(m["custom"], dict):
                raise input_error(op, f"member {m['user_id']}: custom must be an object")
            out.append(m)
        return out

    @staticmethod
    def _require_users(tx: Transaction, op: str, ids: Iterable[str]) -> None:
        wanted = sorted(set(ids))
        if not wanted:
            return
        found = {
            r[0]
            for r in tx.execute(
                f"SELECT id FROM users WHERE id IN ({', '.join('?' * len(wanted))})", wanted
            ).fetchall()
        }
        missing = [u for u in wanted if u not in found]
        if missing:
            raise input_error(
                op, f"the following users don't exist: {', '.join(missing)}; upsert them first"
            )

    @staticmethod
    def _upsert_members(tx: Transaction, seq: int, members: Sequence[Json], now: int) -> None:
        tx.executemany(
            "INSERT INTO members (call_seq, user_id, role, custom, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_seq, user_id) DO UPDATE SET"
            " role = excluded.role, custom = excluded.custom, updated_at = excluded.updated_at",
            [
                (
                    seq,
                    m["user_id"],
                    m.get("role") or DEFAULT_MEMBER_ROLE,
                    json.dumps(m.get("custom") or {}),
                    now,
                    now,
                )
                for m in members
            ],
        )

    def get_or_create_call(self, call_type: str, call_id: str, body: Json) -> Json:
        op = "GetOrCreateCall"
        body = _check_keys(op, "request", body, _GET_OR_CREATE_KEYS)
        data = _check_keys(op, "data", body.get("data"), _CALL_REQUEST_KEYS)
        if not _ID_RE.match(call_id or ""):
            raise input_error(op, "call id must be 1-64 letters, digits, underscores or dashes")
        with self._store.write() as tx:
            row = tx.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls WHERE cid = ? AND deleted_at IS NULL",
                (f"{call_type}:{call_id}",),
            ).fetchone()
            if row is not None:
                return {**self._state(tx, row), "created": False}
            type_row = self._call_type_row(tx, call_type, op)
            row = self._insert_call(tx, op, call_type, call_id, json.loads(type_row[1]), data)
            return {**self._state(tx, row), "created": True}

    def _insert_call(
        self, tx: Transaction, op: str, call_type: str, call_id: str, type_data: Json, data: Json
    ) -> Any:
        now = self._now()
        creator = data.get("created_by")
        creator_id = data.get("created_by_id")
        if creator is not None:
            if not isinstance(creator, dict):
                raise input_error(op, "data.created_by must be a user object")
            if creator_id is not None and creator.get("id") != creator_id:
                raise input_error(op, "data.created_by.id and data.created_by_id differ")
            creator_id = creator.get("id")
        if not isinstance(creator_id, str) or not creator_id:
            raise input_error(
                op,
                "either data.created_by or data.created_by_id must be provided when using"
                " server side auth",
            )
        members = self._check_member_requests(op, data.get("members"))
        override = _check_settings(op, "data.settings_override", data.get("settings_override"))
        custom = data.get("custom") or {}
        if not isinstance(custom, dict):
            raise input_error(op, "data.custom must be an object")
        team = data.get("team")
        if team is not None and not isinstance(team, str):
            raise input_error(op, "data.team must be a string")
        starts_at = data.get("starts_at")
        starts_ns = None if starts_at is None else _instant(op, "data.starts_at", starts_at)
        if creator is not None:
            exists = tx.execute("SELECT 1 FROM users WHERE id = ?", (creator_id,)).fetchone()
            if not exists:
                self._write_user(tx, op, creator, now)
        self._ensure_user(tx, creator_id, now)
        self._require_users(tx, op, [m["user_id"] for m in members])
        settings = merge_settings(type_data["settings"], override)
        stored: Json = {"custom": custom, "egress": {"broadcasting": False, "rtmps": []}}
        cursor = tx.execute(
            "INSERT INTO calls (cid, type, id, created_by_id, backstage, team, starts_at,"
            " created_at, updated_at, data, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"{call_type}:{call_id}",
                call_type,
                call_id,
                creator_id,
                int(backstage_of(settings).enabled),
                team or None,
                starts_ns,
                now,
                now,
                json.dumps(stored),
                json.dumps(settings),
            ),
        )
        seq = cursor.lastrowid
        assert seq is not None
        self._upsert_members(tx, seq, members, now)
        return self._reload(tx, seq)

    def _save(self, tx: Transaction, row: Any, stored: Json, **columns: object) -> Any:
        stored = dict(stored)
        settings = stored.pop("settings")
        columns = {
            **columns,
            "updated_at": self._now(),
            "data": json.dumps(stored),
            "settings": json.dumps(settings),
        }
        sets = ", ".join(f"{name} = ?" for name in columns)
        tx.execute(f"UPDATE calls SET {sets} WHERE seq = ?", [*columns.values(), row[0]])
        return self._reload(tx, row[0])

    def update_call(self, call_type: str, call_id: str, body: Json) -> Json:
        op = "UpdateCall"
        body = _check_keys(op, "request", body, _UPDATE_CALL_KEYS)
        override = _check_settings(op, "settings_override", body.get("settings_override"))
        if "custom" in body and body["custom"] is not None and not isinstance(body["custom"], dict):
            raise input_error(op, "custom must be an object")
        columns: dict[str, object] = {}
        if "starts_at" in body:
            value = body["starts_at"]
            columns["starts_at"] = None if value is None else _instant(op, "starts_at", value)
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            stored = _stored(row)
            if body.get("custom") is not None:
                stored["custom"] = body["custom"]
            stored["settings"] = merge_settings(stored["settings"], override)
            return self._state(tx, self._save(tx, row, stored, **columns))

    def delete_call(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        op = "DeleteCall"
        body = _check_keys(op, "request", body, {"hard"})
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            state = self._state(tx, row)
            if body.get("hard"):
                tx.execute("DELETE FROM calls WHERE seq = ?", (row[0],))
                return {"call": state["call"], "task_id": str(uuid.uuid4())}
            tx.execute(
                "UPDATE calls SET deleted_at = ?, ongoing = 0 WHERE seq = ?", (self._now(), row[0])
            )
            return {"call": state["call"]}

    def mark_ended(self, call_type: str, call_id: str) -> Json:
        op = "EndCall"
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            now = self._now()
            stored = _stored(row)
            session = stored.get("session")
            if session and session.get("ended_at") is None:
                session["ended_at"] = now
                session["participants"] = []
            ended_at = row[9] if row[9] is not None else now
            self._save(tx, row, stored, ended_at=ended_at, ongoing=0)
        return {}

    @staticmethod
    def _session(stored: Json, now: int) -> Json:
        session = stored.get("session")
        if not session or session.get("ended_at") is not None:
            session = {"id": str(uuid.uuid4()), "participants": [], "started_at": now}
            stored["session"] = session
        return session

    def go_live(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        op = "GoLive"
        body = _check_keys(op, "request", body, _GO_LIVE_KEYS)
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            now = self._now()
            stored = _stored(row)
            session = self._session(stored, now)
            session["live_started_at"] = now
            session.pop("live_ended_at", None)
            egress = stored.setdefault("egress", {"broadcasting": False, "rtmps": []})
            settings = stored["settings"]
            if body.get("start_hls") or settings["broadcasting"]["hls"].get("auto_on"):
                egress["broadcasting"] = True
                egress["hls"] = {
                    "playlist_url": f"https://hls.sandbox.invalid/{call_type}/{call_id}/"
                    "playlist.m3u8",
                    "status": "running",
                }
            recording_auto = settings["recording"].get("mode") == "auto-on"
            if body.get("start_recording") or body.get("start_composite_recording"):
                recording_auto = True
            if recording_auto:
                stored["recording"] = True
                egress["composite_recording"] = {"status": "running"}
            if body.get("start_individual_recording"):
                egress["individual_recording"] = {"status": "running"}
            if body.get("start_raw_recording"):
                egress["raw_recording"] = {"status": "running"}
            if body.get("start_transcription"):
                stored["transcribing"] = True
            if body.get("start_closed_caption"):
                stored["captioning"] = True
            row = self._save(tx, row, stored, backstage=0)
            return {"call": self._state(tx, row)["call"]}

    def stop_live(self, call_type: str, call_id: str, body: Json | None = None) -> Json:
        op = "StopLive"
        body = _check_keys(op, "request", body, _STOP_LIVE_KEYS)
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            now = self._now()
            stored = _stored(row)
            session = self._session(stored, now)
            session["live_ended_at"] = now
            egress = stored.setdefault("egress", {"broadcasting": False, "rtmps": []})
            if not body.get("continue_hls"):
                egress.pop("hls", None)
                egress["broadcasting"] = False
            if not body.get("continue_rtmp_broadcasts"):
                egress["rtmps"] = []
            keep_composite = body.get("continue_recording") or body.get(
                "continue_composite_recording"
            )
            if not keep_composite:
                stored["recording"] = False
                egress.pop("composite_recording", None)
            if not body.get("continue_individual_recording"):
                egress.pop("individual_recording", None)
            if not body.get("continue_raw_recording"):
                egress.pop("raw_recording", None)
            if not body.get("continue_transcription"):
                stored["transcribing"] = False
            if not body.get("continue_closed_caption"):
                stored["captioning"] = False
            grants = self._call_type_grants(tx, call_type)
            kept = []
            for p in session.get("participants", []):
                # Back in backstage: whoever the backstage stage would not admit is removed.
                roles = self._roles(tx, row[0], p["user_id"])
                owner = p["user_id"] == row[4]
                if admitting_grant(grants, roles, is_creator=owner, stage="backstage"):
                    kept.append(p)
            session["participants"] = kept
            row = self._save(tx, row, stored, backstage=1, ongoing=int(bool(kept)))
            return {"call": self._state(tx, row)["call"]}

    @staticmethod
    def _call_type_grants(tx: Transaction, call_type: str) -> Json:
        row = tx.execute("SELECT data FROM call_types WHERE name = ?", (call_type,)).fetchone()
        if row is None:
            return {}
        grants: Json = json.loads(row[0])["grants"]
        return grants

    @staticmethod
    def _roles(tx: Transaction, seq: int, user_id: str) -> tuple[str, ...]:
        """The user's app role and, if a member, their call role."""
        user = tx.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
        member = tx.execute(
            "SELECT role FROM members WHERE call_seq = ? AND user_id = ?", (seq, user_id)
        ).fetchone()
        return roles_of(user and user[0], member and member[0])

    # --- members --------------------------------------------------------------------------

    def update_call_members(self, call_type: str, call_id: str, body: Json) -> Json:
        op = "UpdateCallMembers"
        body = _check_keys(op, "request", body, {"update_members", "remove_members"})
        update = self._check_member_requests(op, body.get("update_members"))
        remove = body.get("remove_members") or []
        if not isinstance(remove, list) or not all(isinstance(u, str) for u in remove):
            raise input_error(op, "remove_members must be a list of user ids")
        if len(remove) > MAX_MEMBERS:
            raise input_error(op, f"at most {MAX_MEMBERS} remove_members per request")
        with self._store.write() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            self._require_users(tx, op, [m["user_id"] for m in update])
            now = self._now()
            if remove:
                tx.execute(
                    f"DELETE FROM members WHERE call_seq = ? AND user_id IN"
                    f" ({', '.join('?' * len(remove))})",
                    [row[0], *remove],
                )
            self._upsert_members(tx, row[0], update, now)
            tx.execute("UPDATE calls SET updated_at = ? WHERE seq = ?", (now, row[0]))
            ids = sorted({m["user_id"] for m in update})
            if not ids:
                return {"members": []}
            rows = tx.execute(
                "SELECT call_seq, user_id, role, custom, created_at, updated_at FROM members"
                f" WHERE call_seq = ? AND user_id IN ({', '.join('?' * len(ids))})"
                " ORDER BY user_id",
                [row[0], *ids],
            ).fetchall()
            users = self._users_by_id(tx, ids)
            return {"members": [self._member_response(m, users) for m in rows]}

    def query_call_members(self, body: Json) -> Json:
        op = "QueryCallMembers"
        allowed = {"type", "id", "filter_conditions", "sort", "limit", "next", "prev"}
        body = _check_keys(op, "request", body, allowed)
        call_type, call_id = body.get("type"), body.get("id")
        if not isinstance(call_type, str) or not isinstance(call_id, str):
            raise input_error(op, "type and id are required")
        params: list[object] = []
        try:
            where = query.compile_filter(body.get("filter_conditions"), query.MEMBER_FIELDS, params)
            order = query.compile_sort(body.get("sort"), query.MEMBER_SORT_FIELDS, 1)
            limit = query.parse_limit(body.get("limit"))
            cursor = self._cursor(body)
        except query.QueryError as exc:
            raise input_error(op, str(exc)) from None
        order = [*order, ("members.user_id", 1)]
        with self._store.read() as tx:
            row = self._live_call(tx, op, call_type, call_id)
            rows = tx.execute(
                "SELECT call_seq, user_id, role, custom, created_at, updated_at FROM members"
                f" WHERE call_seq = ? AND {where} ORDER BY {query.order_clause(order)}"
                " LIMIT ? OFFSET ?",
                [row[0], *params, limit + 1, cursor.offset],
            ).fetchall()
            page = rows[:limit]
            users = self._users_by_id(tx, [m[1] for m in page])
        out: Json = {"members": [self._member_response(m, users) for m in page]}
        self._page_links(out, cursor, limit, len(rows) > limit, None)
        return out

    # --- query calls ----------------------------------------------------------------------

    @staticmethod
    def _cursor(body: Json) -> query.Cursor:
        if body.get("next") and body.get("prev"):
            raise query.QueryError("give either next or prev, not both")
        token = body.get("next") or body.get("prev")
        return query.decode_cursor(token) if token else query.Cursor()

    @staticmethod
    def _page_links(
        out: Json, cursor: query.Cursor, limit: int, more: bool, last_key: tuple[Any, ...] | None
    ) -> None:
        if more:
            out["next"] = query.encode_cursor(
                query.Cursor(offset=cursor.offset + limit, key=last_key)
            )
        if cursor.offset > 0:
            out["prev"] = query.encode_cursor(query.Cursor(offset=max(0, cursor.offset - limit)))

    def query_calls(self, body: Json) -> Json:
        op = "QueryCalls"
        body = _check_keys(
            op, "request", body, {"filter_conditions", "sort", "limit", "next", "prev", "watch"}
        )
        params: list[object] = []
        try:
            where = query.compile_filter(
                body.get("filter_conditions"), query.CALL_FIELDS, params, calls=True
            )
            order = query.compile_sort(body.get("sort"), query.CALL_SORT_FIELDS, 2)
            limit = query.parse_limit(body.get("limit"))
            cursor = self._cursor(body)
        except query.QueryError as exc:
            raise input_error(op, str(exc)) from None
        # The default order is keyset-paged on (created_at, cid), so deep pages stay cheap.
        keyset = not order
        order = [*(order or [("calls.created_at", 1)]), ("calls.cid", 1)]
        sql = f"SELECT {_CALL_COLUMNS} FROM calls WHERE deleted_at IS NULL AND ({where})"
        offset = cursor.offset
        if keyset and cursor.key is not None:
            if len(cursor.key) != 2:
                raise input_error(op, "next/prev is not a valid cursor")
            sql += " AND (calls.created_at, calls.cid) > (?, ?)"
            params.extend(cursor.key)
            offset = 0
        sql += f" ORDER BY {query.order_clause(order)} LIMIT ? OFFSET ?"
        params.extend([limit + 1, offset])
        with self._store.read() as tx:
            rows = tx.execute(sql, params).fetchall()
            page = rows[:limit]
            calls = self._render_calls(tx, page)
        out: Json = {"calls": calls}
        last_key = (page[-1][10], page[-1][1]) if keyset and page else None
        self._page_links(out, cursor, limit, len(rows) > limit, last_key)
        return out

    # --- client-side join -----------------------------------------------------------------

    def join_call(self, call_type: str, call_id: str, *, user_id: str, body: Json) -> Json:
        """A user joins (client-side): the call type's current grants decide whether they may."""
        op = "JoinCall"
        body = _check_keys(
            op,
            "request",
            body,
            {
                "create",
                "data",
                "location",
                "members_limit",
                "notify",
                "ring",
                "video",
                "migrating_from",
                "migrating_from_list",
            },
        )
        if not isinstance(user_id, str) or not user_id:
            raise input_error(op, "user_id is required")
        data = _check_keys(op, "data", body.get("data"), _CALL_REQUEST_KEYS)
        with self._store.write() as tx:
            instant = self._clock()
            now = timestamps.to_nanos(instant)
            # Stream creates a user on first connect, so an unknown token user is a plain "user".
            self._ensure_user(tx, user_id, now)
            row = tx.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls WHERE cid = ? AND deleted_at IS NULL",
                (f"{call_type}:{call_id}",),
            ).fetchone()
            created = False
            if row is None and body.get("create"):
                row = self._create_on_join(tx, op, call_type, call_id, user_id, data)
                created = True
            if row is None:
                raise not_found(op, f"Can't find call with id {call_type}:{call_id}")
            grants = self._call_type_grants(tx, call_type)
            roles = self._roles(tx, row[0], user_id)
            owner = row[4] == user_id
            # The call's backstage flag (not its settings) says whether it is in backstage now.
            ahead = backstage_of(_stored(row)["settings"]).join_ahead_time_seconds
            stage = stage_of(
                ended=row[9] is not None,
                in_backstage=bool(row[5]),
                window_open=join_window(True, ahead, row[8]).is_open(instant),
            )
            if admitting_grant(grants, roles, is_creator=owner, stage=stage) is None:
                who = f"user {user_id} with roles [{', '.join(roles)}]"
                raise not_allowed(op, _REFUSALS[stage].format(who=who))
            stored = _stored(row)
            session = self._session(stored, now)
            participants = [p for p in session["participants"] if p["user_id"] != user_id]
            participants.append(
                {
                    "user_id": user_id,
                    "role": roles[-1],
                    "joined_at": now,
                    "user_session_id": str(uuid.uuid4()),
                }
            )
            session["participants"] = participants
            row = self._save(tx, row, stored, ongoing=1)
            state = self._state(tx, row)
        state["own_capabilities"] = capabilities(grants, roles, is_creator=owner)
        return {
            **state,
            "credentials": {
                "server": {
                    "url": "https://sfu.sandbox.invalid",
                    "ws_endpoint": "wss://sfu.sandbox.invalid/ws",
                    "edge_name": "sandbox",
                },
                "ice_servers": [],
                "token": "",
            },
            "created": created,
        }

    def _create_on_join(
        self, tx: Transaction, op: str, call_type: str, call_id: str, user_id: str, data: Json
    ) -> Any:
        """Client-side get-or-create: the joining user creates the call if create-call allows."""
        type_row = self._call_type_row(tx, call_type, op)
        type_data = json.loads(type_row[1])
        role = tx.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        if not holds(type_data["grants"], [role], "create-call", is_creator=False):
            raise not_allowed(op, f"user {user_id} with role {role} lacks create-call")
        if not _ID_RE.match(call_id or ""):
            raise input_error(op, "call id must be 1-64 letters, digits, underscores or dashes")
        request = {k: v for k, v in data.items() if k not in ("created_by", "created_by_id")}
        return self._insert_call(
            tx, op, call_type, call_id, type_data, {**request, "created_by_id": user_id}
        )
