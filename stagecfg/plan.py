"""The plan: what must change so that the backend matches the manifests. Pure data, no I/O.

:func:`make_plan` compares a :class:`~stagecfg.model.DesiredState` with an
:class:`~stagecfg.model.ActualState` and returns a :class:`Plan`, an ordered tuple of
:class:`Change` values, each carrying the exact request body that apply will send. Only what the
manifests declare is compared, so server defaults never show up as a diff.

Decisions worth knowing:

* ``created_by_id`` and ``team`` cannot change after a call is created (UpdateCallRequest has no
  such fields), so a difference is a :class:`Note` in the plan, never a change or an error.
* A call update's body has up to two parts, each the exact payload of one request:
  ``{"update_call": UpdateCallRequest, "update_call_members": UpdateCallMembersRequest}``.
* Deleting a call type is disruptive when calls of that type remain that this plan does not
  delete too; deleting a live call is disruptive as stop-live is.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from importlib.resources import files
from typing import Any

from deepdiff import DeepDiff

from stagecfg import timestamps
from stagecfg.errors import Location, UsageError
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    PROJECT_MARKER_KEY,
    ActualState,
    CallSpec,
    CallState,
    CallTypeSpec,
    CallTypeState,
    DesiredState,
    Json,
    UserSpec,
    UserState,
    split_cid,
)
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES, call_type_settings
from stagecfg.rules.settings import effective_backstage

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

ABSENT = "absent"

#: Members per UpdateCallMembers / CallRequest, Stream's cap.
MEMBERS_PER_REQUEST = 100


class _Missing:
    """A value the actual object does not have (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


@dataclass(frozen=True)
class FieldChange:
    """One leaf that changes; ``before`` is None when the field does not exist yet."""

    path: str
    before: Any
    after: Any

    def to_json(self) -> Json:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Change:
    """One operation of the plan, with the exact request body that apply sends."""

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
                FieldChange(str(f["path"]), f.get("before"), f.get("after"))
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


# --- fingerprints -------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    # Called by json.dumps only for what it cannot encode itself (dataclasses, read-only
    # mappings). Converting shallowly here instead of deep-copying with asdict() and walking the
    # copy again gives the same text at a fraction of the cost: fingerprinting was most of a
    # no-op plan's time at 100,000 calls.
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON data")


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: the same data always gives the same text."""
    return json.dumps(
        value, default=_json_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def fingerprint(state: CallTypeState | CallState | UserState | None) -> str:
    """sha256 of the object's canonical JSON, or ``"absent"`` when it does not exist."""
    if state is None:
        return ABSENT
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


def fingerprints_of(desired: DesiredState, actual: ActualState) -> dict[str, str]:
    """Every object read (and every declared one, ``absent`` when missing), keyed kind:name."""
    prints: dict[str, str] = {}
    for name in set(actual.call_types) | set(desired.call_types):
        prints[f"{KIND_CALL_TYPE}:{name}"] = fingerprint(actual.call_types.get(name))
    for cid in set(actual.calls) | set(desired.calls):
        prints[f"{KIND_CALL}:{cid}"] = fingerprint(actual.calls.get(cid))
    for uid in set(actual.users) | set(desired.users):
        prints[f"{KIND_USER}:{uid}"] = fingerprint(actual.users.get(uid))
    return dict(sorted(prints.items()))


class _LazyFingerprints(Mapping[str, str]):
    """:func:`fingerprints_of`, computed on first use.

    Only saved plans and their verification read fingerprints, and hashing every object of a
    100,000-call plan that is only shown took seconds. ``desired`` and ``actual`` are immutable
    values, so computing later gives what computing now would.
    """

    def __init__(self, desired: DesiredState, actual: ActualState) -> None:
        self._desired = desired
        self._actual = actual
        self._prints: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._prints is None:
            self._prints = fingerprints_of(self._desired, self._actual)
        return self._prints

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


# --- comparing declared subsets -----------------------------------------------------------------


def _project(actual: Any, declared: Any) -> Any:
    """``actual`` cut down to the keys ``declared`` has (recursively through dicts)."""
    if not isinstance(declared, Mapping) or not isinstance(actual, Mapping):
        return actual
    return {k: _project(actual[k], v) for k, v in declared.items() if k in actual}


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _leaves(data: Any, prefix: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Leaf paths of nested dicts; lists and empty dicts are leaves."""
    if isinstance(data, Mapping) and data:
        for key in sorted(data):
            yield from _leaves(data[key], (*prefix, str(key)))
    else:
        yield prefix, data


def _changed_paths(declared: Any, actual: Any) -> list[tuple[str, ...]]:
    """Leaf paths where the declared value differs from the actual one (declared leaves only).

    DeepDiff finds the differences; a list counts as one value, so paths stop at the first index.
    """
    projected = _project(actual, declared)
    if _same(projected, declared):
        return []
    diff = DeepDiff(projected, declared, view="tree", ignore_numeric_type_changes=True)
    paths: set[tuple[str, ...]] = set()
    for items in diff.values():
        for item in items:
            raw = item.path(output_format="list")
            cut: list[str] = []
            for part in raw:
                if isinstance(part, int):
                    break
                cut.append(str(part))
            paths.add(tuple(cut))
    expanded: set[tuple[str, ...]] = set()
    for path in paths:
        value = _get(declared, path)
        if isinstance(value, Mapping) and value:
            # A whole sub-object missing on the backend: report each declared leaf.
            for leaf, _ in _leaves(value, path):
                if _differs(_get(declared, leaf), _get(actual, leaf)):
                    expanded.add(leaf)
        else:
            expanded.add(path)
    return sorted(expanded)


def _same(a: Any, b: Any) -> bool:
    """Identical JSON data, types included: then DeepDiff would find nothing.

    A cheap first check, since most objects in a plan are unchanged. It is stricter than
    DeepDiff (1 vs 1.0 or a tuple vs a list say "not the same" here), so anything it does not
    vouch for still goes to DeepDiff, and results are unchanged.
    """
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _differs(after: Any, before: Any) -> bool:
    if isinstance(before, _Missing):
        return True
    if _same(before, after):
        return False
    return bool(DeepDiff(before, after, ignore_numeric_type_changes=True))


def _shown(value: Any) -> Any:
    return None if isinstance(value, _Missing) else value


def _field_changes(
    prefix: str, declared: Any, actual: Any, paths: Iterable[tuple[str, ...]]
) -> list[FieldChange]:
    out = []
    for path in paths:
        dotted = ".".join((prefix, *path)) if prefix else ".".join(path)
        out.append(FieldChange(dotted, _shown(_get(actual, path)), _shown(_get(declared, path))))
    return out


def _nest(declared: Any, paths: Iterable[tuple[str, ...]]) -> Json:
    """Only ``paths`` of ``declared``, nested: the changed leaves, since Stream merges them."""
    out: Json = {}
    for path in paths:
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if path:
            node[path[-1]] = _get(declared, path)
    return out


@functools.lru_cache(maxsize=1)
def _schema() -> Json:
    data: Json = json.loads(files("stagecfg").joinpath("stagecfg.schema.json").read_text("utf-8"))
    return data


def _resolve(node: Any) -> Any:
    root = _schema()
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
    return node


def _with_required(nested: Json, declared: Any, node: Any) -> Json:
    """``nested`` plus, in every sub-object it sends, the declared keys the schema requires.

    Stream's request models require some keys (``audio.default_device``, ``ring.*_ms``...), so
    a body carrying only the changed leaf of such a sub-object would be refused.
    """
    node = _resolve(node)
    if not isinstance(node, Mapping) or not isinstance(declared, Mapping):
        return nested
    props = node.get("properties") or {}
    out = dict(nested)
    for key, value in nested.items():
        if isinstance(value, dict) and key in props:
            out[key] = _with_required(value, declared.get(key), props[key])
    for key in node.get("required") or ():
        if key not in out and key in declared:
            out[key] = declared[key]
    return out


def _settings_body(declared: Json, paths: list[tuple[str, ...]], schema_def: str) -> Json:
    nested = _nest(declared, paths)
    return _with_required(nested, declared, {"$ref": f"#/$defs/{schema_def}"})


def _create_fields(prefix: str, value: Any) -> list[FieldChange]:
    if isinstance(value, Mapping) and not value:
        return [FieldChange(prefix, None, {})]
    return [FieldChange(".".join((prefix, *path)), None, leaf) for path, leaf in _leaves(value, ())]


# --- users --------------------------------------------------------------------------------------


def _user_change(spec: UserSpec, state: UserState | None) -> Change | None:
    declared: Json = {}
    if spec.role is not None:
        declared["role"] = spec.role
    if spec.name is not None:
        declared["name"] = spec.name
    if spec.custom is not None:
        declared["custom"] = spec.custom
    # image and teams are newer UserSpec fields; compared only once UserState carries them.
    for extra in ("image", "teams"):
        value = getattr(spec, extra, None)
        if value is not None:
            declared[extra] = value
    if state is None:
        new: Json = {"id": spec.id, **declared}
        fields = [FieldChange(k, None, v) for k, v in sorted(declared.items())]
        return Change(
            KIND_USER, spec.id, ACTION_CREATE, STAGE_USERS, new, tuple(fields), spec.location
        )
    current: Json = {"role": state.role, "name": state.name, "custom": dict(state.custom)}
    for extra in ("image", "teams"):
        if hasattr(state, extra):
            current[extra] = getattr(state, extra)
    fields = [
        FieldChange(key, current[key], value)
        for key, value in sorted(declared.items())
        if key in current and _differs(value, current[key])
    ]
    if not fields:
        return None
    # UpdateUsers replaces the whole user, so undeclared fields are sent as they are now.
    body: Json = {"id": spec.id, "role": state.role, "custom": dict(state.custom)}
    for key in ("name", "image", "teams"):
        if current.get(key) is not None:
            body[key] = current[key]
    body.update(declared)
    return Change(
        KIND_USER, spec.id, ACTION_UPDATE, STAGE_USERS, body, tuple(fields), spec.location
    )


# --- call types ---------------------------------------------------------------------------------


def _call_type_create(spec: CallTypeSpec) -> Change:
    body: Json = {}
    fields: list[FieldChange] = []
    if spec.settings is not None:
        body["settings"] = spec.settings
        fields += _create_fields("settings", spec.settings)
    if spec.grants is not None:
        body["grants"] = {role: sorted(set(p)) for role, p in sorted(spec.grants.items())}
        fields += [FieldChange(f"grants.{r}", None, p) for r, p in body["grants"].items()]
    if spec.notification_settings is not None:
        body["notification_settings"] = spec.notification_settings
        fields += _create_fields("notification_settings", spec.notification_settings)
    if spec.external_storage is not None:
        body["external_storage"] = spec.external_storage
        fields.append(FieldChange("external_storage", None, spec.external_storage))
    return Change(
        KIND_CALL_TYPE,
        spec.name,
        ACTION_CREATE,
        STAGE_CALL_TYPES,
        body,
        tuple(fields),
        spec.location,
    )


def _call_type_update(spec: CallTypeSpec, state: CallTypeState) -> Change | None:
    body: Json = {}
    fields: list[FieldChange] = []
    if spec.settings is not None:
        paths = _changed_paths(spec.settings, state.settings)
        if paths:
            body["settings"] = _settings_body(spec.settings, paths, "CallSettingsRequest")
            fields += _field_changes("settings", spec.settings, state.settings, paths)
    if spec.grants is not None:
        changed: Json = {}
        for role in sorted(spec.grants):
            want = sorted(set(spec.grants[role]))
            have = sorted(set(state.grants.get(role, [])))
            if want != have:
                changed[role] = want
                fields.append(FieldChange(f"grants.{role}", have, want))
        if changed:
            body["grants"] = changed
    if spec.notification_settings is not None:
        paths = _changed_paths(spec.notification_settings, state.notification_settings)
        if paths:
            body["notification_settings"] = _settings_body(
                spec.notification_settings, paths, "NotificationSettingsRequest"
            )
            fields += _field_changes(
                "notification_settings",
                spec.notification_settings,
                state.notification_settings,
                paths,
            )
    if spec.external_storage is not None and spec.external_storage != state.external_storage:
        body["external_storage"] = spec.external_storage
        fields.append(
            FieldChange("external_storage", state.external_storage, spec.external_storage)
        )
    if not fields:
        return None
    return Change(
        KIND_CALL_TYPE,
        spec.name,
        ACTION_UPDATE,
        STAGE_CALL_TYPES,
        body,
        tuple(fields),
        spec.location,
    )


def _type_settings(name: str, desired: DesiredState, actual: ActualState) -> Json:
    """The call type's settings once stage 1 has run: actual merged with the declared subset."""
    state = actual.call_types.get(name)
    spec = desired.call_types.get(name)
    return call_type_settings(
        name, state.settings if state else None, spec.settings if spec else None
    )


# --- calls --------------------------------------------------------------------------------------


def _desired_custom(spec: CallSpec, state: CallState | None, project: str | None) -> Json | None:
    """The custom object to hold; None when neither the manifest nor the marker asks for one."""
    if spec.custom is not None:
        custom = dict(spec.custom)
    elif project is not None and state is not None:
        custom = dict(state.custom)
    elif project is not None:
        custom = {}
    else:
        return None
    if project is not None:
        custom[PROJECT_MARKER_KEY] = project
    return custom


def _call_create(
    spec: CallSpec, type_settings: Json, project: str | None
) -> tuple[list[Change], list[Note]]:
    """Create ``spec``; ``type_settings`` are its call type's settings once stage 1 has run."""
    body: Json = {}
    fields: list[FieldChange] = []
    notes: list[Note] = []
    if spec.created_by_id is not None:
        body["created_by_id"] = spec.created_by_id
        fields.append(FieldChange("created_by_id", None, spec.created_by_id))
    if spec.starts_at is not None:
        body["starts_at"] = timestamps.normalize(spec.starts_at)
        fields.append(FieldChange("starts_at", None, body["starts_at"]))
    if spec.team is not None:
        body["team"] = spec.team
        fields.append(FieldChange("team", None, spec.team))
    if spec.settings_override is not None:
        body["settings_override"] = spec.settings_override
        fields += _create_fields("settings_override", spec.settings_override)
    custom = _desired_custom(spec, None, project)
    if custom is not None:
        body["custom"] = custom
        fields += _create_fields("custom", custom)
    if spec.members is not None:
        body["members"] = [
            {"user_id": uid, "role": role} for uid, role in sorted(spec.members.items())
        ]
        fields += [FieldChange(f"members.{u}", None, r) for u, r in sorted(spec.members.items())]
    changes = [
        Change(KIND_CALL, spec.cid, ACTION_CREATE, STAGE_CALLS, body, tuple(fields), spec.location)
    ]
    in_backstage = effective_backstage(type_settings, spec.settings_override).enabled
    if spec.live is True and in_backstage:
        changes.append(_go_live(spec))
    elif spec.live is False and not in_backstage:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                "live: false, but backstage is disabled for this call, so it is live as soon "
                "as it is created and cannot wait in backstage",
                spec.location,
            )
        )
    return changes, notes


