"""JWT helpers every sub-app may use (ground floor): reading a token without verifying it.

Where it sits: the identity service verifies the tokens it issued (``emulator.identity``'s
``verify_token``); before that, a sub-app may need a token's header or claims to route or to
answer with the right error (the Table service tells a malformed token from a rejected one).
``TokenValidationError`` is the one failure every token check raises, with a short ``reason``.
Nothing here checks a signature: never trust what these return. ``is_numeric_date`` is the
claim-type rule every verifier applies to ``exp``/``nbf``/``iat``.
"""

from __future__ import annotations

from typing import Any

import jwt


def is_numeric_date(value: Any) -> bool:
    """RFC 7519 section 2: a NumericDate is a JSON number (``true`` is not one, though Python
    calls it an int; nor is a string of digits)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class TokenValidationError(Exception):
    """A token failed verification; ``reason`` is a short machine-friendly word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # malformed | algorithm | unknown_key | signature | issuer | expired |
        # not_yet_valid | audience | tenant


def unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenValidationError("malformed", f"token is not a well-formed JWT: {exc}") from exc


def unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenValidationError("malformed", f"token is not a well-formed JWT: {exc}") from exc
    return claims
