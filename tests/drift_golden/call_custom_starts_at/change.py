"""The product app moves the keynote by 90 minutes and retitles it. The double quotes stay, and
the project marker the app keeps in custom is not written into the manifest."""

from datetime import datetime, timezone

from getstream import Stream

PLANNED = ("call livestream:keynote starts_at", "call livestream:keynote custom.topic")


def change(client: Stream) -> None:
    call = client.video.call("livestream", "keynote")
    custom = dict(call.get().data.call.custom)
    call.update(
        custom={**custom, "topic": "Launch day"},
        starts_at=datetime(2027, 6, 1, 17, 30, tzinfo=timezone.utc),
    )
