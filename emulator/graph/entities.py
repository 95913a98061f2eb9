"""Graph entities: what a POST creates, what a PATCH may change, what a GET shows.

Where it sits: ``emulator.graph.router`` calls these builders; they validate like Graph
(required properties, unique ``identifierUris`` / ``uniqueName`` / ``userPrincipalName``,
permission scopes and app roles must be disabled before they are removed or changed,
federated credential names unique per application and at most 20 of them) and fill in what
Graph generates (ids, ``appId``, ``createdDateTime``, empty collections).

Store shapes (``emulator.store``; every body is the Graph JSON the GET returns, plus the few
secret fields GET hides):

* ``graph/applications`` — key ``id``; ``appId``, ``displayName``, ``uniqueName``, ``tags``,
  ``identifierUris``, ``api`` (``oauth2PermissionScopes``, ``preAuthorizedApplications``,
  ``requestedAccessTokenVersion``), ``appRoles``, ``web`` / ``spa`` / ``publicClient``
  (``redirectUris``), ``requiredResourceAccess``, ``passwordCredentials`` (each with
  ``secretText`` kept in the store, hidden on GET), ``keyCredentials``.
* ``graph/servicePrincipals`` — key ``id``; ``appId``, ``displayName``, ``tags``,
  ``servicePrincipalNames``, ``appRoles``, ``oauth2PermissionScopes`` (copied from the app).
* ``graph/federatedIdentityCredentials`` — key ``id``, ``parent`` = application ``id``;
  ``name``, ``issuer``, ``subject``, ``audiences``, ``description``.
* ``graph/users`` — key ``id``; ``userPrincipalName``, ``displayName``, ``mail``,
  ``accountEnabled``, ``mailNickname``, ``givenName``, ``surname``; ``passwordProfile`` hidden
  on GET, its ``password`` never stored: ``passwordProfile.passwordHash`` (scrypt, see
  ``emulator.identity.passwords``) is what the sign-in page checks.
* ``graph/deletedItems`` — key ``id``: soft-deleted applications, service principals and users
  (their Graph JSON with ``@odata.type`` and ``deletedDateTime``), restorable or purgeable
  through ``/directory/deletedItems`` for 30 days as in Entra.
* ``graph/oauth2PermissionGrants`` — key ``id``; ``clientId`` / ``resourceId`` (service
  principal ids), ``consentType`` (``AllPrincipals`` | ``Principal``), ``principalId``, ``scope``
  (``createdDateTime`` kept, hidden on GET: the replication delay counts from it).
* ``graph/domains`` — key the domain name; Graph's ``domain`` (``isVerified``, ``isDefault``, …):
  the tenant's verified domains (``domains``).

Identifier URIs: Entra's verified-domain rule and its exemption (``domains.check_identifier_uris``).
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.graph import domains
from emulator.graph.errors import GraphError, bad_request
from emulator.identity import hash_password
from emulator.store import Store

Doc = dict[str, Any]

APPS = "graph/applications"
SPS = "graph/servicePrincipals"
FICS = "graph/federatedIdentityCredentials"
USERS = "graph/users"
GRANTS = "graph/oauth2PermissionGrants"
DELETED = "graph/deletedItems"
# @odata.type of a deleted object -> the collection it is restored into
DELETED_TYPES = {
    "#microsoft.graph.application": APPS,
    "#microsoft.graph.servicePrincipal": SPS,
    "#microsoft.graph.user": USERS,
}

_FIC_NAME = re.compile(r"^[A-Za-z0-9_-]{3,120}$")
_MAX_FICS = 20
_READ_ONLY = {"id", "appId", "createdDateTime", "publisherDomain", "deletedDateTime"}
USER_DEFAULT_FIELDS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean_input(body: Mapping[str, Any], odata_type: str) -> Doc:
    """Check ``@odata.type`` (accepted, must name this entity) and drop OData annotations."""
    declared = body.get("@odata.type")
    if declared is not None and str(declared).lstrip("#").lower() != odata_type.lstrip("#").lower():
        raise bad_request(f"A type named '{declared}' could not be resolved by the model for this resource.")
    return {k: v for k, v in body.items() if not k.startswith("@odata.")}


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"Invalid value specified for property '{name}'.")
    return list(value)


# ---------------------------------------------------------------------------- applications


def _app_defaults() -> Doc:
    return {
        "deletedDateTime": None,
        "applicationTemplateId": None,
        "description": None,
        "disabledByMicrosoftStatus": None,
        "groupMembershipClaims": None,
        "identifierUris": [],
        "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None,
        "notes": None,
        "publisherDomain": domains.INITIAL_DOMAIN,
        "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": None,
        "uniqueName": None,
        "defaultRedirectUri": None,
        "optionalClaims": None,
        "addIns": [],
        "api": {
            "acceptMappedClaims": None,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": None,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
        },
        "appRoles": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {
            "homePageUrl": None,
            "logoutUrl": None,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
            "redirectUriSettings": [],
        },
        "spa": {"redirectUris": []},
    }


def _merge_complex(old: Any, new: Any) -> Any:
    """PATCH of a complex property updates the members sent; collections are replaced."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merge_complex(old.get(k), v) for k, v in new.items()}}
    return copy.deepcopy(new)


