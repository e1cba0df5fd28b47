"""Users as exported: which ones (``--users``), and each with only the fields it holds.

Users are app-wide and mostly product data (every end user an app signs up), so by default the
export declares only the users its calls refer to, creators and members: what the calls need to
apply to a fresh app. ``all`` declares every user (a small or test app, or a full backup);
``none`` leaves users to whatever else manages them, and the calls then refer to users that
must already exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from stagecfg.model import CallState, Json, UserState

USERS_REFERENCED = "referenced"
USERS_ALL = "all"
USERS_NONE = "none"
#: ``--users`` choices, the default first.
USER_CHOICES = (USERS_REFERENCED, USERS_ALL, USERS_NONE)


def referenced_users(calls: Iterable[CallState]) -> list[str]:
    """User ids ``calls`` refer to (creators and members), sorted."""
    ids: set[str] = set()
    for call in calls:
        if call.created_by_id:
            ids.add(call.created_by_id)
        ids.update(call.members)
    return sorted(ids)


def user_entry(user: UserState) -> Json:
    """``role`` and every other UserRequest field the user holds.

    An unset field (Stream's empty value) is left out, which leaves it unmanaged: a plan finds
    nothing to change there, and a fresh app starts the user with that empty value too. The role
    is always written, even Stream's default ``user``: it is what a review of access reads.
    """
    entry: Json = {"role": user.role}
    if user.name:
        entry["name"] = user.name
    if user.image:
        entry["image"] = user.image
    if user.teams:
        entry["teams"] = list(user.teams)
    if user.custom:
        entry["custom"] = dict(user.custom)
    if user.language:
        entry["language"] = user.language
    if user.invisible:
        entry["invisible"] = True
    if user.privacy_settings:
        entry["privacy_settings"] = dict(user.privacy_settings)
    if user.teams_role:
        entry["teams_role"] = dict(sorted(user.teams_role.items()))
    return entry
