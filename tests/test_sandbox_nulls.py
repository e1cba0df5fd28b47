"""Wire shapes as Stream's: nulls where Stream sends null, request order, the JoinCall answer.

The golden GetCall field set (tests/data/golden/getcall_fields.txt) is derived from the spec, as
its header says; the tests here hold the emulator to it, and it to the spec.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from getstream import Stream
from getstream.models import MemberRequest, MemberResponse, UserRequest
from openapi_check import SPEC_FILE, assert_join_answer, assert_matches

from stagecfg.emulator.server import EmulatorHandle
from stagecfg.httpclient import server_token
from stagecfg.sandbox import Engine
from stagecfg.sandbox.nulls import CALL_NULLS, SESSION_NULLS, SETTINGS_NULLS

GOLDEN = Path(__file__).parent / "data" / "golden" / "getcall_fields.txt"
#: Free-form maps: their keys are data, not fields.
FREE_MAPS = frozenset(
    {"custom", "participants_count_by_role", "accepted_by", "rejected_by", "missed_by", "options"}
)


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """Every field path of a JSON body (``call.session.participants[].user.id``)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            if key not in FREE_MAPS:
                out |= field_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            out |= field_paths(item, prefix + "[]")
    return out


def value_at(body: Any, path: str) -> Any:
    """The value at ``path`` in ``body`` (the first element for ``[]`` steps)."""
    node = body
    for step in path.split("."):
        node = node[step[:-2]][0] if step.endswith("[]") else node[step]
    return node


def golden() -> dict[str, bool]:
    """The golden file: path -> whether it is null in the scenario."""
    out: dict[str, bool] = {}
    for line in GOLDEN.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, _, null = line.partition(" = ")
        out[path.strip()] = null.strip() == "null"
    return out


def spec_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads(SPEC_FILE.read_text("utf-8"))["components"]["schemas"]
    return schemas


def spec_fields(name: str, prefix: str = "") -> dict[str, tuple[str | None, str]]:
    """Every property path under schema ``name`` -> (the schema it refers to, if any, and the
    prefix of its own fields: ``path`` for an object, ``path[]`` for an array of objects)."""
    schemas = spec_schemas()
    out: dict[str, tuple[str | None, str]] = {}
    for key, prop in (schemas[name].get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        ref = prop.get("$ref") or (prop.get("items") or {}).get("$ref")
        target = ref.rsplit("/", 1)[1] if ref else None
        inner = path + "[]" if prop.get("type") == "array" else path
        out[path] = (target, inner)
        if target and key not in FREE_MAPS:
            out.update(spec_fields(target, inner))
    return out


def api(handle: EmulatorHandle, token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=handle.url,
        params={"api_key": handle.api_key},
        headers={
            "Authorization": token or server_token(handle.api_secret),
            "stream-auth-type": "jwt",
        },
        timeout=10,
    )


def user_token(handle: EmulatorHandle, user_id: str) -> str:
    return jwt.encode({"user_id": user_id}, handle.api_secret, "HS256")


@pytest.fixture
def golden_call(emulator: EmulatorHandle) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The golden scenario's GetCall answer, raw JSON from the running emulator."""
    client = Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)
    client.upsert_users(UserRequest(id="alice"), UserRequest(id="bob"))
    call = client.video.call("livestream", "golden")
    call.get_or_create(
        data={"created_by_id": "alice", "members": [MemberRequest(user_id="bob", role="host")]}
    )
    with api(emulator, user_token(emulator, "alice")) as c:
        c.post("/api/v2/video/call/livestream/golden/join", json={}).raise_for_status()
    with api(emulator) as c:
        response = c.get("/api/v2/video/call/livestream/golden")
    assert response.status_code == 200, response.text
    yield response.json()


# --- the golden GetCall field set ----------------------------------------------------------


def test_getcall_has_exactly_the_golden_field_set(golden_call: dict[str, Any]) -> None:
    expected = golden()
    actual = field_paths(golden_call) - {"duration"}
    assert sorted(actual - set(expected)) == [], "GetCall sends fields Stream does not"
    assert sorted(set(expected) - actual) == [], "GetCall leaves out fields Stream sends"
    nulls = sorted(path for path, null in expected.items() if null)
    assert [p for p in nulls if value_at(golden_call, p) is not None] == []
    # Only the marked ones are null: a field Stream fills must not turn up empty.
    assert [p for p in expected if not expected[p] and value_at(golden_call, p) is None] == []
    assert_matches("GetCallResponse", golden_call)