def _check_entitlements(old: list[Any], new: list[Any], what: str) -> None:
    """An enabled scope/role can be neither removed nor changed: disable it first (Graph's rule)."""
    new_by_id = {str(e.get("id")): e for e in new if isinstance(e, dict)}
    for entry in old:
        if not isinstance(entry, dict) or entry.get("isEnabled", True) is False:
            continue
        replacement = new_by_id.get(str(entry.get("id")))
        changed = replacement is None or any(
            replacement.get(k) != entry.get(k) for k in ("value", "type", "allowedMemberTypes") if k in entry
        )
        if changed and (replacement is None or replacement.get("isEnabled", True) is not False):
            raise bad_request(
                f"Permission ({what}) cannot be deleted or updated unless disabled first.",
                "CannotDeleteOrUpdateEnabledEntitlement",
            )


def _check_app_unique(store: Store, app: Doc) -> None:
    uris = {u.lower() for u in app.get("identifierUris") or []}
    unique = str(app.get("uniqueName") or "").lower()
    # soft-deleted applications keep their identifierUris and uniqueName until purged
    deleted = [d for d in store.list(DELETED) if d.body.get("@odata.type") == "#microsoft.graph.application"]
    for doc in [*store.list(APPS), *deleted]:
        if doc.key == app["id"]:
            continue
        other = doc.body
        if uris & {u.lower() for u in other.get("identifierUris") or []}:
            raise bad_request(
                "Another object with the same value for property identifierUris already exists.",
                "Request_MultipleObjectsWithSameKeyValue",
            )
        if unique and str(other.get("uniqueName") or "").lower() == unique:
            raise bad_request(
                "Another object with the same value for property uniqueName already exists.",
                "Request_MultipleObjectsWithSameKeyValue",
            )


# permissionScope.value: "Must not exceed 120 characters in length. Allowed characters are : ! # $
# % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as well as characters in the ranges 0-9,
# A-Z and a-z. Any other character, including the space character, are not allowed. May not begin
# with ." (https://learn.microsoft.com/graph/api/resources/permissionscope)
_SCOPE_VALUE_CHARS = frozenset(string.ascii_letters + string.digits + ":!#$%&'()*+,-./;<=>?@[]^_`{|}~")


def _scope_value_ok(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 120
        and not value.startswith(".")
        and all(c in _SCOPE_VALUE_CHARS for c in value)
    )


