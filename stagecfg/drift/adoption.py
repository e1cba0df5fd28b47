"""Adopting drift: each difference as an edit of the file that sets the value, or why not.

- A changed field is set to the live value where it comes from (:mod:`~stagecfg.drift.origins`):
  the overlay when an overlay set it, the file that declares the object otherwise. A field the
  app no longer has is removed there; when an overlay sets it over a base value, the overlay
  says ``null`` instead, since dropping the overlay's line would bring the base value back.
- A value a ``${...}`` gives is never overwritten: the item is left, naming the variable.
- An object declared but absent from the app is removed: from its own file, or, when the
  environment's files do not declare it, with ``overlay.<section>.<name>: null`` in the
  environment's file, so the other environments keep it.
- A live call carrying this project's marker and declared nowhere is added to the
  ``--new-objects-file``, in the shape ``stagecfg export`` writes; without that file, it is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stagecfg.drift.edits import Edit
from stagecfg.drift.origins import SECTIONS, Origin, Origins, variable_reason
from stagecfg.drift.report import STATUS_ABSENT, STATUS_CHANGED, STATUS_UNDECLARED, DriftItem
from stagecfg.model import KIND_CALL_TYPE
from stagecfg.plan.comparison import get_path


@dataclass
class Adoption:
    """The edits, by file path (in the order they apply), each with the item it adopts, and
    the items each side got."""

    edits: dict[str, list[tuple[Edit, DriftItem]]] = field(default_factory=dict)
    adopted: list[DriftItem] = field(default_factory=list)
    left: list[DriftItem] = field(default_factory=list)
    #: a file to create (the new-objects file when it does not exist yet): path -> its data
    created: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, path: str, edit: Edit, item: DriftItem) -> None:
        self.edits.setdefault(path, []).append((edit, item))

    def leave(self, item: DriftItem, why: str) -> None:
        self.left.append(replace(item, adoptable=False, why=why))


@dataclass(frozen=True)
class NewObjects:
    """Where undeclared live objects go, and their entries (``export``'s shape), by cid."""

    path: str
    calls: Mapping[str, dict[str, Any]]
    #: the file's data when it is one of the loaded manifests (None: it does not exist yet)
    loaded: bool
    project: str | None = None


def plan_adoption(
    items: Sequence[DriftItem],
    origins: Origins,
    new_objects: NewObjects | None = None,
    left: Sequence[DriftItem] = (),
) -> Adoption:
    """The edits that adopt ``items`` into the manifests, and the items left out, with why.

    ``left`` holds what earlier rounds left: a call setting that follows a call type's setting
    left unadopted is left too, rather than pinned on the call (the type's value is what to fix).
    """
    adoption = Adoption()
    drifting_types = {(i.name, i.path) for i in items if i.kind == KIND_CALL_TYPE}
    types_left = {(i.name, i.path): i for i in left if i.kind == KIND_CALL_TYPE}
    for item in items:
        type_key = (item.name.partition(":")[0], item.path)
        if item.follows_type and type_key in drifting_types:
            # The call follows its type's setting, which drifted too: adopting the type may be
            # all it takes. The check after this round says whether the call still differs.
            continue
        if item.follows_type and type_key in types_left:
            adoption.leave(
                item,
                f"follows call type {type_key[0]}, whose {item.path} is not adopted "
                f"({types_left[type_key].why})",
            )
            continue
        if not item.adoptable:
            adoption.left.append(item)
        elif item.status == STATUS_CHANGED:
            _adopt_field(item, origins, adoption)
        elif item.status == STATUS_ABSENT:
            _adopt_absence(item, origins, adoption)
        elif item.status == STATUS_UNDECLARED:
            _adopt_new(item, new_objects, adoption)
    return adoption


def _adopt_field(item: DriftItem, origins: Origins, adoption: Adoption) -> None:
    origin = origins.field(item.kind, item.name, item.keys)
    if origin.reference is not None:
        names = origin.variables
        sources = [origins.variable_source(n) for n in names]
        adoption.leave(item, variable_reason(origin, names, sources))
        return
    path = origin.doc.path
    if item.live_present:
        adoption.add(path, Edit(origin.keys, "set", _adopted_value(item, origin)), item)
    elif origin.overlay and origins.in_base(item.kind, item.name, item.keys):
        adoption.add(path, Edit(origin.keys, "set", None), item)
    else:
        adoption.add(path, Edit(origin.keys, "delete"), item)
    adoption.adopted.append(item)


def _adopt_absence(item: DriftItem, origins: Origins, adoption: Adoption) -> None:
    section = SECTIONS[item.kind]
    declaring = origins.declaring(item.kind, item.name)
    environment = origins.composition.environment
    if environment is not None and declaring.environment is None:
        target = origins.environment_file()
        if target is None:
            adoption.leave(item, "the environment has no file of its own to remove it in")
            return
        adoption.add(target.path, Edit(("overlay", section, item.name), "set", None), item)
        adoption.adopted.append(item)
        return
    adoption.add(declaring.path, Edit((section, item.name), "delete"), item)
    # Overlays patching it would patch nothing once it is gone: an error, so they go too.
    for doc in origins.files():
        overlay = doc.data.get("overlay")
        entries = overlay.get(section) if isinstance(overlay, dict) else None
        if isinstance(entries, dict) and item.name in entries:
            adoption.add(doc.path, Edit(("overlay", section, item.name), "delete"), item)
    adoption.adopted.append(item)


def _adopt_new(item: DriftItem, new_objects: NewObjects | None, adoption: Adoption) -> None:
    if new_objects is None:
        adoption.leave(
            item,
            "declared nowhere: give --new-objects-file FILE to add it to the manifests",
        )
        return
    entry = new_objects.calls.get(item.name)
    if entry is None:
        adoption.leave(item, "not read from the app")
        return
    if new_objects.loaded:
        adoption.add(new_objects.path, Edit(("calls", item.name), "set", entry), item)
    else:
        data = adoption.created.setdefault(
            new_objects.path,
            {"version": 1, **({"project": new_objects.project} if new_objects.project else {})},
        )
        data.setdefault("calls", {})[item.name] = entry
    adoption.adopted.append(item)


def _adopted_value(item: DriftItem, origin: Origin) -> Any:
    """The value to write. A grant list is a set to Stream, which answers it sorted: the
    declared entries keep their order, those the app dropped go, and new ones are appended."""
    if item.kind != KIND_CALL_TYPE or item.keys[:1] != ("grants",):
        return item.live
    declared = get_path(origin.doc.data, [str(k) for k in origin.keys])
    if not isinstance(declared, list) or not isinstance(item.live, list):
        return item.live
    live = list(item.live)
    kept = [p for p in declared if p in live]
    return kept + [p for p in live if p not in kept]