def test_the_golden_field_set_is_the_specs() -> None:
    fields = spec_fields("GetCallResponse")
    expected = golden()
    assert sorted(set(expected) - set(fields)) == [], "golden fields the spec does not define"
    schemas = spec_schemas()
    # Every field a present object's schema requires is in the golden set (items of the empty
    # egress.rtmps are the one exception, and duration comes from the HTTP layer).
    parents: dict[str, str] = {"": "GetCallResponse"}
    for path, (target, inner) in fields.items():
        if target and path in expected and not expected[path]:
            parents[inner] = target
    missing = []
    for path, schema in parents.items():
        for name in schemas[schema].get("required", ()):
            child = f"{path}.{name}" if path else name
            if child not in expected and not child.startswith("call.egress.rtmps"):
                missing.append(child)
    assert sorted(set(missing) - {"duration"}) == []
    # The nulls the sandbox fills in are exactly the golden file's.
    marked = {p for p, null in expected.items() if null}
    filled = {f"call.{n}" for n in CALL_NULLS} | {f"call.session.{n}" for n in SESSION_NULLS}
    filled |= {f"call.egress.{n}" for n in ("hls",)}
    filled |= {f"call.settings.{k}.{n}" for k, names in SETTINGS_NULLS.items() for n in names}
    # session itself and session.started_at hold values in the golden scenario.
    assert marked == filled - {"call.session", "call.session.started_at"}


def test_streams_sdk_reads_the_nulls_as_none(emulator: EmulatorHandle) -> None:  # noqa: F811
    client = Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)
    client.upsert_users(UserRequest(id="alice"))
    call = client.video.call("default", "n1")
    call.get_or_create(data={"created_by_id": "alice"})
    got = call.get().data.call
    assert got.ended_at is None and got.starts_at is None and got.thumbnails is None
    assert got.session is None and got.egress.hls is None
    assert got.settings.limits.max_participants is None
    assert got.settings.limits.max_duration_seconds is None
    assert got.settings.screensharing.target_resolution is None
    call.end()
    assert call.get().data.call.ended_at is not None


# --- nulls in the engine: filled on the way out, never stored ------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "app.db")
    eng.upsert_users({"users": {"alice": {"id": "alice"}, "bob": {"id": "bob"}}})
    yield eng
    eng.close()


def test_a_value_replaces_the_null_and_stopping_brings_it_back(engine: Engine) -> None:
    override = {"limits": {"max_participants": 10}, "screensharing": {"target_resolution": None}}
    made = engine.get_or_create_call(
        "livestream", "s", {"data": {"created_by_id": "alice", "settings_override": override}}
    )["call"]
    assert made["session"] is None and made["egress"]["hls"] is None
    assert made["settings"]["limits"] == {
        "max_participants_exclude_roles": [],
        "max_participants": 10,
        "max_duration_seconds": None,
    }
    live = engine.go_live("livestream", "s", {"start_hls": True})["call"]
    assert isinstance(live["egress"]["hls"]["playlist_url"], str)
    assert isinstance(live["session"]["live_started_at"], int)
    assert live["session"]["live_ended_at"] is None and live["session"]["ended_at"] is None
    stopped = engine.stop_live("livestream", "s", {})["call"]
    assert stopped["egress"]["hls"] is None
    assert isinstance(stopped["session"]["live_ended_at"], int)
    assert_matches("StopLiveResponse", {"call": stopped})


def test_nulls_are_never_stored(engine: Engine, tmp_path: Path) -> None:
    engine.get_or_create_call("default", "s", {"data": {"created_by_id": "alice"}})
    engine.get_call("default", "s")
    engine.go_live("default", "s", {})
    conn = sqlite3.connect(tmp_path / "app.db")
    try:
        texts = [r[0] + (r[1] or "") for r in conn.execute("SELECT data, settings FROM calls")]
        texts += [r[0] for r in conn.execute("SELECT data FROM call_types")]
    finally:
        conn.close()
    assert texts and not any("null" in text for text in texts)


def test_call_type_settings_carry_the_same_nulls(engine: Engine) -> None:
    for body in (
        engine.get_call_type("livestream"),
        engine.list_call_types()["call_types"]["default"],
    ):
        assert body["settings"]["limits"]["max_participants"] is None
        assert body["settings"]["screensharing"]["target_resolution"] is None
    assert_matches("GetCallTypeResponse", engine.get_call_type("livestream"))


