"""Translate SDK exceptions into ``orchestrator.errors`` at the provider boundary.

Flow: every provider call that reaches the network runs inside ``translating(resource)``; the
executor only ever sees ``TemporaryError`` (retry, after ``delay`` when the target said how long),
``PermanentError`` (stop this node, skip its dependants) or ``TargetError`` (cannot authenticate).

Mapping (azure-core ``HttpResponseError``, kiota ``APIError``/``ODataError``, transport errors):

    429                          -> TemporaryError(delay = retry-after-ms / Retry-After)
    5xx                          -> TemporaryError(delay from the same headers when present)
    409 (APIM / ARM conflict)    -> TemporaryError, except a soft-deleted name or a global name
                                    taken by someone else (PermanentError: waiting frees neither)
    404 when ``replication``     -> TemporaryError (Entra: a just-created object is not visible yet)
    400 PrincipalNotFound        -> TemporaryError (ARM: a new identity is not replicated yet)
    400 InvalidParameterValueInContainerTemplate with ACR's UNAUTHORIZED
                                 -> NotInEffectError (the registry identity's AcrPull is propagating)
    401                          -> TargetError (credentials)
    other 4xx (400, 403, 404...) -> PermanentError("<code>: <message>")
    connection / timeout         -> TemporaryError

Messages carry the Azure error code and message and the resource name, never a request body;
and the error's ``details`` (``target: message`` each), where the cause often is: APIM answers
every validation failure as "One or more fields contain incorrect values:" and names the property
and the reason only in ``details`` (e.g. Azure/apiops#697: target ``path``, "Cannot create API ...
with the same Path ..."); ARM's ``InvalidRequestContent`` and Graph's errors carry details too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from orchestrator.errors import NotInEffectError, PermanentError, PrmlabError, TargetError, TemporaryError
from orchestrator.retry import RBAC_PROPAGATION_LIMIT_S, retry_delay

__all__ = ["classify", "redact", "redact_text", "retry_delay", "status_of", "translate", "translating"]

# ARM error codes for a name held by a soft-deleted APIM service: waiting will not help, a purge will.
_SOFT_DELETED_CODES = frozenset({"ServiceAlreadyExistsInSoftDeletedState", "ServiceSoftDeleted"})
# ARM error codes for a global name (DNS name) held elsewhere in Azure: retrying cannot free it.
# Registries: AlreadyInUse "The registry DNS name X.azurecr.io is already in use" (Azure/azure-cli#13951);
# storage: StorageAccountAlreadyTaken; API Management: ServiceAlreadyExists (emulator.arm.names).
_NAME_TAKEN_CODES = frozenset({"AlreadyInUse", "StorageAccountAlreadyTaken", "ServiceAlreadyExists"})
# Container Apps refuses a revision whose image its registry identity may not pull yet with ACR's
# token refusal inside a 400 (emulator/arm/image_pull.py cites the wording).
_PULL_REFUSED_CODE = "InvalidParameterValueInContainerTemplate"
_PULL_REFUSED_TEXT = "UNAUTHORIZED: authentication required"
PULL_WAITS_FOR = (
    "the container app's registry identity to be allowed to pull (its AcrPull role assignment "
    "taking effect: Azure RBAC propagation)"
)
# 400s that mean "not replicated yet": a just-created identity is not visible to ARM for seconds.
_REPLICATION_CODES = frozenset({"PrincipalNotFound"})


def classify(
    resource: str,
    status: int | None,
    code: str | None,
    message: str | None,
    headers: Any,
    *,
    replication: bool = False,
) -> PrmlabError:
    """The error to raise for one failed HTTP exchange (pure: unit-tested as a table)."""
    code = code or "Unknown"
    text = f"{code}: {message}" if message else code
    if status is None:
        return TemporaryError(resource, f"no response from the target ({text})")
    detail = f"HTTP {status} {text}"
    if status == 429:
        return TemporaryError(resource, f"throttled ({detail})", delay=retry_delay(headers))
    if status >= 500:
        return TemporaryError(resource, detail, delay=retry_delay(headers))
    if status == 409:
        if code in _SOFT_DELETED_CODES:
            return PermanentError(resource, f"{detail} (purge the soft-deleted service or pick another name)")
        if code in _NAME_TAKEN_CODES:
            return PermanentError(
                resource,
                f"{detail} (the name is global and taken: choose another in lab.yaml, or leave it out)",
            )
        return TemporaryError(resource, f"conflict ({detail})", delay=retry_delay(headers))
    if status == 400 and code == _PULL_REFUSED_CODE and _PULL_REFUSED_TEXT in (message or ""):
        # bounded by Azure's documented propagation time (orchestrator.retry.RBAC_PROPAGATION_LIMIT_S)
        return NotInEffectError(resource, detail, PULL_WAITS_FOR, RBAC_PROPAGATION_LIMIT_S)
    if status == 400 and code in _REPLICATION_CODES:
        return TemporaryError(resource, f"not visible yet, directory replication ({detail})", delay=2.0)
    if status == 404 and replication:
        return TemporaryError(resource, f"not visible yet, directory replication ({detail})", delay=1.0)
    if status == 401:
        return TargetError(f"{resource}: the target refused our credentials ({detail})")
    return PermanentError(resource, detail)


def with_details(message: str | None, details: Any) -> str | None:
    """``message`` followed by each of ``details`` as ``target: message`` (azure-core's
    ``ODataV4Format.details``, kiota's ``MainError.details``); a detail that repeats the message
    or says nothing is left out."""
    parts: list[str] = []
    for detail in details or ():
        text = getattr(detail, "message", None)
        if not text or text == message:
            continue
        target = getattr(detail, "target", None)
        part = f"{target}: {text}" if target else str(text)
        if part not in parts:
            parts.append(part)
    if not parts:
        return message
    return f"{message} {'; '.join(parts)}" if message else "; ".join(parts)


def translate(exc: BaseException, resource: str, *, replication: bool = False) -> PrmlabError | None:
    """The ``orchestrator.errors`` equivalent of an SDK/transport exception, or None if foreign."""
    if isinstance(exc, PrmlabError):
        return exc
    try:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )
    except ImportError:  # pragma: no cover - the SDK is a hard dependency
        return None
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        from orchestrator.credentials import explain

        return explain(exc)  # the target, not this resource: short, with the fix (az login)
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None)
        message = with_details(getattr(error, "message", None) or exc.reason, getattr(error, "details", None))
        headers = getattr(exc.response, "headers", None)
        status = exc.status_code
        if status is None:  # raised by the SDK's error map without a response
            for cls, implied in (
                (ResourceNotFoundError, 404),
                (ResourceExistsError, 409),
                (ResourceModifiedError, 412),
            ):
                if isinstance(exc, cls):
                    status = implied
        return classify(resource, status, code, message, headers, replication=replication)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return TemporaryError(resource, f"cannot reach the target ({type(exc).__name__})")
    try:
        from kiota_abstractions.api_error import APIError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, APIError):
        main = getattr(exc, "error", None)
        code = getattr(main, "code", None)
        message = with_details(getattr(main, "message", None) or exc.message, getattr(main, "details", None))
        return classify(
            resource, exc.response_status_code, code, message, exc.response_headers, replication=replication
        )
    import httpx

    if isinstance(exc, httpx.TransportError):
        return TemporaryError(resource, f"cannot reach the target ({type(exc).__name__})")
    try:
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, CredentialUnavailableError):
        from orchestrator.credentials import explain

        return explain(exc)
    return None


@contextmanager
def translating(resource: str, *, replication: bool = False, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Re-raise SDK exceptions raised inside the block as ``orchestrator.errors``.

    ``secrets``: values written inside the block; a target that echoes one in its error message
    (a validation error quoting the value) gets it replaced by ``(sensitive)``.
    """
    try:
        yield
    except PrmlabError:
        raise
    except Exception as exc:
        mapped = translate(exc, resource, replication=replication)
        if mapped is None:
            raise
        raise redact(mapped, secrets) from exc


def redact(error: PrmlabError, secrets: Iterable[str]) -> PrmlabError:
    """``error`` with every secret value in its message replaced by ``(sensitive)``."""
    message = error.message
    for value in secrets:
        if len(value) >= 4:  # shorter strings would blank out ordinary words
            message = message.replace(value, "(sensitive)")
    if message != error.message:
        error.message = message
        error.args = (message,)
        if hasattr(error, "cause"):
            error.cause = redact_text(error.cause, secrets)
    return error


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if len(value) >= 4:
            text = text.replace(value, "(sensitive)")
    return text


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK exception (None when it is not an HTTP error)."""
    status = getattr(exc, "status_code", None)
    if status is None and type(exc).__name__ == "ResourceNotFoundError":
        return 404
    if status is None:
        status = getattr(exc, "response_status_code", None)
    return status if isinstance(status, int) else None
