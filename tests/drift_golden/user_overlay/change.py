"""In staging an admin renames the presenter and changes the badge: the name came from staging's
overlay, so the overlay is edited; custom only from the base, so the base is (one key of it)."""

from getstream import Stream
from getstream.models import UpdateUserPartialRequest

ENV = "staging"
PLANNED = ("user presenter name", "user presenter custom")


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[
            UpdateUserPartialRequest(
                id="presenter",
                set={
                    "name": "Presenter (staging, do not use)",
                    "custom": {"badge": "host", "floor": 2},
                },
            )
        ]
    )
