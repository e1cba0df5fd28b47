"""The dashboard opens talks' backstage 30 s ahead. The value is inside the alias `*backstage`,
shared with shows: editing through it would change shows too, so the alias is written out at
talks as an explicit mapping (in the anchor's flow style) with the new value; shows keeps the
anchor."""

from getstream import Stream
from getstream.models import BackstageSettingsRequest, CallSettingsRequest

PLANNED = ("call_type talks settings.backstage.join_ahead_time_seconds",)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="talks",
        settings=CallSettingsRequest(
            backstage=BackstageSettingsRequest(enabled=True, join_ahead_time_seconds=30)
        ),
    )
