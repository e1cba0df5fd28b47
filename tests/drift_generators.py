"""Generated stagecfg projects and live changes for tests/test_drift_properties.py.

* :func:`projects`: manifests as data: call types with settings and grants, users, calls on
  the built-in livestream type, sometimes users in a file of their own, an environment file with
  an overlay, and a typed variable behind one call type's cap.
* :class:`Writer`: that data as YAML text people write: a numbered comment above many keys,
  inline comments, blank lines, flow style for some leaves, and every quote style.
* :func:`live_changes` and :func:`make_change`: changes to declared values, made through the
  sandbox engine's API as the dashboard or product code would.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from stagecfg.sandbox import Engine

PROJECT = "props"
ENV = "prod"
PERMISSIONS = [
    "join-call", "read-call", "send-audio", "send-video", "screenshare", "send-event",
    "create-call-reaction", "join-backstage",
]  # fmt: skip
USER_IDS = ["ann", "bob", "cy"]
TYPE_NAMES = ["shows", "talks"]
#: Names a writer must quote, or must not mistake for another type.
TRICKY = ["yes", "No", "on", "null", "123", "1.5", "true", "a: b", "#hash", "it's", 'say "hi"']
names = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet="abcdefghXYZ -_.", min_size=1, max_size=12).filter(lambda s: s == s.strip()),
)
CAP_PATH = "settings.limits.max_participants"

# --- the manifests -----------------------------------------------------------------------------


@dataclass
class Project:
    """Generated manifests as data (file -> document), what each object is, and the variable."""

    files: dict[str, dict[str, Any]]
    env: str | None
    users: dict[str, dict[str, Any]]  # effective, after the overlay
    call_types: dict[str, dict[str, Any]]
    calls: dict[str, dict[str, Any]]
    variable_type: str | None  # the call type whose cap is ${cap}
    cap: int = 0  # the variable's value


@st.composite
def projects(draw: st.DrawFn) -> Project:
    user_ids = draw(st.lists(st.sampled_from(USER_IDS), min_size=1, max_size=3, unique=True))
    users: dict[str, dict[str, Any]] = {}
    for uid in user_ids:
        user: dict[str, Any] = {"name": draw(names)}
        if draw(st.booleans()):
            user["role"] = draw(st.sampled_from(["user", "admin"]))
        if draw(st.booleans()):
            user["teams"] = draw(st.lists(st.sampled_from(["red", "blue", "green"]), unique=True))
        users[uid] = user
    type_names = draw(st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=2, unique=True))
    variable_type = draw(st.sampled_from([None, *type_names]))
    call_types: dict[str, dict[str, Any]] = {}
    for name in type_names:
        cap: Any = draw(st.integers(2, 900))
        if name == variable_type:
            cap = "${cap}"
        call_types[name] = {
            "settings": {
                "backstage": {
                    "enabled": True,
                    "join_ahead_time_seconds": draw(st.integers(0, 3600)),
                },
                "limits": {"max_participants": cap},
            },
            "grants": {
                role: draw(st.lists(st.sampled_from(PERMISSIONS), unique=True))
                for role in draw(st.lists(st.sampled_from(["host", "user"]), unique=True))
            },
        }
    # Calls are on the built-in livestream type: a declared type's change would reach them.
    calls: dict[str, dict[str, Any]] = {}
    for number in range(draw(st.integers(0, 2))):
        call: dict[str, Any] = {"created_by_id": user_ids[0]}
        if draw(st.booleans()):
            call["custom"] = {"topic": draw(names)}
        members = draw(st.lists(st.sampled_from(user_ids), unique=True))
        if members:
            call["members"] = {u: draw(st.sampled_from(["host", "call_member"])) for u in members}
        if draw(st.booleans()):
            call["live"] = False
        calls[f"livestream:c{number + 1}"] = call

    base: dict[str, Any] = {"version": 1, "project": PROJECT}
    cap_value = draw(st.integers(2, 900))
    if variable_type:
        base["variables"] = {"cap": {"type": "integer", "default": cap_value}}
    files = {"base.yaml": base}
    if draw(st.booleans()):  # users in a file of their own
        files["users.yaml"] = {"version": 1, "project": PROJECT, "users": users}
    else:
        base["users"] = users
    base["call_types"] = call_types
    if calls:
        base["calls"] = calls
    project = Project(files, None, users, call_types, calls, variable_type, cap_value)
    if draw(st.booleans()):
        _add_overlay(draw, project)
    return project


def _add_overlay(draw: st.DrawFn, project: Project) -> None:
    """An environment file that overlays a user's name, a cap or a grant list, or sets the cap."""
    env_file: dict[str, Any] = {"version": 1, "environment": ENV}
    overlay: dict[str, Any] = {}
    uid = draw(st.sampled_from(sorted(project.users)))
    if draw(st.booleans()):
        name = draw(names)
        overlay["users"] = {uid: {"name": name}}
    name_type = draw(st.sampled_from(sorted(project.call_types)))
    patch: dict[str, Any] = {}
    if name_type != project.variable_type and draw(st.booleans()):
        patch["settings"] = {"limits": {"max_participants": draw(st.integers(2, 900))}}
    if draw(st.booleans()):
        patch["grants"] = {"host": draw(st.lists(st.sampled_from(PERMISSIONS), unique=True))}
    if patch:
        overlay["call_types"] = {name_type: patch}
    if project.variable_type and draw(st.booleans()):
        project.cap = draw(st.integers(2, 900))
        env_file["values"] = {"cap": project.cap}
    if overlay:
        env_file["overlay"] = overlay
    project.files["environments/prod.yaml"] = env_file
    project.env = ENV
    # The effective objects, as plan sees them.
    if "users" in overlay:
        project.users[uid] = {**project.users[uid], **overlay["users"][uid]}
    for key, value in patch.items():
        merged = dict(project.call_types[name_type][key])
        merged.update(value)
        project.call_types[name_type] = {**project.call_types[name_type], key: merged}


