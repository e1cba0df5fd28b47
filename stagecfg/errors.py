"""The one exception hierarchy of stagecfg, and the located problems that validation reports.

Every error a user can cause derives from :class:`StagecfgError`. The CLI's single error boundary
turns it into a message on stderr and the exit code that README's exit-code table gives; nothing
else in the package prints or exits.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # only with --detailed-exitcode
EXIT_INTERNAL = 3  # a bug in stagecfg: a crash report was written
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Location:
    """A place in a manifest file; line and col are 1-based, like compilers print them."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"

    def to_json(self) -> dict[str, str | int]:
        return {"file": self.file, "line": self.line, "col": self.col}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Location | None:
        """The inverse of :meth:`to_json`; None (or an empty mapping) stays None."""
        if not data:
            return None
        return cls(str(data["file"]), int(data.get("line", 0)), int(data.get("col", 0)))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the manifests: where, which JSON path, what, and what to do instead."""

    location: Location | None
    path: str  # JSON path such as "$.call_types.livestream.settings.backstage.enabled"
    message: str
    severity: Severity = "error"
    suggestion: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location or Location("")
        return (loc.file, loc.line, loc.col, self.path, self.message)

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        tag = "warning: " if self.severity == "warning" else ""
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return one_line(f"{where}{self.path}: {tag}{self.message}{hint}")


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest choice, or None (a problem's suggestion)."""
    matches = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def one_line(text: str) -> str:
    """``text`` with control characters escaped, so a hostile key or value cannot split or
    recolour a message line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class StagecfgError(Exception):
    """Base of every error stagecfg reports to a user. ``exit_code`` picks the process exit code."""

    exit_code: int = EXIT_ERROR


class UsageError(StagecfgError):
    """A flag, argument or environment setting is wrong."""


class ManifestError(StagecfgError):
    """The manifests cannot be used; carries every problem found, sorted."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        first = self.problems[0].render() if self.problems else "invalid manifests"
        extra = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + extra)


@dataclass
class BackendFailure:
    """What went wrong talking to a backend, in Stream's terms."""

    status: int | None = None  # HTTP status, or None for transport errors
    code: int | None = None  # Stream error code (4, 9, 16, 17, 43, ...)
    message: str = ""
    unrecoverable: bool = False
    retry_after: float | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        """Transport errors, 429 and 5xx are worth another try unless Stream says otherwise."""
        if self.unrecoverable:
            return False
        return self.status is None or self.status == 429 or self.status >= 500


class BackendError(StagecfgError):
    """A backend refused or failed an operation; names the operation, kind and object."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        kind: str = "",
        name: str = "",
        failure: BackendFailure | None = None,
        hint: str = "",
    ) -> None:
        self.operation = operation
        self.kind = kind
        self.name = name
        self.failure = failure or BackendFailure(message=message)
        parts = [p for p in (operation, kind, name) if p]
        prefix = " ".join(parts) + ": " if parts else ""
        code = ""
        if self.failure.code is not None:
            code = f" (Stream code {self.failure.code}"
            code += f", HTTP {self.failure.status})" if self.failure.status else ")"
        suggestion = f"; {hint}" if hint else ""
        super().__init__(f"{prefix}{message}{code}{suggestion}")

    @property
    def retryable(self) -> bool:
        return self.failure.retryable


class ConfigError(StagecfgError):
    """Backend settings are missing or inconsistent (credentials, URLs, sandbox path)."""


class PlanRefused(StagecfgError):
    """A safety rule stops the plan: stale saved plan, too many deletes, disruptive changes."""


class ApplyFailed(StagecfgError):
    """Some changes failed during apply; the report says which succeeded and which did not."""

    def __init__(self, message: str, *, report_text: str = "") -> None:
        super().__init__(message)
        self.report_text = report_text  # what succeeded, failed and never started
