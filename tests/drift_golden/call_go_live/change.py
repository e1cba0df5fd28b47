"""The product app takes the launch live: `live: false` becomes `live: true`, comments kept."""

from getstream import Stream

PLANNED = ("call livestream:launch backstage",)


def change(client: Stream) -> None:
    client.video.call("livestream", "launch").go_live(start_hls=True)
