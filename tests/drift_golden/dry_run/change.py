"""`--write --dry-run`: the files stay as they were and the diff of what --write would do (the
after/ files: two scalars, the `---` and the header kept) is printed."""

from getstream import Stream
from getstream.models import (
    BackstageSettingsRequest,
    CallSettingsRequest,
    EventNotificationSettingsRequest,
    NotificationSettingsRequest,
)

DRY_RUN = True
PLANNED = (
    "call_type shows settings.backstage.join_ahead_time_seconds",
    "call_type shows notification_settings.call_live_started.enabled",
)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(
            backstage=BackstageSettingsRequest(enabled=True, join_ahead_time_seconds=600)
        ),
        notification_settings=NotificationSettingsRequest(
            call_live_started=EventNotificationSettingsRequest(enabled=False)
        ),
    )
