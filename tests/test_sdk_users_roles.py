"""Stream's Python SDK (getstream 7.0.0) against the running emulator: users (partial update,
filters, deactivation, deletion, restore) and the app's roles and permissions.

Each test drives the emulator the way a team's own integration tests would, through the SDK's
own methods and models, and checks what comes back (and what the SDK raises for a refusal).
"""

from __future__ import annotations

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import (
    DeliveryReceiptsResponse,
    PrivacySettingsResponse,
    QueryUsersPayload,
    SortParamRequest,
    TypingIndicatorsResponse,
    UpdateUserPartialRequest,
    UserRequest,
)

from stagecfg.emulator.server import EmulatorHandle


@pytest.fixture
def client(emulator: EmulatorHandle) -> Stream:  # noqa: F811
    return Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)


def found(client: Stream, conditions: dict[str, object], **payload: object) -> list[str]:
    answer = client.query_users(QueryUsersPayload(filter_conditions=conditions, **payload))
    return [u.id for u in answer.data.users]


def test_upsert_keeps_privacy_settings_and_every_field(client: Stream) -> None:
    privacy = PrivacySettingsResponse(
        typing_indicators=TypingIndicatorsResponse(enabled=False),
        delivery_receipts=DeliveryReceiptsResponse(enabled=True),
    )
    user = UserRequest(
        id="pia",
        name="Pia",
        image="https://example.invalid/p.png",
        language="it",
        invisible=True,
        teams=["red"],
        teams_role={"red": "admin"},
        custom={"plan": "pro"},
        privacy_settings=privacy,
    )
    upserted = client.upsert_users(user).data.users["pia"]
    read = client.query_users(QueryUsersPayload(filter_conditions={"id": "pia"})).data.users[0]
    for got in (upserted, read):
        assert got.privacy_settings == privacy
        assert (got.name, got.image, got.language, got.invisible) == (
            "Pia",
            "https://example.invalid/p.png",
            "it",
            True,
        )
        assert got.teams == ["red"] and got.teams_role == {"red": "admin"}
        assert got.custom == {"plan": "pro"}


def test_partial_update_sets_and_unsets_through_the_sdk(client: Stream) -> None:
    client.upsert_users(UserRequest(id="ola", name="Ola", custom={"a": 1}, language="pl"))
    answer = client.update_users_partial(
        users=[UpdateUserPartialRequest(id="ola", set={"name": "Ola B"}, unset=["language"])]
    )
    user = answer.data.users["ola"]
    assert (user.name, user.language, user.custom) == ("Ola B", "", {"a": 1})
    with pytest.raises(StreamApiException) as info:
        client.update_users_partial(users=[UpdateUserPartialRequest(id="nobody", set={})])
    assert (info.value.status_code, info.value.code) == (400, 4)


def test_query_users_filters_through_the_sdk(client: Stream) -> None:
    client.upsert_users(
        UserRequest(id="u-red", name="Rita Red", teams=["red", "blue"], custom={"level": 3}),
        UserRequest(id="u-blue", name="Ben Blue", teams=["blue"], custom={"level": 7}),
        UserRequest(id="u-none", name="Nia", role="admin"),
    )
    by_id = [SortParamRequest(field="id")]
    assert found(client, {"teams": {"$in": ["red", "blue"]}}, sort=by_id) == ["u-blue", "u-red"]
    assert found(client, {"teams": None}) == ["u-none"]
    assert found(client, {"name": {"$autocomplete": "blu"}}) == ["u-blue"]
    assert found(client, {"level": {"$gt": 5}}) == ["u-blue"]
    assert found(client, {"banned": False, "role": "admin"}) == ["u-none"]
    either = {"$or": [{"id": "u-red"}, {"level": 7}]}
    assert found(client, either, sort=by_id, limit=1, offset=1) == ["u-red"]
    by_name = found(client, {}, sort=[SortParamRequest(field="name", direction=-1)])
    assert by_name == ["u-red", "u-none", "u-blue"]
    with pytest.raises(StreamApiException) as info:
        found(client, {"role": {"$autocomplete": "ad"}})
    assert (info.value.status_code, info.value.code) == (400, 4)
    assert "not supported on role" in info.value.message