def _go_live(spec: CallSpec) -> Change:
    return Change(
        KIND_CALL,
        spec.cid,
        ACTION_GO_LIVE,
        STAGE_LIVE,
        dict(spec.go_live or {}),
        (FieldChange("backstage", True, False),),
        spec.location,
    )


def _members_part(spec: CallSpec, state: CallState) -> tuple[Json, list[FieldChange]]:
    if spec.members is None:
        return {}, []
    fields: list[FieldChange] = []
    update: list[Json] = []
    for uid, role in sorted(spec.members.items()):
        have = state.members.get(uid)
        if have != role:
            update.append({"user_id": uid, "role": role})
            fields.append(FieldChange(f"members.{uid}", have, role))
    remove = sorted(uid for uid in state.members if uid not in spec.members)
    fields += [FieldChange(f"members.{uid}", state.members[uid], None) for uid in remove]
    part: Json = {}
    if update:
        part["update_members"] = update
    if remove:
        part["remove_members"] = remove
    return part, fields


def _call_update(
    spec: CallSpec, state: CallState, project: str | None
) -> tuple[list[Change], list[Note]]:
    notes: list[Note] = []
    patch: Json = {}
    fields: list[FieldChange] = []
    if spec.created_by_id is not None and spec.created_by_id != state.created_by_id:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"created_by_id is {state.created_by_id!r} on the backend and cannot change "
                f"after creation; the manifest's {spec.created_by_id!r} is ignored",
                spec.location,
            )
        )
    if spec.team is not None and spec.team != state.team:
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"team is {state.team!r} on the backend and cannot change after creation; "
                f"the manifest's {spec.team!r} is ignored",
                spec.location,
            )
        )
    owner = state.custom.get(PROJECT_MARKER_KEY)
    if project is not None and owner is not None and owner != project:
        # Two projects declaring one cid would fight over it on every apply; say so plainly.
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                f"belongs to project {owner!r} on the backend; this apply makes it project "
                f"{project!r}'s (and only {project!r} will prune it)",
                spec.location,
            )
        )
    if spec.starts_at is not None and not timestamps.same_instant(spec.starts_at, state.starts_at):
        patch["starts_at"] = timestamps.normalize(spec.starts_at)
        fields.append(FieldChange("starts_at", state.starts_at, patch["starts_at"]))
    custom = _desired_custom(spec, state, project)
    if custom is not None and _differs(custom, dict(state.custom)):
        patch["custom"] = custom
        paths = sorted(
            {p for p in _changed_paths(custom, state.custom)}
            | {(k,) for k in state.custom if k not in custom}
        )
        fields += _field_changes("custom", custom, state.custom, paths)
    if spec.settings_override is not None:
        paths = _changed_paths(spec.settings_override, state.settings)
        if paths:
            patch["settings_override"] = _settings_body(
                spec.settings_override, paths, "CallSettingsRequest"
            )
            fields += _field_changes(
                "settings_override", spec.settings_override, state.settings, paths
            )
    members, member_fields = _members_part(spec, state)
    fields += member_fields
    changes: list[Change] = []
    if patch or members:
        body: Json = {}
        if patch:
            body["update_call"] = patch
        if members:
            body["update_call_members"] = members
        changes.append(
            Change(
                KIND_CALL, spec.cid, ACTION_UPDATE, STAGE_CALLS, body, tuple(fields), spec.location
            )
        )
    if spec.live is True and state.backstage:
        changes.append(_go_live(spec))
    elif (
        spec.live is False
        and not state.backstage
        and not effective_backstage(state.settings, spec.settings_override).enabled
    ):
        notes.append(
            Note(
                KIND_CALL,
                spec.cid,
                "live: false, but backstage is disabled for this call, so it cannot wait in "
                "backstage; no stop-live is planned",
                spec.location,
            )
        )
    elif spec.live is False and not state.backstage:
        changes.append(
            Change(
                KIND_CALL,
                spec.cid,
                ACTION_STOP_LIVE,
                STAGE_LIVE,
                {},
                (FieldChange("backstage", False, True),),
                spec.location,
                disruptive=True,
                reason="stop-live sends the call back to backstage and removes viewers",
            )
        )
    return changes, notes