def _validate_app(app: Doc) -> None:
    if not isinstance(app.get("displayName"), str) or not app["displayName"].strip():
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Application'.")
    app["tags"] = _strings(app.get("tags"), "tags")
    app["identifierUris"] = _strings(app.get("identifierUris"), "identifierUris")
    for section in ("web", "spa", "publicClient"):
        if isinstance(app.get(section), dict):
            app[section]["redirectUris"] = _strings(
                app[section].get("redirectUris"), f"{section}.redirectUris"
            )
    api = app.get("api") or {}
    for scope in api.get("oauth2PermissionScopes") or []:
        if not isinstance(scope, dict) or not scope.get("id") or not scope.get("value"):
            raise bad_request(
                "Invalid value specified for property 'oauth2PermissionScopes' of resource 'Application'."
            )
        if not _scope_value_ok(scope["value"]):
            # Graph's exact answer to a value breaking this rule is not published; it names the
            # property and its resource type for a bad 'type' ("Invalid value specified for
            # property 'type' of resource 'PermissionScope'.", microsoftgraph/microsoft-graph-docs
            # issue 9426), so the emulator answers the same shape for 'value'.
            raise bad_request("Invalid value specified for property 'value' of resource 'PermissionScope'.")
    for role in app.get("appRoles") or []:
        if not isinstance(role, dict) or not role.get("id") or not role.get("allowedMemberTypes"):
            raise bad_request("Invalid value specified for property 'appRoles' of resource 'Application'.")
    version = api.get("requestedAccessTokenVersion")
    if version not in (None, 1, 2):
        raise bad_request("Property api.requestedAccessTokenVersion is invalid.")


def new_application(store: Store, body: Doc, unique_name: str | None = None) -> Doc:
    data = {k: v for k, v in body.items() if k not in _READ_ONLY}
    app: Doc = _merge_complex(_app_defaults(), data)
    app["id"] = str(uuid.uuid4())
    app["appId"] = str(uuid.uuid4())
    app["createdDateTime"] = now_iso()
    if unique_name is not None:
        app["uniqueName"] = unique_name
    app["passwordCredentials"] = []  # only addPassword creates secrets
    app["publisherDomain"] = domains.default_domain(store)
    _validate_app(app)
    domains.check_identifier_uris(app, None, domains.verified_domains(store))
    _check_app_unique(store, app)
    return app


def update_application(store: Store, old: Doc, patch: Doc) -> Doc:
    data = {k: v for k, v in patch.items() if k not in _READ_ONLY and k != "passwordCredentials"}
    if "uniqueName" in data and old.get("uniqueName") and data["uniqueName"] != old["uniqueName"]:
        raise bad_request("Property 'uniqueName' is read-only once set and cannot be changed.")
    app: Doc = _merge_complex(old, data)
    _check_entitlements(
        (old.get("api") or {}).get("oauth2PermissionScopes") or [],
        (app.get("api") or {}).get("oauth2PermissionScopes") or [],
        "scope",
    )
    _check_entitlements(old.get("appRoles") or [], app.get("appRoles") or [], "role")
    _validate_app(app)
    domains.check_identifier_uris(app, old, domains.verified_domains(store))
    _check_app_unique(store, app)
    return app


def view_application(app: Mapping[str, Any]) -> Doc:
    out = dict(app)
    out["passwordCredentials"] = [
        {**{k: v for k, v in c.items() if k != "secretText"}, "secretText": None}
        for c in app.get("passwordCredentials") or []
    ]
    return out


