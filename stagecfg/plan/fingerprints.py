"""Fingerprints: a hash of every object a plan read, so a saved plan can tell the backend moved.

A saved plan stores them; applying it later reads the backend again and refuses when any
fingerprint differs. The hash is of :func:`canonical_json`, so the same state always gives the
same fingerprint, and an object that does not exist has the fingerprint :data:`ABSENT`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    ActualState,
    CallState,
    CallTypeState,
    DesiredState,
    UserState,
)
from stagecfg.plan.changes import ABSENT


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


class LazyFingerprints(Mapping[str, str]):
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
