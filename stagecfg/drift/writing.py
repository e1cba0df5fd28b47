"""``drift --write``: the adoption's edits made, checked, shown as a diff, then written.

Nothing is written until the edited files have been loaded, validated and planned again against
the app state the drift was found in, exactly as ``stagecfg plan`` would load them (in a copy of
the manifests in a temporary directory): the plan must then show no drift but what was left
(variables, refusals). An adoption can uncover more drift: a call that followed a call type's
setting keeps its old value in the app when the type's setting is adopted, and then differs from
the type. So the check runs in rounds, adopting what the last one found, up to :data:`ROUNDS`.
Each file is written atomically, keeping its mode, byte order mark and line endings.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from stagecfg.drift import edits as yaml_edits
from stagecfg.drift.adoption import Adoption, NewObjects, plan_adoption
from stagecfg.drift.origins import Origins
from stagecfg.drift.report import DriftItem, find_drift, select
from stagecfg.errors import ManifestError, Problem, StagecfgError, UsageError
from stagecfg.manifest import Composition, Selection, collect_sources
from stagecfg.model import ActualState
from stagecfg.plan import make_plan
from stagecfg.savedplan import check_replaceable, write_text_atomic
from stagecfg.validation import load_composed

ROUNDS = 3
_BOM = "\ufeff"


class AdoptionFailed(StagecfgError):
    """The edited manifests would not match the app; nothing was written."""


@dataclass
class Rewrite:
    """The new text of every file ``--write`` changes, and what was and was not adopted."""

    originals: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    adopted: list[DriftItem] = field(default_factory=list)
    left: list[DriftItem] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return sorted(p for p, t in self.texts.items() if t != self.originals.get(p))

    def diff(self) -> str:
        """A unified diff of every changed file (``a/PATH`` to ``b/PATH``, as git shows it)."""
        out: list[str] = []
        for path in self.changed:
            before = self.originals.get(path, "").lstrip(_BOM)
            after = self.texts[path].lstrip(_BOM)
            lines = difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile="/dev/null" if path not in self.originals else f"a/{path}",
                tofile=f"b/{path}",
            )
            for line in lines:
                out.append(
                    line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                )
        return "".join(out)

    def write(self) -> None:
        """Every changed file, each atomically; a file that cannot be replaced (a symbolic
        link, a directory) stops the write before any file changes."""
        for path in self.changed:
            check_replaceable(path, "drift --write")
        for path in self.changed:
            mode = 0o644
            if os.path.exists(path):
                mode = os.stat(path).st_mode & 0o777
            write_text_atomic(path, self.texts[path], mode=mode, flag="drift --write")


@dataclass(frozen=True)
class Inputs:
    """What the drift was found with, so the edited manifests are loaded the same way."""

    paths: tuple[str, ...]
    selection: Selection
    actual: ActualState
    prune: bool
    project: str | None
    only: tuple[str, ...] = ()
    env: dict[str, str] | None = None


def rewrite(
    inputs: Inputs,
    composition: Composition,
    items: Sequence[DriftItem],
    new_objects: NewObjects | None = None,
) -> Rewrite:
    """The edited files that adopt ``items``, checked against ``inputs.actual``."""
    result = Rewrite()
    pending = list(items)
    origins = _origins(inputs, composition)
    for round_number in range(1, ROUNDS + 1):
        adoption = plan_adoption(
            pending, origins, new_objects if round_number == 1 else None, left=result.left
        )
        _make_edits(adoption, result)
        result.adopted += adoption.adopted
        result.left += adoption.left
        remaining, origins = _check(inputs, result)
        known = {_key(i) for i in result.left}
        pending = [i for i in remaining if _key(i) not in known]
        if not pending:
            return result
        if not any(i.adoptable for i in pending):
            break
    raise AdoptionFailed(
        "drift --write would leave the manifests still differing from the app, so nothing "
        "was written:\n"
        + "\n".join(f"  {i.selector}: manifest {i.manifest!r}, app {i.live!r}" for i in pending)
        + "\nadopt these by hand, or run drift --write with --only for the rest"
    )


def _key(item: DriftItem) -> tuple[str, str, str | None, str]:
    return (item.kind, item.name, item.path, item.status)


def _make_edits(adoption: Adoption, result: Rewrite) -> None:
    """Apply the adoption's edits to the current texts. An edit the writer refuses leaves its
    item out, with every other edit of that item (in any file), so no item is half adopted."""
    texts = {path: _current(path, result) for path in adoption.edits}
    refused: dict[int, str] = {}
    made: dict[str, str] = {}
    for path, pairs in adoption.edits.items():
        edit_list = [edit for edit, _ in pairs]
        text, refusals = yaml_edits.apply_possible(_body(texts[path]), edit_list, file=path)
        if not refusals:
            made[path] = text  # every edit made: nothing to do again below
        for refusal in refusals:
            for edit, item in pairs:
                if edit.path == refusal.path:
                    refused.setdefault(id(item), refusal.reason)
    for item in list(adoption.adopted):
        if id(item) in refused:
            adoption.adopted.remove(item)
            adoption.left.append(replace(item, adoptable=False, why=refused[id(item)]))
    for path, pairs in adoption.edits.items():
        kept = [edit for edit, item in pairs if id(item) not in refused]
        text = texts[path]
        bom = _BOM if text.startswith(_BOM) else ""
        if path in made and len(kept) == len(pairs):
            result.texts[path] = bom + made[path]
        elif kept:
            result.texts[path] = bom + yaml_edits.apply_edits(_body(text), kept, file=path)
    for path, data in adoption.created.items():
        from stagecfg.export import dump_manifest

        if os.path.exists(path):
            raise UsageError(
                f"--new-objects-file {path} exists but is not one of the manifests loaded; "
                "give a file among PATHS (or a new one inside a directory of PATHS)"
            )
        result.texts[path] = dump_manifest(data)


def _current(path: str, result: Rewrite) -> str:
    """The file's text as the earlier rounds left it (read once, from disk)."""
    if path not in result.texts:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
        result.originals[path] = text
        result.texts[path] = text
    return result.texts[path]


