"""The dashboard lowers the shows' cap to 80. Stream copies a call type's settings into a call at
creation, so the existing episode still holds 500. Adopting only the call type would make plan
take the episode (which follows its type) to 80, a change nobody made: the episode's live 500 is
written as its own settings_override, so plan is empty."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest

PLANNED = ("call_type shows settings.limits.max_participants",)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(limits=LimitsSettingsRequest(max_participants=80)),
    )
