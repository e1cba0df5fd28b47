"""All documents merged into one manifest (:class:`Merged`), with locations and a digest.

A directory of files makes one manifest: their resources are united, and a resource declared
twice, or two different projects, are problems. The merged manifest keeps every document's key
and value locations, so later stages (schema, checks, plan) can point at file:line:col for any
JSON path; its digest identifies exactly the bytes that were loaded (with the ``--var-file``
files, whose values the manifests use). Overlays (:mod:`stagecfg.manifest.overlays`) patch the
merged data afterwards and move the locations of what they set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stagecfg.errors import Location, Problem
from stagecfg.manifest.paths import _nearest, child_path
from stagecfg.manifest.sources import Document


@dataclass
class Merged:
    """All documents merged into one manifest, with a location for every JSON path."""

    data: dict[str, Any]
    documents: list[Document]
    keys: dict[str, Location] = field(default_factory=dict)
    values: dict[str, Location] = field(default_factory=dict)
    #: where an overlay removed a path with ``null`` (a missing required key is reported there)
    removed: dict[str, Location] = field(default_factory=dict)
    #: the ``--var-file`` files the values came from (their bytes join the digest)
    var_files: list[Document] = field(default_factory=list)

    def locate(self, path: str, *, value: bool = False) -> Location | None:
        """Where ``path`` (or its nearest parent) was written: its key, or with ``value`` the
        value itself; an overlay that set it, once overlays are applied."""
        first, second = (self.values, self.keys) if value else (self.keys, self.values)
        found = _nearest(path, first, second)
        if found is None and self.documents:
            return Location(self.documents[0].path, 1, 1)
        return found

    def removed_at(self, path: str) -> Location | None:
        return self.removed.get(path)

    @property
    def digest(self) -> str:
        """sha256 over every file's relative path and bytes, in load order, then the var files."""
        sha = hashlib.sha256()
        for doc in self.documents:
            sha.update((doc.relative or doc.path).encode("utf-8") + b"\0")
            sha.update(doc.raw)
            sha.update(b"\0")
        for doc in self.var_files:
            sha.update(b"var-file\0" + (doc.relative or doc.path).encode("utf-8") + b"\0")
            sha.update(doc.raw)
            sha.update(b"\0")
        return sha.hexdigest()


RESOURCE_SECTIONS = ("users", "call_types", "calls")


def merge(
    documents: Sequence[Document], *, var_files: Sequence[Document] = ()
) -> tuple[Merged, list[Problem]]:
    """Union of the documents' resources; a resource in two places or two projects is an error."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    merged = Merged(data=data, documents=list(documents), var_files=list(var_files))
    project_from: Document | None = None
    for doc in documents:
        # First writer wins: resources are unique (duplicates are reported below), so only the
        # shared top-level paths ($, $.version, $.project, sections) can collide.
        for path, loc in doc.keys.items():
            merged.keys.setdefault(path, loc)
        for path, loc in doc.values.items():
            merged.values.setdefault(path, loc)
        version = doc.data.get("version")
        if "version" not in data:
            data["version"] = version
        if "project" in doc.data:
            project = doc.data["project"]
            if project_from is None:
                project_from = doc
                data["project"] = project
            elif project != data["project"]:
                first = project_from.locate("$.project")
                problems.append(
                    Problem(
                        doc.locate("$.project"),
                        "$.project",
                        f"project '{project}' differs from project '{data['project']}' "
                        f"set at {first}",
                        suggestion="every file must name the same project, or none",
                    )
                )
        for section in RESOURCE_SECTIONS:
            entries = doc.data.get(section)
            if not isinstance(entries, dict):
                continue
            target: dict[str, Any] = data.setdefault(section, {})
            for name, value in entries.items():
                path = child_path(f"$.{section}", name)
                if name in target:
                    first = merged.keys[path]
                    problems.append(
                        Problem(
                            doc.locate(path),
                            path,
                            f"{section[:-1].replace('_', ' ')} '{name}' is declared twice: "
                            f"here and at {first}",
                            suggestion="declare each resource in one place",
                        )
                    )
                    continue
                target[name] = value
    return merged, problems
