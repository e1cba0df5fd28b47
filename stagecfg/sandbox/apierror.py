"""Stream's wire-level error: what the API answers when it refuses a request.

It deliberately does not derive from :class:`stagecfg.errors.StagecfgError`: it is a response
body, not a user-facing error. Backends translate it into :class:`stagecfg.errors.BackendError`;
the emulator serialises it with :meth:`StreamAPIError.to_body`.
"""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://getstream.io/chat/docs/api_errors_response"

#: Stream error codes (reference section 4; HTTP status in the comment).
CODE_INTERNAL = -1  # 500
CODE_API_KEY = 2  # 401
CODE_INPUT = 4  # 400
CODE_AUTH = 5  # 401
CODE_RATE_LIMIT = 9  # 429
CODE_NOT_FOUND = 16  # 404
CODE_NOT_ALLOWED = 17  # 403
CODE_TOO_LARGE = 22  # 413
CODE_TOKEN_EXPIRED = 40  # 401
CODE_TOKEN_NOT_VALID_YET = 41  # 401
CODE_TOKEN_IAT_FUTURE = 42  # 401
CODE_TOKEN_SIGNATURE = 43  # 401


class StreamAPIError(Exception):
    """A refusal in Stream's terms: HTTP status, Stream code and Stream's message text."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}  # extra response headers, e.g. Retry-After on a 429

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


def failed_message(operation: str, detail: str) -> str:
    """Stream's message format: ``GetCall failed with error: "Can't find call ..."``."""
    return f'{operation} failed with error: "{detail}"'


def input_error(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(400, CODE_INPUT, failed_message(operation, detail))


def not_found(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(404, CODE_NOT_FOUND, failed_message(operation, detail))


def not_allowed(operation: str, detail: str) -> StreamAPIError:
    return StreamAPIError(403, CODE_NOT_ALLOWED, failed_message(operation, detail))