# --- the plan -----------------------------------------------------------------------------------


def _prunable_calls(
    desired: DesiredState, actual: ActualState, project: str | None
) -> list[CallState]:
    if project is None:
        return []
    return [
        state
        for cid, state in actual.calls.items()
        if cid not in desired.calls and state.custom.get(PROJECT_MARKER_KEY) == project
    ]


def _check_targets(targets: Collection[str], desired: DesiredState, actual: ActualState) -> None:
    valid = (
        {target_name(KIND_CALL_TYPE, n) for n in (*desired.call_types, *actual.call_types)}
        | {target_name(KIND_CALL, c) for c in (*desired.calls, *actual.calls)}
        | {target_name(KIND_USER, u) for u in desired.users}
    )
    unknown = sorted(set(targets) - valid)
    if unknown:
        names = sorted(valid)
        shown = ", ".join(names[:30]) + (
            f", ... ({len(names) - 30} more)" if len(names) > 30 else ""
        )
        raise UsageError(
            f"unknown target {', '.join(repr(t) for t in unknown)}; "
            f"valid targets: {shown or '(none)'}"
        )


def _check_target_types(changes: Iterable[Change], wanted: Collection[str]) -> None:
    # A targeted call cannot be created when its type is created by a change the targets leave
    # out: Stream answers "call type does not exist" half-way through the apply.
    created_types = {
        c.name for c in changes if c.kind == KIND_CALL_TYPE and c.action == ACTION_CREATE
    }
    missing = sorted(
        (c.name, split_cid(c.name)[0])
        for c in changes
        if c.kind == KIND_CALL
        and c.action == ACTION_CREATE
        and c.target in wanted
        and split_cid(c.name)[0] in created_types
        and target_name(KIND_CALL_TYPE, split_cid(c.name)[0]) not in wanted
    )
    if missing:
        cid, type_name = missing[0]
        more = f" (and {len(missing) - 1} more calls)" if len(missing) > 1 else ""
        raise UsageError(
            f"target {cid!r}{more} needs call type {type_name!r}, which does not exist yet and "
            f"is not targeted; add --target calltype:{type_name}"
        )


