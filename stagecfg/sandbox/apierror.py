"""Stream's wire-level error: what the API answers when it refuses a request.

It deliberately does not derive from :class:`stagecfg.errors.StagecfgError`: it is a response
body, not a user-facing error. Backends translate it into :class:`stagecfg.errors.BackendError`;
the emulator serialises it with :meth:`StreamAPIError.to_body`.
"""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://getstream.io/chat/docs/api_errors_response"

#: Stream error codes used by the sandbox (HTTP status in the comment).
CODE_INPUT = 4  # 400
CODE_NOT_FOUND = 16  # 404
CODE_NOT_ALLOWED = 17  # 403


class StreamAPIError(Exception):
    """A refusal in Stream's terms: HTTP status, Stream code and Stream's message text."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_body(self) -> dict[str, Any]:
        """The APIError response body, without ``duration`` (the HTTP layer adds it)."""
        return {
            "code": self.code,
            "message": self.message,
            "StatusCode": self.status,
            "more_info": MORE_INFO,
            "details": [],
            "exception_fields": {},
            "unrecoverable": False,
        }


def _format(operation: str, detail: str) -> str:
    return f'{operation} failed with error: "{detail}"'


def input_error(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(400, CODE_INPUT, _format(operation, detail))


def not_found(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(404, CODE_NOT_FOUND, _format(operation, detail))


def not_allowed(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(403, CODE_NOT_ALLOWED, _format(operation, detail))
