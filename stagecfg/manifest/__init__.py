"""Manifest files: find them, read YAML safely with locations, substitute variables, merge them.

YAML is read with the safe loader (libyaml's C loader when present) and turned into plain JSON data
from the composed node tree, so every key and value keeps its file:line:col. PyYAML's YAML 1.1
implicit typing is switched off: plain scalars are resolved by YAML 1.2 core rules, so timestamps
stay strings and ``yes``/``on``/``n`` are reported instead of silently becoming booleans. Every
problem is collected as a :class:`~stagecfg.errors.Problem`; nothing here raises for bad input.

The package is split by responsibility; each module imports only those listed before it:

- ``paths``: JSON paths (``$.calls['x:y']``) and the nearest recorded location of one;
- ``loader``: the YAML loader class (safe, C when present, no YAML 1.1 implicit types);
- ``caps``: the size caps and the pre-scan that enforces them before composing;
- ``variables``: ``${VAR}`` / ``${VAR:-default}`` and registering secret values for masking;
- ``yaml_data``: composed nodes to plain data with locations, YAML syntax errors to problems;
- ``sources``: which files to load, and reading one into a :class:`Document`;
- ``merging``: the documents merged into one :class:`Merged`, with locations and a digest.

This module only re-exports the public names, so callers keep importing ``stagecfg.manifest``.
"""

from __future__ import annotations

from stagecfg.manifest.caps import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED_BYTES,
    MAX_FILE_BYTES,
    MAX_FILE_NODES,
    MAX_NODES,
    MAX_PATH_BYTES,
)
from stagecfg.manifest.merging import RESOURCE_SECTIONS, Merged, merge
from stagecfg.manifest.paths import child_path, join_path, parent_path
from stagecfg.manifest.sources import (
    MANIFEST_SUFFIXES,
    Document,
    Source,
    collect_sources,
    display_path,
    load,
)
from stagecfg.manifest.variables import substitute_variables
from stagecfg.manifest.yaml_data import type_name

__all__ = [
    "MANIFEST_SUFFIXES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXPANDED_BYTES",
    "MAX_FILE_BYTES",
    "MAX_FILE_NODES",
    "MAX_NODES",
    "MAX_PATH_BYTES",
    "RESOURCE_SECTIONS",
    "Document",
    "Merged",
    "Source",
    "child_path",
    "collect_sources",
    "display_path",
    "join_path",
    "load",
    "merge",
    "parent_path",
    "substitute_variables",
    "type_name",
]
