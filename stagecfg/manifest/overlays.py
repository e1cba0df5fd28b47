"""Overlays: ``overlay:`` in a file patches users, call types and calls declared elsewhere.

The merge rules, applied to each entry ``overlay.<section>.<name>`` over the declared object:

- a mapping merges into the declared mapping key by key, recursively;
- any other value (a list, a scalar) replaces the declared value as a whole: lists are never
  merged item by item, so a grant list in an overlay is that role's complete list;
- ``null`` removes the declared key, which is then not managed (``null`` for a whole entry removes
  the object from the environment); removing a key that is not declared is an error.

Overlays of base files (no ``environment:``) apply first, then those of the environment's files,
each group in load order; a later overlay wins over an earlier one. Patching an object that no
loaded file declares is an error at the overlay's entry.

Every value keeps the location that set it: for every path an overlay sets, the merged manifest's
key and value locations point into the overlay, and the replaced or removed value's own paths
are dropped, so a plan line, a schema error or a check error about that value names the overlay.
The patched objects are returned, for the caller to check them against the full schema again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stagecfg.errors import Location, Problem, suggest
from stagecfg.manifest.merging import RESOURCE_SECTIONS, Merged
from stagecfg.manifest.paths import child_path
from stagecfg.manifest.sources import Document

#: Where an overlay set a field of an object: its dotted path (``settings.limits``) -> location.
FieldLocations = dict[str, Location]
#: In the message for ``null`` on a key that is not declared; a schema problem at the same place
#: (``unknown key``) says more, and the caller keeps only that one.
REMOVES_NOTHING = "removes nothing"


@dataclass
class Patched:
    """What the overlays changed: the objects to check again, and where each field was set."""

    objects: set[tuple[str, str]] = field(default_factory=set)  # (section, name)
    fields: dict[tuple[str, str], FieldLocations] = field(default_factory=dict)


def _noun(section: str) -> str:
    return section[:-1].replace("_", " ")


@dataclass
class _Overlay:
    """One overlay entry being applied: its file, the merged manifest and what it has set."""

    doc: Document
    merged: Merged
    fields: FieldLocations
    problems: list[Problem]

    def forget(self, path: str, dotted: str, old: Any) -> None:
        """Drop the locations of a value that is replaced or removed, and of all inside it."""
        self.merged.keys.pop(path, None)
        self.merged.values.pop(path, None)
        self.merged.removed.pop(path, None)
        for key in [k for k in self.fields if k == dotted or k.startswith(dotted + ".")]:
            del self.fields[key]
        if isinstance(old, dict):
            for key, value in old.items():
                self.forget(child_path(path, key), f"{dotted}.{key}", value)
        elif isinstance(old, list):
            for index, value in enumerate(old):
                self.forget(child_path(path, index), dotted, value)

    def adopt(self, source: str, path: str, value: Any) -> None:
        """The overlay's locations for ``value`` and all inside it, moved to ``path``."""
        key = self.doc.keys.get(source)
        if key is not None:
            self.merged.keys[path] = key
        found = self.doc.values.get(source)
        if found is not None:
            self.merged.values[path] = found
        if isinstance(value, dict):
            for name, item in value.items():
                self.adopt(child_path(source, name), child_path(path, name), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.adopt(child_path(source, index), child_path(path, index), item)

    def merge(
        self, base: dict[str, Any], patch: dict[str, Any], path: str, source: str, dotted: str
    ) -> dict[str, Any]:
        """``base`` with ``patch`` merged in (a new mapping; ``base`` is shared, never changed)."""
        result = dict(base)
        for key, value in patch.items():
            here, there = child_path(path, key), child_path(source, key)
            field_path = f"{dotted}.{key}" if dotted else key
            if value is None:
                if key not in result:
                    self.problems.append(
                        Problem(
                            self.doc.locate(there),
                            there,
                            f"'{key}: null' {REMOVES_NOTHING}: {path} has no '{key}'",
                            suggestion=suggest(key, result) or "remove this line",
                        )
                    )
                    continue
                self.forget(here, field_path, result.pop(key))
                self.merged.removed[here] = self.doc.locate(there, value=True)
            elif isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = self.merge(result[key], value, here, there, field_path)
            else:
                if key in result:
                    self.forget(here, field_path, result[key])
                result[key] = value
                self.adopt(there, here, value)
                self.fields[field_path] = self.doc.locate(there)
        return result


def apply_overlays(merged: Merged, documents: Sequence[Document]) -> tuple[Patched, list[Problem]]:
    """Apply every document's ``overlay:`` to ``merged`` (in place), base files first."""
    patched = Patched()
    problems: list[Problem] = []
    ordered = [d for d in documents if d.environment is None]
    ordered += [d for d in documents if d.environment is not None]
    for doc in ordered:
        overlay = doc.data.get("overlay")
        if not isinstance(overlay, dict):
            continue  # absent, or the schema reports it
        for section in RESOURCE_SECTIONS:
            entries = overlay.get(section)
            if not isinstance(entries, dict):
                continue
            declared = merged.data.get(section)
            for name, patch in entries.items():
                source = child_path(child_path("$.overlay", section), name)
                path = child_path(f"$.{section}", name)
                if not isinstance(declared, dict) or name not in declared:
                    problems.append(
                        Problem(
                            doc.locate(source),
                            source,
                            f"the overlay patches {_noun(section)} '{name}', which no loaded "
                            "file declares",
                            suggestion=suggest(name, declared or {})
                            or f"declare it under {section}, or patch a declared one",
                        )
                    )
                    continue
                fields = patched.fields.setdefault((section, name), {})
                entry = _Overlay(doc, merged, fields, problems)
                if patch is None:
                    entry.forget(path, "", declared.pop(name))
                    merged.removed[path] = doc.locate(source, value=True)
                    patched.objects.discard((section, name))
                    patched.fields.pop((section, name), None)
                    continue
                base = declared[name]
                if not isinstance(patch, dict) or not isinstance(base, dict):
                    continue  # the schema reports either
                declared[name] = entry.merge(base, patch, path, source, "")
                patched.objects.add((section, name))
    return patched, problems
