"""Parsing and URL rules of the verifier."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
import pytest

from orchestrator.retry import RetryPolicy
from orchestrator.verify.http import (
    ATTEMPTS,
    IdentityUnavailableError,
    RetryingTransport,
    RetryingTransport2,
    as_metadata_urls,
    parse_bearer_challenge,
)


def test_parse_bearer_challenge() -> None:
    header = 'Bearer error="invalid_token", resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp", scope="api://x/user_impersonate"'
    assert parse_bearer_challenge(header) == {
        "error": "invalid_token",
        "resource_metadata": "https://gw/.well-known/oauth-protected-resource/mcp",
        "scope": "api://x/user_impersonate",
    }
    assert parse_bearer_challenge('Basic realm="x"') is None
    assert parse_bearer_challenge(None) is None
    assert parse_bearer_challenge("Bearer realm=x") == {"realm": "x"}


def test_as_metadata_order_for_issuer_with_path() -> None:
    assert as_metadata_urls("https://login.example/tid/v2.0") == [
        "https://login.example/.well-known/oauth-authorization-server/tid/v2.0",
        "https://login.example/.well-known/openid-configuration/tid/v2.0",
        "https://login.example/tid/v2.0/.well-known/openid-configuration",
    ]
    assert as_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]


# ------------------------------------------------------------ transient answers (issue 17.6)

IDENTITY = "https://login.example"


class _Script:
    """A mock server answering a scripted list of (status, headers); records what it received."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, bytes]] = []

    def __call__(self, request: Any) -> Any:
        self.seen.append((str(request.url), request.read()))
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        module = httpx2 if type(request).__module__.startswith("httpx2") else httpx
        return module.Response(status, headers=headers, json={"status": status})


def _waits() -> tuple[list[float], Any]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return waits, sleep


@pytest.mark.anyio
async def test_identity_429_and_5xx_are_retried_honouring_retry_after() -> None:
    server = _Script((429, {"Retry-After": "2"}), (500, {}), (503, {"retry-after-ms": "1500"}))
    waits, sleep = _waits()
    transport = RetryingTransport(httpx.MockTransport(server), [IDENTITY], sleep=sleep)
    async with httpx.AsyncClient(transport=transport) as http:
        resp = await http.post(f"{IDENTITY}/tid/oauth2/v2.0/token", data={"code": "c", "grant_type": "x"})
    assert resp.status_code == 200
    assert resp.extensions[ATTEMPTS] == 4
    assert len(waits) == 3
    assert waits[0] >= 2.0  # Retry-After: 2 honoured as a minimum
    assert waits[2] >= 1.5  # retry-after-ms too
    assert {body for _, body in server.seen} == {b"code=c&grant_type=x"}  # the same form each time


@pytest.mark.anyio
async def test_the_gateway_and_the_server_are_never_retried() -> None:
    server = _Script((500, {}), (429, {"Retry-After": "1"}))
    waits, sleep = _waits()
    transport = RetryingTransport(httpx.MockTransport(server), [IDENTITY], sleep=sleep)
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.get("https://gateway.example/mcp")).status_code == 500
        assert (await http.get("https://login.example:8443/other-port")).status_code == 429
    assert waits == []


@pytest.mark.anyio
async def test_when_retries_run_out_the_check_gets_the_last_answer() -> None:
    server = _Script(*[(429, {"Retry-After": "1"})] * 10)
    _, sleep = _waits()
    policy = RetryPolicy(max_attempts=3)
    transport = RetryingTransport(httpx.MockTransport(server), [IDENTITY], policy=policy, sleep=sleep)
    async with httpx.AsyncClient(transport=transport) as http:
        resp = await http.get(f"{IDENTITY}/.well-known/openid-configuration")
    assert (resp.status_code, resp.json(), resp.extensions[ATTEMPTS]) == (429, {"status": 429}, 3)
    assert len(server.seen) == 3


@pytest.mark.anyio
async def test_when_retries_run_out_the_sdk_gets_one_clear_error() -> None:
    server = _Script(*[(503, {})] * 10)
    _, sleep = _waits()
    policy = RetryPolicy(max_attempts=2)
    transport = RetryingTransport2(httpx2.MockTransport(server), [IDENTITY], policy=policy, sleep=sleep)
    async with httpx2.AsyncClient(transport=transport) as http:
        with pytest.raises(IdentityUnavailableError) as caught:
            await http.post(f"{IDENTITY}/tid/oauth2/v2.0/token", data={"code": "secret-code"})
    message = str(caught.value)
    assert message.startswith(f"the identity service kept failing: POST {IDENTITY}/tid/oauth2/v2.0/token")
    assert "still failing after 2 attempts" in message
    assert "HTTP 503" in message
    assert "secret-code" not in message
