"""The dashboard opens backstage five minutes ahead: one scalar inside a flow mapping."""

from getstream import Stream
from getstream.models import BackstageSettingsRequest, CallSettingsRequest

PLANNED = ("call_type shows settings.backstage.join_ahead_time_seconds",)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(
            backstage=BackstageSettingsRequest(enabled=True, join_ahead_time_seconds=300)
        ),
    )
