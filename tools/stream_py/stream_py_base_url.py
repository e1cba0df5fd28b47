"""A pytest plugin for the fidelity gate: make Stream's Python SDK honour STREAM_BASE_URL.

The SDK documents that ``Stream()`` and ``AsyncStream()`` fall back to the STREAM_BASE_URL
environment variable, but its constructor's ``base_url`` parameter defaults to the production
URL rather than to None, so the fallback never happens and an SDK test suite run with
STREAM_BASE_URL set still talks to production. This plugin (``-p stream_py_base_url``, with
this folder on PYTHONPATH) wraps their shared constructor so that an omitted ``base_url`` means
STREAM_BASE_URL. An explicit ``base_url`` is left alone.
"""

from __future__ import annotations

import functools
import os
from typing import Any


def _honour_environment(cls: type) -> None:
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        url = os.environ.get("STREAM_BASE_URL")
        # base_url is the fourth positional parameter (api_key, api_secret, timeout, base_url).
        if url and len(args) < 4 and "base_url" not in kwargs:
            kwargs["base_url"] = url
        original(self, *args, **kwargs)

    cls.__init__ = init  # type: ignore[misc]


def pytest_configure(config: Any) -> None:
    # Stream and AsyncStream share BaseStream's constructor.
    from getstream.stream import BaseStream

    _honour_environment(BaseStream)