def test_deactivate_reactivate_delete_and_restore_through_the_sdk(client: Stream) -> None:
    client.upsert_users(UserRequest(id="alice"), UserRequest(id="bob"), UserRequest(id="cy"))
    deactivated = client.deactivate_user(user_id="alice").data.user
    assert deactivated is not None and deactivated.deactivated_at is not None
    assert "alice" not in found(client, {})
    assert "alice" in found(client, {}, include_deactivated_users=True)
    back = client.reactivate_user(user_id="alice", name="Alice").data.user
    assert back is not None and back.deactivated_at is None and back.name == "Alice"
    assert client.deactivate_users(user_ids=["alice", "bob"]).data.task_id
    assert found(client, {}) == ["cy"]
    assert client.reactivate_users(user_ids=["alice", "bob"]).data.task_id
    assert client.delete_users(user_ids=["bob"]).data.task_id
    assert sorted(found(client, {}, include_deactivated_users=True)) == ["alice", "cy"]
    client.restore_users(user_ids=["bob"])
    assert "bob" in found(client, {})
    hard = {"user": "hard", "conversations": "hard", "messages": "hard"}
    client.delete_users(user_ids=["cy"], **hard)
    with pytest.raises(StreamApiException) as info:
        client.restore_users(user_ids=["cy"])
    assert (info.value.status_code, info.value.code) == (400, 4)
    with pytest.raises(StreamApiException) as info:
        client.deactivate_user(user_id="cy")
    assert (info.value.status_code, info.value.code) == (404, 16)
    with pytest.raises(StreamApiException) as info:
        client.delete_users(user_ids=["alice"], user="hard")
    assert (info.value.status_code, info.value.code) == (400, 4)


def test_roles_and_permissions_through_the_sdk(client: Stream) -> None:
    permissions = client.list_permissions().data.permissions
    ids = {p.id for p in permissions}
    assert {"join-backstage", "join-backstage-owner", "send-audio-any-team"} <= ids
    owner = client.get_permission(id="join-backstage-owner").data.permission
    assert owner.owner is True and owner.same_team is True and owner.custom is False
    with pytest.raises(StreamApiException) as info:
        client.get_permission(id="start-record-call")  # a capability, not a permission id
    assert (info.value.status_code, info.value.code) == (404, 16)

    roles = {r.name: r for r in client.list_roles().data.roles}
    assert {"admin", "user", "host", "call_member", "guest", "anonymous"} <= set(roles)
    assert roles["host"].custom is False
    assert "video:livestream" in roles["host"].scopes
    created = client.create_role(name="stage_manager").data.role
    assert created.name == "stage_manager" and created.custom is True
    assert "stage_manager" in {r.name for r in client.list_roles().data.roles}
    for name, status, code in (("stage_manager", 400, 4), ("admin", 400, 4)):
        with pytest.raises(StreamApiException) as info:
            client.create_role(name=name)
        assert (info.value.status_code, info.value.code) == (status, code)
    with pytest.raises(StreamApiException) as info:
        client.delete_role(name="host")
    assert (info.value.status_code, info.value.code) == (400, 4)
    assert "built-in" in info.value.message
    client.upsert_users(UserRequest(id="sam", role="stage_manager"))
    with pytest.raises(StreamApiException) as info:
        client.delete_role(name="stage_manager")
    assert "still used by 1 user" in info.value.message
    client.upsert_users(UserRequest(id="sam"))
    client.delete_role(name="stage_manager")
    assert "stage_manager" not in {r.name for r in client.list_roles().data.roles}
    with pytest.raises(StreamApiException) as info:
        client.delete_role(name="stage_manager")
    assert (info.value.status_code, info.value.code) == (404, 16)


def test_the_batch_user_tasks_answer_get_task_through_the_sdk(client: Stream) -> None:
    client.upsert_users(UserRequest(id="ivy"), UserRequest(id="jon"))
    started = {
        "DeactivateUsers": client.deactivate_users(user_ids=["ivy", "jon"]).data.task_id,
        "ReactivateUsers": client.reactivate_users(user_ids=["ivy", "jon"]).data.task_id,
        "DeleteUsers": client.delete_users(user_ids=["jon", "ivy"]).data.task_id,
    }
    assert len(set(started.values())) == 3
    for op, task_id in started.items():
        assert task_id, op
        task = client.get_task(id=task_id).data
        assert task.task_id == task_id and task.status == "completed", op
        # Done at once in the sandbox: the result names each user the task handled.
        assert task.result == {"ivy": {"status": "ok"}, "jon": {"status": "ok"}}, op
