"""The local backend against a real sandbox file in a temp directory."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stagecfg import backends, timestamps
from stagecfg.backends.local import LocalBackend, open_backend
from stagecfg.errors import BackendError, ConfigError
from stagecfg.model import CallState


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    b = open_backend(sandbox_path=str(tmp_path / "state" / "sandbox.db"))
    b.upsert_users({"alice": {"name": "Alice"}, "bob": {"role": "admin"}})
    yield b
    b.close()


def test_registry_opens_it_and_ignores_http_settings(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    b = backends.open_backend(
        "local", sandbox_path=str(path), api_key="k", api_secret="s3cret", base_url="http://x"
    )
    try:
        assert isinstance(b, LocalBackend)
        assert b.describe() == f"local sandbox {path}"
        assert b.identity() == f"local:{path}"
        assert "s3cret" not in b.describe() + b.identity()
    finally:
        b.close()


def test_relative_path_identity_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    b = open_backend(sandbox_path="rel/s.db")
    try:
        assert b.identity() == f"local:{tmp_path / 'rel' / 's.db'}"
    finally:
        b.close()


def test_bad_sandbox_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_backend(sandbox_path="")
    with pytest.raises(ConfigError, match="directory"):
        open_backend(sandbox_path=str(tmp_path))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, not even close" * 100)
    with pytest.raises(ConfigError, match="is not a stagecfg sandbox"):
        open_backend(sandbox_path=str(junk))


def test_read_returns_call_types_named_calls_and_users(backend: LocalBackend) -> None:
    backend.create_call(
        "livestream:a", {"created_by_id": "alice", "members": [{"user_id": "bob", "role": "host"}]}
    )
    backend.create_call("default:b", {"created_by_id": "alice"})
    backend.create_call("default:gone", {"created_by_id": "alice"})
    backend.delete_call("default:gone")
    state = backend.read(
        cids=["livestream:a", "default:gone", "default:missing"], users=["alice", "carol"]
    )
    assert list(state.call_types) == ["audio_room", "default", "development", "livestream"]
    assert state.call_types["livestream"].settings["backstage"]["enabled"] is True
    assert list(state.calls) == ["livestream:a"]
    call = state.calls["livestream:a"]
    assert call.created_by_id == "alice"
    assert call.members == {"bob": "host"}
    assert call.backstage is True
    assert list(state.users) == ["alice"]
    assert state.users["alice"].name == "Alice"
    everything = backend.read(all_calls=True)
    assert list(everything.calls) == ["default:b", "livestream:a"]


def test_read_batches_beyond_one_page(backend: LocalBackend) -> None:
    cids = [f"default:c{i:03}" for i in range(230)]
    for cid in cids:
        backend.create_call(cid, {"created_by_id": "alice"})
    users = {f"u{i:03}": {} for i in range(150)}
    backend.upsert_users(users)
    state = backend.read(cids=cids, users=list(users))
    assert list(state.calls) == sorted(cids)
    assert len(state.users) == 150
    assert len(backend.read(all_calls=True).calls) == 230
    assert len(backend.query_calls({"type": "default"})) == 230


def test_query_calls_filters(backend: LocalBackend) -> None:
    backend.create_call("livestream:x", {"created_by_id": "alice"})
    backend.create_call("default:y", {"created_by_id": "bob"})
    found = backend.query_calls({"created_by_user_id": "bob"})
    assert [c.cid for c in found] == ["default:y"]
    with pytest.raises(BackendError) as excinfo:
        backend.query_calls({"nonsense": {"$near": 1}})
    assert excinfo.value.failure.code == 4


def test_call_type_lifecycle(backend: LocalBackend) -> None:
    created = backend.create_call_type(
        "stage", {"settings": {"backstage": {"enabled": True}}, "grants": {"host": ["join-call"]}}
    )
    assert created.name == "stage"
    assert created.settings["backstage"]["enabled"] is True
    assert created.grants["host"] == ["join-call"]
    assert created.created_at is not None
    updated = backend.update_call_type("stage", {"grants": {"user": []}})
    assert updated.grants["user"] == [] and updated.grants["host"] == ["join-call"]
    backend.delete_call_type("stage")
    assert "stage" not in backend.read().call_types


def test_errors_name_operation_kind_and_object(backend: LocalBackend) -> None:
    with pytest.raises(BackendError) as excinfo:
        backend.create_call_type("livestream", {})
    err = excinfo.value
    assert (err.operation, err.kind, err.name) == ("create", "call_type", "livestream")
    assert (err.failure.status, err.failure.code) == (400, 4)
    assert "CreateCallType failed with error" in str(err)
    assert "(Stream code 4, HTTP 400)" in str(err)
    with pytest.raises(BackendError) as excinfo:
        backend.update_call("default:nope", {"custom": {}})
    err = excinfo.value
    assert (err.operation, err.kind, err.name) == ("update", "call", "default:nope")
    assert (err.failure.status, err.failure.code) == (404, 16)
    assert "Can't find call with id default:nope" in err.failure.message
    with pytest.raises(BackendError) as excinfo:
        backend.create_call("nope:x", {"created_by_id": "alice"})
    assert "call type does not exist" in str(excinfo.value)
    with pytest.raises(BackendError) as excinfo:
        backend.delete_call_type("default")
    assert excinfo.value.failure.code == 4


def test_call_writes_return_what_the_sandbox_holds(backend: LocalBackend) -> None:
    created = backend.create_call(
        "livestream:show",
        {
            "created_by_id": "alice",
            "starts_at": "2030-01-01T12:00:00+02:00",
            "custom": {"stagecfg_project": "p"},
            "team": "red",
            "settings_override": {"audio": {"default_device": "speaker", "mic_default_on": True}},
        },
    )
    assert isinstance(created, CallState)
    assert created.starts_at == "2030-01-01T10:00:00Z"
    assert created.team == "red"
    assert created.settings["audio"]["mic_default_on"] is True
    updated = backend.update_call("livestream:show", {"custom": {"k": "v"}})
    assert updated.custom == {"k": "v"}
    backend.update_members("livestream:show", [{"user_id": "bob", "role": "host"}], [])
    live = backend.go_live("livestream:show", {"start_hls": True})
    assert live.backstage is False
    assert live.live_started_at is not None
    assert live.members == {"bob": "host"}
    stopped = backend.stop_live("livestream:show", {})
    assert stopped.backstage is True
    assert stopped.live_ended_at is not None
    assert timestamps.parse(stopped.live_ended_at) >= timestamps.parse(live.live_started_at)
    backend.delete_call("livestream:show")
    assert backend.read(cids=["livestream:show"]).calls == {}
    with pytest.raises(BackendError) as excinfo:
        backend.delete_call("livestream:show")
    assert excinfo.value.failure.status == 404


def test_update_members_in_batches(backend: LocalBackend) -> None:
    users = {f"m{i:03}": {} for i in range(250)}
    backend.upsert_users(users)
    backend.create_call("default:big", {"created_by_id": "alice"})
    backend.update_members("default:big", [{"user_id": u} for u in users], [])
    assert len(backend.read(cids=["default:big"]).calls["default:big"].members) == 250
    backend.update_members("default:big", [], list(users)[:120])
    members = backend.read(cids=["default:big"]).calls["default:big"].members
    assert sorted(members) == sorted(users)[120:]
    with pytest.raises(BackendError) as excinfo:
        backend.update_members("default:big", [{"user_id": "ghost"}], [])
    assert excinfo.value.failure.code == 4


def test_upsert_users_replaces_role(backend: LocalBackend) -> None:
    backend.upsert_users({"alice": {"role": "admin", "custom": {"a": 1}}})
    user = backend.read(users=["alice"]).users["alice"]
    assert (user.role, user.custom, user.name) == ("admin", {"a": 1}, None)


def test_parallel_writes_from_threads(backend: LocalBackend) -> None:
    cids = [f"default:p{i:02}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: backend.create_call(c, {"created_by_id": "alice"}), cids))
    assert sorted(r.cid for r in results) == cids
    assert sorted(backend.read(cids=cids).calls) == cids


def test_a_new_sandbox_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "sandbox.db"
    first = open_backend(sandbox_path=str(path))
    (notice,) = first.notices()
    assert "created a new, empty sandbox" in notice and str(path) in notice
    first.close()
    again = open_backend(sandbox_path=str(path))
    assert again.notices() == []
    again.close()


def test_sqlite_failures_during_an_operation_are_one_line_errors(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages that go bad after the check on opening, or a lock held past the busy timeout: a
    # BackendError naming the file (exit 1), never an internal error.
    import sqlite3

    def malformed(*_args: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    def locked(*_args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(backend.engine, "list_call_types", malformed)
    with pytest.raises(BackendError, match=r"not a valid stagecfg sandbox.*restore it") as bad:
        backend.read()
    assert backend.engine.path in str(bad.value)
    monkeypatch.setattr(backend.engine, "list_call_types", locked)
    with pytest.raises(BackendError, match="database is locked") as busy:
        backend.read()
    assert backend.engine.path in str(busy.value)
