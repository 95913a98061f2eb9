"""Who may write what in the emulated Microsoft Graph: the permissions of the verified token,
checked per operation as Graph checks them (pure, but for the owners kept in the store).

Where it sits: ``emulator.graph.router`` authenticates the caller (``emulator.graph.auth``),
builds a ``Caller`` from the verified claims and calls ``check`` before every write it serves
(``POST``/``PATCH``/``DELETE`` of applications, service principals, federated identity
credentials, passwords, oauth2PermissionGrants, users, and ``deletedItems`` purge/restore).
Reads are not checked (a gap, said in docs/DEVELOPING.md). A refusal is Graph's 403
``Authorization_RequestDenied`` "Insufficient privileges to complete the operation." in its
error envelope with ``innerError`` date and request-id (as Graph answers it:
microsoftgraph/python-sample-auth#12, microsoftgraph/microsoft-graph-docs-contrib#4836).

An app-only token (``idtyp: app``) carries its application permissions in ``roles``; a user
(delegated) token carries its delegated permissions in ``scp`` and the user's directory roles
as template ids in ``wids`` (Learn, "Access token claims reference"); a delegated call is
allowed when the scope allows the operation AND the user's roles (or ownership) allow it.

Per operation, from the "Permissions" tables of the Graph v1.0 API reference
(https://learn.microsoft.com/graph/api/<page>):

=================================  ====================================  ===========================
operation (page)                   application (``roles``)               delegated (``scp``)
=================================  ====================================  ===========================
create application                 Application.ReadWrite.OwnedBy, .All   Application.ReadWrite.All
(application-post-applications,
application-upsert)
update/delete application,         .OwnedBy (apps it owns), .All         Application.ReadWrite.All
addPassword/removePassword,
federated credentials
(application-update, application-delete, application-addpassword,
application-post-federatedidentitycredentials, federatedidentitycredential-update/-delete)
create service principal           .OwnedBy, .All                        Application.ReadWrite.All
(serviceprincipal-post-serviceprincipals)
update/delete service principal    .OwnedBy (its own), .All,             Application.ReadWrite.All,
(serviceprincipal-update/-delete)  Directory.ReadWrite.All               Directory.ReadWrite.All
oauth2PermissionGrants             DelegatedPermissionGrant.ReadWrite    DelegatedPermissionGrant.
(oauth2permissiongrant-post,       .All, Directory.ReadWrite.All         ReadWrite.All, Directory.
-update, -delete)                                                        ReadWrite.All
users (user-post-users,            User.ReadWrite.All,                   User.ReadWrite.All,
user-update, user-delete)          Directory.ReadWrite.All               Directory.ReadWrite.All
purge/restore deleted app or SP    .OwnedBy (its own), .All              Application.ReadWrite.All
(directory-deleteditems-delete)    (a deleted user: not supported)       (user: User.ReadWrite.All)
=================================  ====================================  ===========================

``Directory.AccessAsUser.All`` (delegated: "the same access to information in the directory as
the signed-in user", Learn "Microsoft Graph permissions reference"; what ``az login`` tokens
carry) counts as every delegated scope above.

``Application.ReadWrite.OwnedBy``: "Allows the app to create other applications, and fully manage
those applications (read, update, update application secrets and delete) … It cannot update any
apps that it is not an owner of" (permissions reference): the creator of an application or a
service principal becomes its owner (``record_owner``; kept in the store beside the object, not
in its body), and OwnedBy reaches only objects whose owners include the caller.

Directory roles of a delegated caller (the "Important" notes of the same pages; role template
ids from Learn "Microsoft Entra built-in roles",
https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference):

* create an application: any member while "Users can register applications" is on (the default;
  ``USERS_CAN_REGISTER_APPLICATIONS``: not switchable here), else Application Developer,
  Cloud Application Administrator, Application Administrator (and Global Administrator);
* update/delete an application, its credentials, a service principal: its owner, or Cloud
  Application Administrator / Application Administrator / Security Administrator
  (rbac-application-apis-write); Application Developer only for applications it owns;
* create a service principal: the owner of its application, Application Developer, or the
  application administrators;
* an oauth2PermissionGrant for all principals or for another user (tenant-wide admin consent):
  Privileged Role Administrator, Cloud Application Administrator, Application Administrator or
  Global Administrator (Learn "Grant tenant-wide admin consent to an application"); a grant for
  oneself (consentType Principal, principalId = the caller) also Application Developer ("consent
  on one's own behalf", Learn built-in roles). The API page also names Directory Writers and
  User Administrator; what they may consent to is not documented: not granted here;
* users: User Administrator (user-post-users); purge of deleted applications / service
  principals: Application Administrator, Cloud Application Administrator, Hybrid Identity
  Administrator (rbac-deleted-items-delete-apis); of users: User Administrator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from emulator.graph.errors import GraphError
from emulator.store import Store

OWNERS = "graph/owners"  # object id -> {"owners": [caller oid, …]}

# Microsoft Entra built-in role template ids (module docstring).
GLOBAL_ADMINISTRATOR: Final = "62e90394-69f5-4237-9190-012177145e10"
APPLICATION_ADMINISTRATOR: Final = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMINISTRATOR: Final = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_DEVELOPER: Final = "cf1c38e5-3621-4004-a7cb-879624dced7c"
PRIVILEGED_ROLE_ADMINISTRATOR: Final = "e8611ab8-c189-46e8-94e1-60213ab1f814"
SECURITY_ADMINISTRATOR: Final = "194ae4cb-b126-40b2-bd5b-6091b380977d"
HYBRID_IDENTITY_ADMINISTRATOR: Final = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
USER_ADMINISTRATOR: Final = "fe930be7-5e62-47db-91af-98c3a49a38b1"

APP_ADMINS: Final = frozenset(
    {GLOBAL_ADMINISTRATOR, APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR, SECURITY_ADMINISTRATOR}
)
CREATE_APPS_ROLES: Final = frozenset(
    {GLOBAL_ADMINISTRATOR, APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR, APPLICATION_DEVELOPER}
)
CONSENT_ROLES: Final = frozenset(
    {
        GLOBAL_ADMINISTRATOR,
        APPLICATION_ADMINISTRATOR,
        CLOUD_APPLICATION_ADMINISTRATOR,
        PRIVILEGED_ROLE_ADMINISTRATOR,
    }
)
PURGE_APPS_ROLES: Final = frozenset(
    {
        GLOBAL_ADMINISTRATOR,
        APPLICATION_ADMINISTRATOR,
        CLOUD_APPLICATION_ADMINISTRATOR,
        HYBRID_IDENTITY_ADMINISTRATOR,
    }
)
USER_ADMINS: Final = frozenset({GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR})

# "Users can register applications" (Entra admin center > User settings): on by default.
USERS_CAN_REGISTER_APPLICATIONS: Final = True

OWNED_BY: Final = "Application.ReadWrite.OwnedBy"
APPS_ALL: Final = "Application.ReadWrite.All"
GRANTS_ALL: Final = "DelegatedPermissionGrant.ReadWrite.All"
USERS_ALL: Final = "User.ReadWrite.All"
DIRECTORY_ALL: Final = "Directory.ReadWrite.All"
_AS_USER: Final = "directory.accessasuser.all"


class Op(StrEnum):
    CREATE_APP = "create an application"
    WRITE_APP = "change an application"
    CREATE_SP = "create a service principal"
    WRITE_SP = "change a service principal"
    WRITE_GRANT = "write a delegated permission grant"
    WRITE_USER = "write a user"
    PURGE_APP = "purge or restore a deleted application or service principal"
    PURGE_USER = "purge or restore a deleted user"


# Application permissions (``roles``) that allow each operation on any object; ``OwnedBy`` is
# added where it allows the operation on owned objects (``_OWNED``).
_APP_ROLES: Final[Mapping[Op, frozenset[str]]] = {
    Op.CREATE_APP: frozenset({OWNED_BY, APPS_ALL}),
    Op.WRITE_APP: frozenset({APPS_ALL}),
    Op.CREATE_SP: frozenset({OWNED_BY, APPS_ALL}),
    Op.WRITE_SP: frozenset({APPS_ALL, DIRECTORY_ALL}),
    Op.WRITE_GRANT: frozenset({GRANTS_ALL, DIRECTORY_ALL}),
    Op.WRITE_USER: frozenset({USERS_ALL, DIRECTORY_ALL}),
    Op.PURGE_APP: frozenset({APPS_ALL}),
    Op.PURGE_USER: frozenset(),  # "Not supported." for application permissions
}
_OWNED: Final = frozenset({Op.WRITE_APP, Op.WRITE_SP, Op.PURGE_APP})
# Delegated permissions (``scp``, compared lower-case) per operation.
_SCOPES: Final[Mapping[Op, frozenset[str]]] = {
    Op.CREATE_APP: frozenset({APPS_ALL.lower(), _AS_USER}),
    Op.WRITE_APP: frozenset({APPS_ALL.lower(), _AS_USER}),
    Op.CREATE_SP: frozenset({APPS_ALL.lower(), _AS_USER}),
    Op.WRITE_SP: frozenset({APPS_ALL.lower(), DIRECTORY_ALL.lower(), _AS_USER}),
    Op.WRITE_GRANT: frozenset({GRANTS_ALL.lower(), DIRECTORY_ALL.lower(), _AS_USER}),
    Op.WRITE_USER: frozenset({USERS_ALL.lower(), DIRECTORY_ALL.lower(), _AS_USER}),
    Op.PURGE_APP: frozenset({APPS_ALL.lower(), _AS_USER}),
    Op.PURGE_USER: frozenset({USERS_ALL.lower(), _AS_USER}),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of a verified Graph token."""

    oid: str
    app_only: bool
    roles: frozenset[str]  # application permissions
    scopes: frozenset[str]  # delegated permissions, lower-case
    wids: frozenset[str]  # directory role template ids, lower-case