def add_password(app: Doc, body: Mapping[str, Any]) -> tuple[Doc, Doc]:
    """``POST /applications/{id}/addPassword``: returns (new app, credential with ``secretText``)."""
    cred_in = body.get("passwordCredential") or {}
    secret = secrets.token_urlsafe(30)[:40]
    start = datetime.now(UTC)
    cred = {
        "customKeyIdentifier": None,
        "displayName": cred_in.get("displayName"),
        "endDateTime": cred_in.get("endDateTime")
        or (start + timedelta(days=730)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hint": secret[:3],
        "keyId": str(uuid.uuid4()),
        "secretText": secret,
        "startDateTime": cred_in.get("startDateTime") or start.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {**app, "passwordCredentials": [*(app.get("passwordCredentials") or []), cred]}, cred


def remove_password(app: Doc, body: Mapping[str, Any]) -> Doc:
    key_id = str(body.get("keyId") or "")
    creds = app.get("passwordCredentials") or []
    kept = [c for c in creds if c.get("keyId") != key_id]
    if len(kept) == len(creds):
        raise bad_request(f"No password credential found with keyId '{key_id}'.")
    return {**app, "passwordCredentials": kept}


# ---------------------------------------------------------------------------- service principals


def new_service_principal(store: Store, body: Doc, app: Mapping[str, Any]) -> Doc:
    for doc in store.list(SPS):
        if str(doc.body.get("appId", "")).lower() == str(app["appId"]).lower():
            raise bad_request(
                f"The service principal cannot be created, updated, or restored because the service principal name {app['appId']} is already in use.",
                "Request_MultipleObjectsWithSameKeyValue",
            )
    data = {k: v for k, v in body.items() if k not in _READ_ONLY}
    api = app.get("api") or {}
    sp: Doc = {
        "id": str(uuid.uuid4()),
        "deletedDateTime": None,
        "accountEnabled": True,
        "appDisplayName": app.get("displayName"),
        "appDescription": app.get("description"),
        "appId": app["appId"],
        "appOwnerOrganizationId": None,
        "appRoleAssignmentRequired": False,
        "createdDateTime": now_iso(),
        "displayName": app.get("displayName"),
        "homepage": None,
        "loginUrl": None,
        "logoutUrl": None,
        "notes": None,
        "preferredSingleSignOnMode": None,
        "replyUrls": list((app.get("web") or {}).get("redirectUris") or []),
        "servicePrincipalNames": [app["appId"], *(app.get("identifierUris") or [])],
        "servicePrincipalType": "Application",
        "signInAudience": app.get("signInAudience"),
        "tags": [],
        "appRoles": copy.deepcopy(app.get("appRoles") or []),
        "oauth2PermissionScopes": copy.deepcopy(api.get("oauth2PermissionScopes") or []),
        "keyCredentials": [],
        "passwordCredentials": [],
        "info": copy.deepcopy(app.get("info")),
    }
    sp.update({k: v for k, v in data.items() if k != "appId"})
    sp["tags"] = _strings(sp.get("tags"), "tags")
    return sp


def update_service_principal(old: Doc, patch: Doc) -> Doc:
    data = {k: v for k, v in patch.items() if k not in _READ_ONLY}
    sp: Doc = _merge_complex(old, data)
    sp["tags"] = _strings(sp.get("tags"), "tags")
    return sp


# ---------------------------------------------------------------------------- federated credentials


def _check_fic(fic: Doc) -> None:
    if not isinstance(fic.get("name"), str) or not _FIC_NAME.fullmatch(fic["name"]):
        raise bad_request(
            "Invalid value specified for property 'name' of resource 'FederatedIdentityCredential'."
        )
    for name in ("issuer", "subject"):
        if not isinstance(fic.get(name), str) or not fic[name].strip():
            raise bad_request(
                f"Invalid value specified for property '{name}' of resource 'FederatedIdentityCredential'."
            )
    audiences = _strings(fic.get("audiences"), "audiences")
    if len(audiences) != 1:
        raise bad_request("Property 'audiences' must contain exactly one value.")
    fic["audiences"] = audiences


def new_fic(store: Store, app_id: str, body: Doc) -> Doc:
    existing = store.list(FICS, parent=app_id)
    fic: Doc = {"description": None, **{k: v for k, v in body.items() if k != "id"}, "id": str(uuid.uuid4())}
    _check_fic(fic)
    if len(existing) >= _MAX_FICS:
        raise bad_request(f"An application can have at most {_MAX_FICS} federated identity credentials.")
    for doc in existing:
        if str(doc.body.get("name", "")).lower() == fic["name"].lower():
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                f"FederatedIdentityCredential with name {fic['name']} already exists.",
            )
        if doc.body.get("issuer") == fic["issuer"] and doc.body.get("subject") == fic["subject"]:
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "FederatedIdentityCredential with the same issuer and subject already exists.",
            )
    return fic


