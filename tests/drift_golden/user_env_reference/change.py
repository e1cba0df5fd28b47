"""An admin renames the host and changes the picture. The name is text built from the
environment variable CITY: it is never overwritten, it is reported (plan still shows it); the
picture is adopted."""

from getstream import Stream
from getstream.models import UpdateUserPartialRequest

ENVIRON = {"CITY": "Berlin"}
PLANNED = ("user host name", "user host image")
LEFT = ("user host name",)
REPORTED = ("CITY",)


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[
            UpdateUserPartialRequest(
                id="host",
                set={"name": "Host of Paris", "image": "https://example.com/host-2.png"},
            )
        ]
    )


JSON_ITEMS = ({"name": "host", "path": "name", "variable": "CITY", "adoptable": False},)
