"""Environments: one base plus per-environment files, and the manifest each environment makes.

A file with a top-level ``environment: NAME`` belongs to that environment: it is loaded only when
NAME is selected (``--env NAME``), together with every base file (one without ``environment:``).
It may declare objects like any file, patch declared ones under ``overlay:``
(:mod:`~stagecfg.manifest.overlays`) and set the variables' ``values:``
(:mod:`~stagecfg.manifest.typed_variables`). Variables are declared in base files only, so every
environment has the same ones, and ``values:`` belong in environment files only.

:func:`compose` makes one environment's manifest: its files, the variables' values, the files'
references filled in (:mod:`~stagecfg.manifest.references`), merged, with the overlays applied.
:func:`choose` says which environments a command works on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stagecfg.errors import Problem, suggest
from stagecfg.manifest.merging import Merged, merge
from stagecfg.manifest.overlays import Patched, apply_overlays
from stagecfg.manifest.references import substitute
from stagecfg.manifest.sources import Document
from stagecfg.manifest.typed_variables import VariableInput, declarations, resolve


@dataclass(frozen=True)
class Selection:
    """What the command line selects: ``--env``, each ``--var`` and each ``--var-file``."""

    environment: str | None = None
    variables: tuple[VariableInput, ...] = ()
    var_files: tuple[str, ...] = ()


@dataclass
class Composition:
    """One environment's manifest (``environment`` None: the manifests define none)."""

    environment: str | None
    documents: list[Document]
    merged: Merged
    patched: Patched
    problems: list[Problem] = field(default_factory=list)
    #: per document (by position), the paths the loader or the substitution already reported
    reported: list[set[str]] = field(default_factory=list)


#: An environment's name, as the schema has it: it names files, flags and plan comments (whose
#: key starts with a letter or digit).
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$")


def has_bad_environment(doc: Document) -> bool:
    """Whether the file's ``environment:`` is there but not a name (the schema says why)."""
    if "environment" not in doc.data:
        return False
    return doc.environment is None or not _NAME.match(doc.environment)


def environment_names(documents: Sequence[Document]) -> tuple[list[str], list[Problem]]:
    """The environments the files define, sorted, and the misplaced sections.

    A file whose ``environment:`` is not text is left out of every environment (the schema says
    why), so that its overlay is never applied everywhere by mistake.
    """
    names: set[str] = set()
    problems: list[Problem] = []
    for doc in documents:
        if has_bad_environment(doc):
            continue
        if doc.environment is not None:
            names.add(doc.environment)
            if "variables" in doc.data:
                problems.append(
                    Problem(
                        doc.locate("$.variables"),
                        "$.variables",
                        "variables are declared in base files (without environment:), so every "
                        "environment has the same ones",
                        suggestion="move the declaration to a base file and set this "
                        "environment's value under values:",
                    )
                )
        elif "values" in doc.data:
            problems.append(
                Problem(
                    doc.locate("$.values"),
                    "$.values",
                    "values: sets variables for one environment and belongs in a file with "
                    "environment: NAME",
                    suggestion="in a base file, give the variable a default instead",
                )
            )
    return sorted(names), problems


def members(documents: Sequence[Document], environment: str | None) -> list[Document]:
    """The files of one environment: the base files and the environment's own, in load order."""
    return [
        d for d in documents if not has_bad_environment(d) and d.environment in (None, environment)
    ]


def choose(
    names: Sequence[str], selected: str | None, *, every: bool
) -> tuple[list[str | None], str | None]:
    """The environments to work on, or why the selection is wrong.

    Without ``--env``: every environment when ``every`` (validate), else a refusal, since a
    backend is the app of one environment; no environments at all: the manifests as they are.
    """
    if selected is None:
        if not names:
            return [None], None
        if every:
            return list(names), None
        return [], (
            f"these manifests define environments {', '.join(names)}; choose one with "
            "--env NAME (or STAGECFG_ENV)"
        )
    if not names:
        return [], (
            f"--env {selected}: these manifests define no environments (no file has a "
            "top-level environment:); drop --env (and STAGECFG_ENV)"
        )
    if selected not in names:
        hint = suggest(selected, names) or next(
            (f"did you mean '{n}'?" for n in names if n.startswith(selected)), None
        )
        return [], (
            f"--env {selected}: no file declares environment {selected!r}; the manifests "
            f"define {', '.join(names)}" + (f" ({hint})" if hint else "")
        )
    return [selected], None


def compose(
    documents: Sequence[Document],
    environment: str | None,
    *,
    selection: Selection,
    var_files: Sequence[Document],
    environ: Mapping[str, str],
    reported: Mapping[int, set[str]],
) -> Composition:
    """One environment's manifest; ``reported`` holds the loader's problem paths per file."""
    files = members(documents, environment)
    base = [d for d in files if d.environment is None]
    declared, problems = declarations(base)
    values, more = resolve(
        declared,
        environ=environ,
        values_from=[d for d in files if d.environment is not None],
        var_files=var_files,
        cli=selection.variables,
    )
    problems += more
    # A reference to a variable without a value stays as written; its declaration says why.
    unset = [f"${{{name}}}" for name, value in values.items() if value is None]
    resolved: list[Document] = []
    seen: list[set[str]] = []
    for doc in files:
        paths = set(reported.get(id(doc), set()))
        if doc.references:
            data, found = substitute(doc.data, doc.references, environ, values)
            problems += found
            paths |= {p.path for p in found}
            paths |= {r.path for r in doc.references if any(u in r.text for u in unset)}
            # The same file with its references filled in (locations and bytes are shared).
            doc = dataclasses.replace(doc, data=data)
        resolved.append(doc)
        seen.append(paths)
    merged, more = merge(resolved, var_files=var_files)
    problems += more
    patched, more = apply_overlays(merged, resolved)
    problems += more
    return Composition(environment, resolved, merged, patched, problems, seen)


def in_environments(problem: Problem, names: Sequence[str]) -> Problem:
    """``problem`` with ``(environment production)`` added to its message."""
    word = "environment" if len(names) == 1 else "environments"
    return Problem(
        problem.location,
        problem.path,
        f"{problem.message} ({word} {', '.join(names)})",
        problem.severity,
        problem.suggestion,
    )
