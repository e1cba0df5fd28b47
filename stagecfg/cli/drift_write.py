"""``drift --write``: adopt the drift into the manifests, print the diff, write the files.

The checking is :mod:`stagecfg.drift.writing`'s; this module only gathers what it needs from
the command line (the new-objects file, read from the app with its users) and reports: the diff
on stdout, what was adopted and what was left (with why) on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stagecfg.cli.output import echo

if TYPE_CHECKING:
    from stagecfg.drift.adoption import NewObjects
    from stagecfg.drift.detection import Detected
    from stagecfg.drift.report import DriftItem
    from stagecfg.manifest import Composition, Selection
    from stagecfg.model import DesiredState


def adopt(
    detected: Detected,
    desired: DesiredState,
    composition: Composition,
    *,
    paths: Sequence[str],
    selection: Selection,
    only: Sequence[str],
    project: str | None,
    new_objects_file: str | None,
    dry_run: bool,
) -> list[DriftItem]:
    """Adopt ``detected`` and return the items left unadopted."""
    from stagecfg.drift import writing
    from stagecfg.drift.rendering import item_line

    report = detected.report
    if not report.drifted:
        echo("No drift. The app matches the manifests; no file changed.", err=True)
        return []
    new_objects = (
        _new_objects(new_objects_file, detected, desired, composition, paths)
        if new_objects_file
        else None
    )
    inputs = writing.Inputs(
        paths=tuple(paths),
        selection=selection,
        actual=detected.actual,
        prune=detected.prune,
        project=project,
        only=tuple(only),
    )
    result = writing.rewrite(inputs, composition, report.items, new_objects)
    diff = result.diff()
    if diff:
        echo(diff, nl=False, masked_data=True)
    changed = result.changed
    if not dry_run:
        result.write()
    verb = "would change" if dry_run else "changed"
    names = ", ".join(changed) if changed else "no file"
    uncovered = len(result.adopted) + len(result.left) - len(report.items)
    found = f"{len(report.items)} found" + (
        f", {uncovered} more once adopting them" if uncovered > 0 else ""
    )
    echo(
        f"drift --write: adopted {len(result.adopted)}, left {len(result.left)} of the "
        f"differences ({found}); {verb} {names}"
        + (" (dry run: nothing written)" if dry_run else ""),
        err=True,
    )
    for item in result.left:
        echo(f"  not adopted: {item.selector}: {item_line(item)}: {item.why}", err=True)
    return result.left


def _new_objects(
    path: str,
    detected: Detected,
    desired: DesiredState,
    composition: Composition,
    paths: Sequence[str],
) -> NewObjects:
    """The undeclared marked calls as export writes them, bound for ``path``, which must be
    loaded by PATHS (a file among them, or a new file inside a directory of them)."""
    from stagecfg import export
    from stagecfg.drift.adoption import NewObjects
    from stagecfg.drift.report import STATUS_UNDECLARED
    from stagecfg.drift.writing import is_inside
    from stagecfg.errors import UsageError
    from stagecfg.model import ActualState

    loaded = {os.path.abspath(d.path): d.path for d in composition.documents}
    target = os.path.abspath(path)
    inside = any(Path(p).is_dir() and is_inside(target, p) for p in paths)
    if target not in loaded and (os.path.exists(path) or not inside):
        raise UsageError(
            f"--new-objects-file {path}: not one of the manifests loaded from "
            f"{' '.join(paths)}, so plan would not see what it adds; give a file among them, "
            "or a new file inside one of their directories"
        )
    if not path.endswith((".yaml", ".yml")):
        raise UsageError(f"--new-objects-file {path}: name it *.yaml or *.yml so it is loaded")
    cids = [i.name for i in detected.report.items if i.status == STATUS_UNDECLARED]
    calls = {cid: detected.actual.calls[cid] for cid in cids if cid in detected.actual.calls}
    state = ActualState(call_types=detected.actual.call_types, calls=calls)
    manifest = export.export_manifest(state, project=desired.project)
    # ``live`` is left out: declaring it would make stagecfg manage the product's own show
    # (a later apply would stop it when it goes live). Keys in the schema's (sorted) order.
    entries = {
        cid: {key: value for key, value in sorted(entry.items()) if key != "live"}
        for cid, entry in (manifest.get("calls") or {}).items()
    }
    return NewObjects(
        path=loaded.get(target, path),
        calls=entries,
        loaded=target in loaded,
        project=desired.project,
    )
