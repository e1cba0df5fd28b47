"""The dashboard lets hosts share their screen and stops viewers sending events: one entry
appended to a block list (its comments kept), one removed from a flow list."""

from getstream import Stream

PLANNED = ("call_type shows grants.host", "call_type shows grants.user")


def change(client: Stream) -> None:
    client.video.update_call_type(
        name="shows",
        grants={
            "host": [
                "join-backstage", "join-call", "read-call", "send-audio", "send-video",
                "screenshare",
            ],
            "user": ["join-call", "read-call", "create-call-reaction"],
        },
    )  # fmt: skip
