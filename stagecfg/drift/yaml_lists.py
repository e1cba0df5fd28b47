"""Which entries of a YAML list to keep, remove and add so that it equals a target list.

Lists are ordered, and each entry may carry comments, so the plan moves as little as it can:
entries equal to one of the target's stay where they are (the longest run already in target
order), the rest go, and the target's other values are inserted where the target has them. A
mapping entry that changed in place (between the same kept neighbours as a new mapping) is kept
and edited key by key instead of rewritten, so the comments inside it stay.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stagecfg.drift.yaml_tree import same


@dataclass
class ListPlan:
    """``kept``: existing index -> the target index it becomes; ``gone``: existing indexes
    removed; ``inserts``: (existing index to insert after, or None for before the first kept
    entry) -> target indexes, in target order."""

    kept: dict[int, int] = field(default_factory=dict)
    gone: list[int] = field(default_factory=list)
    inserts: list[tuple[int | None, list[int]]] = field(default_factory=list)


def plan_list(
    current: Sequence[Any], target: Sequence[Any], mappings: Sequence[bool], removed: int | None
) -> ListPlan:
    """The plan turning ``current`` into ``target``; ``removed`` is an index a delete names
    (that entry goes even if an equal one stays); ``mappings`` says which entries are
    mappings (edited in place when they changed)."""
    matched: dict[int, int] = {}
    used: set[int] = set()
    for t, wanted in enumerate(target):
        for e, have in enumerate(current):
            if e not in used and e != removed and same(have, wanted):
                matched[e] = t
                used.add(e)
                break
    kept = {e: matched[e] for e in _increasing(sorted(matched), matched)}
    _pair_in_place(kept, matched, current, target, mappings, removed)
    plan = ListPlan(kept=dict(sorted(kept.items())))
    plan.gone = [e for e in range(len(current)) if e not in kept]
    by_target = sorted((t, e) for e, t in kept.items())
    targets = [t for t, _ in by_target]
    for t in range(len(target)):
        if t in kept.values():
            continue
        before = bisect.bisect_left(targets, t)
        after = by_target[before - 1][1] if before else None
        if plan.inserts and plan.inserts[-1][0] == after:
            plan.inserts[-1][1].append(t)
        else:
            plan.inserts.append((after, [t]))
    return plan


def _increasing(order: list[int], matched: dict[int, int]) -> list[int]:
    """The longest run of ``order`` whose target indexes increase (patience sorting)."""
    tails: list[int] = []  # target index ending each run length
    ends: list[int] = []  # position in ``order`` ending it
    back: list[int] = [-1] * len(order)
    for at, e in enumerate(order):
        t = matched[e]
        length = bisect.bisect_left(tails, t)
        if length == len(tails):
            tails.append(t)
            ends.append(at)
        else:
            tails[length], ends[length] = t, at
        back[at] = ends[length - 1] if length else -1
    run: list[int] = []
    at = ends[-1] if ends else -1
    while at >= 0:
        run.append(order[at])
        at = back[at]
    return run[::-1]


def _pair_in_place(
    kept: dict[int, int],
    matched: dict[int, int],
    current: Sequence[Any],
    target: Sequence[Any],
    mappings: Sequence[bool],
    removed: int | None,
) -> None:
    """Keep changed mapping entries that sit where a new mapping goes (same kept neighbours)."""
    anchors = sorted(kept)
    anchor_targets = sorted(kept.values())
    free: dict[int, list[int]] = {}
    for e in range(len(current)):
        if e not in kept and e not in matched and e != removed and mappings[e]:
            free.setdefault(bisect.bisect_left(anchors, e), []).append(e)
    taken = set(kept.values())
    wanted: dict[int, list[int]] = {}
    for t, value in enumerate(target):
        if t not in taken and isinstance(value, dict):
            wanted.setdefault(bisect.bisect_left(anchor_targets, t), []).append(t)
    for gap, entries in free.items():
        for e, t in zip(entries, wanted.get(gap, []), strict=False):
            kept[e] = t