def update_fic(store: Store, app_id: str, old: Doc, patch: Doc) -> Doc:
    if "name" in patch and patch["name"] != old.get("name"):
        raise bad_request("Property 'name' of a federated identity credential cannot be changed.")
    fic: Doc = {**old, **{k: v for k, v in patch.items() if k != "id"}}
    _check_fic(fic)
    for doc in store.list(FICS, parent=app_id):
        if (
            doc.key != old["id"]
            and doc.body.get("issuer") == fic["issuer"]
            and doc.body.get("subject") == fic["subject"]
        ):
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "FederatedIdentityCredential with the same issuer and subject already exists.",
            )
    return fic


# ---------------------------------------------------------------------------- users


def new_user(store: Store, body: Doc) -> Doc:
    for name in ("displayName", "mailNickname", "userPrincipalName"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")
    if "accountEnabled" not in body:
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.")
    profile = body.get("passwordProfile")
    if not isinstance(profile, dict) or not profile.get("password"):
        raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
    upn = str(body["userPrincipalName"])
    if "@" not in upn:
        raise bad_request("The domain portion of the userPrincipalName property is invalid.")
    for doc in store.list(USERS):
        if str(doc.body.get("userPrincipalName", "")).lower() == upn.lower():
            raise bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
                "Request_MultipleObjectsWithSameKeyValue",
            )
    body = {**body, "passwordProfile": _hashed_profile(profile)}
    user: Doc = {
        "businessPhones": [],
        "givenName": None,
        "jobTitle": None,
        "mail": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "createdDateTime": now_iso(),
        "userType": "Member",
        **{k: v for k, v in body.items() if k not in _READ_ONLY},
        "id": str(uuid.uuid4()),
    }
    return user


def _hashed_profile(profile: Mapping[str, Any]) -> Doc:
    """``passwordProfile`` as stored: the password replaced by its hash (never kept in clear)."""
    out = {k: v for k, v in profile.items() if k not in ("password", "passwordHash")}
    password = profile.get("password")
    if isinstance(password, str) and password:
        out["passwordHash"] = hash_password(password)
    elif isinstance(profile.get("passwordHash"), str):
        out["passwordHash"] = profile["passwordHash"]
    return out


def hash_stored_passwords(store: Store) -> int:
    """Users stored by an older emulator kept ``passwordProfile.password`` in clear: hash them.
    Run once when the Graph routes are built; returns how many users were rewritten."""
    rewritten = 0
    for doc in store.list(USERS):
        profile = doc.body.get("passwordProfile")
        if isinstance(profile, dict) and "password" in profile:
            store.put(USERS, doc.key, {**doc.body, "passwordProfile": _hashed_profile(profile)})
            rewritten += 1
    return rewritten


def update_user(store: Store, old: Doc, patch: Doc) -> Doc:
    patch = dict(patch)
    profile = patch.get("passwordProfile")
    if isinstance(profile, dict):
        if "password" in profile and not (isinstance(profile["password"], str) and profile["password"]):
            raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
        patch["passwordProfile"] = {**(old.get("passwordProfile") or {}), **_hashed_profile(profile)}
    user: Doc = _merge_complex(old, {k: v for k, v in patch.items() if k not in _READ_ONLY})
    upn = str(user.get("userPrincipalName", ""))
    for doc in store.list(USERS):
        if doc.key != old["id"] and str(doc.body.get("userPrincipalName", "")).lower() == upn.lower():
            raise bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
                "Request_MultipleObjectsWithSameKeyValue",
            )
    return user