def make_plan(
    desired: DesiredState,
    actual: ActualState,
    *,
    prune: bool = False,
    targets: Collection[str] = (),
    project: str | None = None,
) -> Plan:
    """The changes that make ``actual`` match ``desired``, in the order apply runs them.

    ``project`` defaults to the manifests' ``project``. With ``prune``, ``actual`` must hold
    every call (read with ``all_calls=True``), since calls are pruned by their project marker.
    """
    project = project if project is not None else desired.project
    if targets:
        _check_targets(targets, desired, actual)
    changes: list[Change] = []
    notes: list[Note] = []

    for uid in sorted(desired.users):
        user = _user_change(desired.users[uid], actual.users.get(uid))
        if user is not None:
            changes.append(user)

    for name in sorted(desired.call_types):
        ct_spec = desired.call_types[name]
        ct_now = actual.call_types.get(name)
        ct = _call_type_create(ct_spec) if ct_now is None else _call_type_update(ct_spec, ct_now)
        if ct is not None:
            changes.append(ct)

    # Every new call of a type starts from the same settings: work them out once per type.
    settings_by_type: dict[str, Json] = {}
    for cid in sorted(desired.calls):
        spec = desired.calls[cid]
        call_state = actual.calls.get(cid)
        if call_state is None:
            if spec.type not in settings_by_type:
                settings_by_type[spec.type] = _type_settings(spec.type, desired, actual)
            more, more_notes = _call_create(spec, settings_by_type[spec.type], project)
        else:
            more, more_notes = _call_update(spec, call_state, project)
        changes += more
        notes += more_notes

    prunable_types: list[CallTypeState] = []
    pruned_calls: list[CallState] = []
    if prune:
        pruned_calls = _prunable_calls(desired, actual, project)
        for pruned in pruned_calls:
            # Like stop-live, deleting a call that is on air takes it away from its viewers.
            live = not pruned.backstage and pruned.ended_at is None
            changes.append(
                Change(
                    KIND_CALL,
                    pruned.cid,
                    ACTION_DELETE,
                    STAGE_CALL_DELETES,
                    disruptive=live,
                    reason="the call is live: deleting it ends it for its viewers" if live else "",
                )
            )
        prunable_types = [
            t
            for name, t in actual.call_types.items()
            if name not in desired.call_types and name not in BUILTIN_CALL_TYPES
        ]
        gone = {c.cid for c in pruned_calls}
        for ct_state in prunable_types:
            remaining = sum(
                1 for c in actual.calls.values() if c.type == ct_state.name and c.cid not in gone
            )
            changes.append(
                Change(
                    KIND_CALL_TYPE,
                    ct_state.name,
                    ACTION_DELETE,
                    STAGE_CALL_TYPE_DELETES,
                    disruptive=remaining > 0,
                    reason=f"breaks {remaining} call{'s' if remaining != 1 else ''} of this type"
                    if remaining
                    else "",
                )
            )

    if targets:
        wanted = set(targets)
        _check_target_types(changes, wanted)
        changes = [c for c in changes if c.target in wanted]
        notes = [n for n in notes if target_name(n.kind, n.name) in wanted]

    changes.sort(key=lambda c: (c.stage, c.name, c.kind))
    notes.sort(key=lambda n: (n.kind, n.name, n.message))
    managed = (
        len(desired.call_types)
        + len(desired.calls)
        + len(desired.users)
        + len(prunable_types)
        + len(pruned_calls)
    )
    return Plan(
        changes=tuple(changes),
        notes=tuple(notes),
        fingerprints=_LazyFingerprints(desired, actual),
        prune=prune,
        targets=tuple(sorted(set(targets))),
        project=project,
        managed=managed,
    )