def caller(claims: Mapping[str, Any]) -> Caller:
    scopes = frozenset(s.lower() for s in str(claims.get("scp") or "").split())
    roles = claims.get("roles")
    wids = claims.get("wids")
    return Caller(
        oid=str(claims.get("oid") or "").lower(),
        app_only=claims.get("idtyp") == "app" or not scopes,
        roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
        scopes=scopes,
        wids=frozenset(str(w).lower() for w in wids) if isinstance(wids, list) else frozenset(),
    )


def refusal() -> GraphError:
    """Graph's answer to a caller without the permission (module docstring)."""
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def owners(store: Store, object_id: str) -> frozenset[str]:
    doc = store.get(OWNERS, object_id)
    return (
        frozenset(str(o).lower() for o in (doc.body.get("owners") or [])) if doc is not None else frozenset()
    )


def record_owner(store: Store, object_id: str, who: Caller) -> None:
    """The creator of an application or service principal is its owner (module docstring)."""
    if who.oid:
        store.put(OWNERS, object_id, {"owners": [who.oid]})


def forget_owners(store: Store, object_id: str) -> None:
    store.delete(OWNERS, object_id)


def permitted(who: Caller, op: Op) -> bool:
    """May ``who`` attempt ``op`` at all (before the target is looked up)? An app-only caller
    needs one of the operation's application permissions (or OwnedBy where it reaches owned
    objects); a delegated caller one of its scopes."""
    if who.app_only:
        return bool(who.roles & _APP_ROLES[op]) or (op in _OWNED and OWNED_BY in who.roles)
    return bool(who.scopes & _SCOPES[op])


