"""Saved plans: ``plan --out FILE`` writes one; ``apply --plan FILE`` runs it only if it holds.

A saved plan records what was reviewed: the changes with their request bodies, the manifests'
digest and paths (with the environment, ``--var`` values and ``--var-file`` paths they were
loaded with), the backend identity (never a secret), the plan's options and the fingerprint of
every object read. It is a claim, never an instruction: apply re-plans from the recorded
manifests and options against the live backend, :func:`check_origin` and :func:`check_matches`
refuse it unless the manifests, the backend and every change are still the same, and only the
fresh plan (its bodies, safety flags and counts) runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stagecfg import plandiff, savedshape, strictjson
from stagecfg.errors import PlanRefused, UsageError, one_line
from stagecfg.plan.changes import Plan
from stagecfg.redact import register_secret, secret_variables

SAVED_FORMAT_VERSION = 1
KIND = "stagecfg-saved-plan"


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    digest: str
    sources: tuple[str, ...]
    identity: str
    backend: str  # backend.describe() at plan time, for humans
    files: tuple[str, ...] = ()  # the manifest files those paths expanded to
    environment: str | None = None  # --env
    variables: tuple[tuple[str, str], ...] = ()  # each --var NAME=VALUE (never a secret's)
    var_files: tuple[str, ...] = ()  # each --var-file, as given (their bytes are in the digest)

    def to_json(self) -> dict[str, Any]:
        data = self.plan.to_json()
        manifests: dict[str, Any] = {
            "digest": self.digest,
            "sources": list(self.sources),
            "files": list(self.files),
        }
        # Only when used, so a plan of manifests without environments reads as before.
        if self.environment is not None:
            manifests["environment"] = self.environment
        if self.variables:
            manifests["vars"] = [f"{name}={text}" for name, text in self.variables]
        if self.var_files:
            manifests["var_files"] = list(self.var_files)
        return {
            "kind": KIND,
            "format_version": SAVED_FORMAT_VERSION,
            "backend": {"identity": self.identity, "description": self.backend},
            "manifests": manifests,
            "options": data["options"],
            "managed": data["managed"],
            "summary": data["summary"],
            "changes": data["changes"],
            "notes": data["notes"],
            "fingerprints": data["fingerprints"],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SavedPlan:
        """The saved plan in ``data``; raises :class:`~stagecfg.savedshape.ShapeError` naming
        the first field that is missing or of the wrong type."""
        top = savedshape.obj(dict(data), "", dict.fromkeys(savedshape.TOP_LEVEL_KEYS, True))
        backend = savedshape.obj(top["backend"], "backend", {"identity": True, "description": True})
        manifests = savedshape.obj(top["manifests"], "manifests", savedshape.MANIFESTS_KEYS)
        sources = savedshape.texts(manifests["sources"], "manifests.sources")
        if not sources:
            raise savedshape.ShapeError("manifests.sources", "a list of paths", [])
        identity = savedshape.text(backend["identity"], "backend.identity")
        environment = savedshape.optional_text(
            manifests.get("environment"), "manifests.environment"
        )
        return cls(
            plan=dataclasses.replace(savedshape.plan(top), environment=environment),
            digest=savedshape.text(manifests["digest"], "manifests.digest"),
            sources=sources,
            identity=identity,
            backend=savedshape.text(backend["description"], "backend.description") or identity,
            files=savedshape.texts(manifests["files"], "manifests.files"),
            environment=environment,
            variables=savedshape.assignments(manifests.get("vars", []), "manifests.vars"),
            var_files=savedshape.texts(manifests.get("var_files", []), "manifests.var_files"),
        )


def _replace_strings(data: Any, replacements: Mapping[str, str]) -> Any:
    """``data`` with every occurrence of each key replaced by its value, in all strings.

    One regex pass, longest key first: text a replacement inserts (``${API_TOKEN}``) is never
    scanned again, so a secret that happens to spell part of a variable name cannot break it.
    """
    if not replacements:
        return data
    pattern = re.compile(
        "|".join(re.escape(k) for k in sorted(replacements, key=len, reverse=True))
    )

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(lambda m: replacements[m.group(0)], item)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(x) for x in item]
        return item

    return walk(data)


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(data, list):
        return [s for item in data for s in _strings(item)]
    return []


def dumps(saved: SavedPlan) -> str:
    """The saved plan as JSON; values of secret-named manifest variables stay ``${NAME}``.

    Apply must send exactly the reviewed bodies, so the plan keeps the data, but a plan file is
    a CI artifact: the secret itself is put back from the environment when the plan is read.
    """
    data = saved.to_json()
    named = secret_variables()
    if named:
        # Searched as decoded text: json.dumps escapes quotes, backslashes and non-ASCII, so a
        # value holding any of them never shows verbatim in the JSON text.
        text = "\0".join(_strings(data))
        used = {value: name for value, name in named.items() if value in text}
        if used:
            longest_first = dict(sorted(used.items(), key=lambda item: -len(item[0])))
            data = _replace_strings(data, {v: f"${{{n}}}" for v, n in longest_first.items()})
            data["secret_variables"] = sorted(set(used.values()))
            data["secret_checks"] = {
                name: _secret_check(value, name, saved.digest) for value, name in used.items()
            }
    return json.dumps(data, sort_keys=True, indent=2) + "\n"


def _secret_check(value: str, name: str, digest: str) -> str:
    """A slow, salted hash: proves the value is the reviewed one without giving it away."""
    salt = f"{KIND}\0{digest}\0{name}".encode()
    return hashlib.scrypt(value.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def _restore_secrets(path: str, data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    names = data.pop("secret_variables", None) or []
    checks = data.pop("secret_checks", None) or {}
    missing = [name for name in names if name not in environ]
    if missing:
        raise UsageError(
            f"{path}: the saved plan needs {', '.join(missing)} in the environment, as when it "
            "was made (their values are not stored in the plan)"
        )
    digest = str((data.get("manifests") or {}).get("digest"))
    # The manifests' digest is over their text, before variables are filled in: a different
    # value now would apply a body that nobody reviewed.
    differ = [
        name
        for name in names
        if name in checks and checks[name] != _secret_check(environ[name], name, digest)
    ]
    if differ:
        raise PlanRefused(
            f"{path}: {', '.join(differ)} in the environment differs from when the plan was "
            "made; set the value the plan was made with, or make a new plan and review it"
        )
    for name in names:
        register_secret(environ[name], variable=name)
    restored: dict[str, Any] = _replace_strings(
        data, {f"${{{name}}}": environ[name] for name in names}
    )
    return restored


def write(path: str, saved: SavedPlan) -> None:
    """Write atomically (temp file in the same directory, then rename), mode 0600."""
    write_text_atomic(path, dumps(saved), mode=0o600)


def write_text_atomic(path: str, text: str, *, mode: int = 0o600, flag: str = "--out") -> None:
    """Readers see the old file or the new one, never half of it.

    An unwritable place is the user's to fix, so it is a one-line error, not a crash; ``flag``
    names what gave the path (``--out``, or ``drift --write`` for a manifest).
    """
    _check_replaceable(path, flag)
    try:
        _write_text_atomic(path, text, mode)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"cannot write {path}: {reason}; choose a writable path for {flag}"
        ) from None


_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_replaceable(path: str, flag: str = "--out") -> None:
    """Raise the one-line error :func:`write_text_atomic` would for a path it must not replace
    (a symbolic link, a directory, a device), before anything is written; a caller writing
    several files checks them all first, so none is written when one cannot be."""
    _check_replaceable(path, flag)


def _check_replaceable(path: str, flag: str) -> None:
    """Refuse a path that holds anything but a regular file: renaming over it would replace a
    device, a FIFO or a symlink (``/proc/self/fd/1``) with a file. lstat, so a symlink to a
    regular file is refused too rather than followed or replaced."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror}; choose a writable path for {flag}"
        ) from None
    if stat.S_ISREG(mode):
        return
    what = next((name for test, name in _NOT_REGULAR if test(mode)), "a special file")
    raise UsageError(
        f"cannot write {path}: it is {what}, not a regular file, and is left as it is; "
        f"give {flag} the path of a regular file (or of one that does not exist yet)"
    )


