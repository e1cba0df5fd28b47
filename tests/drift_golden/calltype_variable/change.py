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
        # The field is declared at the reference; where production sets the variable is
        # the variable's source.
        "location": {"file": "m/base.yaml", "line": 16, "col": 27},
        "variable_source": "m/environments/production.yaml:6:16 (values:)",
    },
    {"path": "settings.recording.mode", "manifest": "available", "live": "auto-on"},
)
