"""The Azure credential of a lab: every token for the lab's tenant, and a short answer when none.

Nothing here leaves 127.0.0.1: ``tests/support/azure_env.py`` points the managed-identity probe at
a refusing loopback port and keeps only the environment / workload / managed-identity
credentials, none of them configured.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from azure.core.exceptions import ClientAuthenticationError

from orchestrator import clouds
from orchestrator.credentials import TenantCredential, azure_credential, explain

pytestmark = pytest.mark.anyio

TENANT = "11111111-1111-1111-1111-111111111111"


class _Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> str:
        self.calls.append((scopes, kwargs))
        return "token"

    async def get_token_info(self, *scopes: str, options: Any = None) -> str:
        self.calls.append((scopes, dict(options or {})))
        return "info"

    async def close(self) -> None:
        self.closed = True


async def test_every_token_is_asked_for_the_labs_tenant() -> None:
    inner = _Recording()
    async with TenantCredential(inner, TENANT) as credential:
        await credential.get_token("https://management.azure.com/.default")
        await credential.get_token("s", tenant_id="someone-else")  # a challenge's tenant is overridden
        await credential.get_token_info("https://graph.microsoft.com/.default", options={"enable_cae": True})
    assert [kw["tenant_id"] for _, kw in inner.calls] == [TENANT, TENANT, TENANT]
    assert inner.calls[2][1]["enable_cae"] is True
    assert inner.closed


def test_the_test_session_keeps_credentials_on_loopback() -> None:
    host = urlsplit(os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"]).hostname
    assert host == "127.0.0.1"
    assert os.environ["AZURE_TOKEN_CREDENTIALS"] == "prod"
    assert "AZURE_CLIENT_ID" not in os.environ
    assert "IDENTITY_ENDPOINT" not in os.environ


async def test_no_credentials_is_one_short_error_with_the_az_login_hint() -> None:
    credential = azure_credential(TENANT, clouds.CLOUDS[clouds.PUBLIC])
    with anyio.fail_after(30):
        async with credential:
            with pytest.raises(ClientAuthenticationError) as caught:
                await credential.get_token(clouds.CLOUDS[clouds.PUBLIC].arm_scope)
    raw = str(caught.value.message)
    assert len(raw.splitlines()) > 3  # what azure-identity says: every credential, at length
    error = explain(caught.value, TENANT)
    lines = error.message.splitlines()
    assert len(lines) <= 3, error.message
    assert f"az login --tenant {TENANT}" in error.message
    assert "EnvironmentCredential" in lines[0]
    assert "ManagedIdentityCredential" in lines[0]


def test_a_refusal_by_the_tenant_says_which_tenant_to_sign_in_to() -> None:
    exc = ClientAuthenticationError(
        message="ClientSecretCredential.get_token failed: (invalid_request) AADSTS90002: Tenant "
        f"'{TENANT}' not found. Check to make sure you have the correct tenant ID.\\nTrace ID: x"
    )
    error = explain(exc, TENANT)
    assert error.message.startswith(f"cannot sign in to the lab's tenant {TENANT}")
    assert f"fix: az login --tenant {TENANT}" in error.message
    assert len(error.message.splitlines()) <= 3


def test_without_a_known_tenant_the_hint_points_at_lab_yaml() -> None:
    error = explain(ClientAuthenticationError(message="DefaultAzureCredential failed"))
    assert "az login --tenant <target.tenant_id of lab.yaml>" in error.message
