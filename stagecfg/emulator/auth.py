"""Who is calling: the API key, the JWT (server-side or user token) and Stream's codes for each
way they can be wrong.

Verified tokens are cached, because SDKs send the same token on every request and an HS256 check
per request would cost more than the engine call behind it. Expiry is still checked on every
request against the cached claims, so a cached token stops working the moment it expires.
"""

from __future__ import annotations

import time
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from starlette.requests import Request

from stagecfg.model import Json
from stagecfg.sandbox.apierror import (
    CODE_API_KEY,
    CODE_AUTH,
    CODE_NOT_ALLOWED,
    CODE_TOKEN_EXPIRED,
    CODE_TOKEN_IAT_FUTURE,
    CODE_TOKEN_NOT_VALID_YET,
    CODE_TOKEN_SIGNATURE,
    StreamAPIError,
    failed_message,
)

# Stream issues app secrets of its own choosing; their length is not ours to judge per request.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

#: Verified tokens kept; the cache is simply emptied when full (a test run uses a handful).
TOKEN_CACHE_SIZE = 4096

#: Stream's code and message per JWT failure, most specific first (later ones are base classes).
_TOKEN_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], int, str], ...] = (
    (jwt.ExpiredSignatureError, CODE_TOKEN_EXPIRED, "token is expired"),
    (jwt.ImmatureSignatureError, CODE_TOKEN_NOT_VALID_YET, "token is not valid yet"),
    (jwt.InvalidSignatureError, CODE_TOKEN_SIGNATURE, "token signature is invalid"),
    (jwt.InvalidIssuedAtError, CODE_TOKEN_IAT_FUTURE, "token used before issue at (iat)"),
    (jwt.InvalidTokenError, CODE_AUTH, "token is not a valid JWT"),
)


class Authenticator:
    """Checks requests against one app's API key and secret, caching verified tokens."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.tokens: dict[str, Json] = {}

    def authenticate(self, request: Request, operation: str) -> Json:
        """The verified JWT claims of a request, or a StreamAPIError with Stream's code."""
        if request.query_params.get("api_key") != self.api_key:
            raise StreamAPIError(401, CODE_API_KEY, failed_message(operation, "api_key not valid"))
        token = request.headers.get("authorization", "")
        if token[:7].lower() == "bearer ":
            token = token[7:]
        if not token:
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "Authorization header missing")
            )
        if request.headers.get("stream-auth-type", "").lower() != "jwt":
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "Stream-Auth-Type header must be jwt")
            )
        claims = self.tokens.get(token)
        if claims is None:
            claims = self._verify(token, operation)
            if len(self.tokens) >= TOKEN_CACHE_SIZE:
                self.tokens.clear()
            self.tokens[token] = claims
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= time.time():
            raise StreamAPIError(
                401, CODE_TOKEN_EXPIRED, failed_message(operation, "token is expired")
            )
        return claims

    def _verify(self, token: str, operation: str) -> Json:
        try:
            claims = jwt.decode(
                token,
                self.api_secret,
                algorithms=["HS256"],
                options={"verify_aud": False, "verify_sub": False, "verify_jti": False},
            )
        except jwt.InvalidTokenError as exc:
            code, text = next((c, t) for kind, c, t in _TOKEN_ERRORS if isinstance(exc, kind))
            raise StreamAPIError(401, code, failed_message(operation, text)) from None
        if not isinstance(claims, dict):
            raise StreamAPIError(
                401, CODE_AUTH, failed_message(operation, "token is not a valid JWT")
            )
        return claims


def user_token_refused(operation: str) -> StreamAPIError:
    """Stream's 403 code 17 for a user token (one with a ``user_id`` claim; server-side tokens
    have none) on an endpoint that only server-side tokens may call."""
    return StreamAPIError(
        403,
        CODE_NOT_ALLOWED,
        failed_message(operation, "this endpoint needs a server-side token, not a user token"),
    )
