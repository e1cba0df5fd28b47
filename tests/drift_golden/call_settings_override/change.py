"""The product app doubles the panel's room (its own settings_override, edited in place) and
gives the second panel, which follows the call type, a room of 60: that call gets a
settings_override of its own, in block style, after its last key."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest

PLANNED = (
    "call shows:panel settings_override.limits.max_participants",
    "call shows:panel-2 settings.limits.max_participants",  # follows call type shows
)


def change(client: Stream) -> None:
    for call_id, cap in (("panel", 40), ("panel-2", 60)):
        client.video.call("shows", call_id).update(
            settings_override=CallSettingsRequest(
                limits=LimitsSettingsRequest(max_participants=cap)
            )
        )
