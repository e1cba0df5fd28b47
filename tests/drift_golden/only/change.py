"""`--only user:presenter.name`: the rename is adopted; the dashboard's new cap on shows is left
in the manifests, so plan would put it back and drift still reports it (exit 2)."""

from getstream import Stream
from getstream.models import CallSettingsRequest, LimitsSettingsRequest, UpdateUserPartialRequest

DRIFT_ARGS = ("--only", "user:presenter.name")
PLANNED = ("user presenter name", "call_type shows settings.limits.max_participants")
LEFT = ("call_type shows settings.limits.max_participants",)


def change(client: Stream) -> None:
    client.update_users_partial(
        users=[UpdateUserPartialRequest(id="presenter", set={"name": "Pat"})]
    )
    client.video.update_call_type(
        name="shows",
        settings=CallSettingsRequest(limits=LimitsSettingsRequest(max_participants=80)),
    )


ONLY_REPORT = ({"kind": "user", "name": "presenter", "path": "name", "live": "Pat"},)
