"""The change model: :class:`Plan`, :class:`Change`, :class:`FieldChange` and :class:`Note`.

Pure values with their JSON form (saved plans store exactly :meth:`Plan.to_json`), the action and
stage constants, and the names ``--target`` uses. Render, saved plans, safety, apply and the
access review need this module alone (they import it through :mod:`stagecfg.plan` today), so it
imports nothing else of the planner: keep it that way, and they never depend on how a plan is
worked out.

Stages are the order apply runs changes in (a plan is sorted by stage, then name, then kind):
users first, since calls name them as members and creators; call types before the calls that use
them; go-live and stop-live once calls have their settings; deletes last, calls before the call
types they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stagecfg.errors import Location
from stagecfg.model import KIND_CALL_TYPE, KIND_USER, Json

ACTION_CREATE = "create"
ACTION_UPDATE = "update"
ACTION_DELETE = "delete"
ACTION_GO_LIVE = "go-live"
ACTION_STOP_LIVE = "stop-live"

LIVE_ACTIONS = (ACTION_GO_LIVE, ACTION_STOP_LIVE)

STAGE_USERS = 0
STAGE_CALL_TYPES = 1
STAGE_CALLS = 2
STAGE_LIVE = 3
STAGE_CALL_DELETES = 4
STAGE_CALL_TYPE_DELETES = 5

#: The fingerprint of an object that does not exist (see :mod:`stagecfg.plan.fingerprints`). It
#: is a value of :attr:`Plan.fingerprints`, so saved plans compare with it knowing only this
#: module.
ABSENT = "absent"


@dataclass(frozen=True)
class FieldChange:
    """One leaf that changes; ``before`` is None when the field does not exist yet."""

    path: str
    before: Any
    after: Any
    #: where an overlay set the new value, when one did (else the change's location says it)
    location: Location | None = None

    def to_json(self) -> Json:
        data: Json = {"path": self.path, "before": self.before, "after": self.after}
        if self.location is not None:
            data["location"] = self.location.to_json()
        return data


@dataclass(frozen=True)
class Change:
    """One operation of the plan, with the exact request body that apply sends.

    A call update's body has up to two parts, each the exact payload of one request:
    ``{"update_call": UpdateCallRequest, "update_call_members": UpdateCallMembersRequest}``.
    """

    kind: str  # "user" | "call_type" | "call"
    name: str  # user id, call type name or cid
    action: str  # create | update | delete | go-live | stop-live
    stage: int
    body: Json = field(default_factory=dict)
    fields: tuple[FieldChange, ...] = ()
    location: Location | None = None
    disruptive: bool = False
    reason: str = ""

    @property
    def target(self) -> str:
        """The name ``--target`` uses for this object."""
        return target_name(self.kind, self.name)

    def to_json(self) -> Json:
        loc = self.location
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "stage": self.stage,
            "body": self.body,
            "fields": [f.to_json() for f in self.fields],
            "location": None if loc is None else loc.to_json(),
            "disruptive": self.disruptive,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Json) -> Change:
        loc = data.get("location")
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            action=str(data["action"]),
            stage=int(data["stage"]),
            body=dict(data.get("body") or {}),
            fields=tuple(
                FieldChange(
                    str(f["path"]),
                    f.get("before"),
                    f.get("after"),
                    Location.from_json(f.get("location")),
                )
                for f in data.get("fields") or ()
            ),
            location=Location.from_json(loc),
            disruptive=bool(data.get("disruptive")),
            reason=str(data.get("reason") or ""),
        )


@dataclass(frozen=True)
class Note:
    """Something the plan cannot change but the reader should know."""

    kind: str
    name: str
    message: str
    location: Location | None = None

    def to_json(self) -> Json:
        loc = self.location
        return {
            "kind": self.kind,
            "name": self.name,
            "message": self.message,
            "location": None if loc is None else loc.to_json(),
        }

    @classmethod
    def from_json(cls, data: Json) -> Note:
        loc = data.get("location")
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            message=str(data["message"]),
            location=Location.from_json(loc),
        )


@dataclass(frozen=True)
class Plan:
    """An ordered, deterministic list of changes plus what is needed to trust it later."""

    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    prune: bool = False
    targets: tuple[str, ...] = ()
    project: str | None = None
    #: objects the plan manages: the desired ones plus those prune would delete
    managed: int = 0
    #: the environment the manifests were loaded for (``--env``), named in every output
    environment: str | None = None

    @property
    def empty(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0, "live": 0}
        for change in self.changes:
            key = "live" if change.action in LIVE_ACTIONS else change.action
            counts[key] += 1
        return counts

    def deletes(self) -> list[Change]:
        return [c for c in self.changes if c.action == ACTION_DELETE]

    def to_json(self) -> Json:
        return {
            "changes": [c.to_json() for c in self.changes],
            "notes": [n.to_json() for n in self.notes],
            "fingerprints": dict(sorted(self.fingerprints.items())),
            "options": {
                "prune": self.prune,
                "targets": list(self.targets),
                "project": self.project,
            },
            "managed": self.managed,
            "summary": self.summary(),
        }

    @classmethod
    def from_json(cls, data: Json) -> Plan:
        options = data.get("options") or {}
        return cls(
            changes=tuple(Change.from_json(c) for c in data.get("changes") or ()),
            notes=tuple(Note.from_json(n) for n in data.get("notes") or ()),
            fingerprints={str(k): str(v) for k, v in (data.get("fingerprints") or {}).items()},
            prune=bool(options.get("prune")),
            targets=tuple(str(t) for t in options.get("targets") or ()),
            project=options.get("project"),
            managed=int(data.get("managed") or 0),
        )


def target_name(kind: str, name: str) -> str:
    """``calltype:NAME`` for call types, ``user:ID`` for users, the cid for calls."""
    if kind == KIND_CALL_TYPE:
        return f"calltype:{name}"
    if kind == KIND_USER:
        return f"user:{name}"
    return name
