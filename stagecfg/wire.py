"""Stream's wire shapes -> stagecfg's state objects, refusing any answer of another shape.

Both the local backend (which calls the sandbox engine in-process) and the stream backend (which
talks HTTP) receive the same response JSON, so both convert it here, once. An answer from a real
server may be anything (a proxy's error page turned JSON, a wrong type, a field missing), so
every field is checked for its type and a wrong one raises :class:`WireError` naming the field;
the backend turns that into a BackendError for its operation. Never a KeyError or a silently
"empty" value: a misread answer would make the plan lie.
"""

from __future__ import annotations

from typing import Any

from stagecfg import timestamps
from stagecfg.model import CallState, CallTypeState, Json, UserState


class WireError(ValueError):
    """An answer that does not have the shape Stream documents; the message names the field."""


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def wrong(where: str, value: Any, expected: str) -> WireError:
    return WireError(f"{where} is {kind_of(value)}, expected {expected}")


def obj(value: Any, where: str) -> Json:
    """``value`` when it is a JSON object."""
    if type(value) is not dict:
        raise wrong(where, value, "an object")
    return value


def opt_obj(value: Any, where: str) -> Json:
    """An optional object: absent or null is ``{}``."""
    if value is None:
        return {}
    if type(value) is not dict:
        raise wrong(where, value, "an object")
    return value


def arr(value: Any, where: str) -> list[Any]:
    if type(value) is not list:
        raise wrong(where, value, "an array")
    return value


def text(value: Any, where: str) -> str:
    if type(value) is not str or not value:
        raise wrong(where, value, "a non-empty string")
    return value


def opt_text(value: Any, where: str) -> str | None:
    """An optional string: absent, null or empty is None."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise wrong(where, value, "a string")
    return value


def _instant(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if type(value) not in (str, int):
        raise wrong(where, value, "a timestamp")
    try:
        return timestamps.normalize(value)
    except (ValueError, OverflowError) as exc:
        raise WireError(f"{where} is not a timestamp ({exc})") from None


def call_type_from_wire(body: Json) -> CallTypeState:
    """A CallTypeResponse (or Get/Create/UpdateCallTypeResponse) as a CallTypeState."""
    name = text(body.get("name"), "call type name")
    where = f"call type {name}"
    grants: dict[str, list[str]] = {}
    for role, perms in opt_obj(body.get("grants"), f"{where} grants").items():
        listed = arr(perms, f"{where} grants.{role}")
        grants[role] = [text(p, f"{where} grants.{role}[]") for p in listed]
    return CallTypeState(
        name=name,
        settings=opt_obj(body.get("settings"), f"{where} settings"),
        grants=grants,
        notification_settings=opt_obj(
            body.get("notification_settings"), f"{where} notification_settings"
        ),
        external_storage=opt_text(body.get("external_storage"), f"{where} external_storage"),
        created_at=_instant(body.get("created_at"), f"{where} created_at"),
        updated_at=_instant(body.get("updated_at"), f"{where} updated_at"),
    )


def _members(value: Any, where: str) -> dict[str, str]:
    members: dict[str, str] = {}
    for member in arr(value, where) if value is not None else ():
        m = obj(member, f"{where}[]")
        if m.get("deleted_at"):
            continue
        user_id = text(m.get("user_id"), f"{where}[].user_id")
        members[user_id] = opt_text(m.get("role"), f"{where}[{user_id}].role") or ""
    return members


def call_from_wire(state: Json) -> CallState:
    """A CallStateResponseFields (``{"call": ..., "members": [...]}``) as a CallState."""
    call = obj(state.get("call"), "call")
    cid = text(call.get("cid"), "call cid")
    where = f"call {cid}"
    session = opt_obj(call.get("session"), f"{where} session")
    created_by = opt_obj(call.get("created_by"), f"{where} created_by")
    backstage = call.get("backstage")
    if backstage is not None and type(backstage) is not bool:
        raise wrong(f"{where} backstage", backstage, "a boolean")
    return CallState(
        cid=cid,
        created_by_id=opt_text(created_by.get("id"), f"{where} created_by.id"),
        starts_at=_instant(call.get("starts_at"), f"{where} starts_at"),
        settings=opt_obj(call.get("settings"), f"{where} settings"),
        custom=opt_obj(call.get("custom"), f"{where} custom"),
        backstage=bool(backstage),
        team=opt_text(call.get("team"), f"{where} team"),
        members=_members(state.get("members"), f"{where} members"),
        created_at=_instant(call.get("created_at"), f"{where} created_at"),
        updated_at=_instant(call.get("updated_at"), f"{where} updated_at"),
        ended_at=_instant(call.get("ended_at"), f"{where} ended_at"),
        live_started_at=_instant(session.get("live_started_at"), f"{where} live_started_at"),
        live_ended_at=_instant(session.get("live_ended_at"), f"{where} live_ended_at"),
    )


def _strings(value: Any, where: str) -> list[str]:
    """An optional array of strings: absent or null is ``[]``."""
    if value is None:
        return []
    return [text(item, f"{where}[]") for item in arr(value, where)]


def user_from_wire(body: Json) -> UserState:
    """A UserResponse (or FullUserResponse) as a UserState, every UserRequest field read."""
    uid = text(body.get("id"), "user id")
    where = f"user {uid}"
    invisible = body.get("invisible")
    if invisible is not None and type(invisible) is not bool:
        raise wrong(f"{where} invisible", invisible, "a boolean")
    teams_role = opt_obj(body.get("teams_role"), f"{where} teams_role")
    for team, role in teams_role.items():
        text(role, f"{where} teams_role.{team}")
    return UserState(
        id=uid,
        role=opt_text(body.get("role"), f"{where} role") or "user",
        name=opt_text(body.get("name"), f"{where} name"),
        custom=opt_obj(body.get("custom"), f"{where} custom"),
        image=opt_text(body.get("image"), f"{where} image"),
        teams=_strings(body.get("teams"), f"{where} teams"),
        language=opt_text(body.get("language"), f"{where} language") or "",
        invisible=bool(invisible),
        privacy_settings=opt_obj(body.get("privacy_settings"), f"{where} privacy_settings"),
        teams_role=dict(teams_role),
    )


def permission_ids_from_wire(body: Json) -> frozenset[str]:
    """The ids of a ListPermissions answer (``{"permissions": [{"id": ...}, ...]}``)."""
    listed = arr(body.get("permissions"), "permissions")
    return frozenset(text(obj(p, "permissions[]").get("id"), "permissions[].id") for p in listed)


def role_names_from_wire(body: Json) -> frozenset[str]:
    """The names of a ListRoles answer (``{"roles": [{"name": ...}, ...]}``)."""
    listed = arr(body.get("roles"), "roles")
    return frozenset(text(obj(r, "roles[]").get("name"), "roles[].name") for r in listed)
