"""In production the dashboard takes kick-user from moderators (a grant list the production
overlay set: one entry removed there) and every grant from viewers (the base's flow list
becomes `[]`)."""

from getstream import Stream

ENV = "production"
PLANNED = ("call_type shows grants.moderator", "call_type shows grants.user")


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows", grants={"moderator": ["join-call", "mute-users"], "user": []}
    )
