""":class:`StreamEmulator`: a running emulator as a test sees it, with its helpers.

The emulator runs in a thread of the test process (``stagecfg.emulator.server.run_in_thread``),
not in a subprocess: it starts in milliseconds on a port it binds itself (no race for a free
port), nothing outlives the test run even when pytest is killed (a daemon thread), and
:meth:`~StreamEmulator.reset` can restore the sandbox in-process, in one SQLite step, instead of
over HTTP. The cost is sharing the interpreter with the test, which the emulator's short,
non-blocking handlers keep small.

Every module that pulls in uvicorn, the sandbox or the manifest pipeline is imported inside the
methods, so importing this module (which pytest does for every project that has stagecfg
installed) stays cheap.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from stagecfg.emulator.server import EmulatorHandle

#: Seconds the emulator has to answer its health check after it started listening.
START_TIMEOUT_S = 20.0
#: Seconds its thread has to finish after being told to stop.
STOP_TIMEOUT_S = 15.0

PathLike = str | os.PathLike[str]


class StreamEmulatorWarning(UserWarning):
    """A manifest warning while seeding (what ``stagecfg validate`` reports with exit 0)."""


def _fail(message: str) -> NoReturn:
    """Fail the test with ``message`` alone: a located manifest error needs no traceback."""
    import pytest

    from stagecfg.redact import mask_text

    pytest.fail(mask_text(message), pytrace=False)


def _paths(paths: tuple[PathLike | Iterable[PathLike], ...]) -> list[str]:
    """``load("a.yaml", "dir")`` and ``load(["a.yaml", "dir"])`` alike."""
    flat: list[str] = []
    for item in paths:
        if isinstance(item, (str, os.PathLike)):
            flat.append(os.fspath(item))
        else:
            flat.extend(os.fspath(p) for p in item)
    return flat


class StreamEmulator:
    """An emulator serving a fresh sandbox on 127.0.0.1, for Stream's SDKs or your own client.

    ``base_url``, ``api_key`` and ``api_secret`` are what ``getstream.Stream(api_key=...,
    api_secret=..., base_url=...)`` takes (:meth:`client` makes one).
    """

    def __init__(self, handle: EmulatorHandle, directory: Path) -> None:
        self._handle = handle
        self._directory = directory
        self._empty = directory / "empty.db"
        self._baseline = self._empty
        self._clients: list[Any] = []  # made by client(), closed by close_clients()

    # --- starting and stopping --------------------------------------------------------------

    @classmethod
    def start(
        cls,
        directory: PathLike,
        *,
        manifests: Iterable[PathLike] = (),
        env: str | None = None,
    ) -> StreamEmulator:
        """Start an emulator on a new sandbox in ``directory``, seeded from ``manifests``.

        What it holds after seeding is the state :meth:`reset` returns to.
        """
        from stagecfg.emulator.server import run_in_thread

        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        handle = run_in_thread(folder / "sandbox.db", port=0)
        emulator = cls(handle, folder)
        try:
            emulator._wait_healthy()
            handle.emulator.engine.snapshot(emulator._empty)
            paths = list(manifests)
            if paths:
                emulator.load(paths, env=env)
                # The seed is the app as it already was: its events are not the tests' to see.
                handle.emulator.engine.reset_events()
                emulator._baseline = folder / "baseline.db"
                handle.emulator.engine.snapshot(emulator._baseline)
            emulator._clear_logs()
        except BaseException:
            emulator.stop()
            raise
        return emulator

    def _wait_healthy(self) -> None:
        import urllib.error
        import urllib.request

        url = f"{self.base_url}/_emulator/health"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the Stream emulator at {self.base_url} did not answer its health check "
                    f"within {START_TIMEOUT_S:.0f} s"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and close the sandbox; raises if its thread would not finish."""
        self.close_clients()
        self._handle.stop()
        if self._handle.thread.is_alive():
            raise RuntimeError(
                f"the Stream emulator at {self.base_url} did not stop within {STOP_TIMEOUT_S:.0f} s"
            )

    def __repr__(self) -> str:
        return f"StreamEmulator(base_url={self.base_url!r}, api_key={self.api_key!r})"

    # --- what a client needs ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._handle.url

    @property
    def api_key(self) -> str:
        return self._handle.api_key

    @property
    def api_secret(self) -> str:
        return self._handle.api_secret

    @property
    def sandbox_path(self) -> Path:
        """The SQLite file it serves (``stagecfg plan --sandbox PATH`` reads it too)."""
        return Path(self._handle.sandbox_path)

    def environ(self) -> dict[str, str]:
        """``STREAM_API_KEY``, ``STREAM_API_SECRET`` and ``STREAM_BASE_URL`` for this emulator,
        for an app that reads its settings from the environment (``monkeypatch.setenv``).

        getstream 7.0.0's ``Stream()`` reads ``STREAM_BASE_URL`` only when given
        ``base_url=None``; without it, it would talk to Stream's real API."""
        return {
            "STREAM_API_KEY": self.api_key,
            "STREAM_API_SECRET": self.api_secret,
            "STREAM_BASE_URL": self.base_url,
        }

    def client(self, **options: Any) -> Any:
        """A ``getstream.Stream`` client for this emulator (``options`` go to its constructor).

        It is closed with :meth:`close_clients`: when the test ends (``stream_emulator``) or the
        session does (``stream_emulator_session``), so no connection outlives its test.
        """
        try:
            from getstream import Stream
        except ImportError:
            Stream = None
        if Stream is None:
            _fail(
                "stream_emulator.client() needs Stream's Python SDK: pip install getstream "
                "(or make your own client from base_url, api_key and api_secret)"
            )
        made = Stream(
            api_key=self.api_key, api_secret=self.api_secret, base_url=self.base_url, **options
        )
        self._clients.append(made)
        return made

    def close_clients(self) -> None:
        """Close every client :meth:`client` made (their pooled connections)."""
        clients, self._clients = self._clients, []
        for made in clients:
            made.close()

    # --- state ------------------------------------------------------------------------------

    def load(
        self,
        *paths: PathLike | Iterable[PathLike],
        env: str | None = None,
        variables: dict[str, str] | None = None,
        var_files: Iterable[PathLike] = (),
    ) -> int:
        """Apply stagecfg manifests (files or directories) to the emulator's app, as
        ``stagecfg apply --auto-approve`` would; the number of changes applied.

        ``env``, ``variables`` and ``var_files`` are ``--env``, ``--var`` and ``--var-file``.
        Relative paths are read from the current directory. Invalid manifests fail the test
        with each problem at its ``file:line:col``; warnings become
        :class:`StreamEmulatorWarning`. Seeding goes to the sandbox directly, so the request
        log and the stats do not show it; the events Stream would send for the changes are in
        :meth:`events` (those of the configured manifests, loaded at start, are not).
        """
        from stagecfg import pipeline
        from stagecfg.backends.local import open_backend
        from stagecfg.errors import ApplyFailed, ManifestError, StagecfgError
        from stagecfg.manifest import Selection, VariableInput
        from stagecfg.validation import load_desired

        given = _paths(paths)
        if not given:
            _fail("stream_emulator.load() needs at least one manifest file or directory")
        selection = Selection(
            environment=env,
            variables=tuple(VariableInput(k, v) for k, v in (variables or {}).items()),
            var_files=tuple(os.fspath(p) for p in var_files),
        )
        try:
            desired, problems = load_desired(given, selection=selection)
            for problem in problems:
                warnings.warn(problem.render(), StreamEmulatorWarning, stacklevel=2)
            backend = open_backend(sandbox_path=os.fspath(self.sandbox_path))
            try:
                return pipeline.apply_desired(backend, desired)
            finally:
                backend.close()
        except ManifestError as exc:
            failure = "\n".join(problem.render() for problem in exc.problems)
        except ApplyFailed as exc:
            failure = f"{exc}\n{exc.report_text}"
        except StagecfgError as exc:
            failure = f"stream_emulator.load({', '.join(given)}): {exc}"
        # Outside the except blocks: the test shows the problems, not a chain of exceptions.
        _fail(failure)

    def reset(self, *, empty: bool = False) -> None:
        """Back to the state it started with (the configured manifests, or an empty app with
        only Stream's built-in call types; ``empty=True``: that empty app), and empty the
        request log and the stats."""
        engine = self._handle.emulator.engine
        engine.restore(self._empty if empty else self._baseline)
        self._clear_logs()

    def _clear_logs(self) -> None:
        self._handle.reset_stats()
        self._handle.reset_requests()

    # --- what the app sent ------------------------------------------------------------------

    def requests(
        self,
        operation: str | Iterable[str] | None = None,
        *,
        since: int | str | datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The requests the emulator served, oldest first, as ``GET /_emulator/requests``
        lists them: ``seq``, ``time``, ``method``, ``path``, ``operation``, ``query``, ``body``,
        ``status``. ``operation``: only these operation ids (``"GoLive"``); ``since``: only
        after this ``seq``, or at or after this time."""
        from stagecfg.emulator.history import parse_filters
        from stagecfg.emulator.operations import OPERATIONS
        from stagecfg.sandbox.apierror import StreamAPIError

        query: dict[str, list[str]] = {}
        if operation is not None:
            query["operation"] = [operation] if isinstance(operation, str) else list(operation)
        if isinstance(since, datetime):
            from stagecfg import timestamps

            query["since"] = [timestamps.normalize(since) or ""]
        elif since is not None:
            query["since"] = [str(since)]
        problem: str | None = None
        try:
            filters = parse_filters(query, {op.operation_id for op in OPERATIONS})
        except StreamAPIError as exc:
            problem = exc.message
        if problem is not None:
            _fail(f"stream_emulator.requests(): {problem}")
        entries: list[dict[str, Any]] = self._handle.emulator.history.body(filters)["requests"]
        return entries

    def events(
        self,
        types: str | Iterable[str] | None = None,
        *,
        call_cid: str | None = None,
        since: int = 0,
    ) -> list[dict[str, Any]]:
        """The events Stream would have sent (webhooks), oldest first, as ``GET
        /_emulator/events`` lists them: ``{"id": N, "event": {"type": "call.live_started",
        ...}}``. ``types``: only these event types; ``call_cid``: only this call's; ``since``:
        only after this id."""
        from stagecfg.sandbox.apierror import StreamAPIError
        from stagecfg.sandbox.events import MAX_READ

        wanted = [types] if isinstance(types, str) else list(types or ())
        engine = self._handle.emulator.engine
        found: list[dict[str, Any]] = []
        problem: str | None = None
        try:
            while True:  # pages of MAX_READ; each page moves on, and the log is finite
                page = engine.query_events(
                    types=wanted, call_cid=call_cid, since=since, limit=MAX_READ
                )["events"]
                found.extend(page)
                if len(page) < MAX_READ:
                    break
                since = page[-1]["id"]
        except StreamAPIError as exc:
            problem = exc.message
        if problem is not None:
            _fail(f"stream_emulator.events(): {problem}")
        return found

    def stats(self) -> dict[str, Any]:
        """Request counts by operation id and method, as ``GET /_emulator/stats`` reports."""
        return self._handle.stats()
