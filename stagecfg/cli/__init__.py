"""The command line: parse flags, wire objects together, map errors to exit codes. Nothing else.

All behaviour lives in the core modules; every command is a few lines of glue, one module per
command (plan and apply share one). The single error boundary is :func:`main`.

- :mod:`~stagecfg.cli.root`: the ``stagecfg`` group and :func:`main`.
- :mod:`~stagecfg.cli.options`: the shared flags (``--debug``, ``--sandbox``, the backend
  flags) and the backend they open; :mod:`~stagecfg.cli.output`: redacted printing and colour.
- :mod:`~stagecfg.cli.help_text`: the command classes behind ``--help`` (environment
  variables, ``--debug`` on every command, examples) and each command's examples.
- ``*_command(s)`` modules: validate, plan and apply, access, export, schema, emulator.

The console script is ``stagecfg.cli:main``. Importing this package imports click and
:mod:`stagecfg.errors` and nothing heavier: commands import their modules when they run, which
keeps ``stagecfg --help`` fast (measured by bench/run.py).
"""

from __future__ import annotations

from stagecfg.cli.options import DEFAULT_SANDBOX, backend_options, backend_settings, sandbox_option
from stagecfg.cli.root import cli, main

__all__ = [
    "DEFAULT_SANDBOX",
    "backend_options",
    "backend_settings",
    "cli",
    "main",
    "sandbox_option",
]
