"""The sandbox engine served over HTTP with Stream's wire protocol (``stagecfg emulator``).

Where things are:

- :mod:`~stagecfg.emulator.operations` is the route table. **To add a Stream endpoint, add one
  ``Operation`` to ``OPERATIONS`` there** (operation id, method, path, success status, and the
  Engine call). Auth, quota, faults, body parsing, stats and error responses then apply to it
  like to every other endpoint; nothing else in the emulator needs to change.
- :mod:`~stagecfg.emulator.app` builds the Starlette app: one handler per operation running the
  same steps in a fixed order (latency, auth, quota and injected errors, body, engine call,
  response).
- :mod:`~stagecfg.emulator.auth`: the API key and JWTs (server-side and user tokens), and
  Stream's error code for each way they fail.
- :mod:`~stagecfg.emulator.wire`: reading JSON bodies within a size cap, the ``payload`` query
  parameter, compact JSON responses with ``duration``, and the APIError for unknown routes.
- :mod:`~stagecfg.emulator.faults`: test-only latency, injected 500s and 429s, and the
  per-endpoint quota behind ``X-RateLimit-*``.
- :mod:`~stagecfg.emulator.controls`: test-only request counts, recorded bodies and the
  ``/_emulator/...`` routes.
- :mod:`~stagecfg.emulator.webhooks`: ``--webhook-url``: the background sender that POSTs the
  event log as Stream posts webhooks (signature, retries, bounded waits).
- :mod:`~stagecfg.emulator.server` runs the app on uvicorn, in the foreground or in a thread.
"""

from __future__ import annotations

#: Credentials the emulator accepts when none are given. Documented in README; for local use only.
DEFAULT_API_KEY = "emulator"
DEFAULT_API_SECRET = "stagecfg-emulator-dev-secret-not-for-production"

__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET"]
