"""The dashboard raises the cap, which comes from the variable max_viewers, and turns
recording on: the recording mode is adopted, the cap is left as `${max_viewers}` and reported
with the variable to change (plan still shows it)."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest, RecordSettingsRequest

ENV = "production"
PLANNED = (
    "call_type shows settings.limits.max_participants",
    "call_type shows settings.recording.mode",
)
REPORTED = ("max_viewers",)
LEFT = ("call_type shows settings.limits.max_participants",)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(
            limits=LimitsSettingsRequest(max_participants=6000),
            recording=RecordSettingsRequest(mode="auto-on", quality="1080p"),
        ),
    )


JSON_ITEMS = (
    {
        "name": "shows",
        "status": "changed",
        "path": "settings.limits.max_participants",
        "manifest": 5000,
        "live": 6000,
        "variable": "max_viewers",
        "adoptable": False,
        "location": {"file": "m/environments/production.yaml", "line": 6, "col": 16},
    },
    {"path": "settings.recording.mode", "manifest": "available", "live": "auto-on"},
)
XFAIL_REPORT = (
    "drift 1d78b01: the variable-backed max_participants is reported adoptable: true (want "
    "false: ${max_viewers} is never overwritten, and --write leaves it) and located at the "
    "reference m/base.yaml:16:27 (want m/environments/production.yaml:6:16, where production sets "
    "the value, as interface.md's example shows; it is now only in the extra field "
    "variable_source)"
)
