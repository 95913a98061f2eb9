"""The providers: one per resource kind, the only code that talks to Azure (or the emulator).

Flow: the reconcile engine opens the SDK clients (``orchestrator.target.open_clients``), then
``providers_for(clients, lab)`` gives ``{kind: Provider}`` (``orchestrator.resource.Provider``)
for every node kind of ``orchestrator.graph``. All providers of one call share a ``Context``:
the lab's name (the ownership mark), its APIM service / resource group / location, and a memo
that lets several kinds share one list call during a read phase.

Modules: ``arm`` (generic ARM + resource group), ``identity``, ``monitoring``, ``containers``
(+ ``acr_build``), ``storage`` (the gateway-mode client store), ``rbac`` (role assignments),
``apim`` (the service, the base of its children), ``apim_values`` (named values, backends),
``apim_logging`` (loggers, diagnostics), ``apim_apis`` (APIs, operations, policies),
``apim_products`` (products with their APIs, product policies, subscriptions), ``entra``
(apps, Graph helpers), ``entra_principals`` (service principals, federated credentials),
``entra_grants`` (admin consent: oauth2PermissionGrants); shared:
``base`` (pure helpers), ``common`` (context, matching, list/GET/delete helpers), ``errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.resource import Provider

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab
    from orchestrator.target import Clients


def providers_for(clients: Clients, lab: Lab | str) -> dict[str, Provider]:
    """``{kind: provider}`` over ``clients`` (``orchestrator.target.Clients``) for ``lab``
    (an ``orchestrator.spec.models.Lab``; a bare lab name works for single-kind use)."""
    from orchestrator.providers.apim import ApimServiceProvider
    from orchestrator.providers.apim_apis import (
        ApiPolicyProvider,
        ApiProvider,
        OperationPolicyProvider,
        OperationProvider,
    )
    from orchestrator.providers.apim_logging import DiagnosticProvider, LoggerProvider
    from orchestrator.providers.apim_products import (
        ProductPolicyProvider,
        ProductProvider,
        SubscriptionProvider,
    )
    from orchestrator.providers.apim_values import BackendProvider, NamedValueProvider
    from orchestrator.providers.arm import ResourceGroupProvider
    from orchestrator.providers.common import Context
    from orchestrator.providers.containers import (
        ContainerAppProvider,
        ContainerEnvironmentProvider,
        ContainerRegistryProvider,
    )
    from orchestrator.providers.entra import EntraAppProvider
    from orchestrator.providers.entra_grants import PermissionGrantProvider
    from orchestrator.providers.entra_principals import FederatedCredentialProvider, ServicePrincipalProvider
    from orchestrator.providers.identity import ManagedIdentityProvider
    from orchestrator.providers.monitoring import AppInsightsProvider, LogAnalyticsProvider
    from orchestrator.providers.rbac import RoleAssignmentProvider
    from orchestrator.providers.storage import StorageAccountProvider, StorageTableProvider

    ctx = Context.for_lab(clients, lab)
    providers: list[Any] = [
        cls(ctx)
        for cls in (
            ResourceGroupProvider,
            LogAnalyticsProvider,
            AppInsightsProvider,
            ManagedIdentityProvider,
            EntraAppProvider,
            ServicePrincipalProvider,
            FederatedCredentialProvider,
            PermissionGrantProvider,
            ApimServiceProvider,
            LoggerProvider,
            DiagnosticProvider,
            NamedValueProvider,
            BackendProvider,
            ApiProvider,
            ApiPolicyProvider,
            OperationProvider,
            OperationPolicyProvider,
            ProductProvider,
            ProductPolicyProvider,
            SubscriptionProvider,
            ContainerRegistryProvider,
            StorageAccountProvider,
            StorageTableProvider,
            RoleAssignmentProvider,
            ContainerEnvironmentProvider,
            ContainerAppProvider,
        )
    ]
    by_kind = {p.kind: p for p in providers}
    # a group's delete first deletes and purges the lab's APIM services (``ResourceGroupProvider``)
    by_kind[Kind.RESOURCE_GROUP].before_delete = by_kind[Kind.APIM_SERVICE].delete_in_group
    return by_kind
