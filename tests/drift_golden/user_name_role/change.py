"""An admin renames two users in the dashboard and makes one an admin: the quote style of each
name ('single', "double") is kept."""

from getstream import Stream
from getstream.models import UpdateUserPartialRequest

PLANNED = ("user presenter role", "user presenter name", "user guest name")


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[
            UpdateUserPartialRequest(
                id="presenter", set={"name": "Pat P. Presenter", "role": "admin"}
            ),
            UpdateUserPartialRequest(id="guest", set={"name": "Guest Speaker"}),
        ]
    )
