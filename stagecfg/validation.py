"""Entry points: manifests on disk -> every problem, and -> the desired state.

``validate`` collects the problems of every stage (sources, YAML, variables, schema, merge,
overlays, semantic checks) so one run shows them all, for every environment the manifests define
(or the one selected); ``load_desired`` builds the :class:`~stagecfg.model.DesiredState` of one
environment, which the planner works from, or raises :class:`~stagecfg.errors.ManifestError`
with every problem.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stagecfg import checks, manifest, schema
from stagecfg.errors import Location, ManifestError, Problem, UsageError
from stagecfg.manifest import Composition, Merged, Selection, child_path
from stagecfg.model import (
    KIND_CALL,
    KIND_CALL_TYPE,
    KIND_USER,
    AppVocabulary,
    CallSpec,
    CallTypeSpec,
    DesiredState,
    UserSpec,
)


@dataclass
class Validation:
    """The outcome of validating some manifests (every selected environment's manifest)."""

    problems: list[Problem]
    merged: Merged
    files: list[str] = field(default_factory=list)
    compositions: list[Composition] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def valid(self, *, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def counts(self, merged: Merged | None = None) -> dict[str, int]:
        data = (merged or self.merged).data
        return {
            section: len(data[section]) if isinstance(data.get(section), dict) else 0
            for section in manifest.RESOURCE_SECTIONS
        }

    def summary(self) -> str:
        """One line such as ``3 files valid: 2 call types, 1 call, 0 users (1 warning)``; with
        environments, the counts of each (``production: 1 call type, ...; staging: ...``)."""

        def plural(n: int, word: str) -> str:
            return f"{n} {word}" if n == 1 else f"{n} {word}s"

        def counted(merged: Merged | None) -> str:
            counts = self.counts(merged)
            return (
                f"{plural(counts['call_types'], 'call type')}, "
                f"{plural(counts['calls'], 'call')}, {plural(counts['users'], 'user')}"
            )

        named = [c for c in self.compositions if c.environment is not None]
        if named:
            body = "; ".join(f"{c.environment}: {counted(c.merged)}" for c in named)
        else:
            body = counted(None)
        text = f"{plural(len(self.files), 'file')} valid: {body}"
        if self.warnings:
            text += f" ({plural(len(self.warnings), 'warning')})"
        return text


def validate(
    paths: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    selection: Selection | None = None,
    every: bool = True,
    vocabulary: AppVocabulary | None = None,
) -> Validation:
    """Load, schema-check, merge and semantically check manifests; never raises for bad input,
    only for a wrong selection (UsageError).

    With environments and no ``--env`` in ``selection``, ``every`` checks each environment's
    manifest (a problem found in only some of them says which); without ``every`` that is refused.
    ``vocabulary``: the app's permissions and roles, to check grants and roles against instead of
    the documented ids (``validate --online``; see :func:`stagecfg.checks.check`).
    """
    environ = os.environ if env is None else env
    selection = selection or Selection()
    sources, problems = manifest.collect_sources(paths)
    documents: list[manifest.Document] = []
    reported: dict[int, set[str]] = {}
    for source in sources:
        doc, load_problems = manifest.load(source.path, relative=source.relative)
        problems.extend(load_problems)
        if doc is None:
            continue
        documents.append(doc)
        # A value the loader already reported (e.g. `yes`) would only repeat as a type error.
        reported[id(doc)] = {p.path for p in load_problems}
    var_files, found = manifest.load_var_files(selection.var_files)
    problems.extend(found)
    names, found = manifest.environment_names(documents)
    problems.extend(found)
    targets, refusal = manifest.choose(names, selection.environment, every=every)
    if refusal is not None:
        raise UsageError(refusal)
    # A file left out of every environment (its `environment:` is not a name) is still checked.
    for doc in documents:
        if manifest.has_bad_environment(doc):
            problems.extend(_offline_only(schema.validate(doc), vocabulary))
    compositions = []
    checked: dict[int, list[Problem]] = {}
    for target in targets:
        composition = manifest.compose(
            documents,
            target,
            selection=selection,
            var_files=var_files,
            environ=environ,
            reported=reported,
        )
        found = _offline_only(_schema_problems(composition, checked), vocabulary)
        places = {p.location for p in found}
        composition.problems = [
            p
            for p in composition.problems
            if not (manifest.REMOVES_NOTHING in p.message and p.location in places)
        ]
        composition.problems += found + checks.check(
            composition.merged, now=now, vocabulary=vocabulary
        )
        compositions.append(composition)
    problems.extend(_combined(compositions))
    # One thing said twice at one place (an overlay's value seen by the patch schema and by the
    # checks on the merged manifest): the first path in sort order, the merged one, is kept.
    unique: dict[tuple[Any, ...], Problem] = {}
    for problem in sorted(problems, key=Problem.sort_key):
        unique.setdefault((problem.location, problem.message, problem.severity), problem)
    ordered = sorted(unique.values(), key=Problem.sort_key)
    return Validation(
        problems=ordered,
        merged=compositions[0].merged,
        files=[d.path for d in documents],
        compositions=compositions,
    )


def _offline_only(problems: list[Problem], vocabulary: AppVocabulary | None) -> list[Problem]:
    """``problems`` less, online, the schema's refusals of grants that are not documented
    permission ids: the app's own permission list decides those (:func:`stagecfg.checks.check`)."""
    if vocabulary is None:
        return problems
    return [p for p in problems if not schema.is_unknown_permission(p)]


def _schema_problems(composition: Composition, checked: dict[int, list[Problem]]) -> list[Problem]:
    """Each file against the schema (overlays against the patch schema), once per distinct data,
    then each patched object against the full schema; a problem an overlay's own check already
    names at the same place is not repeated."""
    problems: list[Problem] = []
    for doc, seen in zip(composition.documents, composition.reported, strict=True):
        key = id(doc.data)
        if key not in checked:
            checked[key] = schema.validate(doc)
        problems.extend(p for p in checked[key] if p.path not in seen)
    named = {(p.location, p.message) for p in problems}
    patched = schema.validate_objects(composition.merged, sorted(composition.patched.objects))
    problems.extend(p for p in patched if (p.location, p.message) not in named)
    return problems


def _combined(compositions: Sequence[Composition]) -> list[Problem]:
    """Every environment's problems; one found in only some environments names them."""
    if len(compositions) == 1:
        return compositions[0].problems
    found: dict[tuple[Any, ...], tuple[Problem, list[str]]] = {}
    for composition in compositions:
        for problem in composition.problems:
            key = (problem.location, problem.path, problem.message, problem.severity)
            _, names = found.setdefault(key, (problem, []))
            if composition.environment not in names:
                names.append(str(composition.environment))
    everywhere = len(compositions)
    return [
        problem if len(names) == everywhere else manifest.in_environments(problem, sorted(names))
        for problem, names in found.values()
    ]


def validate_paths(paths: Sequence[str], *, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem, errors and warnings, sorted."""
    return validate(paths, env=env).problems


def load_desired(
    paths: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    project: str | None = None,
    selection: Selection | None = None,
) -> tuple[DesiredState, list[Problem]]:
    """Load, validate and build the desired state of one environment. Raises ManifestError
    (problems) when there is any error (or any warning with strict=True), UsageError when the
    manifests define environments and ``selection`` names none. Returns the warnings otherwise.
    env defaults to os.environ. project overrides the manifest's top-level `project`."""
    found = load_composed(paths, env=env, strict=strict, project=project, selection=selection)
    return found[0], found[2]


def load_composed(
    paths: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    project: str | None = None,
    selection: Selection | None = None,
) -> tuple[DesiredState, Composition, list[Problem]]:
    """:func:`load_desired`, with the environment's :class:`~stagecfg.manifest.Composition`
    (the files, which of them sets each value, their ``${...}``: what ``drift --write`` needs)."""
    selection = selection or Selection()
    result = validate(paths, env=env, selection=selection, every=False)
    if not result.valid(strict=strict):
        raise ManifestError(result.errors + (result.warnings if strict else []))
    (composition,) = result.compositions
    desired = build_desired(composition.merged, project=project)
    located = {
        (_KINDS[section], name): dict(fields)
        for (section, name), fields in composition.patched.fields.items()
        if fields
    }
    return (
        dataclasses.replace(
            desired,
            environment=composition.environment,
            field_locations=located,
            variables=tuple((v.name, v.text) for v in selection.variables),
            var_files=selection.var_files,
        ),
        composition,
        result.warnings,
    )


_KINDS = {"users": KIND_USER, "call_types": KIND_CALL_TYPE, "calls": KIND_CALL}


def _member_locations(merged: Merged, cid: str, members: Any) -> dict[str, Location]:
    members_path = child_path(child_path("$.calls", cid), "members")
    located = {}
    for uid in members or {}:
        found = merged.locate(child_path(members_path, uid))
        if found is not None:
            located[uid] = found
    return located


def build_desired(merged: Merged, *, project: str | None = None) -> DesiredState:
    """The desired state of valid merged manifests (values are plain JSON data)."""
    data = merged.data
    call_types: dict[str, CallTypeSpec] = {}
    for name, spec in sorted(data.get("call_types", {}).items()):
        spec = spec or {}
        call_types[name] = CallTypeSpec(
            name=name,
            settings=spec.get("settings"),
            grants=spec.get("grants"),
            notification_settings=spec.get("notification_settings"),
            external_storage=spec.get("external_storage"),
            location=merged.locate(child_path("$.call_types", name)),
        )
    calls: dict[str, CallSpec] = {}
    for cid, spec in sorted(data.get("calls", {}).items()):
        spec = spec or {}
        calls[cid] = CallSpec(
            cid=cid,
            created_by_id=spec.get("created_by_id"),
            starts_at=spec.get("starts_at"),
            settings_override=spec.get("settings_override"),
            custom=spec.get("custom"),
            team=spec.get("team"),
            live=spec.get("live"),
            go_live=spec.get("go_live"),
            members=spec.get("members"),
            follow_call_type=spec.get("follow_call_type", True),
            location=merged.locate(child_path("$.calls", cid)),
            member_locations=_member_locations(merged, cid, spec.get("members")),
        )
    users: dict[str, UserSpec] = {}
    for user_id, spec in sorted(data.get("users", {}).items()):
        spec = spec or {}
        users[user_id] = UserSpec(
            id=user_id,
            role=spec.get("role"),
            name=spec.get("name"),
            custom=spec.get("custom"),
            image=spec.get("image"),
            teams=spec.get("teams"),
            language=spec.get("language"),
            invisible=spec.get("invisible"),
            privacy_settings=spec.get("privacy_settings"),
            teams_role=spec.get("teams_role"),
            location=merged.locate(child_path("$.users", user_id)),
        )
    return DesiredState(
        call_types=call_types,
        calls=calls,
        users=users,
        project=project if project is not None else data.get("project"),
        digest=merged.digest,
        sources=tuple(doc.path for doc in merged.documents),
    )


# --- reports -------------------------------------------------------------------------------------

REPORT_FORMATS = ("text", "json", "github")


def report_document(result: Validation, *, strict: bool = False) -> dict[str, Any]:
    """The machine-readable report (``--format json``)."""
    problems = []
    for p in result.problems:
        loc = p.location
        problems.append(
            {
                "file": loc.file if loc else None,
                "line": loc.line if loc and loc.line > 0 else None,
                "col": loc.col if loc and loc.col > 0 else None,
                "path": p.path,
                "severity": p.severity,
                "message": p.message,
                "suggestion": p.suggestion,
            }
        )
    return {"format_version": 1, "valid": result.valid(strict=strict), "problems": problems}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem) -> str:
    """A GitHub workflow command such as ``::error file=F,line=L,col=C::message``."""
    level = "warning" if problem.severity == "warning" else "error"
    props = []
    loc = problem.location
    if loc is not None:
        props.append(f"file={_escape_property(loc.file)}")
        if loc.line > 0:
            props.append(f"line={loc.line}")
            props.append(f"col={loc.col}")
    hint = f" ({problem.suggestion})" if problem.suggestion else ""
    message = f"{problem.path}: {problem.message}{hint}"
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(message)}"


def render_report(result: Validation, fmt: str, *, strict: bool = False) -> tuple[str, str]:
    """(stdout, stderr) text for ``stagecfg validate``."""
    if fmt == "json":
        doc = report_document(result, strict=strict)
        return json.dumps(doc, indent=2, sort_keys=True) + "\n", ""
    if fmt == "github":
        lines = [github_annotation(p) for p in result.problems]
        out = "".join(line + "\n" for line in lines)
        if result.valid(strict=strict):
            out += result.summary() + "\n"
        return out, ""
    err = "".join(p.render() + "\n" for p in result.problems)
    if result.valid(strict=strict):
        return result.summary() + "\n", err
    n_err, n_warn = len(result.errors), len(result.warnings)
    tail = f"{n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''}"
    if strict and not n_err:
        tail += " (warnings fail with --strict)"
    return "", err + f"invalid: {tail}\n"
