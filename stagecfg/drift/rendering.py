"""The drift report for people (text), scripts (JSON), issues and pull requests (Markdown) and
workflow annotations (GitHub). Each line reads "manifest value -> live value", sorted by kind
and name, so a scheduled job's issue changes only when the drift does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby

from stagecfg.drift.report import (
    STATUS_ABSENT,
    STATUS_CHANGED,
    STATUS_UNDECLARED,
    DriftItem,
    DriftReport,
)
from stagecfg.errors import Problem, UsageError
from stagecfg.github.issue import drift_marker
from stagecfg.render.common import GITHUB_COMMENT_LIMIT, format_value
from stagecfg.validation import github_annotation

FORMATS = ("text", "json", "markdown", "github")
NO_DRIFT = "No drift. The app matches the manifests."
_SYMBOLS = {STATUS_CHANGED: "~", STATUS_ABSENT: "-", STATUS_UNDECLARED: "+"}


def render(report: DriftReport, fmt: str) -> str:
    if fmt == "text":
        return render_text(report)
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "github":
        return render_github(report)
    raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _header(report: DriftReport) -> str:
    where = f"environment {report.environment}, " if report.environment else ""
    return f"{where}{report.backend}"


def summary_line(report: DriftReport) -> str:
    if not report.drifted:
        return NO_DRIFT
    s = report.summary()
    parts = [f"{s['objects']} object{'s' if s['objects'] != 1 else ''} drifted"]
    if s["fields"]:
        parts.append(f"{s['fields']} field{'s' if s['fields'] != 1 else ''} changed")
    if s["absent"]:
        parts.append(f"{s['absent']} absent from the app")
    if s["undeclared"]:
        parts.append(f"{s['undeclared']} declared nowhere")
    return "Drift: " + ", ".join(parts) + "."


def item_line(item: DriftItem) -> str:
    """One item as text, without its object: ``PATH: MANIFEST -> LIVE``, or the object's."""
    if item.status == STATUS_ABSENT:
        return "declared, absent from the app (apply would create it)"
    if item.status == STATUS_UNDECLARED:
        return "in the app with this project's marker, declared nowhere (prune would delete it)"
    live = format_value(item.live) if item.live_present else "(not in the app)"
    manifest = "(not declared)" if item.manifest is None else format_value(item.manifest)
    return f"{item.path}: {manifest} -> {live}"


def _notes(item: DriftItem) -> list[str]:
    notes = []
    if item.variable:
        source = f", set by {item.variable_source}" if item.variable_source else ""
        notes.append(
            f"variable {item.variable}{source}: change it there (--write never overwrites a "
            "variable)"
        )
    elif not item.adoptable and item.why:
        notes.append(f"not adopted: {item.why}")
    elif item.why:
        notes.append(item.why)
    return notes


def render_text(report: DriftReport) -> str:
    lines = [f"Drift check ({_header(report)})", "", summary_line(report)]
    for _, group in groupby(report.items, key=lambda i: (i.kind, i.name)):
        items = list(group)
        first = items[0]
        if first.status != STATUS_CHANGED:
            where = f"  ({first.location})" if first.location else ""
            lines += [
                "",
                f"{_SYMBOLS[first.status]} {first.object_selector}{where}",
                f"    {item_line(first)}",
            ]
            lines += [f"      {n}" for n in _notes(first)]
            continue
        lines += ["", f"~ {first.object_selector}"]
        for item in items:
            where = f"   ({item.location})" if item.location else ""
            lines.append(f"    {item_line(item)}{where}")
            lines += [f"      {n}" for n in _notes(item)]
    if report.drifted:
        lines += [
            "",
            "Adopt: stagecfg drift PATH... --write (preview: --dry-run). Revert: stagecfg apply.",
        ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def render_markdown(report: DriftReport, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """An issue or comment body: the environment's marker (the one the drift issue and the
    sticky comment are found by), a title, the summary, one table per object."""
    head = [
        drift_marker(report.environment),
        f"### stagecfg drift: {report.environment or 'the app'}",
        "",
        f"{summary_line(report)} (`{_cell(report.backend)}`)",
    ]
    blocks: list[str] = []
    for (_, _name), group in groupby(report.items, key=lambda i: (i.kind, i.name)):
        blocks.append(_markdown_object(list(group)))
    footer = (
        [
            "",
            "Adopt with `stagecfg drift PATH... --write` in a pull request, or revert the app "
            "with `stagecfg apply`.",
        ]
        if report.drifted
        else []
    )
    body = "\n".join(head)
    kept = 0
    for block in blocks:
        if len(body) + len(block) + 200 > limit:
            break
        body += "\n\n" + block
        kept += 1
    if kept < len(blocks):
        body += (
            f"\n\n_{len(blocks) - kept} more drifted objects are left out (the size limit); "
            "run `stagecfg drift` for all._"
        )
    return body + "\n".join(["", *footer]) + "\n"


def _markdown_object(items: Sequence[DriftItem]) -> str:
    first = items[0]
    title = f"**{_SYMBOLS[first.status]} `{_cell(first.object_selector)}`**"
    if first.status != STATUS_CHANGED:
        where = f" ({_cell(str(first.location))})" if first.location else ""
        return f"{title}{where}: {item_line(first)}"
    rows = ["| field | manifest | live | declared at |", "| --- | --- | --- | --- |"]
    for item in items:
        live = format_value(item.live) if item.live_present else "_(not in the app)_"
        note = "; ".join(_notes(item))
        where = _cell(str(item.location)) if item.location else ""
        if note:
            where = f"{where} ({_cell(note)})" if where else _cell(note)
        rows.append(
            f"| `{_cell(item.path or '')}` | `{_cell(format_value(item.manifest))}` | "
            f"{'`' + _cell(live) + '`' if item.live_present else live} | {where} |"
        )
    return title + "\n\n" + "\n".join(rows)


def render_github(report: DriftReport) -> str:
    """One ``::warning`` per item, at the place that declares it."""
    lines = []
    for item in report.items:
        notes = _notes(item)
        problem = Problem(
            item.location,
            item.object_selector,
            f"drifted: {item_line(item)}",
            "warning",
            "; ".join(notes) or None,
        )
        lines.append(github_annotation(problem))
    lines.append(f"::notice::{summary_line(report)}")
    return "\n".join(lines) + "\n"
