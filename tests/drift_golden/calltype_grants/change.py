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


XFAIL = (
    "drift --write 1d78b01 writes the live grant lists in Stream's sorted order: host gets "
    "'- screenshare' inserted between read-call and send-audio (want it appended after "
    "send-video), and user becomes [create-call-reaction, join-call, read-call] (want "
    "[join-call, read-call, create-call-reaction]: only send-event removed). Grants are a set "
    "to Stream, so the declared order should be kept and new entries appended"
)
