"""Per-call permissions through the sandbox engine: UpdateUserPermissions, and the check every
call control makes (server-side may do everything; a user needs the permission)."""

from __future__ import annotations

from typing import Any

import pytest
from test_sandbox_engine import api_error, clock, engine, make_call  # noqa: F401

from stagecfg.sandbox import Engine, StreamAPIError

CID = ("livestream", "show")


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
    with pytest.raises(StreamAPIError) as excinfo:
        call(*args, **kwargs)
    return api_error(excinfo)


@pytest.fixture
def show(engine: Engine) -> Engine:  # noqa: F811
    engine.upsert_users({"users": {"carol": {"id": "carol"}}})
    make_call(engine, "livestream:show", members=[{"user_id": "bob", "role": "host"}])
    return engine


def test_grants_and_revocations_move_the_join_decision_and_capabilities(show: Engine) -> None:
    # In backstage only join-backstage admits, and carol (role user) has none.
    assert refused(show.join_call, *CID, user_id="carol", body={})[:2] == (403, 17)
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["join-backstage", "start-record-call"]}
    )
    joined = show.join_call(*CID, user_id="carol", body={})
    assert {"join-backstage", "start-record-call"} <= set(joined["own_capabilities"])
    # bob's host grants are taken away one by one.
    host = show.join_call(*CID, user_id="bob", body={})["own_capabilities"]
    assert "send-audio" in host
    show.update_user_permissions(*CID, {"user_id": "bob", "revoke_permissions": ["send-audio"]})
    host = show.join_call(*CID, user_id="bob", body={})["own_capabilities"]
    assert "send-audio" not in host and "join-backstage" in host
    show.update_user_permissions(*CID, {"user_id": "bob", "revoke_permissions": ["join-backstage"]})
    assert refused(show.join_call, *CID, user_id="bob", body={})[:2] == (403, 17)
    show.update_user_permissions(*CID, {"user_id": "bob", "grant_permissions": ["join-backstage"]})
    assert show.join_call(*CID, user_id="bob", body={})["call"]["cid"] == "livestream:show"


def test_a_grant_is_for_one_call_only(show: Engine) -> None:
    make_call(show, "livestream:other")
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["join-backstage"]}
    )
    show.join_call(*CID, user_id="carol", body={})
    assert refused(show.join_call, "livestream", "other", user_id="carol", body={})[:2] == (403, 17)


def test_stop_live_keeps_those_a_per_call_grant_admits_to_backstage(show: Engine) -> None:
    show.go_live(*CID, {})
    show.join_call(*CID, user_id="carol", body={})
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["join-backstage"]}
    )
    call = show.stop_live(*CID, {})["call"]
    assert [p["user"]["id"] for p in call["session"]["participants"]] == ["carol"]


def test_a_user_token_needs_the_permission_server_side_may_do_everything(show: Engine) -> None:
    show.go_live(*CID, {})
    # Server-side (no caller): allowed whatever the grants say.
    show.start_hls_broadcasting(*CID)
    status, code, message = refused(show.stop_hls_broadcasting, *CID, caller="carol")
    assert (status, code) == (403, 17)
    assert "lacks stop-broadcasting" in message
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["stop-broadcasting"]}, caller="alice"
    )  # alice created the call: update-call-permissions-owner
    show.stop_hls_broadcasting(*CID, caller="carol")
    assert refused(
        show.update_user_permissions,
        *CID,
        {"user_id": "bob", "grant_permissions": ["end-call"]},
        caller="carol",
    )[:2] == (403, 17)


def test_an_unknown_token_user_acts_as_a_plain_user(show: Engine) -> None:
    def strangers() -> list[tuple[str, str]]:
        users = show.query_users({"filter_conditions": {"id": "stranger"}})["users"]
        return [(u["id"], u["role"]) for u in users]

    assert refused(show.list_recordings, *CID, caller="stranger")[:2] == (403, 17)
    assert strangers() == []  # a refused request stores nothing
    # The user role holds read-call on livestream, so this one succeeds, creating the user.
    found = show.query_call_participants(*CID, {}, caller="stranger")
    assert "read-call" in found["own_capabilities"]
    assert strangers() == [("stranger", "user")]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"grant_permissions": ["send-audio"]}, "user_id is required"),
        ({"user_id": "ghost", "grant_permissions": ["send-audio"]}, "don't exist"),
        ({"user_id": "carol", "grant_permissions": ["fly"]}, "not a permission"),
        ({"user_id": "carol", "grant_permissions": ["join-call-owner"]}, "not a permission"),
        ({"user_id": "carol", "grant_permissions": ["start-recordings"]}, "did you mean"),
        ({"user_id": "carol", "grant_permissions": "send-audio"}, "list of strings"),
        (
            {
                "user_id": "carol",
                "grant_permissions": ["send-audio"],
                "revoke_permissions": ["send-audio"],
            },
            "both granted and revoked",
        ),
        ({"user_id": "carol", "grant_permissions": ["send-audio"] * 101}, "at most 100"),
        ({"user_id": "carol", "role": "admin"}, "unknown field"),
    ],
)
def test_bad_permission_updates_are_400_and_change_nothing(
    show: Engine, body: dict[str, Any], words: str
) -> None:
    before = show.get_call(*CID)
    status, code, message = refused(show.update_user_permissions, *CID, body)
    assert (status, code) == (400, 4)
    assert words in message
    assert show.get_call(*CID) == before


