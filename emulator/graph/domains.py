"""The tenant's domains and Entra's rules on an application's identifier URIs (pure, but for the
store read of the domain list).

Where it sits: ``entities.new_application`` / ``update_application`` call ``check_identifier_uris``
with the tenant's verified domains (``verified_domains(store)``); the router serves the list at
``GET /v1.0/domains`` (Graph's ``domain`` resource). The local tenant is a tenant **without
custom verified domains**: its only domain is its initial ``prmlab.onmicrosoft.com`` (verified,
default, initial — every Entra tenant has one). Tests add a verified custom domain by writing a
``graph/domains`` document.

The rule (Learn, "AppId Uri in single tenant applications will require use of default scheme or
verified domains", https://learn.microsoft.com/entra/identity-platform/reference-breaking-changes
#appid-uri-in-single-tenant-applications-will-require-use-of-default-scheme-or-verified-domains):
"a request to add/update AppId Uri (identifierUris) will validate that domain in the value of URI
is part of the verified domain list in the customer tenant or the value uses the default scheme
(api://{appId}) provided by Azure AD … It validates only new applications or when an existing
application updates an identifier URI or adds a new one … If a request fails the validation
check, the application API for create/update will return a 400 badrequest to the client
indicating HostNameNotOnVerifiedDomain." The answer as Graph gives it (quoted by callers of
Microsoft Graph, e.g. Azure/Industrial-IoT#1432): code ``HostNameNotOnVerifiedDomain``, message
"Values of identifierUris property must use a verified domain of the organization or its
subdomain: '<uri>'". Verified domains and their subdomains pass (Learn, "Restrictions on
identifier URIs": ``https://<verifiedCustomDomain>/<string>``, ``https://<string>.
<verifiedCustomDomain>``, ``https://<tenantInitialDomain>.onmicrosoft.com/<string>``).

Checked: URIs with a host (``https://…``, ``http://…``). The ``api://`` scheme carries no host to
verify: ``api://<appId>`` is the default, and an ``api://<string>`` is refused only by the
tenant-wide identifier-URI protection policy for v1 applications (Learn, "Restrictions on
identifier URIs": "This security setting ensures that newly added URIs on v1 applications comply
with the secure patterns"), whose Graph error code Learn does not publish — not emulated.

The exemption: a **single-tenant** application (``signInAudience: AzureADMyOrg``) that receives
**v2 tokens** (``api.requestedAccessTokenVersion: 2``) is not held to verified domains: Learn,
"Restrictions on identifier URIs" (https://learn.microsoft.com/entra/identity-platform/
identifier-uri-restrictions#guidance-for-developers): "If you encountered this error, it means
your API currently uses v1.0 tokens. You can unblock yourself by updating your service to accept
v2.0 tokens"; the author of Learn's identifier-URI patterns, reviewing MicrosoftDocs/azure-docs
#120355: "Single tenant applications where the accessTokenAcceptedVersion is set to 2, are
exempted from the verified domain check for the identifierUri property. The aud claim value in
the token is the appId GUID when the token version is 2." A multi-tenant app is not exempt (its
HostNameNotOnVerifiedDomain is what OfficeDev/microsoft-365-agents-toolkit#10516 reports). And
the way back is closed: "once the app has been updated to the v2.0 token format, it won't be able
to switch back to v1.0 tokens if it has noncompliant identifier URIs configured" (same page) —
losing the exemption (v1 tokens, or another audience) re-checks every URI the app holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from emulator.graph.errors import GraphError
from emulator.store import Store

DOMAINS = "graph/domains"
INITIAL_DOMAIN = "prmlab.onmicrosoft.com"


def initial_domain_document(name: str = INITIAL_DOMAIN) -> dict[str, Any]:
    """Graph's ``domain`` resource of the tenant's initial domain (verified at creation)."""
    return {
        "id": name,
        "authenticationType": "Managed",
        "availabilityStatus": None,
        "isAdminManaged": True,
        "isDefault": True,
        "isInitial": True,
        "isRoot": True,
        "isVerified": True,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"],
        "passwordValidityPeriodInDays": 2147483647,
        "passwordNotificationWindowInDays": 14,
        "state": None,
    }


def ensure_initial_domain(store: Store) -> None:
    if store.get(DOMAINS, INITIAL_DOMAIN) is None:
        store.put(DOMAINS, INITIAL_DOMAIN, initial_domain_document())


def verified_domains(store: Store) -> list[str]:
    return [str(d.body["id"]).lower() for d in store.list(DOMAINS) if d.body.get("isVerified")]


def default_domain(store: Store) -> str:
    for d in store.list(DOMAINS):
        if d.body.get("isDefault"):
            return str(d.body["id"])
    return INITIAL_DOMAIN


def _on_verified_domain(host: str, verified: Collection[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in verified)


def exempt(app: Mapping[str, Any]) -> bool:
    """Single tenant and v2 tokens: not held to verified domains (module docstring)."""
    api = app.get("api") or {}
    return app.get("signInAudience") == "AzureADMyOrg" and api.get("requestedAccessTokenVersion") == 2


def host_not_verified(uri: str) -> GraphError:
    return GraphError(
        400,
        "HostNameNotOnVerifiedDomain",
        f"Values of identifierUris property must use a verified domain of the organization or its subdomain: '{uri}'",
    )


def check_identifier_uris(
    app: Mapping[str, Any], old: Mapping[str, Any] | None, verified: Collection[str]
) -> None:
    """Refuse the first identifier URI of ``app`` (as it will be stored) that Entra refuses.

    ``old`` is the stored application (None on create): its URIs were accepted once and are not
    checked again — unless the app just lost the exemption, then every URI is.
    """
    if exempt(app):
        return
    uris: Iterable[str] = app.get("identifierUris") or []
    if old is not None and not exempt(old):
        before = {u.lower() for u in old.get("identifierUris") or []}
        uris = [u for u in uris if u.lower() not in before]
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme.lower() in ("https", "http") and not _on_verified_domain(
            parts.hostname or "", verified
        ):
            raise host_not_verified(uri)
