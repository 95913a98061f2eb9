"""The ``mcp`` SDK's own OAuth client against the gateway, unregistered (``gateway.dcr_client``,
``gateway.cimd_client``): discovery, dynamic registration or a metadata document, consent through
the headless browser, PKCE, then ``show_user_profile``."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
)
from pydantic import AnyUrl

from orchestrator.verify.client_flow import MemoryStorage, profile_of, strict_resource
from orchestrator.verify.gateway_mode.browser import ConsentBrowser
from orchestrator.verify.gateway_mode.model import GatewayTarget, query_of
from orchestrator.verify.http import ssl_context
from orchestrator.verify.model import CheckResult, Outcome
from orchestrator.verify.strict import refuse_unless_pkce


async def sdk_client_flow(
    target: GatewayTarget, name: str, client_metadata_url: str | None = None
) -> tuple[CheckResult, MemoryStorage]:
    """The ``mcp`` SDK client, unregistered: discovery, DCR or CIMD, consent, PKCE, tool call."""
    storage = MemoryStorage()
    result: AuthorizationCodeResult | None = None

    async with ConsentBrowser(target) as browser:

        async def redirect(url: str) -> None:
            nonlocal result
            refuse_unless_pkce(provider.context.oauth_metadata)  # a spec-strict client
            back = await browser.sign_in(url)
            params = query_of(back)
            if "error" in params:
                raise RuntimeError(
                    f"authorization error {params['error']}: {params.get('error_description', '')}"
                )
            result = AuthorizationCodeResult(
                code=params.get("code", ""), state=params.get("state"), iss=params.get("iss")
            )

        async def callback() -> AuthorizationCodeResult:
            if result is None:
                raise RuntimeError("no authorization response was received")
            return result

        provider = OAuthClientProvider(
            server_url=target.mcp_url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl(target.redirect_uri)],
                token_endpoint_auth_method="none",
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                client_name=f"prmlab verify ({name})",
            ),
            storage=storage,
            redirect_handler=redirect,
            callback_handler=callback,
            validate_resource_url=strict_resource,
            client_metadata_url=client_metadata_url,
        )
        check = f"gateway.{name}_client"
        http = httpx2.AsyncClient(auth=provider, verify=ssl_context(target.ca_file), timeout=30.0)
        try:
            async with http, Client(streamable_http_client(target.mcp_url, http_client=http)) as mcp:
                tools = [t.name for t in (await mcp.list_tools()).tools]
                if "show_user_profile" not in tools:
                    return CheckResult(check, Outcome.FAIL, f"tools: {tools}"), storage
                called = await mcp.call_tool("show_user_profile", {})
        except Exception as exc:  # the SDK raises many kinds; each is this check failing
            leaf: BaseException = exc
            while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
                leaf = leaf.exceptions[0]  # the task group's wrapping says nothing
            return CheckResult(check, Outcome.FAIL, f"{type(leaf).__name__}: {leaf}"[:300]), storage
    registered = storage.client.client_id if storage.client else ""
    how = "client metadata document" if client_metadata_url else "dynamic registration"
    if client_metadata_url and registered != client_metadata_url:
        return CheckResult(check, Outcome.FAIL, f"the client did not use its metadata URL ({how})"), storage
    if not client_metadata_url and not registered.startswith("mcp_"):
        return CheckResult(check, Outcome.FAIL, "the client was not dynamically registered"), storage
    profile = profile_of(called)
    if getattr(called, "is_error", False) or profile is None:
        return CheckResult(check, Outcome.FAIL, "show_user_profile failed"), storage
    wrong = [
        f"{k}: {profile.get(k)!r} != {v!r}"
        for k, v in (target.expected_profile or {}).items()
        if profile.get(k) != v
    ]
    if wrong:
        return CheckResult(check, Outcome.FAIL, "; ".join(wrong)), storage
    return CheckResult(check, Outcome.PASS, f"{how}, consent, PKCE; {profile.get('displayName')}"), storage