def test_query_calls_entries_carry_the_nulls(engine: Engine) -> None:
    engine.get_or_create_call("default", "q", {"data": {"created_by_id": "alice"}})
    (entry,) = engine.query_calls({"filter_conditions": {"id": "q"}})["calls"]
    assert entry["call"]["ended_at"] is None and entry["call"]["thumbnails"] is None
    assert_matches("QueryCallsResponse", {"calls": [entry]})


# --- request order and the JoinCall answer --------------------------------------------------


def test_update_call_members_answers_in_request_order(engine: Engine) -> None:
    users = {u: {"id": u} for u in ("zed", "mia", "abe")}
    engine.upsert_users({"users": users})
    engine.get_or_create_call("default", "m", {"data": {"created_by_id": "alice"}})
    body = {
        "update_members": [
            {"user_id": "zed", "role": "host"},
            {"user_id": "abe"},
            {"user_id": "mia"},
            {"user_id": "zed", "role": "moderator"},
        ]
    }
    result = engine.update_call_members("default", "m", body)
    assert [(m["user_id"], m["role"]) for m in result["members"]] == [
        ("zed", "moderator"),
        ("abe", "call_member"),
        ("mia", "call_member"),
    ]
    assert_matches("UpdateCallMembersResponse", result)


def test_sdk_update_call_members_keeps_request_order(emulator: EmulatorHandle) -> None:  # noqa: F811
    client = Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)
    client.upsert_users(*(UserRequest(id=u) for u in ("carol", "bob", "alice")))
    call = client.video.call("default", "order")
    call.get_or_create(data={"created_by_id": "alice"})
    answer = call.update_call_members(
        update_members=[MemberRequest(user_id=u) for u in ("carol", "alice", "bob")]
    )
    assert [m.user_id for m in answer.data.members] == ["carol", "alice", "bob"]


def test_join_answer_has_stats_options_and_membership(emulator: EmulatorHandle) -> None:  # noqa: F811
    with api(emulator) as c:
        c.post("/api/v2/users", json={"users": {"ann": {"id": "ann"}, "ben": {"id": "ben"}}})
        c.post(
            "/api/v2/video/call/default/j",
            json={"data": {"created_by_id": "ann", "members": [{"user_id": "ben"}]}},
        ).raise_for_status()
    with api(emulator, user_token(emulator, "ben")) as c:
        member = c.post("/api/v2/video/call/default/j/join", json={"location": "AMS"})
    with api(emulator, user_token(emulator, "ann")) as c:
        owner = c.post("/api/v2/video/call/default/j/join", json={})
    assert member.status_code == owner.status_code == 201
    assert_join_answer(member.json())
    assert_join_answer(owner.json())
    assert member.json()["membership"]["user_id"] == "ben"
    MemberResponse.from_dict(member.json()["membership"])
    assert "membership" not in owner.json()  # ann created the call but is not a member


# --- own_capabilities for the calling user --------------------------------------------------


def test_get_call_answers_with_the_calling_users_capabilities(
    emulator: EmulatorHandle,  # noqa: F811
) -> None:
    with api(emulator) as c:
        c.post("/api/v2/users", json={"users": {u: {"id": u} for u in ("host1", "fan")}})
        c.post(
            "/api/v2/video/calltypes",
            json={"name": "closed", "grants": {"user": [], "call_member": ["read-call"]}},
        ).raise_for_status()
        members = [{"user_id": "host1", "role": "host"}]
        for cid in ("livestream/gig", "closed/room"):
            c.post(
                f"/api/v2/video/call/{cid}",
                json={"data": {"created_by_id": "host1", "members": members}},
            ).raise_for_status()
        server = c.get("/api/v2/video/call/livestream/gig").json()
    assert len(server["own_capabilities"]) == 36  # a server-side caller holds every capability

    def get(user: str, cid: str) -> httpx.Response:
        with api(emulator, user_token(emulator, user)) as c:
            return c.get(f"/api/v2/video/call/{cid}")

    host, fan = get("host1", "livestream/gig").json(), get("fan", "livestream/gig").json()
    assert_matches("GetCallResponse", host)
    assert "join-backstage" in host["own_capabilities"]
    assert "join-backstage" not in fan["own_capabilities"]
    assert "read-call" in fan["own_capabilities"] and "end-call" not in fan["own_capabilities"]
    assert get("newcomer", "livestream/gig").json()["own_capabilities"] == fan["own_capabilities"]
    refused = get("fan", "closed/room")
    assert refused.status_code == 403 and refused.json()["code"] == 17
    assert "lacks read-call" in refused.json()["message"]
    assert get("nobody", "livestream/missing").status_code == 404