def allowed(
    who: Caller,
    op: Op,
    *,
    owned_by: Iterable[str] = (),
    grant: Mapping[str, Any] | None = None,
) -> bool:
    """May ``who`` do ``op`` on an object whose owners are ``owned_by`` (``grant``: the
    oauth2PermissionGrant written, for its consentType and principalId)? Module docstring."""
    if not permitted(who, op):
        return False
    owner = who.oid in {o.lower() for o in owned_by}
    if who.app_only:
        return bool(who.roles & _APP_ROLES[op]) or (op in _OWNED and owner)
    wids = who.wids
    if op is Op.CREATE_APP:
        return USERS_CAN_REGISTER_APPLICATIONS or bool(wids & CREATE_APPS_ROLES)
    if op in (Op.WRITE_APP, Op.WRITE_SP):
        return owner or bool(wids & APP_ADMINS)
    if op is Op.CREATE_SP:
        return owner or bool(wids & (APP_ADMINS | CREATE_APPS_ROLES))
    if op is Op.WRITE_GRANT:
        body = grant or {}
        for_self = (
            body.get("consentType") == "Principal" and str(body.get("principalId") or "").lower() == who.oid
        )
        return bool(wids & CONSENT_ROLES) or (for_self and APPLICATION_DEVELOPER in wids)
    if op is Op.PURGE_APP:
        return bool(wids & PURGE_APPS_ROLES)
    return bool(wids & USER_ADMINS)  # WRITE_USER, PURGE_USER


def check(who: Caller, op: Op, **target: Any) -> None:
    """``allowed`` or Graph's 403."""
    if not allowed(who, op, **target):
        raise refusal()


def check_permitted(who: Caller, op: Op) -> None:
    """``permitted`` or Graph's 403 (the check before the target is read)."""
    if not permitted(who, op):
        raise refusal()
