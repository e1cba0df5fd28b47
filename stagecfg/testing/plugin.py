"""The pytest plugin (entry point ``pytest11``): the ``stream_emulator`` fixtures and options.

Opt-in by fixture name. Installing stagecfg must not change anyone's test run, so this module
has no autouse fixture and no hook beyond ``pytest_addoption`` (its options and ini keys show in
``pytest --help``, nothing else), and imports nothing heavy: a server starts only when a test
asks for ``stream_emulator`` or ``stream_emulator_session``.

Configuration (command line first, then the ini file):

* ``--stream-emulator-load PATH`` (repeatable) / ini ``stream_emulator_manifests`` (paths, one
  per line, relative to the ini file): manifests every test starts from.
* ``--stream-emulator-env NAME`` / ini ``stream_emulator_env``: their environment (``--env``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stagecfg.testing.handle import StreamEmulator

_MANIFESTS = "stream_emulator_manifests"
_ENV = "stream_emulator_env"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stream_emulator", "Stream emulator (stagecfg)")
    group.addoption(
        "--stream-emulator-load",
        action="append",
        default=[],
        metavar="PATH",
        help="stagecfg manifests (file or directory) the stream_emulator fixtures start from; "
        f"repeatable; replaces the ini's {_MANIFESTS}.",
    )
    group.addoption(
        "--stream-emulator-env",
        default=None,
        metavar="NAME",
        help=f"Environment of those manifests (stagecfg --env); replaces the ini's {_ENV}.",
    )
    parser.addini(
        _MANIFESTS,
        "stagecfg manifests (files or directories, relative to this file) the stream_emulator "
        "fixtures start from.",
        type="paths",
        default=[],
    )
    parser.addini(_ENV, "Environment of stream_emulator_manifests (stagecfg --env).", default="")


def _manifests(config: pytest.Config) -> list[str]:
    """The configured manifests: the command line's (relative to where pytest was started), or
    else the ini file's (relative to it); shown relative to the current directory when inside
    it, so a problem reads ``stagecfg/shows.yaml:4:5`` as on the command line."""
    base = config.invocation_params.dir
    given: list[str] = config.getoption("--stream-emulator-load")
    configured: list[Path] = config.getini(_MANIFESTS)
    paths = [base / p for p in given] if given else configured
    here = Path.cwd()
    return [
        os.fspath(p.relative_to(here)) if p.is_relative_to(here) else os.fspath(p) for p in paths
    ]


def _env(config: pytest.Config) -> str | None:
    given: str | None = config.getoption("--stream-emulator-env")
    configured: str = config.getini(_ENV)
    return given or configured.strip() or None


def _start(request: pytest.FixtureRequest, name: str) -> StreamEmulator:
    from stagecfg.testing.handle import StreamEmulator

    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    config = request.config
    return StreamEmulator.start(
        factory.mktemp(name), manifests=_manifests(config), env=_env(config)
    )


@pytest.fixture(scope="session")
def stream_emulator_session(request: pytest.FixtureRequest) -> Iterator[StreamEmulator]:
    """A Stream emulator shared by the whole session, seeded once and never reset for you."""
    emulator = _start(request, "stream-emulator-session")
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def _stream_emulator_server(request: pytest.FixtureRequest) -> Iterator[StreamEmulator]:
    emulator = _start(request, "stream-emulator")
    yield emulator
    emulator.stop()


@pytest.fixture
def stream_emulator(_stream_emulator_server: StreamEmulator) -> Iterator[StreamEmulator]:
    """A Stream emulator reset before this test to the configured manifests (or an empty app)."""
    _stream_emulator_server.reset()
    yield _stream_emulator_server
    _stream_emulator_server.close_clients()
