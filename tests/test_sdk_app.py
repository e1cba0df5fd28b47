"""Stream's Python SDK (getstream 7.0.0) against the running emulator: the app (GetApp), its
external storage, users blocking users, and the active calls' status.

Each test calls the SDK's own methods and reads its typed models, as a team's backend tests
would; a refusal is the SDK's StreamApiException with Stream's status, code and message.
"""

from __future__ import annotations

import pytest
from emulator_fixture import emulator, make_emulator  # noqa: F401
from getstream import Stream, StreamApiException
from getstream.models import (
    CallRequest,
    CallSettingsRequest,
    QueryUsersPayload,
    S3Request,
    SessionSettingsRequest,
    UserRequest,
)

from stagecfg.emulator.server import EmulatorHandle

S3 = S3Request(s3_region="eu-west-1", s3_api_key="key-id", s3_secret="not-a-real-secret")


@pytest.fixture
def sdk(emulator: EmulatorHandle) -> Stream:  # noqa: F811
    return Stream(api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url)


# getstream 7.0.0's AppResponseFields requires three fields the spec in ../shared (v236.0.4) does
# not have; the emulator answers the spec's field set, so the SDK fills them with None and warns.
@pytest.mark.filterwarnings("ignore:Missing value of non-optional type:RuntimeWarning")
def test_get_app_lists_every_call_type_with_its_settings(sdk: Stream) -> None:
    sdk.video.create_call_type(
        name="quiet",
        settings=CallSettingsRequest(
            session=SessionSettingsRequest(inactivity_timeout_seconds=300)
        ),
    )
    app = sdk.get_app().data.app
    assert {"default", "livestream", "audio_room", "development", "quiet"} <= set(app.call_types)
    quiet = app.call_types["quiet"]
    assert quiet.name == "quiet" and quiet.app == app.id
    assert quiet.settings is not None and quiet.settings.session is not None
    assert quiet.settings.session.inactivity_timeout_seconds == 300
    sdk.video.delete_call_type(name="quiet")
    assert "quiet" not in sdk.get_app().data.app.call_types


def test_external_storage_round_trip(sdk: Stream) -> None:
    assert sdk.list_external_storage().data.external_storages == {}
    sdk.create_external_storage(
        name="recordings", storage_type="s3", bucket="calls", path="2030/", aws_s3=S3
    )
    listed = sdk.list_external_storage().data.external_storages
    assert list(listed) == ["recordings"]
    one = listed["recordings"]
    assert (one.name, one.type, one.bucket, one.path) == ("recordings", "s3", "calls", "2030/")
    updated = sdk.update_external_storage(
        name="recordings", storage_type="gcs", bucket="gcs-calls", gcs_credentials="{}"
    ).data
    assert (updated.type, updated.bucket, updated.path) == ("gcs", "gcs-calls", "")
    assert sdk.delete_external_storage(name="recordings").status_code() == 200
    assert sdk.list_external_storage().data.external_storages == {}


def test_the_reserved_storage_name_raises_streams_error(sdk: Stream) -> None:
    with pytest.raises(StreamApiException) as excinfo:
        sdk.create_external_storage(name="stream-s3", storage_type="s3", bucket="b", aws_s3=S3)
    assert (excinfo.value.status_code, excinfo.value.code) == (400, 4)
    assert "stream-s3 name reserved for internal use" in str(excinfo.value)
    with pytest.raises(StreamApiException) as missing:
        sdk.delete_external_storage(name="nowhere")
    assert (missing.value.status_code, missing.value.code) == (404, 16)


def test_users_block_and_unblock_each_other(sdk: Stream) -> None:
    sdk.upsert_users(*(UserRequest(id=u) for u in ("ann", "bea", "cy")))
    made = sdk.block_users(blocked_user_id="bea", user_id="ann").data
    assert (made.blocked_by_user_id, made.blocked_user_id) == ("ann", "bea")
    sdk.block_users(blocked_user_id="cy", user_id="ann")
    blocks = sdk.get_blocked_users(user_id="ann").data.blocks
    assert [(b.user_id, b.blocked_user_id) for b in blocks] == [("ann", "bea"), ("ann", "cy")]
    assert blocks[0].blocked_user.id == "bea"
    ann = sdk.query_users(QueryUsersPayload(filter_conditions={"id": "ann"})).data.users[0]
    assert ann.blocked_user_ids == ["bea", "cy"]
    sdk.unblock_users(blocked_user_id="bea", user_id="ann")
    assert [b.blocked_user_id for b in sdk.get_blocked_users(user_id="ann").data.blocks] == ["cy"]
    with pytest.raises(StreamApiException) as excinfo:
        sdk.block_users(blocked_user_id="ann", user_id="ann")
    assert (excinfo.value.status_code, excinfo.value.code) == (400, 4)


def test_a_user_client_blocks_as_itself(sdk: Stream, emulator: EmulatorHandle) -> None:  # noqa: F811
    sdk.upsert_users(UserRequest(id="ann"), UserRequest(id="bea"))
    ann = Stream(api_key=emulator.api_key, token=sdk.create_token("ann"), base_url=emulator.url)
    ann.block_users(blocked_user_id="bea")
    assert [b.blocked_user_id for b in ann.get_blocked_users().data.blocks] == ["bea"]
    with pytest.raises(StreamApiException) as excinfo:
        ann.get_blocked_users(user_id="bea")
    assert (excinfo.value.status_code, excinfo.value.code) == (403, 17)
    with pytest.raises(StreamApiException) as server_only:
        ann.list_external_storage()
    assert (server_only.value.status_code, server_only.value.code) == (403, 17)


def test_active_calls_status_has_metrics_to_read(sdk: Stream) -> None:
    sdk.upsert_users(UserRequest(id="host"))
    sdk.video.call("default", "room").get_or_create(data=CallRequest(created_by_id="host"))
    status = sdk.video.get_active_calls_status().data
    assert status.metrics is not None and status.metrics.publishers is not None
    resolution = status.metrics.publishers.all.video.resolution
    assert (resolution.p10, resolution.p50) == (0, 0)
    assert status.summary.active_calls == 0  # nobody joined
