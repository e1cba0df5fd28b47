"""GetApp through the sandbox engine: Stream's AppResponseFields, with every call type the
sandbox holds in GetApp's CallType shape, current after each change, and no secret."""

from __future__ import annotations

import json

import pytest
from openapi_check import assert_matches
from test_sandbox_engine import T0, Clock, clock, engine  # noqa: F401

from stagecfg import timestamps
from stagecfg.emulator import DEFAULT_API_SECRET
from stagecfg.sandbox import Engine

BUILT_INS = ["audio_room", "default", "development", "livestream"]


def test_get_app_matches_the_spec_and_lists_the_built_in_call_types(
    engine: Engine,  # noqa: F811
) -> None:
    app = engine.get_app()
    assert_matches("GetApplicationResponse", app)
    assert sorted(app["app"]["call_types"]) == BUILT_INS
    livestream = app["app"]["call_types"]["livestream"]
    assert livestream["name"] == "livestream" and livestream["app"] == app["app"]["id"]
    assert livestream["settings"]["backstage"]["enabled"] is True
    ids = [t["id"] for t in app["app"]["call_types"].values()]
    assert len(set(ids)) == len(ids)


def test_a_call_type_shows_as_created_and_updated(engine: Engine, clock: Clock) -> None:  # noqa: F811
    engine.create_call_type(
        {
            "name": "stage",
            "external_storage": "archive",
            "settings": {
                "session": {"inactivity_timeout_seconds": 300},
                "broadcasting": {"rtmp": {"enabled": True, "quality": "1080p"}},
            },
            "notification_settings": {"call_ring": {"enabled": True, "apns": {"sound": "ding"}}},
        }
    )
    clock.advance(seconds=5)
    engine.update_call_type("stage", {"settings": {"audio": {"default_device": "speaker"}}})
    app = engine.get_app()
    assert_matches("GetApplicationResponse", app)
    stage = app["app"]["call_types"]["stage"]
    got = engine.get_call_type("stage")
    assert stage["created_at"] == got["created_at"] == timestamps.to_nanos(T0)
    assert stage["updated_at"] == got["updated_at"] > stage["created_at"]
    assert stage["recording_external_storage"] == "archive"
    assert stage["settings"]["session"] == {"inactivity_timeout_seconds": 300}
    assert stage["settings"]["audio"]["default_device"] == "speaker"
    # GetApp's CallSettings name RTMP's quality quality_name and have no encryption.
    rtmp = stage["settings"]["broadcasting"]["rtmp"]
    assert rtmp["quality_name"] == got["settings"]["broadcasting"]["rtmp"]["quality"] == "1080p"
    assert "quality" not in rtmp and "encryption" not in stage["settings"]
    assert stage["notification_settings"] == got["notification_settings"]
    assert stage["notification_settings"]["call_ring"]["apns"]["sound"] == "ding"
    engine.delete_call_type("stage")
    assert sorted(engine.get_app()["app"]["call_types"]) == BUILT_INS


def test_a_call_types_id_is_stable(engine: Engine) -> None:  # noqa: F811
    before = {name: t["id"] for name, t in engine.get_app()["app"]["call_types"].items()}
    engine.create_call_type({"name": "aaa"})
    engine.update_call_type("default", {"grants": {"user": ["join-call"]}})
    after = {name: t["id"] for name, t in engine.get_app()["app"]["call_types"].items()}
    assert {name: after[name] for name in before} == before
    assert after["aaa"] not in before.values()


@pytest.mark.parametrize("field", ["sqs_secret", "sns_secret", "sqs_key", "sns_key"])
def test_no_secret_is_answered(engine: Engine, field: str) -> None:  # noqa: F811
    app = engine.get_app()
    assert app["app"][field] == ""
    assert DEFAULT_API_SECRET not in repr(app)


def test_a_template_stored_without_title_or_body_answers_them_empty(
    engine: Engine,  # noqa: F811
) -> None:
    # Files written before the sandbox filled APNs templates may hold one without them.
    engine.create_call_type({"name": "old"})
    with engine._store.write() as tx:
        data = json.loads(
            tx.execute("SELECT data FROM call_types WHERE name = 'old'").fetchone()[0]
        )
        data["notification_settings"]["call_ring"]["apns"] = {"sound": "ding"}
        tx.execute("UPDATE call_types SET data = ? WHERE name = 'old'", (json.dumps(data),))
    app = engine.get_app()
    assert_matches("GetApplicationResponse", app)
    apns = app["app"]["call_types"]["old"]["notification_settings"]["call_ring"]["apns"]
    assert apns == {"title": "", "body": "", "sound": "ding"}


def test_answers_are_independent_copies(engine: Engine) -> None:  # noqa: F811
    first = engine.get_app()
    first["app"]["push_notifications"]["apn"]["enabled"] = True
    first["app"]["call_types"].clear()
    second = engine.get_app()
    assert second["app"]["push_notifications"]["apn"]["enabled"] is False
    assert sorted(second["app"]["call_types"]) == BUILT_INS
