"""Directory data for identity tests, written into a store in the Graph/ARM wire shapes."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from emulator.identity import hash_password, wellknown
from emulator.store import Store

API_OBJ = "a0000000-0000-0000-0000-00000000a001"
API_ID = "a1111111-1111-1111-1111-111111111111"
SCOPE_ID = "5c000000-0000-0000-0000-000000000001"
PUBLIC_OBJ = "c0000000-0000-0000-0000-00000000c001"
PUBLIC_ID = "c2222222-2222-2222-2222-222222222222"
PREAUTH_OBJ = "d0000000-0000-0000-0000-00000000d001"
PREAUTH_ID = "d3333333-3333-3333-3333-333333333333"
ALICE = "e0000000-0000-0000-0000-0000000a11ce"
BOB = "e0000000-0000-0000-0000-0000000000b0"
# Sign-in page passwords; stored, as the Graph layer stores them, only as scrypt hashes.
ALICE_PASSWORD = "alice-Pa55word"
BOB_PASSWORD = "bob-Pa55word"
_HASHES = {ALICE: hash_password(ALICE_PASSWORD), BOB: hash_password(BOB_PASSWORD)}
MI_ID = (
    "/subscriptions/s1/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/mcp-mi"
)
MI_PRINCIPAL = "f0000000-0000-0000-0000-0000000000f1"
MI_CLIENT = "f1111111-1111-1111-1111-1111111111f1"
MI2_ID = (
    "/subscriptions/s1/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/other-mi"
)
MI2_PRINCIPAL = "f0000000-0000-0000-0000-0000000000f2"
MI2_CLIENT = "f2222222-2222-2222-2222-2222222222f2"
CONTAINER_APP = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.app/containerapps/mcp-server"
PUBLIC_SECRET = "public-client-secret-value"
API_SECRET = "api-secret-value"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"
GRAPH_SP = "sp-graph"  # Microsoft Graph's service principal in a tenant without the Graph sub-app
WEB_REDIRECT = "https://web.example.test/signin-oidc"


@dataclass(frozen=True)
class Seeded:
    resource: str  # the API's identifier URI (the MCP URL)
    identity_header: str  # what the runner would hand the container app


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def seed(store: Store, issuer: str, *, resource: str = "https://gateway.example.test/mcp") -> Seeded:
    store.put(
        "graph/users",
        ALICE,
        {
            "id": ALICE,
            "userPrincipalName": "alice@lab.example",
            "displayName": "Alice Example",
            "mail": "alice@lab.example",
            "jobTitle": "Engineer",
            "passwordProfile": {"forceChangePasswordNextSignIn": False, "passwordHash": _HASHES[ALICE]},
        },
    )
    store.put(
        "graph/users",
        BOB,
        {
            "id": BOB,
            "userPrincipalName": "bob@lab.example",
            "displayName": "Bob <b>Example</b>",
            "mail": None,
            "passwordProfile": {"forceChangePasswordNextSignIn": False, "passwordHash": _HASHES[BOB]},
        },
    )
    store.put(
        "graph/applications",
        API_OBJ,
        {
            "id": API_OBJ,
            "appId": API_ID,
            "displayName": "MCP API",
            "uniqueName": "mcp-api",
            "identifierUris": [resource],
            "api": {
                "requestedAccessTokenVersion": 2,
                "oauth2PermissionScopes": [
                    {
                        "id": SCOPE_ID,
                        "value": "user_impersonate",
                        "type": "User",
                        "isEnabled": True,
                        "userConsentDisplayName": "Access the MCP server as you",
                        "userConsentDescription": "Lets the app call MCP tools on your behalf.",
                    }
                ],
                "preAuthorizedApplications": [{"appId": PREAUTH_ID, "delegatedPermissionIds": [SCOPE_ID]}],
            },
            "spa": {"redirectUris": ["https://server.example.test/auth/callback"]},
            "requiredResourceAccess": [
                {
                    "resourceAppId": wellknown.GRAPH_APP_ID,
                    "resourceAccess": [
                        {"id": wellknown.GRAPH_DELEGATED_SCOPES["User.Read"], "type": "Scope"}
                    ],
                }
            ],
            "passwordCredentials": [{"keyId": "k1", "secretText": API_SECRET}],
        },
    )
    store.put(
        "graph/federatedIdentityCredentials",
        "fic-1",
        {
            "id": "fic-1",
            "name": "msiAsFic",
            "issuer": issuer,
            "subject": MI_PRINCIPAL,
            "audiences": [wellknown.TOKEN_EXCHANGE_AUDIENCE],
        },
        parent=API_OBJ,
    )
    store.put(
        "graph/applications",
        PUBLIC_OBJ,
        {
            "id": PUBLIC_OBJ,
            "appId": PUBLIC_ID,
            "displayName": "Some MCP client",
            "publicClient": {"redirectUris": [LOOPBACK_REDIRECT, "http://localhost:6274/oauth/callback"]},
            "web": {"redirectUris": [WEB_REDIRECT]},
            "passwordCredentials": [
                {"keyId": "k2", "secretHash": hashlib.sha256(PUBLIC_SECRET.encode()).hexdigest()}
            ],
        },
    )
    store.put(
        "graph/applications",
        PREAUTH_OBJ,
        {
            "id": PREAUTH_OBJ,
            "appId": PREAUTH_ID,
            "displayName": "Pre-authorised client",
            "publicClient": {"redirectUris": [LOOPBACK_REDIRECT]},
        },
    )
    for app_id, sp in ((API_ID, "sp-api"), (PUBLIC_ID, "sp-public"), (PREAUTH_ID, "sp-pre")):
        store.put("graph/servicePrincipals", sp, {"id": sp, "appId": app_id})
    if graph_sp(store) is None:  # a running emulator's Graph already has Microsoft Graph's
        store.put("graph/servicePrincipals", GRAPH_SP, {"id": GRAPH_SP, "appId": wellknown.GRAPH_APP_ID})
    for res_id, principal, client in ((MI_ID, MI_PRINCIPAL, MI_CLIENT), (MI2_ID, MI2_PRINCIPAL, MI2_CLIENT)):
        store.put(
            "microsoft.managedidentity/userassignedidentities",
            res_id,
            {"id": res_id, "properties": {"principalId": principal, "clientId": client}},
        )
    store.put(
        "microsoft.app/containerapps",
        CONTAINER_APP,
        {
            "id": CONTAINER_APP,
            "identity": {
                "type": "UserAssigned",
                "userAssignedIdentities": {
                    MI_ID: {"principalId": MI_PRINCIPAL, "clientId": MI_CLIENT},
                    MI2_ID: {"principalId": MI2_PRINCIPAL, "clientId": MI2_CLIENT},
                },
            },
        },
    )
    header = secrets.token_urlsafe(32)
    store.put(
        "runner/identity-header",
        hashlib.sha256(header.encode()).hexdigest(),
        {"containerAppId": CONTAINER_APP},
        parent=CONTAINER_APP,
    )
    return Seeded(resource=resource, identity_header=header)


def grant_graph_consent(
    store: Store,
    *,
    scope: str = "User.Read",
    principal: str | None = None,
    created: datetime | None = None,
    key: str = "grant-1",
) -> None:
    """An ``oauth2PermissionGrant`` of Graph ``scope`` to the MCP API app: for every user (admin
    consent, ``AllPrincipals``) or, with ``principal``, for that user only. ``created`` (default:
    an hour ago) is when it was made — a grant younger than the replication delay does not count."""
    when = created or datetime.now(UTC) - timedelta(hours=1)
    resource = graph_sp(store)
    assert resource is not None, "seed() first"
    store.put(
        "graph/oauth2PermissionGrants",
        key,
        {
            "id": key,
            "clientId": "sp-api",
            "consentType": "Principal" if principal else "AllPrincipals",
            "principalId": principal,
            "resourceId": resource,
            "scope": scope,
            "createdDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )


def graph_sp(store: Store) -> str | None:
    """The id of Microsoft Graph's service principal in ``store`` (the emulator seeds its own)."""
    for doc in store.list("graph/servicePrincipals"):
        if str(doc.body.get("appId")) == wellknown.GRAPH_APP_ID:
            return doc.key
    return None
