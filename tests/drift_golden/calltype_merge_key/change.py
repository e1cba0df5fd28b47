"""The dashboard caps talks at 50. Talks get max_participants only through the merge key
`<<: *limits`, so the key is added to the talks' own mapping; the anchor (and shows) stay."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest

PLANNED = ("call_type talks settings.limits.max_participants",)


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="talks",
        settings=CallSettingsRequest(limits=LimitsSettingsRequest(max_participants=50)),
    )
