"""Shared fixtures and guards.

Autouse guards keep tests honest: no test reads the developer's real environment for Stream
credentials, writes into the home directory, or opens a socket to anything but loopback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _find_openapi_dir() -> Path:
    """Stream's OpenAPI spec lives beside the project (``../shared/openapi``), never inside it.

    ``STAGECFG_OPENAPI_DIR`` overrides the place, for clones that do not sit next to ``shared/``.
    """
    candidates = [
        Path(os.environ.get("STAGECFG_OPENAPI_DIR") or "/nonexistent"),
        REPO_ROOT.parent / "shared" / "openapi",
        Path("/work/shared/openapi"),
    ]
    for candidate in candidates:
        if (candidate / "video-serverside-api.json").is_file():
            return candidate
    return REPO_ROOT.parent / "shared" / "openapi"


OPENAPI_DIR = _find_openapi_dir()

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real credentials, no real home directory, no colour surprises."""
    for name in (
        "STREAM_API_KEY",
        "STREAM_API_SECRET",
        "STREAM_BASE_URL",
        "STAGECFG_BACKEND",
        "STAGECFG_SANDBOX",
        "STAGECFG_PROJECT",
        "STAGECFG_ENV",
        "NO_COLOR",
        "GITHUB_ACTIONS",
        # A test run inside GitHub Actions must not comment on a real pull request.
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_EVENT_PATH",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_SHA",
        "GITHUB_REF_NAME",
        "GITHUB_SERVER_URL",
        "GITHUB_RUN_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("STAGECFG_VAR_")]:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test tries to reach anything but 127.0.0.1."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and address and address[0] not in _LOOPBACK:
            raise AssertionError(f"test tried to reach a non-loopback address: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
