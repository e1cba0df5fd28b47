"""The sandbox's roles and permissions: ListPermissions, GetPermission, ListRoles, CreateRole and
DeleteRole, their shapes per the spec, and what Stream refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_check import assert_matches

from stagecfg.rules.permissions import PERMISSION_IDS, is_known
from stagecfg.rules.roles import APP_ROLES, BUILTIN_ROLES, CALL_ROLES
from stagecfg.sandbox import Engine, StreamAPIError


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "app.db")
    yield eng
    eng.close()


def refused(call: Any, *args: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args)
    return excinfo.value.status, excinfo.value.code, excinfo.value.message


def test_the_permission_list_is_the_grant_vocabulary(engine: Engine) -> None:
    listed = engine.list_permissions()
    assert_matches("ListPermissionsResponse", listed)
    ids = [p["id"] for p in listed["permissions"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3 * len(PERMISSION_IDS)
    assert all(is_known(pid) for pid in ids)
    assert {"start-recording", "start-recording-owner", "start-recording-any-team"} <= set(ids)
    assert "start-record-call" not in ids  # the capability's spelling is not a permission id


@pytest.mark.parametrize(
    ("permission", "owner", "same_team"),
    [
        ("join-call", False, True),
        ("join-call-owner", True, True),
        ("join-call-any-team", False, False),
    ],
)
def test_get_permission(engine: Engine, permission: str, owner: bool, same_team: bool) -> None:
    answer = engine.get_permission(permission)
    assert_matches("GetCustomPermissionResponse", answer)
    body = answer["permission"]
    assert (body["id"], body["owner"], body["same_team"], body["custom"]) == (
        permission,
        owner,
        same_team,
        False,
    )
    assert body["action"] == "JoinCall"


def test_unknown_permission_is_not_found(engine: Engine) -> None:
    status, code, message = refused(engine.get_permission, "join-cal")
    assert (status, code) == (404, 16)
    assert message == 'GetPermission failed with error: "permission join-cal does not exist"'


def test_roles_are_the_builtins_with_their_scopes(engine: Engine) -> None:
    engine.create_call_type({"name": "stage", "grants": {"crew": ["join-call"]}})
    listed = engine.list_roles()
    assert_matches("ListRolesResponse", listed)
    roles = {r["name"]: r for r in listed["roles"]}
    assert set(roles) == set(BUILTIN_ROLES) == set(APP_ROLES) | set(CALL_ROLES)
    assert not any(r["custom"] for r in roles.values())
    assert "video:livestream" in roles["host"]["scopes"]
    assert "video:stage" in roles["user"]["scopes"]  # a new type starts with the template
    # "crew" is granted in stage, but it is not a role until created.
    made = engine.create_role({"name": "crew"})["role"]
    assert made["scopes"] == ["video:stage"] and made["custom"] is True
    assert_matches("CreateRoleResponse", {**engine.create_role({"name": "crew2"}), "duration": ""})


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "a b"}, {"name": "x" * 65},
                                  {"name": 5}, {"name": "ok", "extra": 1}])  # fmt: skip
def test_create_role_refuses_bad_names(engine: Engine, body: Any) -> None:
    assert refused(engine.create_role, body)[:2] == (400, 4)
    assert all(not r["custom"] for r in engine.list_roles()["roles"])


def test_existing_roles_cannot_be_created_again(engine: Engine) -> None:
    engine.create_role({"name": "crew"})
    for name in ("crew", "admin", "call_member"):
        status, code, message = refused(engine.create_role, {"name": name})
        assert (status, code) == (400, 4) and "already exists" in message


def test_delete_role(engine: Engine) -> None:
    for name in BUILTIN_ROLES:
        status, code, message = refused(engine.delete_role, name)
        assert (status, code) == (400, 4) and "built-in role" in message
    assert refused(engine.delete_role, "nobody")[:2] == (404, 16)
    engine.create_role({"name": "crew"})
    engine.upsert_users({"users": {"ann": {"id": "ann"}}})
    engine.create_call_type({"name": "stage", "grants": {"crew": ["join-call"]}})
    members = [{"user_id": "ann", "role": "crew"}]
    engine.get_or_create_call("stage", "s", {"data": {"created_by_id": "ann", "members": members}})
    status, code, message = refused(engine.delete_role, "crew")
    assert (status, code) == (400, 4)
    assert "1 call member" in message and "call type stage" in message
    engine.update_call_members("stage", "s", {"remove_members": ["ann"]})
    engine.update_call_type("stage", {"grants": {"crew": []}})
    # An empty list still names the role in the grants.
    assert "call type stage" in refused(engine.delete_role, "crew")[2]
    engine.delete_call_type("stage")
    assert engine.delete_role("crew") == {}
    assert "crew" not in {r["name"] for r in engine.list_roles()["roles"]}
