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
- ``variables``: ``${VAR}`` / ``${VAR:-default}``, typed values, and registering secret values;
- ``references``: where a file's ``${...}`` are, and filling them in once values are known;
- ``yaml_data``: composed nodes to plain data with locations, YAML syntax errors to problems;
- ``sources``: which files to load, and reading one into a :class:`Document`;
- ``merging``: the documents merged into one :class:`Merged`, with locations and a digest;
- ``typed_variables``: ``variables:`` declarations and their values from five sources;
- ``overlays``: ``overlay:`` patches merged in, each value keeping the location that set it;
- ``environments``: which files make each environment's manifest, and making it.

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
from stagecfg.manifest.environments import (
    Composition,
    Selection,
    choose,
    compose,
    environment_names,
    has_bad_environment,
    in_environments,
    members,
)
from stagecfg.manifest.merging import RESOURCE_SECTIONS, Merged, merge
from stagecfg.manifest.overlays import REMOVES_NOTHING, Patched, apply_overlays
from stagecfg.manifest.paths import child_path, join_path, parent_path, split_path
from stagecfg.manifest.sources import (
    MANIFEST_SUFFIXES,
    Document,
    Source,
    collect_sources,
    display_path,
    load,
)
from stagecfg.manifest.typed_variables import (
    ENV_PREFIX,
    VariableInput,
    load_var_files,
    parse_var,
)
from stagecfg.manifest.variables import substitute_variables
from stagecfg.manifest.yaml_data import type_name

__all__ = [
    "ENV_PREFIX",
    "MANIFEST_SUFFIXES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXPANDED_BYTES",
    "MAX_FILE_BYTES",
    "MAX_FILE_NODES",
    "MAX_NODES",
    "MAX_PATH_BYTES",
    "REMOVES_NOTHING",
    "RESOURCE_SECTIONS",
    "Composition",
    "Document",
    "Merged",
    "Patched",
    "Selection",
    "Source",
    "VariableInput",
    "apply_overlays",
    "child_path",
    "choose",
    "collect_sources",
    "compose",
    "display_path",
    "environment_names",
    "has_bad_environment",
    "in_environments",
    "join_path",
    "load",
    "load_var_files",
    "members",
    "merge",
    "parent_path",
    "parse_var",
    "split_path",
    "substitute_variables",
    "type_name",
]
