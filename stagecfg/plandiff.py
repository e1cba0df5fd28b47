"""How two plans differ, change by change, in words a refusal can show.

A saved plan is applied only when re-planning gives exactly its changes; :func:`differences`
lists what does not match (``change 3 (call livestream:x update): field
settings_override.backstage.enabled: saved true -> false, now false -> false``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stagecfg.plan.changes import ABSENT, Change, Plan


@dataclass(frozen=True)
class Changed:
    """A change both plans make, but not alike: ``index`` is its 1-based place in the saved
    plan, ``differences`` say how it differs (body paths, fields, a touched object that moved)."""

    index: int
    saved: Change
    now: Change
    differences: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """How a saved (reviewed) plan and a fresh one differ, change by change.

    ``saved_only`` are changes (with their 1-based index in the saved plan) the fresh plan no
    longer makes, ``fresh_only`` the ones it makes in addition, ``changed`` the ones both make
    differently, ``other`` the differences outside the changes (the managed count).
    """

    saved_only: tuple[tuple[int, Change], ...] = ()
    fresh_only: tuple[Change, ...] = ()
    changed: tuple[Changed, ...] = ()
    other: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not (self.saved_only or self.fresh_only or self.changed or self.other)

    def lines(self) -> list[str]:
        """Each difference in words, in the saved plan's order, then the fresh plan's extras."""
        by_index: list[tuple[int, list[str]]] = []
        for index, change in self.saved_only:
            by_index.append((index, [f"{_title(index, change)}: not in the plan now"]))
        for item in self.changed:
            title = _title(item.index, item.saved)
            by_index.append((item.index, [f"{title}: {d}" for d in item.differences]))
        found = [line for _, lines in sorted(by_index, key=lambda pair: pair[0]) for line in lines]
        found += [f"the plan now also has {c.kind} {c.name} {c.action}" for c in self.fresh_only]
        return found + list(self.other)


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """Each way the saved changes differ from the fresh ones, in the saved plan's order."""
    return compare(saved, fresh).lines()


def compare(saved: Plan, fresh: Plan, *, managed: bool = True, word: str = "saved") -> Comparison:
    """How ``fresh`` differs from ``saved``.

    Changes pair up by kind, name and action. An object a change touches must also be as it was
    when the plan was saved (its fingerprint); objects the plan only read do not matter.
    ``managed=False`` leaves the managed-object count out: a reviewed plan applied after other
    pull requests merged is re-planned from manifests that may declare more or fewer objects,
    and the delete threshold is computed from the fresh plan anyway. ``word`` names the saved
    plan in the differences (``reviewed`` on merge).
    """
    pending: dict[tuple[str, str, str], list[Change]] = {}
    for change in fresh.changes:
        pending.setdefault(_key(change), []).append(change)
    saved_only: list[tuple[int, Change]] = []
    changed: list[Changed] = []
    for index, change in enumerate(saved.changes, 1):
        candidates = pending.get(_key(change))
        if not candidates:
            saved_only.append((index, change))
            continue
        now = candidates.pop(0)
        found = _change_differences(change, now, word)
        ref = f"{change.kind}:{change.name}"
        if saved.fingerprints.get(ref) != fresh.fingerprints.get(ref, ABSENT):
            found.append(f"{ref} changed on the backend since the plan was {word}")
        if found:
            changed.append(Changed(index, change, now, tuple(found)))
    # In the fresh plan's order (pending keeps each key's changes in that order).
    left = {id(c) for changes in pending.values() for c in changes}
    fresh_only = tuple(c for c in fresh.changes if id(c) in left)
    other = []
    if managed and saved.managed != fresh.managed:
        other.append(f"managed objects: {word} {saved.managed}, now {fresh.managed}")
    return Comparison(tuple(saved_only), fresh_only, tuple(changed), tuple(other))


def _title(index: int, change: Change) -> str:
    return f"change {index} ({change.kind} {change.name} {change.action})"


def _key(change: Change) -> tuple[str, str, str]:
    return (change.kind, change.name, change.action)


def _canonical(value: Any) -> str:
    # As text, so true and 1 (equal in Python) differ, as they do on the wire.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _show(value: Any, limit: int = 60) -> str:
    shown = _canonical(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _change_differences(saved: Change, now: Change, word: str) -> list[str]:
    found: list[str] = []
    if saved.stage != now.stage:
        found.append(f"stage: {word} {saved.stage}, now {now.stage}")
    found += _value_differences(saved.body, now.body, "body", word)
    found += _field_differences(saved, now, word)
    if saved.disruptive != now.disruptive:
        found.append(f"disruptive: {word} {_show(saved.disruptive)}, now {_show(now.disruptive)}")
    if saved.reason != now.reason:
        found.append(f"reason: {word} {_show(saved.reason)}, now {_show(now.reason)}")
    return found


def _value_differences(saved: Any, now: Any, path: str, word: str) -> list[str]:
    """Leaf paths where two JSON values differ (objects are walked, lists compared whole)."""
    if _canonical(saved) == _canonical(now):
        return []
    if isinstance(saved, dict) and isinstance(now, dict):
        found: list[str] = []
        for key in sorted(set(saved) | set(now), key=str):
            where = f"{path}.{key}"
            if key not in now:
                found.append(f"{where}: {word} {_show(saved[key])}, not in the plan now")
            elif key not in saved:
                found.append(f"{where}: not in the {word} plan, now {_show(now[key])}")
            else:
                found += _value_differences(saved[key], now[key], where, word)
        return found
    return [f"{path}: {word} {_show(saved)}, now {_show(now)}"]


def _field_differences(saved: Change, now: Change, word: str) -> list[str]:
    def pairs(change: Change) -> list[tuple[str, str]]:
        return [(f.path, _canonical([f.before, f.after])) for f in change.fields]

    if pairs(saved) == pairs(now):
        return []
    before = {f.path: f for f in saved.fields}
    after = {f.path: f for f in now.fields}
    found: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if new is None and old is not None:
            moved = _move(old.before, old.after)
            found.append(f"field {path}: {word} {moved}, not in the plan now")
        elif old is None and new is not None:
            moved = _move(new.before, new.after)
            found.append(f"field {path}: not in the {word} plan, now {moved}")
        elif (
            old is not None
            and new is not None
            and _canonical([old.before, old.after]) != _canonical([new.before, new.after])
        ):
            saved_move, now_move = _move(old.before, old.after), _move(new.before, new.after)
            found.append(f"field {path}: {word} {saved_move}, now {now_move}")
    # Same fields in another order, or one listed twice.
    return found or ["fields: listed differently from the plan now"]


def _move(before: Any, after: Any) -> str:
    return f"{_show(before)} -> {_show(after)}"
