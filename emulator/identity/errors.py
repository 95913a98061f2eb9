"""Errors of the identity service in Entra's shape.

Where it sits: handlers raise ``EntraError``; the token and MSI endpoints turn it into Entra's
JSON body (``error``, ``error_description`` starting with the AADSTS code and ending with trace
and correlation ids and a timestamp, ``error_codes``, ``timestamp``, ``trace_id``,
``correlation_id``, ``error_uri``); the authorize endpoint either redirects it to a *validated*
redirect URI or, when the client or redirect URI cannot be trusted, renders an error page.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse


@dataclass(frozen=True)
class EntraError(Exception):
    error: str  # OAuth error code: invalid_grant, invalid_client, invalid_scope, ...
    code: int  # the AADSTS number
    message: str  # one sentence, without the AADSTS prefix
    status: int = 400
    suberror: str | None = None
    claims: str | None = None
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __str__(self) -> str:
        return f"AADSTS{self.code}: {self.message}"

    def description(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return (
            f"AADSTS{self.code}: {self.message} Trace ID: {self.trace_id} "
            f"Correlation ID: {self.correlation_id} Timestamp: {stamp}"
        )

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": self.description(),
            "error_codes": [self.code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        if self.claims:
            body["claims"] = self.claims
        return body

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


# Constructors for the errors used in more than one place.


def invalid_request(code: int, message: str) -> EntraError:
    return EntraError("invalid_request", code, message)


def invalid_grant(code: int, message: str, *, suberror: str | None = None) -> EntraError:
    return EntraError("invalid_grant", code, message, suberror=suberror)


def invalid_client(code: int, message: str) -> EntraError:
    return EntraError("invalid_client", code, message, status=401)


def invalid_scope(code: int, message: str) -> EntraError:
    return EntraError("invalid_scope", code, message)


def unauthorized_client(client_id: str, tenant: str) -> EntraError:
    return EntraError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant.",
        status=400,
    )


def consent_required(client_name: str, client_id: str) -> EntraError:
    """AADSTS65001 as Entra words it (the text Entra returns and MSAL's samples quote: "The user
    or administrator has not consented to use the application with ID '{appId}' named
    '{appName}'. Send an interactive authorization request for this user and resource.")."""
    return EntraError(
        "invalid_grant",
        65001,
        f"The user or administrator has not consented to use the application with ID '{client_id}' "
        f"named '{client_name}'. Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    )
