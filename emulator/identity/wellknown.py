"""Well-known Microsoft identifiers the identity service knows without a registration.

Microsoft Graph is a first-party resource: it is not an application in the lab's directory,
so its app id, audiences and delegated permissions live here. Graph's ``/me`` handler and the
gateway import ``GRAPH_AUDIENCES`` to check the ``aud`` of Graph tokens.
"""

from __future__ import annotations

from types import MappingProxyType

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
# The identity service issues Graph tokens with aud = GRAPH_APP_ID; verifiers accept both forms.
GRAPH_AUDIENCES: tuple[str, ...] = (GRAPH_APP_ID, GRAPH_RESOURCE, GRAPH_RESOURCE + "/")

# Azure Resource Manager ("Windows Azure Service Management API"), a first-party resource. ARM
# accepts exactly these audiences (its 401 InvalidAuthenticationTokenAudience lists them:
# "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/',
# 'https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'").
ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
ARM_AUDIENCES: tuple[str, ...] = (
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
)

# The audience of managed-identity tokens used as federated credentials (client assertions).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"

# Delegated permissions of Microsoft Graph (value -> permission id), the subset labs use.
GRAPH_DELEGATED_SCOPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
        "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
        "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
        "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
        "profile": "14dad69e-099b-42c9-810b-d002981feec1",
        "openid": "37f7f235-527c-4136-accd-4a02d197296e",
        "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "Mail.Read": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
    }
)

# OIDC scopes: they never name a resource and never appear in an access token's scp.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})

# Well-known public clients (pre-authorised by labs, not in the lab's directory).
VSCODE_CLIENT_ID = "aebc6443-996d-45c2-90f0-388ff96faa56"