def _body(text: str) -> str:
    return text[1:] if text.startswith(_BOM) else text


def _check(inputs: Inputs, result: Rewrite) -> tuple[list[DriftItem], Origins]:
    """Load the edited manifests from a copy and find what still drifts."""
    with tempfile.TemporaryDirectory(prefix="stagecfg-drift-") as tmp:
        mirrored, back = _mirror(inputs.paths, result.texts, Path(tmp))
        try:
            desired, composition, _ = load_composed(
                mirrored, env=inputs.env, project=inputs.project, selection=inputs.selection
            )
        except ManifestError as exc:
            shown = "\n".join(f"  {_original(p, back)}" for p in exc.problems[:10])
            raise AdoptionFailed(
                "adopting the drift would leave manifests that do not validate, so nothing was "
                f"written:\n{shown}\nadopt these differences by hand (or leave them out with "
                "--only)"
            ) from None
        plan = make_plan(desired, inputs.actual, prune=inputs.prune, project=desired.project)
        remaining = select(find_drift(desired, inputs.actual, plan), inputs.only)
    return [replace(i, location=None) for i in remaining], _origins(inputs, composition, back)


def _origins(
    inputs: Inputs, composition: Composition, rename: dict[str, str] | None = None
) -> Origins:
    return Origins(
        composition,
        rename,
        cli_variables=frozenset(v.name for v in inputs.selection.variables),
        environ=inputs.env if inputs.env is not None else os.environ,
    )


def _mirror(
    paths: Sequence[str], texts: dict[str, str], root: Path
) -> tuple[list[str], dict[str, str]]:
    """The manifests copied under ``root`` (with the new texts), the paths to load them by,
    and the copy's file names mapped back to the originals."""
    sources, _ = collect_sources(paths)
    mirrored: list[str] = []
    back: dict[str, str] = {}
    for index, given in enumerate(paths):
        base = root / str(index)
        if Path(given).is_dir():
            mirrored.append(str(base))
            for source in sources:
                name = str(source.path)
                if is_inside(name, given):
                    back[str(base / os.path.relpath(name, given))] = name
            for name in texts:
                if is_inside(name, given):
                    back[str(base / os.path.relpath(name, given))] = name
        else:
            target = base / Path(given).name
            mirrored.append(str(target))
            back[str(target)] = str(Path(given))
    for copy, original in back.items():
        Path(copy).parent.mkdir(parents=True, exist_ok=True)
        if original in texts:
            Path(copy).write_text(texts[original], encoding="utf-8")
        elif os.path.exists(original):
            shutil.copyfile(original, copy)
    return mirrored, back


def is_inside(name: str, directory: str) -> bool:
    """Whether path ``name`` is ``directory`` or inside it."""
    relative = os.path.relpath(os.path.abspath(name), os.path.abspath(directory))
    return not relative.startswith("..")


def _original(problem: Problem, back: dict[str, str]) -> str:
    """A problem of the copy, as one line naming the original file."""
    location = problem.location
    if location is not None and location.file in back:
        location = replace(location, file=back[location.file])
    where = f"{location}: " if location is not None else ""
    return f"{where}{problem.message}"
