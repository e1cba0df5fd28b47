"""The product app makes Bob a host, adds Cy and removes Dan: one value edited in place, one key
appended, one deleted with its own comment."""

from getstream import Stream
from getstream.models import MemberRequest

PLANNED = (
    "call default:standup members.bob",
    "call default:standup members.cy",
    "call default:standup members.dan",
)


def change(client: Stream) -> None:
    client.video.call("default", "standup").update_call_members(
        update_members=[
            MemberRequest(user_id="bob", role="host"),
            MemberRequest(user_id="cy", role="call_member"),
        ],
        remove_members=["dan"],
    )
