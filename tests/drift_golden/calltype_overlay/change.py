"""In production the dashboard raises the cap and the duration: the cap was set by the
production overlay, so the overlay is edited; the duration only by the base, so the base is."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest

ENV = "production"
PLANNED = (
    "call_type shows settings.limits.max_participants",
    "call_type shows settings.limits.max_duration_seconds",
)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(
            limits=LimitsSettingsRequest(max_participants=1200, max_duration_seconds=5400)
        ),
    )