# --- the YAML, written as people write it ------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 _.-]*$")
_NOT_PLAIN = {"yes", "no", "on", "off", "y", "n", "true", "false", "null", "~"}


@dataclass
class Writer:
    """YAML text with a comment above many keys, some inline comments, blank lines, flow style
    and every quote style; comments are numbered so each can be found again."""

    rnd: random.Random
    lines: list[str] = field(default_factory=list)
    count: int = 0

    def comment(self) -> str:
        self.count += 1
        return f"# note {self.count}"

    def scalar(self, value: Any, *, flow: bool) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "null"
        if isinstance(value, int):
            return str(value)
        text = str(value)
        if text.startswith("${") and not flow and self.rnd.random() < 0.5:
            return text
        style = self.rnd.choice(["plain", "single", "double"])
        plain = _PLAIN.match(text) and text.lower() not in _NOT_PLAIN
        if style == "plain" and plain and not text.endswith((" ", ".")):
            return text
        if style == "single":
            return "'" + text.replace("'", "''") + "'"
        return json.dumps(text)

    def flow(self, value: Any) -> str:
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {self.flow(v)}" for k, v in value.items())
            return "{" + inner + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.flow(v) for v in value) + "]"
        return self.scalar(value, flow=True)

    def inline(self) -> str:
        return f"   {self.comment()}" if self.rnd.random() < 0.3 else ""

    def mapping(self, data: dict[str, Any], indent: int) -> None:
        pad = " " * indent
        for key, value in data.items():
            if self.rnd.random() < 0.1:
                self.lines.append("")
            if self.rnd.random() < 0.4:
                self.lines.append(pad + self.comment())
            leaf = isinstance(value, dict) and not any(isinstance(v, dict) for v in value.values())
            if isinstance(value, dict) and value and (not leaf or self.rnd.random() < 0.5):
                self.lines.append(f"{pad}{key}:{self.inline()}")
                self.mapping(value, indent + 2)
            elif isinstance(value, list) and value and self.rnd.random() < 0.5:
                self.lines.append(f"{pad}{key}:{self.inline()}")
                for item in value:
                    self.lines.append(f"{pad}  - {self.scalar(item, flow=False)}{self.inline()}")
            elif isinstance(value, (dict, list)):
                self.lines.append(f"{pad}{key}: {self.flow(value)}{self.inline()}")
            else:
                self.lines.append(f"{pad}{key}: {self.scalar(value, flow=False)}{self.inline()}")

    def document(self, data: dict[str, Any]) -> str:
        self.lines = [self.comment() + " (the file's header)"]
        self.mapping(data, 0)
        return "\n".join(self.lines) + "\n"


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(line == needle for line in remaining) for needle in needles)


# --- the live changes --------------------------------------------------------------------------


