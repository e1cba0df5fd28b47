"""`--new-objects-file m/adopted.yaml`: the product app creates three calls; only the one that
carries this project's marker (custom.stagecfg_project = shows) is added to the file, after its
last call, without the marker (the project implies it). Another project's call and an unmarked
one are left out."""

from getstream import Stream
from getstream.models import CallRequest, MemberRequest

DRIFT_ARGS = ("--new-objects-file", "m/adopted.yaml")
REPORTED = ("livestream:extra",)


def change(client: Stream) -> None:
    client.video.call("livestream", "extra").get_or_create(
        data=CallRequest(
            created_by_id="host-2",
            custom={"stagecfg_project": "shows", "topic": "Questions"},
            members=[MemberRequest(user_id="host-2", role="host")],
        )
    )
    client.video.call("livestream", "radio-hour").get_or_create(
        data=CallRequest(created_by_id="host-1", custom={"stagecfg_project": "radio"})
    )
    client.video.call("livestream", "ad-hoc").get_or_create(
        data=CallRequest(created_by_id="host-1")
    )


JSON_ITEMS = ({"kind": "call", "name": "livestream:extra", "status": "undeclared"},)
