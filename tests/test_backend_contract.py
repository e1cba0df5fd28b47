"""One contract suite for every backend: ``local`` on a temp sandbox, ``stream`` on the emulator.

Whatever a test here asserts, both backends must do, so a plan made against the emulator means
the same as one made against the sandbox (and, as far as the reference allows, a real app).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from emulator_fixture import MakeEmulator, make_emulator, stream_backend_for  # noqa: F401

from stagecfg.backends import open_backend
from stagecfg.backends.base import Backend
from stagecfg.emulator.server import EmulatorHandle
from stagecfg.errors import BackendError
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES
from stagecfg.timestamps import same_instant


@dataclass
class Subject:
    """A backend under test, plus its emulator when it talks HTTP."""

    backend: Backend
    emulator: EmulatorHandle | None = None

    def requests(self) -> dict[str, Any]:
        assert self.emulator is not None
        return self.emulator.stats()["requests"]


@pytest.fixture(params=["local", "stream"])
def subject(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_emulator: MakeEmulator,  # noqa: F811
) -> Iterator[Subject]:
    if request.param == "local":
        backend = open_backend("local", sandbox_path=str(tmp_path / "local.db"))
        yield Subject(backend)
    else:
        handle = make_emulator()
        backend = stream_backend_for(handle, parallelism=8)
        yield Subject(backend, handle)
    backend.close()


@pytest.fixture
def backend(subject: Subject) -> Backend:
    return subject.backend


STAGE = {
    "grants": {"host": ["join-backstage", "join-call"], "user": ["read-call", "join-call"]},
    "settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": 300}},
}


def make_calls(backend: Backend, count: int, call_type: str = "default") -> list[str]:
    backend.upsert_users({"owner": {"role": "user"}})
    cids = [f"{call_type}:c{i:04d}" for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda cid: backend.create_call(cid, {"created_by_id": "owner"}), cids))
    return cids


def test_describe_and_identity_name_the_target(subject: Subject) -> None:
    backend = subject.backend
    if subject.emulator is None:
        assert backend.describe().startswith("local sandbox ")
        assert backend.identity().startswith("local:")
    else:
        url, key = subject.emulator.url, subject.emulator.api_key
        assert backend.describe() == f"stream app {key} at {url}"
        assert backend.identity() == f"stream:{key}@{url}"


def test_fresh_app_has_the_builtin_call_types_and_nothing_else(backend: Backend) -> None:
    state = backend.read(cids=["default:nope"], users=["nobody"])
    assert sorted(state.call_types) == sorted(BUILTIN_CALL_TYPES)
    assert state.calls == {}
    assert state.users == {}
    assert state.call_types["livestream"].settings["backstage"]["enabled"] is True


def test_create_call_type_and_duplicate_create_fails(backend: Backend) -> None:
    created = backend.create_call_type("stage", STAGE)
    assert created.name == "stage"
    assert created.grants["host"] == ["join-backstage", "join-call"]
    assert created.settings["backstage"] == {"enabled": True, "join_ahead_time_seconds": 300}
    assert created.created_at is not None
    assert backend.read().call_types["stage"].grants["user"] == ["read-call", "join-call"]
    # A different body: the stream backend counts only an identical one as done (two applies
    # of one manifest racing, see test_backends_stream.py).
    with pytest.raises(BackendError) as info:
        backend.create_call_type("stage", {**STAGE, "grants": {"host": ["join-call"]}})
    assert info.value.failure.code == 4
    assert (info.value.operation, info.value.kind, info.value.name) == (
        "create",
        "call_type",
        "stage",
    )


def test_update_call_type_replaces_grants_per_role_and_merges_settings(backend: Backend) -> None:
    backend.create_call_type("stage", STAGE)
    before = backend.read().call_types["stage"]
    updated = backend.update_call_type(
        "stage",
        {
            "grants": {"user": ["read-call"]},
            "settings": {"audio": {"default_device": "speaker", "mic_default_on": False}},
        },
    )
    assert updated.grants["user"] == ["read-call"]
    assert updated.grants["host"] == ["join-backstage", "join-call"]  # not sent, kept
    assert updated.settings["backstage"] == before.settings["backstage"]  # sub-object kept
    audio = updated.settings["audio"]
    assert (audio["default_device"], audio["mic_default_on"]) == ("speaker", False)
    # Fields not sent inside a sent sub-object keep their values (field-level merge).
    assert audio["speaker_default_on"] == before.settings["audio"]["speaker_default_on"]
    emptied = backend.update_call_type("stage", {"grants": {"user": []}})
    assert emptied.grants.get("user", []) == []
    assert emptied.grants["host"] == ["join-backstage", "join-call"]
    assert backend.read().call_types["stage"] == emptied


def test_delete_call_type(backend: Backend) -> None:
    backend.create_call_type("stage", STAGE)
    backend.delete_call_type("stage")
    assert "stage" not in backend.read().call_types
    with pytest.raises(BackendError) as info:
        backend.delete_call_type("stage")
    assert info.value.failure.code == 16


def test_users_read_every_field_and_partial_update_keeps_the_rest(backend: Backend) -> None:
    zed = {
        "role": "user",
        "name": "Zed",
        "image": "https://img.example/zed.png",
        "teams": ["red"],
        "custom": {"tier": "gold"},
        "language": "de",
        "invisible": True,
        "privacy_settings": {"typing_indicators": {"enabled": False}},
        "teams_role": {"red": "admin"},
    }
    backend.upsert_users({"zed": zed, "amy": {}})
    state = backend.read(users=["zed"]).users["zed"]
    assert {key: getattr(state, key) for key in zed} == zed
    backend.update_users_partial(
        {"zed": {"set": {"name": "Zed Zulu"}}, "amy": {"set": {"teams": ["blue"]}}}
    )
    users = backend.read(users=["zed", "amy"]).users
    assert {key: getattr(users["zed"], key) for key in zed} == {**zed, "name": "Zed Zulu"}
    assert users["amy"].teams == ["blue"] and users["amy"].role == "user"
    with pytest.raises(BackendError) as info:
        backend.update_users_partial({"nobody": {"set": {"name": "X"}}})
    assert info.value.failure.status == 400


def test_create_call_is_get_or_create(backend: Backend) -> None:
    backend.create_call_type("stage", STAGE)
    backend.upsert_users({"alice": {"role": "user"}, "bob": {"name": "Bob"}})
    data = {
        "created_by_id": "alice",
        "starts_at": "2030-01-01T13:00:00+01:00",
        "members": [{"user_id": "bob", "role": "host"}],
        "custom": {"title": "Launch"},
        "settings_override": {"screensharing": {"enabled": False}},
    }
    call = backend.create_call("stage:show-1", data)
    assert call.cid == "stage:show-1"
    assert call.created_by_id == "alice"
    assert same_instant(call.starts_at, "2030-01-01T12:00:00Z")
    assert call.backstage is True  # the call type's backstage.enabled
    assert call.members == {"bob": "host"}
    assert call.custom == {"title": "Launch"}
    assert call.settings["screensharing"]["enabled"] is False
    assert call.settings["backstage"]["join_ahead_time_seconds"] == 300  # inherited
    again = backend.create_call("stage:show-1", {**data, "custom": {"title": "ignored"}})
    assert again.created_at == call.created_at
    assert again.custom == {"title": "Launch"}
    assert backend.read(cids=["stage:show-1"]).calls["stage:show-1"] == again


def test_create_call_of_unknown_type_fails(backend: Backend) -> None:
    with pytest.raises(BackendError) as info:
        backend.create_call("nosuch:x", {"created_by_id": "alice"})
    assert info.value.failure.code == 16
    assert info.value.name == "nosuch:x"


def test_update_call(backend: Backend) -> None:
    backend.create_call("default:c1", {"created_by_id": "alice"})
    updated = backend.update_call(
        "default:c1",
        {
            "starts_at": "2031-05-05T10:00:00Z",
            "custom": {"k": "v"},
            "settings_override": {"backstage": {"join_ahead_time_seconds": 60}},
        },
    )
    assert same_instant(updated.starts_at, "2031-05-05T10:00:00Z")
    assert updated.custom == {"k": "v"}
    assert updated.settings["backstage"]["join_ahead_time_seconds"] == 60
    assert backend.read(cids=["default:c1"]).calls["default:c1"].custom == {"k": "v"}


def test_delete_call_is_soft_and_hides_the_call(backend: Backend) -> None:
    backend.create_call("default:gone", {"created_by_id": "alice", "custom": {"n": 1}})
    backend.delete_call("default:gone")
    assert backend.read(cids=["default:gone"]).calls == {}
    assert backend.query_calls({"cid": "default:gone"}) == []
    with pytest.raises(BackendError) as info:
        backend.update_call("default:gone", {"custom": {}})
    assert info.value.failure.code == 16
    fresh = backend.create_call("default:gone", {"created_by_id": "alice"})
    assert fresh.custom == {}


def test_go_live_and_stop_live_cycles(backend: Backend) -> None:
    backend.upsert_users({"host1": {}})
    call = backend.create_call(
        "livestream:gig",
        {"created_by_id": "host1", "members": [{"user_id": "host1", "role": "host"}]},
    )
    assert call.backstage is True
    for _ in range(3):
        live = backend.go_live("livestream:gig", {"start_hls": True, "start_recording": False})
        assert live.backstage is False
        assert live.live_started_at is not None
        assert live.members == {"host1": "host"}
        back = backend.stop_live("livestream:gig", {"continue_hls": False})
        assert back.backstage is True
        assert back.live_ended_at is not None
        assert back.members == {"host1": "host"}
    assert backend.read(cids=["livestream:gig"]).calls["livestream:gig"].backstage is True


def test_users_upsert_and_read(backend: Backend) -> None:
    backend.upsert_users(
        {"alice": {"role": "admin", "name": "Alice", "custom": {"team": "a"}}, "bob": {}}
    )
    users = backend.read(users=["alice", "bob", "carol"]).users
    assert sorted(users) == ["alice", "bob"]
    assert (users["alice"].role, users["alice"].name) == ("admin", "Alice")
    assert users["alice"].custom == {"team": "a"}
    assert users["bob"].role == "user"


def engine_of(subject: Subject) -> Any:
    """The sandbox engine behind the backend, to change what stagecfg cannot (deactivation)."""
    if subject.emulator is not None:
        return subject.emulator.emulator.engine
    return getattr(subject.backend, "engine")  # noqa: B009 - LocalBackend's, not the interface's


def test_a_deactivated_user_is_still_read_and_a_deleted_one_is_not(subject: Subject) -> None:
    backend = subject.backend
    backend.upsert_users({"dee": {"name": "Dee"}, "del": {}})
    engine_of(subject).deactivate_user("dee", {})
    engine_of(subject).delete_users({"user_ids": ["del"]})
    # A deactivated user still exists (stagecfg must not plan to create it again); a deleted
    # one does not until restored.
    users = backend.read(users=["dee", "del"]).users
    assert sorted(users) == ["dee"] and users["dee"].name == "Dee"


def test_update_members_adds_and_removes_beyond_one_batch(backend: Backend) -> None:
    ids = [f"u{i:03d}" for i in range(150)]
    backend.upsert_users({uid: {} for uid in ids})
    backend.create_call("default:big", {"created_by_id": "u000"})
    backend.update_members("default:big", [{"user_id": uid, "role": "user"} for uid in ids], [])
    members = backend.read(cids=["default:big"]).calls["default:big"].members
    assert members == {uid: "user" for uid in ids}
    backend.update_members("default:big", [{"user_id": "u001", "role": "host"}], ids[2:])
    members = backend.read(cids=["default:big"]).calls["default:big"].members
    assert members == {"u000": "user", "u001": "host"}


def test_query_calls_follows_pages(backend: Backend) -> None:
    cids = make_calls(backend, 230)
    found = backend.query_calls({"type": "default"})
    assert sorted(c.cid for c in found) == cids
    assert len(found) == len({c.cid for c in found})


def test_read_batches_cids_and_returns_only_existing(subject: Subject) -> None:
    backend = subject.backend
    cids = make_calls(backend, 250)
    wanted = [*cids, "default:missing-1", "default:missing-2"]
    if subject.emulator is not None:
        subject.emulator.reset_stats()
    state = backend.read(cids=wanted)
    assert sorted(state.calls) == cids
    if subject.emulator is not None:
        # 252 cids -> 3 QueryCalls of at most 100 cids, one list of call types, nothing else.
        assert subject.requests() == {"ListCallTypes": {"GET": 1}, "QueryCalls": {"POST": 3}}


def test_read_all_calls(backend: Backend) -> None:
    cids = make_calls(backend, 120)
    backend.delete_call(cids[0])
    state = backend.read(all_calls=True)
    assert sorted(state.calls) == cids[1:]


def test_read_all_users_pages_past_the_offset_limit(subject: Subject) -> None:
    backend = subject.backend
    # More than QueryUsers' offset limit (1000) reaches: paging must go by id, not offset.
    ids = [f"u{i:04d}" for i in range(1150)]
    backend.upsert_users({uid: {"name": uid.upper()} for uid in ids})
    engine_of(subject).deactivate_user("u0007", {})
    engine_of(subject).delete_users({"user_ids": ["u0008"]})
    if subject.emulator is not None:
        subject.emulator.reset_stats()
    users = backend.read(all_users=True).users
    assert sorted(users) == [uid for uid in ids if uid != "u0008"]  # deactivated ones too
    assert users["u1149"].name == "U1149"
    if subject.emulator is not None:
        # 1149 users at 100 a page: 12 pages, the last one short.
        assert subject.requests() == {"ListCallTypes": {"GET": 1}, "QueryUsers": {"GET": 12}}


def test_parallel_writes_from_many_threads(backend: Backend) -> None:
    backend.create_call_type("stage", STAGE)

    def work(i: int) -> str:
        backend.create_call(f"stage:p{i}", {"created_by_id": "alice"})
        backend.update_call(f"stage:p{i}", {"custom": {"i": i}})
        return f"stage:p{i}"

    with ThreadPoolExecutor(8) as pool:
        cids = list(pool.map(work, range(40)))
    calls = backend.read(cids=cids).calls
    assert {cid: c.custom["i"] for cid, c in calls.items()} == {f"stage:p{i}": i for i in range(40)}


def test_emulator_serves_what_the_local_backend_wrote(
    tmp_path: Path,
    make_emulator: MakeEmulator,  # noqa: F811
) -> None:
    path = tmp_path / "shared.db"
    local = open_backend("local", sandbox_path=str(path))
    local.create_call_type("stage", STAGE)
    local.upsert_users({"alice": {"role": "admin"}})
    local.create_call("stage:show", {"created_by_id": "alice", "starts_at": "2030-01-01T12:00:00Z"})
    local.go_live("stage:show", {})
    expected = local.read(cids=["stage:show"], users=["alice"])
    local.close()
    handle = make_emulator(sandbox_path=path)
    remote = stream_backend_for(handle)
    try:
        assert remote.read(cids=["stage:show"], users=["alice"]) == expected
    finally:
        remote.close()


def test_read_vocabulary_lists_the_apps_permissions_and_roles(subject: Subject) -> None:
    engine_of(subject).create_role({"name": "crew"})
    vocabulary = subject.backend.read_vocabulary()
    assert {"join-backstage", "join-backstage-owner", "join-call-any-team"} <= (
        vocabulary.permissions
    )
    assert "start-record-call" not in vocabulary.permissions
    assert {"admin", "user", "host", "call_member", "crew"} <= vocabulary.roles
    assert vocabulary.source == subject.backend.describe()
    if subject.emulator is not None:
        # Two reads, one request each (no per-object requests).
        requests = subject.requests()
        assert requests["ListPermissions"] == {"GET": 1} and requests["ListRoles"] == {"GET": 1}
