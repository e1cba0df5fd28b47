"""The sandbox engine served over HTTP with Stream's wire protocol (``stagecfg emulator``).

:mod:`stagecfg.emulator.app` builds the Starlette app (auth, rate limits, faults, stats);
:mod:`stagecfg.emulator.server` runs it on uvicorn, in the foreground or in a thread.
"""

from __future__ import annotations

#: Credentials the emulator accepts when none are given. Documented in README; for local use only.
DEFAULT_API_KEY = "emulator"
DEFAULT_API_SECRET = "stagecfg-emulator-dev-secret-not-for-production"

__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET"]
