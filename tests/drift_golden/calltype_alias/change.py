"""The dashboard stops talk viewers reacting. Their grants are the alias `*viewer`, shared with
shows: the alias is replaced by an explicit list at that place; the anchor keeps shows as is."""

from getstream import Stream

PLANNED = ("call_type talks grants.user",)


def change(client: Stream) -> None:
    client.video.update_call_type(name="talks", grants={"user": ["join-call", "read-call"]})
