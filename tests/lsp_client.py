"""A small Language Server Protocol client over stdio: JSON-RPC frames, bounded reads, timeouts.

It speaks to a real language server subprocess (yaml-language-server in the tests). A reader
thread turns stdout into messages; every wait has a deadline, every frame a size limit.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

MAX_FRAME = 8 * 1024 * 1024  # a completion list of the whole schema is well under 1 MiB
MAX_HEADER_LINE = 1024


class LspError(Exception):
    pass


def _read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    length = None
    while True:
        line = stream.readline(MAX_HEADER_LINE)
        if not line:
            return None  # the server closed its output
        if not line.endswith(b"\n"):
            raise LspError(f"header line longer than {MAX_HEADER_LINE} bytes")
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None or not 0 <= length <= MAX_FRAME:
        raise LspError(f"bad Content-Length {length}")
    body = stream.read(length)
    if len(body) != length:
        return None
    message: Any = json.loads(body)
    if not isinstance(message, dict):
        raise LspError("a frame that is not a JSON object")
    return message


class LspClient:
    def __init__(
        self, command: Sequence[str], settings: dict[str, Any], *, timeout: float = 30.0
    ) -> None:
        self.timeout = timeout
        self.settings = settings
        self._proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        try:
            while (message := _read_frame(self._proc.stdout)) is not None:
                self._inbox.put(message)
        except (LspError, ValueError):
            pass
        self._inbox.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self._proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def _answer(self, message: dict[str, Any]) -> None:
        # Requests from the server: configuration gets our settings, the rest a plain null.
        result: Any = None
        if message["method"] == "workspace/configuration":
            items = message.get("params", {}).get("items", [])
            result = [self.settings.get(item.get("section"), None) for item in items]
        self._send({"id": message["id"], "result": result})

    def wait_for(self, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first message ``accept`` takes, answering server requests meanwhile."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LspError(f"no expected message within {self.timeout} s")
            try:
                message = self._inbox.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise LspError("the server closed its output")
            if "method" in message and "id" in message:
                self._answer(message)
            elif "method" in message:
                self.notifications.append(message)
            if accept(message):
                return message

    def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        ident = self._next_id
        self._send({"id": ident, "method": method, "params": params})
        answer = self.wait_for(lambda m: m.get("id") == ident and "method" not in m)
        if "error" in answer:
            raise LspError(f"{method}: {answer['error']}")
        return answer.get("result")

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self._proc.wait(timeout=5)
        except (LspError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(timeout=5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