def view_user(user: Mapping[str, Any], selected: bool) -> Doc:
    """Graph answers a default property set unless ``$select`` asks for more; never the password."""
    out = {k: v for k, v in user.items() if k != "passwordProfile"}
    if selected:
        return out
    return {k: out.get(k) for k in USER_DEFAULT_FIELDS}


# ---------------------------------------------------------------------------- permission grants


def new_grant(store: Store, body: Doc) -> Doc:
    for name in ("clientId", "consentType", "resourceId"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise bad_request(
                f"Invalid value specified for property '{name}' of resource 'OAuth2PermissionGrant'."
            )
    if body["consentType"] not in ("AllPrincipals", "Principal"):
        raise bad_request("consentType must be 'AllPrincipals' or 'Principal'.")
    if body["consentType"] == "Principal" and not body.get("principalId"):
        raise bad_request("principalId is required when consentType is 'Principal'.")
    for name in ("clientId", "resourceId"):
        if store.get(SPS, body[name]) is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{body[name]}' does not exist or one of its queried reference-property objects are not present.",
            )
    return {
        "principalId": None,
        "scope": "",
        **{k: v for k, v in body.items() if k != "id"},
        "id": secrets.token_urlsafe(32),
        # Not a property of oAuth2PermissionGrant: kept (hidden from GET, ``view_grant``) so that a
        # new grant stays invisible for the replication delay, as a new application does.
        "createdDateTime": now_iso(),
    }


def view_grant(grant: Mapping[str, Any]) -> Doc:
    return {k: v for k, v in grant.items() if k != "createdDateTime"}


def created_at(body: Mapping[str, Any]) -> float | None:
    """``createdDateTime`` of a stored object as a POSIX time (None when absent or unreadable)."""
    text = body.get("createdDateTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# ---------------------------------------------------------------------------- first-party principals


# Microsoft's own tenant: the owner of first-party applications such as Microsoft Graph.
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
# Delegated permissions of Graph that only an administrator may consent to (Learn, "Microsoft
# Graph permissions reference": User.Read.All "Admin consent required: Yes").
_ADMIN_ONLY = frozenset({"User.Read.All"})


def graph_service_principal(tenant_id: str, app_id: str, scopes: Mapping[str, str]) -> Doc:
    """Microsoft Graph's service principal, which exists in every tenant (a first-party app):
    the resource (``resourceId``) of a grant of Graph permissions. Its object id differs per
    tenant; here it is derived from the tenant id. ``scopes``: value -> permission id."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"prmlab:{tenant_id}:sp:{app_id}")),
        "deletedDateTime": None,
        "accountEnabled": True,
        "appDisplayName": "Microsoft Graph",
        "appDescription": None,
        "appId": app_id,
        "appOwnerOrganizationId": MICROSOFT_TENANT,
        "appRoleAssignmentRequired": False,
        "createdDateTime": None,
        "displayName": "Microsoft Graph",
        "homepage": None,
        "loginUrl": None,
        "logoutUrl": None,
        "notes": None,
        "preferredSingleSignOnMode": None,
        "replyUrls": [],
        "servicePrincipalNames": [app_id, "https://graph.microsoft.com", "https://graph.microsoft.com/"],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMultipleOrgs",
        "tags": [],
        "appRoles": [],
        "oauth2PermissionScopes": [
            {
                "adminConsentDescription": f"Allows the app to use the {value} permission of Microsoft Graph.",
                "adminConsentDisplayName": value,
                "id": pid,
                "isEnabled": True,
                "type": "Admin" if value in _ADMIN_ONLY else "User",
                "userConsentDescription": f"Allows the app to use the {value} permission of Microsoft Graph.",
                "userConsentDisplayName": value,
                "value": value,
            }
            for value, pid in scopes.items()
        ],
        "keyCredentials": [],
        "passwordCredentials": [],
        "info": None,
    }


def monotonic() -> float:
    return time.monotonic()
