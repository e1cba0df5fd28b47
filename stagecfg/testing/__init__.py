"""A testing kit for your own test suite: Stream Video offline, as a pytest fixture.

Installing stagecfg registers the pytest plugin :mod:`stagecfg.testing.plugin` (entry point
``pytest11``). It does nothing until a test asks for one of its fixtures by name:

* ``stream_emulator``: an emulator on a free 127.0.0.1 port, reset before each test to the
  manifests configured with ``stream_emulator_manifests`` / ``--stream-emulator-load`` (or to an
  empty app); one server per test session, so the reset is all a test pays.
* ``stream_emulator_session``: another emulator shared by the whole session, seeded once and
  never reset by the plugin.

Both give a :class:`StreamEmulator` (``base_url``, ``api_key``, ``api_secret``, ``client()``,
``load()``, ``reset()``, ``requests()``, ``stats()``). See README, "Test your Stream app offline".

Nothing heavy is imported here: pytest imports the plugin in every project of the environment,
so the emulator, the sandbox and the manifest pipeline load only when a fixture starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagecfg.testing.handle import StreamEmulator

__all__ = ["StreamEmulator"]


def __getattr__(name: str) -> Any:
    # ``from stagecfg.testing import StreamEmulator`` (for annotations) works; the plugin, which
    # pytest imports in every run, does not pay for the handle's module until a fixture starts.
    if name == "StreamEmulator":
        from stagecfg.testing.handle import StreamEmulator

        return StreamEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
