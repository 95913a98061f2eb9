"""Translation of SDK errors into ``orchestrator.errors`` (tables, real exception classes)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from msgraph.generated.models.o_data_errors.error_details import ErrorDetails
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from orchestrator.errors import NotInEffectError, PermanentError, PrmlabError, TargetError, TemporaryError
from orchestrator.providers.errors import (
    classify,
    retry_delay,
    translate,
    translating,
)
from orchestrator.retry import RBAC_PROPAGATION_LIMIT_S

CASES: list[tuple[str, int, str, dict[str, str], dict[str, Any], type[PrmlabError], float | None]] = [
    ("429 retry-after-ms", 429, "TooManyRequests", {"retry-after-ms": "1500"}, {}, TemporaryError, 1.5),
    ("429 Retry-After", 429, "TooManyRequests", {"Retry-After": "7"}, {}, TemporaryError, 7.0),
    (
        "429 x-ms-retry-after-ms",
        429,
        "TooManyRequests",
        {"x-ms-retry-after-ms": "250"},
        {},
        TemporaryError,
        0.25,
    ),
    ("429 no hint", 429, "TooManyRequests", {}, {}, TemporaryError, None),
    ("500", 500, "InternalServerError", {}, {}, TemporaryError, None),
    ("503 with hint", 503, "ServiceUnavailable", {"Retry-After": "2"}, {}, TemporaryError, 2.0),
    ("APIM 409", 409, "PreconditionFailed", {}, {}, TemporaryError, None),
    ("soft-deleted name", 409, "ServiceAlreadyExistsInSoftDeletedState", {}, {}, PermanentError, None),
    ("registry name taken", 409, "AlreadyInUse", {}, {}, PermanentError, None),
    ("storage name taken", 409, "StorageAccountAlreadyTaken", {}, {}, PermanentError, None),
    ("APIM name taken", 409, "ServiceAlreadyExists", {}, {}, PermanentError, None),
    ("replication 404", 404, "Request_ResourceNotFound", {}, {"replication": True}, TemporaryError, 1.0),
    ("plain 404", 404, "ResourceNotFound", {}, {}, PermanentError, None),
    ("400", 400, "ValidationError", {}, {}, PermanentError, None),
    ("principal not replicated", 400, "PrincipalNotFound", {}, {}, TemporaryError, 2.0),
    ("403", 403, "AuthorizationFailed", {}, {}, PermanentError, None),
    ("401", 401, "InvalidAuthenticationToken", {}, {}, TargetError, None),
]


@pytest.mark.parametrize(
    ("why", "status", "code", "headers", "kw", "expected", "delay"), CASES, ids=[c[0] for c in CASES]
)
def test_classify(
    why: str,
    status: int,
    code: str,
    headers: dict[str, str],
    kw: dict[str, Any],
    expected: type[PrmlabError],
    delay: float | None,
) -> None:
    error = classify("api.mcp", status, code, "the message", headers, **kw)
    assert type(error) is expected, why
    assert "api.mcp" in error.message
    if isinstance(error, TemporaryError):
        assert error.delay == delay
    if expected is PermanentError:
        assert f"{code}: the message" in error.message


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert retry_delay({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_delay({"Retry-After": "soon"}) is None
    assert retry_delay(None) is None


class _Response:
    """The part of an azure-core response that ``HttpResponseError`` reads."""

    def __init__(self, status: int, body: str, headers: dict[str, str]) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = headers
        self._body = body
        self.request = None
        self.content_type = "application/json"

    def text(self, encoding: str | None = None) -> str:
        return self._body

    def body(self) -> bytes:
        return self._body.encode()


def _arm_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[dict[str, str]] | None = None,
) -> HttpResponseError:
    from azure.mgmt.core.exceptions import ARMErrorFormat

    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    body = json.dumps({"error": error})
    return HttpResponseError(response=_Response(status, body, headers or {}), error_format=ARMErrorFormat)


def test_translate_azure_core_errors() -> None:
    throttled = translate(_arm_error(429, "TooManyRequests", "slow down", {"retry-after-ms": "300"}), "nv.X")
    assert isinstance(throttled, TemporaryError)
    assert throttled.delay == 0.3
    bad = translate(_arm_error(400, "ValidationError", "path is invalid"), "api.mcp")
    assert isinstance(bad, PermanentError)
    assert "ValidationError: path is invalid" in bad.message
    assert bad.resource == "api.mcp"
    missing = translate(ResourceNotFoundError("gone"), "api.mcp")
    assert isinstance(missing, PermanentError)
    unreachable = translate(ServiceRequestError("connection refused"), "api.mcp")
    assert isinstance(unreachable, TemporaryError)


def test_the_cause_in_azure_error_details_is_reported() -> None:
    """APIM names the property and the reason only in ``details`` (Azure/apiops#697)."""
    same_path = (
        "Cannot create API 'tools' with the same Path 'shared' as API 'other'  unless it's a part of "
        "the same version set"
    )
    refused = translate(
        _arm_error(
            400,
            "ValidationError",
            "One or more fields contain incorrect values:",
            details=[{"code": "ValidationError", "target": "path", "message": same_path}],
        ),
        "api.tools",
    )
    assert isinstance(refused, PermanentError)
    assert refused.message == (
        f"api.tools: HTTP 400 ValidationError: One or more fields contain incorrect values: path: {same_path}"
    )
    repeated = _arm_error(400, "BadRequest", "bad", details=[{"code": "BadRequest", "message": "bad"}])
    assert translate(repeated, "x").message == "x: HTTP 400 BadRequest: bad"  # type: ignore[union-attr]
    graph = ODataError(
        error=MainError(
            code="Request_BadRequest",
            message="Invalid value.",
            details=[ErrorDetails(code="x", target="signInAudience", message="Value must be one of ...")],
        )
    )
    graph.response_status_code = 400
    mapped = translate(graph, "entra_app.mcp")
    assert mapped is not None
    assert (
        mapped.message
        == "entra_app.mcp: HTTP 400 Request_BadRequest: Invalid value. signInAudience: Value must be one of ..."
    )


def _odata(status: int, code: str, headers: dict[str, str] | None = None) -> ODataError:
    error = ODataError(error=MainError(code=code, message=f"{code} happened"))
    error.response_status_code = status
    error.response_headers = httpx.Headers(headers or {})
    return error


def test_translate_graph_errors() -> None:
    throttled = translate(_odata(429, "TooManyRequests", {"Retry-After": "3"}), "entra_app.mcp")
    assert isinstance(throttled, TemporaryError)
    assert throttled.delay == 3.0
    replicating = translate(
        _odata(404, "Request_ResourceNotFound"), "service_principal.mcp", replication=True
    )
    assert isinstance(replicating, TemporaryError)
    forbidden = translate(_odata(403, "Authorization_RequestDenied"), "entra_app.mcp")
    assert isinstance(forbidden, PermanentError)
    assert "Authorization_RequestDenied" in forbidden.message


def test_translate_transport_errors_and_foreign_ones() -> None:
    assert isinstance(translate(httpx.ConnectError("refused"), "x"), TemporaryError)
    assert translate(ValueError("mine"), "x") is None


def test_translating_chains_the_cause() -> None:
    original = _odata(503, "ServiceUnavailable")
    with pytest.raises(TemporaryError) as caught, translating("entra_app.mcp"):
        raise original
    assert caught.value.__cause__ is original
    with pytest.raises(ValueError, match="mine"), translating("x"):
        raise ValueError("mine")


def test_a_secret_echoed_by_the_target_is_redacted() -> None:
    echo = _arm_error(400, "ValidationError", "value 's3cret-value' is not allowed")
    with (
        pytest.raises(PermanentError) as caught,
        translating("named_value.Key", secrets=["s3cret-value", "ab"]),
    ):
        raise echo
    assert "s3cret-value" not in str(caught.value)
    assert "s3cret-value" not in caught.value.cause
    assert "(sensitive)" in caught.value.message


def test_an_image_pull_refused_by_the_registry_waits_for_the_role_to_take_effect() -> None:
    """Container Apps' 400 carrying ACR's UNAUTHORIZED (emulator/arm/image_pull.py): the
    identity's AcrPull is propagating -> probed again (bounded by Learn's 10 minutes); any other
    InvalidParameterValueInContainerTemplate stays permanent."""
    pulled = (
        "The following field(s) are either invalid or missing. Field 'template.containers.s.image' is "
        'invalid with details: \'Invalid value: "cr.azurecr.io/mcp-server:1": GET https://cr.azurecr.io/'
        "oauth2/token?scope=repository%3Amcp-server%3Apull&service=cr.azurecr.io: UNAUTHORIZED: "
        "authentication required, visit https://aka.ms/acr/authorization for more information.';."
    )
    error = classify("container_app.server", 400, "InvalidParameterValueInContainerTemplate", pulled, {})
    assert isinstance(error, NotInEffectError)
    assert error.limit == RBAC_PROPAGATION_LIMIT_S == 600.0
    assert "AcrPull" in error.waiting_for
    other = classify("container_app.server", 400, "InvalidParameterValueInContainerTemplate", "cpu", {})
    assert type(other) is PermanentError
