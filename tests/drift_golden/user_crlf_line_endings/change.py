"""A file saved on Windows: the renamed user keeps CRLF line endings. (teams is not declared, so
the product app's team change is not drift; only the name is.)"""

from getstream import Stream
from getstream.models import UpdateUserPartialRequest

PLANNED = ("user ann name",)


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[UpdateUserPartialRequest(id="ann", set={"name": "Ann Lee", "teams": ["front"]})]
    )
