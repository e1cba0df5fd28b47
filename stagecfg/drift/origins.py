"""Where each declared value comes from: the file that sets it, its keys in that file, and the
``${...}`` that gives it, if one does.

The rule, as the overlays apply it (:mod:`stagecfg.manifest.overlays`): a field an overlay set
(or one inside a value an overlay set as a whole) comes from that overlay, at
``overlay.<section>.<name>.<field>`` of its file; any other field comes from the file that
declares the object, at ``<section>.<name>.<field>``. A new field (one only the app has) goes
where its nearest parent comes from, so a key added to a mapping an overlay replaced lands in
that overlay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from stagecfg.drift.report import STATUS_ABSENT, STATUS_CHANGED, DriftItem
from stagecfg.errors import Location
from stagecfg.manifest import ENV_PREFIX, Composition, Document, child_path, join_path
from stagecfg.manifest.references import Reference
from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, KIND_USER
from stagecfg.plan.comparison import MISSING, get_path

SECTIONS = {KIND_USER: "users", KIND_CALL_TYPE: "call_types", KIND_CALL: "calls"}

Key = str | int
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Origin:
    """The file and keys that set one value (or would, for a value not declared yet)."""

    doc: Document
    keys: tuple[Key, ...]
    #: whether an overlay sets it (else the file that declares the object)
    overlay: bool
    #: the value's place in the file, or its nearest written parent's
    location: Location
    #: the ``${...}`` string at (or inside) the value, when a variable gives it
    reference: Reference | None = None

    @property
    def variables(self) -> list[str]:
        return _VARIABLE.findall(self.reference.text) if self.reference else []


class Origins:
    """Answers "which file sets this?" for one environment's composed manifest."""

    def __init__(
        self,
        composition: Composition,
        rename: Mapping[str, str] | None = None,
        *,
        cli_variables: frozenset[str] = frozenset(),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``rename`` maps file names in ``composition`` to the ones to edit (a composition
        loaded from a copy of the manifests names the copy's files); ``cli_variables`` are the
        names given with ``--var`` and ``environ`` the process environment, which say where a
        variable's value comes from."""
        self.composition = composition
        self.cli_variables = cli_variables
        self.environ = environ or {}
        rename = rename or {}
        self.documents = {
            doc.path: replace(doc, path=rename[doc.path]) if doc.path in rename else doc
            for doc in composition.documents
        }

    def files(self) -> list[Document]:
        """The environment's files, in load order."""
        return list(self.documents.values())

    def declaring(self, kind: str, name: str) -> Document:
        """The file that declares the object (its entry under its section)."""
        section = SECTIONS[kind]
        found = self.composition.merged.keys.get(child_path(f"$.{section}", name))
        if found is not None and found.file in self.documents:
            return self.documents[found.file]
        for doc in self.files():
            entries = doc.data.get(section)
            if isinstance(entries, dict) and name in entries:
                return doc
        raise LookupError(f"{kind} {name} is declared in no loaded file")

    def field(self, kind: str, name: str, keys: tuple[str, ...]) -> Origin:
        section = SECTIONS[kind]
        fields = self.composition.patched.fields.get((section, name), {})
        for size in range(len(keys), 0, -1):
            where = fields.get(".".join(keys[:size]))
            if where is not None and where.file in self.documents:
                return self._origin(self.documents[where.file], ("overlay", section, name, *keys))
        return self._origin(self.declaring(kind, name), (section, name, *keys))

    def in_base(self, kind: str, name: str, keys: tuple[str, ...]) -> bool:
        """Whether the declaring file itself has the field (so an overlay must null it, not
        just drop its own line, to remove it)."""
        declared = self.declaring(kind, name).data
        return get_path(declared, (SECTIONS[kind], name, *keys)) is not MISSING

    def _origin(self, doc: Document, keys: tuple[Key, ...]) -> Origin:
        path = join_path(keys)
        return Origin(
            doc,
            keys,
            overlay=keys[0] == "overlay",
            location=doc.locate(path, value=True),
            reference=_reference(doc, path),
        )

    def variable_source(self, name: str) -> str:
        """Where variable ``name`` gets its value in this environment, by its precedence:
        ``--var``, then the last ``--var-file``, the environment's ``values:``,
        ``STAGECFG_VAR_<NAME>``, and its default."""
        if name in self.cli_variables:
            return "--var"
        for doc in reversed(self.composition.merged.var_files):
            if name in doc.data:
                return f"--var-file {doc.locate(child_path('$', name), value=True)}"
        for doc in reversed([d for d in self.files() if d.environment is not None]):
            values = doc.data.get("values")
            if isinstance(values, dict) and name in values:
                path = child_path("$.values", name)
                return f"{doc.locate(path, value=True)} (values:)"
        if ENV_PREFIX + name in self.environ:
            return f"environment variable {ENV_PREFIX}{name}"
        for doc in self.files():
            declared = doc.data.get("variables")
            if isinstance(declared, dict) and name in declared:
                path = child_path(child_path("$.variables", name), "default")
                return f"its default at {doc.locate(path, value=True)}"
        return "nowhere (it is not declared: an environment variable)"

    def environment_file(self) -> Document | None:
        """The selected environment's own file that takes a new overlay entry: the first one
        with an ``overlay:``, else the first one."""
        own = [d for d in self.files() if d.environment is not None]
        with_overlay = [d for d in own if isinstance(d.data.get("overlay"), dict)]
        chosen = with_overlay or own
        return chosen[0] if chosen else None


def _reference(doc: Document, path: str) -> Reference | None:
    """The ``${...}`` at ``path``, or inside the value at ``path``, or holding it."""
    for ref in doc.references:
        if (
            ref.path == path
            or ref.path.startswith((path + ".", path + "["))
            or path.startswith((ref.path + ".", ref.path + "["))
        ):
            return ref
    return None


def locate(items: Sequence[DriftItem], origins: Origins) -> list[DriftItem]:
    """``items`` with the place that declares each, and the variable that gives it."""
    out = []
    for item in items:
        try:
            if item.status == STATUS_CHANGED:
                item = _located_field(item, origins)
            elif item.status == STATUS_ABSENT:
                section = SECTIONS[item.kind]
                doc = origins.declaring(item.kind, item.name)
                item = replace(item, location=doc.locate(child_path(f"$.{section}", item.name)))
        except LookupError:
            pass  # declared by no file this composition has: keep the plan's location
        out.append(item)
    return out


def _located_field(item: DriftItem, origins: Origins) -> DriftItem:
    if item.kind == KIND_CALL and item.path and item.path.startswith("settings."):
        # The call follows its call type here: the type's setting is what declares the value.
        call_type = item.name.partition(":")[0]
        try:
            origin = origins.field(KIND_CALL_TYPE, call_type, ("settings", *item.keys[1:]))
        except LookupError:
            origin = origins.field(item.kind, item.name, item.keys)
        return replace(item, location=origin.location)
    origin = origins.field(item.kind, item.name, item.keys)
    if origin.reference is None:
        return replace(item, location=origin.location)
    names = origin.variables
    sources = [origins.variable_source(n) for n in names]
    return replace(
        item,
        location=origin.location,
        variable=", ".join(names) or None,
        variable_source="; ".join(sources) or None,
        adoptable=False,
        why=variable_reason(origin, names, sources),
    )


def variable_reason(origin: Origin, names: Sequence[str], sources: Sequence[str]) -> str:
    """Why a value a ``${...}`` gives is left: which variable to change, and where."""
    assert origin.reference is not None
    where = "; ".join(f"{n} is set by {s}" for n, s in zip(names, sources, strict=True))
    return (
        f"the manifest's value comes from {origin.reference.text} at "
        f"{origin.reference.location}"
        + (f" ({where})" if where else "")
        + ": change the variable there to the live value; stagecfg does not overwrite a "
        "variable"
    )
