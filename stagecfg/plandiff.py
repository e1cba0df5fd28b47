"""How two plans differ, change by change, in words a refusal can show.

A saved plan is applied only when re-planning gives exactly its changes; :func:`differences`
lists what does not match (``change 3 (call livestream:x update): field
settings_override.backstage.enabled: saved true -> false, now false -> false``).
"""

from __future__ import annotations

import json
from typing import Any

from stagecfg.plan.changes import ABSENT, Change, Plan


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """Each way the saved changes differ from the fresh ones, in the saved plan's order.

    Changes pair up by kind, name and action. An object a change touches must also be as it was
    when the plan was saved (its fingerprint); objects the plan only read do not matter.
    """
    pending: dict[tuple[str, str, str], list[Change]] = {}
    for change in fresh.changes:
        pending.setdefault(_key(change), []).append(change)
    found: list[str] = []
    for index, change in enumerate(saved.changes, 1):
        title = f"change {index} ({change.kind} {change.name} {change.action})"
        candidates = pending.get(_key(change))
        if not candidates:
            found.append(f"{title}: not in the plan now")
            continue
        now = candidates.pop(0)
        found += [f"{title}: {d}" for d in _change_differences(change, now)]
        ref = f"{change.kind}:{change.name}"
        if saved.fingerprints.get(ref) != fresh.fingerprints.get(ref, ABSENT):
            found.append(f"{title}: {ref} changed on the backend since the plan was saved")
    for (kind, name, action), left in pending.items():
        found += [f"the plan now also has {kind} {name} {action}"] * len(left)
    if saved.managed != fresh.managed:
        found.append(f"managed objects: saved {saved.managed}, now {fresh.managed}")
    return found


def _key(change: Change) -> tuple[str, str, str]:
    return (change.kind, change.name, change.action)


def _canonical(value: Any) -> str:
    # As text, so true and 1 (equal in Python) differ, as they do on the wire.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _show(value: Any, limit: int = 60) -> str:
    shown = _canonical(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _change_differences(saved: Change, now: Change) -> list[str]:
    found: list[str] = []
    if saved.stage != now.stage:
        found.append(f"stage: saved {saved.stage}, now {now.stage}")
    found += _value_differences(saved.body, now.body, "body")
    found += _field_differences(saved, now)
    if saved.disruptive != now.disruptive:
        found.append(f"disruptive: saved {_show(saved.disruptive)}, now {_show(now.disruptive)}")
    if saved.reason != now.reason:
        found.append(f"reason: saved {_show(saved.reason)}, now {_show(now.reason)}")
    return found


def _value_differences(saved: Any, now: Any, path: str) -> list[str]:
    """Leaf paths where two JSON values differ (objects are walked, lists compared whole)."""
    if _canonical(saved) == _canonical(now):
        return []
    if isinstance(saved, dict) and isinstance(now, dict):
        found: list[str] = []
        for key in sorted(set(saved) | set(now), key=str):
            where = f"{path}.{key}"
            if key not in now:
                found.append(f"{where}: saved {_show(saved[key])}, not in the plan now")
            elif key not in saved:
                found.append(f"{where}: not in the saved plan, now {_show(now[key])}")
            else:
                found += _value_differences(saved[key], now[key], where)
        return found
    return [f"{path}: saved {_show(saved)}, now {_show(now)}"]


def _field_differences(saved: Change, now: Change) -> list[str]:
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
            found.append(f"field {path}: saved {_move(old.before, old.after)}, not in the plan now")
        elif old is None and new is not None:
            found.append(f"field {path}: not in the saved plan, now {_move(new.before, new.after)}")
        elif (
            old is not None
            and new is not None
            and _canonical([old.before, old.after]) != _canonical([new.before, new.after])
        ):
            saved_move, now_move = _move(old.before, old.after), _move(new.before, new.after)
            found.append(f"field {path}: saved {saved_move}, now {now_move}")
    # Same fields in another order, or one listed twice.
    return found or ["fields: listed differently from the plan now"]


def _move(before: Any, after: Any) -> str:
    return f"{_show(before)} -> {_show(after)}"