@st.composite
def live_changes(draw: st.DrawFn, project: Project) -> list[tuple[Any, ...]]:
    """1-3 changes, each to a value the manifests declare (so each is a real difference)."""
    options: list[st.SearchStrategy[tuple[Any, ...]]] = []
    for name, spec in project.call_types.items():
        ahead = spec["settings"]["backstage"]["join_ahead_time_seconds"]
        options.append(st.just(("ahead", name, (ahead + 60) % 3600)))
        cap = spec["settings"]["limits"]["max_participants"]
        live_cap = project.cap if cap == "${cap}" else cap
        options.append(st.just(("cap", name, live_cap + 7)))
        for role, grants in spec["grants"].items():
            new = draw(st.lists(st.sampled_from(PERMISSIONS), unique=True))
            if set(new) != set(grants):
                options.append(st.just(("grants", name, role, new)))
    for uid, user in project.users.items():
        options.append(
            names.filter(lambda n, u=user: n != u["name"]).map(lambda n, i=uid: ("name", i, n))
        )
        if "role" in user:
            other = "admin" if user["role"] == "user" else "user"
            options.append(st.just(("role", uid, other)))
    for cid, call in project.calls.items():
        if "custom" in call:
            options.append(
                names.filter(lambda n, c=call: n != c["custom"]["topic"]).map(
                    lambda n, i=cid: ("topic", i, n)
                )
            )
        for uid, role in call.get("members", {}).items():
            other = "host" if role == "call_member" else "call_member"
            options.append(st.just(("member", cid, uid, other)))
            options.append(st.just(("member", cid, uid, None)))
        if call.get("live") is False:
            options.append(st.just(("go_live", cid)))
    picked = draw(
        st.lists(st.sampled_from(range(len(options))), min_size=1, max_size=3, unique=True)
    )
    changes = [draw(options[i]) for i in picked]
    # One change per member: a role change and a removal of the same member would contend.
    seen: set[tuple[str, str]] = set()
    unique = []
    for change in changes:
        if change[0] == "member":
            if (change[1], change[2]) in seen:
                continue
            seen.add((change[1], change[2]))
        unique.append(change)
    return unique


def make_change(engine: Engine, change: tuple[Any, ...]) -> None:
    kind = change[0]
    if kind == "ahead":
        engine.update_call_type(
            change[1],
            {"settings": {"backstage": {"enabled": True, "join_ahead_time_seconds": change[2]}}},
        )
    elif kind == "cap":
        engine.update_call_type(
            change[1], {"settings": {"limits": {"max_participants": change[2]}}}
        )
    elif kind == "grants":
        engine.update_call_type(change[1], {"grants": {change[2]: change[3]}})
    elif kind in ("name", "role"):
        engine.update_users_partial({"users": [{"id": change[1], "set": {kind: change[2]}}]})
    else:
        call_type, call_id = change[1].split(":")
        if kind == "topic":
            custom = engine.get_call(call_type, call_id)["call"]["custom"]
            engine.update_call(call_type, call_id, {"custom": {**custom, "topic": change[2]}})
        elif kind == "member" and change[3] is None:
            engine.update_call_members(call_type, call_id, {"remove_members": [change[2]]})
        elif kind == "member":
            body = {"update_members": [{"user_id": change[2], "role": change[3]}]}
            engine.update_call_members(call_type, call_id, body)
        else:
            engine.go_live(call_type, call_id, {})


#: The drift path each kind of generated change shows up at.
CHANGE_PATHS = {
    "ahead": "settings.backstage.join_ahead_time_seconds",
    "cap": CAP_PATH,
    "name": "name",
    "role": "role",
    "topic": "custom.topic",
    "go_live": "live",
}


def expected_item(change: tuple[Any, ...]) -> tuple[str, str, str]:
    """(kind, name, path) of the drift entry a generated change must give."""
    kind = change[0]
    if kind in ("ahead", "cap"):
        return "call_type", change[1], CHANGE_PATHS[kind]
    if kind == "grants":
        return "call_type", change[1], f"grants.{change[2]}"
    if kind in ("name", "role"):
        return "user", change[1], kind
    if kind == "member":
        return "call", change[1], f"members.{change[2]}"
    return "call", change[1], CHANGE_PATHS[kind]


def left_after_write(project: Project, changes: list[tuple[Any, ...]]) -> set[str]:
    """The plan fields drift cannot adopt: a changed cap that is ``${cap}``."""
    return {
        f"call_type {change[1]} {CAP_PATH}"
        for change in changes
        if change[0] == "cap" and change[1] == project.variable_type
    }
