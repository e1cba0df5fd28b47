"""The product app moves Ann to another desk and team and sets her language to Norwegian: a
flow list entry replaced, a flow mapping value edited, and 'no' stays quoted (unquoted it would
be a YAML 1.1 boolean)."""

from getstream import Stream
from getstream.models import UpdateUserPartialRequest

PLANNED = ("user ann language", "user ann teams", "user ann custom")


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[
            UpdateUserPartialRequest(
                id="ann",
                set={
                    "language": "no",
                    "teams": ["red", "green"],
                    "custom": {"desk": 7, "pronouns": "she/her"},
                },
            )
        ]
    )
