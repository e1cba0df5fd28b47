"""What ``--help`` shows beyond one line per flag: environment variables, ``--debug`` and examples.

Every command is a :class:`Command` (the group a :class:`Group`), so the rules hold for each one
without being repeated per option:

* an option read from an environment variable says which (``[env var: STREAM_API_KEY]``);
* ``--debug`` is accepted before and after the subcommand (``stagecfg --debug plan x`` and
  ``stagecfg plan x --debug``), the way click adds ``--help`` to every command;
* ``examples=`` becomes an "Examples" section, printed as written (never rewrapped); it takes
  the place of click's ``epilog``.

The examples are data, one tuple per command below: tests/test_cli_help_text.py runs every
command line of every command's help through the real CLI, so they cannot rot. A comment ending
in ``(exit code N)`` says the line exits N, e.g. an ``access`` question answered no.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from stagecfg.cli.options import debug_option

#: (what it shows, the command line), in the order a new user would try them.
Example = tuple[str, str]


class _HelpMixin:
    """The shared behaviour of :class:`Command` and :class:`Group` (see the module docstring)."""

    examples: tuple[Example, ...]
    params: list[click.Parameter]

    def _add_help_params(self, examples: Sequence[Example]) -> None:
        self.examples = tuple(examples)
        self.params.append(debug_option())
        for param in self.params:
            if isinstance(param, click.Option) and param.envvar:
                param.show_envvar = True

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not self.examples:
            return
        # One paragraph per example, each marked \b so that click prints it line by line and
        # never rewraps a command; an example without a comment continues the one before.
        paragraphs: list[list[str]] = []
        for comment, command in self.examples:
            if comment or not paragraphs:
                paragraphs.append(["\b", f"# {comment}"] if comment else ["\b"])
            paragraphs[-1].append(command)
        with formatter.section("Examples"):
            formatter.write_text("\n\n".join("\n".join(p) for p in paragraphs))


class Command(_HelpMixin, click.Command):
    """A stagecfg subcommand: ``click.command(..., cls=Command, examples=...)``."""

    def __init__(self, *args: Any, examples: Sequence[Example] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_help_params(examples)


class Group(_HelpMixin, click.Group):
    """The ``stagecfg`` group: ``click.group(cls=Group, examples=...)``."""

    def __init__(self, *args: Any, examples: Sequence[Example] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_help_params(examples)


# --- the examples of each command ------------------------------------------------------------
# Paths are the shipped examples/ directory, as in README's Quick start (run from the repository
# root); without --sandbox the sandbox is .stagecfg/sandbox.db in the current directory.

STAGECFG: tuple[Example, ...] = (
    (
        "Check, preview and apply the backstage example to the local sandbox",
        "stagecfg validate examples/backstage",
    ),
    ("", "stagecfg plan examples/backstage"),
    ("", "stagecfg apply examples/backstage --auto-approve"),
    ("Every command's flags, environment variables and examples", "stagecfg plan --help"),
)

VALIDATE: tuple[Example, ...] = (
    ("Check manifests (files or directories) offline", "stagecfg validate examples/backstage"),
    (
        "Fail on warnings too, as GitHub workflow annotations",
        "stagecfg validate examples/audio-room --strict --format github",
    ),
    ("A report for scripts", "stagecfg validate examples/backstage --format json"),
    (
        "Also check grants and roles against the app's own permissions (the local sandbox here)",
        "stagecfg validate examples/backstage --online",
    ),
)

PLAN: tuple[Example, ...] = (
    (
        "What apply would change in the local sandbox (.stagecfg/sandbox.db)",
        "stagecfg plan examples/backstage",
    ),
    (
        "Save the plan for review; then: stagecfg apply --plan plan.json",
        "stagecfg plan examples/backstage --out plan.json",
    ),
    (
        "In CI: exit 2 on changes, 1 when access widens, as it does here (exit code 1)",
        "stagecfg plan examples/backstage-open --detailed-exitcode --deny-escalation",
    ),
    (
        "Against the real app: needs STREAM_API_KEY and STREAM_API_SECRET",
        "stagecfg plan examples/backstage --backend stream --format markdown",
    ),
)

APPLY: tuple[Example, ...] = (
    (
        "Review a plan, then apply exactly that plan (refused if anything changed since)",
        "stagecfg plan examples/backstage --out plan.json",
    ),
    ("", "stagecfg apply --plan plan.json --auto-approve"),
    (
        "Apply without asking (needed without a terminal, e.g. in CI)",
        "stagecfg apply examples/backstage --auto-approve",
    ),
    (
        "Also delete the project's calls that the manifests no longer declare",
        "stagecfg apply examples/backstage --prune --auto-approve",
    ),
)

ACCESS: tuple[Example, ...] = (
    (
        "Who may join the show, and when, from the manifests alone",
        "stagecfg access livestream:launch-show examples/backstage",
    ),
    (
        "A yes/no question: exit 0 for yes, 1 for no, as here (exit code 1)",
        "stagecfg access livestream:launch-show examples/backstage --role user"
        " --at 2027-03-01T17:00:00Z",
    ),
    (
        "One user (app role plus member role) in every phase, as JSON",
        "stagecfg access livestream:launch-show examples/backstage --user john --format json",
    ),
    (
        "The call as the backend holds it (after an apply)",
        "stagecfg access livestream:launch-show --from-backend",
    ),
)

EXPORT: tuple[Example, ...] = (
    ("The local sandbox as a manifest, on stdout", "stagecfg export"),
    (
        "One project's calls, to a file",
        "stagecfg export --project backstage-demo --out current.yaml",
    ),
    (
        "Every user of the app too, not only those the calls refer to",
        "stagecfg export --users all --out everything.yaml",
    ),
    (
        "The real app, built-in call types too: needs STREAM_API_KEY and STREAM_API_SECRET",
        "stagecfg export --backend stream --include-builtin",
    ),
)

DRIFT: tuple[Example, ...] = (
    ("What changed in the local sandbox since the last apply", "stagecfg drift examples/backstage"),
    (
        "A scheduled CI check: exit 2 when the app has drifted (here it has not)",
        "stagecfg drift examples/backstage --detailed-exitcode",
    ),
    (
        "Preview adopting the app's changes into the manifests (drop --dry-run to write)",
        "stagecfg drift examples/backstage --write --dry-run",
    ),
    (
        "Adopt one call type's settings only",
        "stagecfg drift examples/backstage --write --only calltype:livestream.settings",
    ),
)

SCHEMA: tuple[Example, ...] = (
    ("Print the manifest JSON Schema", "stagecfg schema"),
    ("Save it for an editor or check-jsonschema", "stagecfg schema > stagecfg.schema.json"),
)

EMULATOR: tuple[Example, ...] = (
    (
        "Serve .stagecfg/sandbox.db at http://127.0.0.1:8787 (credentials: see README)",
        "stagecfg emulator",
    ),
    (
        "Another port and file, answering 10% of requests with HTTP 500, reproducibly",
        "stagecfg emulator --port 9000 --sandbox ci.db --error-rate 0.1 --seed 7",
    ),
    (
        "Serve a new sandbox seeded from manifests (applied before it serves)",
        "stagecfg emulator --sandbox test.db --load examples/backstage",
    ),
)
