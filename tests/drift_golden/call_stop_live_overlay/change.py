"""In production the product app stops the lobby stream. Production's overlay set `live: true`,
so the overlay is edited; the base's `live: false` stays as it is."""

from getstream import Stream

ENV = "production"
PLANNED = ("call livestream:lobby backstage",)


def change(client: Stream) -> None:
    client.video.call("livestream", "lobby").stop_live()