def _write_text_atomic(path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".stagecfg-plan-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: A saved plan larger than this is not one stagecfg wrote (100,000 calls make about 60 MiB).
MAX_PLAN_BYTES = 256 * 1024 * 1024


def read(path: str) -> SavedPlan:
    """Load a saved plan; a missing, foreign or damaged file is a clear one-line error."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such saved plan; create one with `stagecfg plan --out`"
        ) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the saved plan ({exc.strerror})") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise UsageError(
            f"{path}: over {MAX_PLAN_BYTES // (1024 * 1024)} MiB, not a stagecfg saved plan"
        )
    try:
        data = strictjson.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise UsageError(f"{path}: not a readable stagecfg saved plan ({reason})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise UsageError(f"{path}: not a stagecfg saved plan (made by `stagecfg plan --out`)")
    version = data.get("format_version")
    if type(version) is not int or version != SAVED_FORMAT_VERSION:
        raise UsageError(
            f"{path}: saved plan format_version {version!r} is not supported "
            f"(this stagecfg reads {SAVED_FORMAT_VERSION}); make the plan again"
        )
    try:
        _check_secret_fields(data)
        data = _restore_secrets(path, data, os.environ)
        return SavedPlan.from_json(data)
    except savedshape.ShapeError as exc:
        raise UsageError(
            one_line(f"{path}: damaged saved plan: {exc}; make it again with `stagecfg plan --out`")
        ) from None


def _check_secret_fields(data: Mapping[str, Any]) -> None:
    """What :func:`_restore_secrets` reads, checked first so a junk value is a refusal."""
    if "secret_variables" in data:
        savedshape.texts(data["secret_variables"], "secret_variables")
    checks = data.get("secret_checks")
    if checks is not None:
        if not isinstance(checks, dict):
            raise savedshape.ShapeError("secret_checks", "an object", checks)
        for name, value in checks.items():
            savedshape.text(value, f"secret_checks.{name}")
    manifests = data.get("manifests")
    if not isinstance(manifests, dict):
        raise savedshape.ShapeError("manifests", "an object", manifests, missing=manifests is None)
    savedshape.text(manifests.get("digest"), "manifests.digest")


def check_origin(
    saved: SavedPlan, *, digest: str, identity: str, files: tuple[str, ...] | None = None
) -> None:
    """Refuse the saved plan when its manifests changed or it is for another backend.

    Re-planning from changed manifests would give a plan nobody reviewed, even if it happened to
    match, so the digest is checked before any re-plan.
    """
    if digest != saved.digest:
        changed = "the manifests" + (" or the --var-file files" if saved.var_files else "")
        raise PlanRefused(
            f"{changed} changed since the plan was saved "
            f"({', '.join((*saved.sources, *saved.var_files))}); run `stagecfg plan --out` again "
            "and review it"
        )
    if files is not None and files != saved.files:
        raise PlanRefused(
            f"{', '.join(saved.sources)} now expand to other manifest files than when the plan "
            "was saved; run `stagecfg plan --out` again and review it"
        )
    check_identity(saved, identity)


def check_identity(saved: SavedPlan, identity: str) -> None:
    """Refuse a saved plan made for another backend (another app, sandbox or base URL)."""
    if identity != saved.identity:
        raise PlanRefused(
            f"the saved plan was made for backend {saved.identity!r}, not {identity!r}; "
            "apply it to the backend it was made for, or make a new plan"
        )


#: How many differences a refusal names; the rest are counted.
SHOWN_DIFFERENCES = 3


def check_matches(saved: SavedPlan, fresh: Plan) -> None:
    """Refuse unless ``fresh`` (a re-plan from the same manifests and options) makes exactly the
    saved plan's changes; the saved plan is a claim, and this is where it is checked."""
    found = plandiff.differences(saved.plan, fresh)
    if not found:
        return
    shown = "; ".join(found[:SHOWN_DIFFERENCES])
    more = len(found) - SHOWN_DIFFERENCES
    extra = f"; and {more} more difference{'s' if more != 1 else ''}" if more > 0 else ""
    raise PlanRefused(
        one_line(
            "the saved plan is not what planning its manifests against the backend gives now "
            f"(stale, or edited): {shown}{extra}; nothing was changed; run `stagecfg plan --out` "
            "again and review it"
        )
    )
