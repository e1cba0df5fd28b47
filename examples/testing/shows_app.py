"""The part of your backend that talks to Stream: scheduling a show and opening its doors."""

from __future__ import annotations

from datetime import datetime

from getstream import Stream
from getstream.models import CallRequest, MemberRequest


def schedule_show(client: Stream, show_id: str, *, host: str, starts_at: datetime) -> None:
    """Create the show's call in backstage, with its host, ahead of time."""
    client.video.call("shows", show_id).get_or_create(
        data=CallRequest(
            created_by_id=host,
            starts_at=starts_at,
            members=[MemberRequest(user_id=host, role="host")],
            custom={"title": show_id.replace("-", " ").title()},
        )
    )


def open_doors(client: Stream, show_id: str) -> None:
    """Take the show live, with HLS for the audience."""
    client.video.call("shows", show_id).go_live(start_hls=True)