def test_an_unknown_call_is_404(show: Engine) -> None:
    body = {"user_id": "carol", "grant_permissions": ["send-audio"]}
    assert refused(show.update_user_permissions, "livestream", "nope", body)[:2] == (404, 16)


# --- a user's view of the call: own_capabilities, and who may do nothing at all ------------------


def test_get_call_as_a_user_honours_per_call_grants_and_revocations(show: Engine) -> None:
    mine = show.get_call(*CID, caller="carol")["own_capabilities"]
    assert "screenshare" not in mine and "read-call" in mine
    grant = {"user_id": "carol", "grant_permissions": ["screenshare", "start-record-call"]}
    show.update_user_permissions(*CID, grant)
    mine = show.get_call(*CID, caller="carol")["own_capabilities"]
    assert {"screenshare", "start-record-call"} <= set(mine)
    show.update_user_permissions(*CID, {"user_id": "carol", "revoke_permissions": ["read-call"]})
    status, code, message = refused(show.get_call, *CID, caller="carol")
    assert (status, code) == (403, 17) and "lacks read-call" in message
    assert len(show.get_call(*CID)["own_capabilities"]) == 36  # server-side: every capability


def test_every_call_response_to_a_user_carries_the_same_capabilities(show: Engine) -> None:
    show.go_live(*CID, {})
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["screenshare"], "revoke_permissions": []}
    )
    show.update_user_permissions(*CID, {"user_id": "carol", "revoke_permissions": ["send-audio"]})
    joined = show.join_call(*CID, user_id="carol", body={})["own_capabilities"]
    read = show.get_call(*CID, caller="carol")["own_capabilities"]
    listed = show.query_call_participants(*CID, {}, caller="carol")["own_capabilities"]
    assert joined == read == listed
    assert "screenshare" in read and "send-audio" not in read


def _refusals(show: Engine, user: str) -> dict[str, str]:
    """What JoinCall, a call control and GetCall answer ``user``: the 403 message of each."""
    answers = {}
    for name, call in (
        ("join", lambda: show.join_call(*CID, user_id=user, body={})),
        ("control", lambda: show.start_hls_broadcasting(*CID, caller=user)),
        ("read", lambda: show.get_call(*CID, caller=user)),
    ):
        status, code, message = refused(call)
        assert (status, code) == (403, 17), name
        answers[name] = message.split(": ", 1)[1].strip('"')
    return answers


def test_a_blocked_user_may_neither_join_nor_run_a_control_nor_read_the_call(
    show: Engine,
) -> None:
    show.go_live(*CID, {})
    grant = {"user_id": "carol", "grant_permissions": ["start-broadcasting", "join-call"]}
    show.update_user_permissions(*CID, grant)
    show.block_user(*CID, {"user_id": "carol"})
    assert set(_refusals(show, "carol").values()) == {"user carol is blocked from this call"}
    show.unblock_user(*CID, {"user_id": "carol"})
    show.start_hls_broadcasting(*CID, caller="carol")
    assert show.join_call(*CID, user_id="carol", body={})["call"]["cid"] == "livestream:show"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda e: e.deactivate_user("carol", {}), "is deactivated"),
        (lambda e: e.delete_users({"user_ids": ["carol"]}), "was deleted"),
    ],
    ids=["deactivated", "deleted"],
)
def test_a_deactivated_or_deleted_user_is_refused_alike_everywhere(
    show: Engine, change: Any, words: str
) -> None:
    show.go_live(*CID, {})
    show.update_user_permissions(
        *CID, {"user_id": "carol", "grant_permissions": ["start-broadcasting"]}
    )
    before = show.get_call(*CID)
    change(show)
    assert set(_refusals(show, "carol").values()) == {f"user carol {words}"}
    assert show.get_call(*CID) == before  # nothing was stored by the refusals
