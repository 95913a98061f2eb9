"""The Azure credential of a lab, and what to tell the user when there is none.

Where it sits: the target layer. ``target.make_credential`` calls ``azure_credential`` for an
``azure`` target; the preflight (``orchestrator.preflight``) and the providers' error translation
(``providers.errors``) call ``explain`` on a failed sign-in.

* ``azure_credential(tenant, cloud)``: azure-identity's ``DefaultAzureCredential`` (environment,
  workload identity, managed identity, Azure CLI, Azure PowerShell, Azure Developer CLI, VS Code,
  shared cache) signing in at the cloud's authority, wrapped so that **every** token is asked for
  the lab's tenant (``DefaultAzureCredential`` takes no ``tenant_id``: it raises ``TypeError``;
  a tenant is chosen per request, ``get_token(..., tenant_id=)`` / ``options["tenant_id"]``). Without
  it, ``az`` signed in to another default tenant would write to that tenant. The lab's tenant is
  also the preferred tenant of the VS Code and shared-cache credentials and is allowed for
  credentials configured with another home tenant (``additionally_allowed_tenants``: a guest
  account asks its resource tenant); the token's ``tid`` says where the chain signed in, and the
  preflight compares it with the lab's.
* ``explain(exc, tenant)``: ``DefaultAzureCredential``'s failure is one message listing every
  credential it tried, ~10 lines; repeated by every resource it was 469 lines. This is one
  ``TargetError`` of at most three lines naming the tenant, the credentials tried and the fix
  (``az login --tenant <tenant>``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orchestrator.clouds import LOCAL, Cloud
from orchestrator.errors import TargetError

# "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. ..." in the
# aggregated message of ChainedTokenCredential / DefaultAzureCredential.
_ATTEMPT = re.compile(r"^\s*(\w+Credential):", re.MULTILINE)
# Signs that a credential signed in, but not to the tenant asked for.
_TENANT_HINTS = (
    "not configured to acquire tokens for tenant",  # azure-identity resolve_tenant
    "AADSTS50020",  # user account from an identity provider that does not exist in the tenant
    "AADSTS90002",  # tenant not found
    "AADSTS700016",  # application not found in the directory
    "AADSTS50076",  # MFA required by the tenant (az login --tenant prompts for it)
    "run 'az login --tenant",
    "az login --tenant",
)


class TenantCredential:
    """An async token credential asking ``inner`` for tokens of ``tenant_id`` only."""

    def __init__(self, inner: Any, tenant_id: str) -> None:
        self.inner = inner
        self.tenant_id = tenant_id

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs["tenant_id"] = self.tenant_id
        return await self.inner.get_token(*scopes, **kwargs)

    async def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        merged = {**(options or {}), "tenant_id": self.tenant_id}
        return await self.inner.get_token_info(*scopes, options=merged)

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> TenantCredential:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


def azure_credential(tenant_id: str, cloud: Cloud, *, ca_file: Path | None = None) -> TenantCredential:
    """``DefaultAzureCredential`` for ``cloud``, every token for ``tenant_id``."""
    from azure.identity.aio import DefaultAzureCredential

    kwargs: dict[str, Any] = {
        "authority": cloud.authority,
        "additionally_allowed_tenants": [tenant_id],
        "visual_studio_code_tenant_id": tenant_id,
        "shared_cache_tenant_id": tenant_id,
    }
    if cloud.name == LOCAL:  # the emulator's identity service: no instance discovery, its CA
        kwargs["disable_instance_discovery"] = True
        if ca_file is not None:
            kwargs["connection_verify"] = str(ca_file)
    return TenantCredential(DefaultAzureCredential(**kwargs), tenant_id)


def explain(exc: BaseException, tenant_id: str | None = None) -> TargetError:
    """A short ``TargetError`` for a failed sign-in (``ClientAuthenticationError`` /
    ``CredentialUnavailableError``), with the command that fixes it (``tenant_id`` None: the
    caller does not know the lab's tenant; the fix names lab.yaml's)."""
    message = str(getattr(exc, "message", None) or exc)
    tried = list(dict.fromkeys(_ATTEMPT.findall(message)))
    tenant_id = tenant_id or "<target.tenant_id of lab.yaml>"
    fix = f"az login --tenant {tenant_id}"
    if any(hint in message for hint in _TENANT_HINTS):
        first = message.strip().splitlines()[0][:200] if message.strip() else type(exc).__name__
        return TargetError(
            f"cannot sign in to the lab's tenant {tenant_id}: {first}\n"
            f"  fix: {fix}   (the tenant_id in lab.yaml must be the subscription's tenant)"
        )
    what = f" (tried {', '.join(tried)})" if tried else ""
    return TargetError(
        f"no Azure credential can sign in to tenant {tenant_id}{what}\n"
        f"  fix: {fix}   (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a "
        "service principal; see README, 'Pointing the same lab at Azure')"
    )
