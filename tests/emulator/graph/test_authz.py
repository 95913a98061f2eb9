"""Microsoft Graph write authorization (``emulator.graph.authz``) through msgraph-sdk: each write
the engine performs is refused with Graph's 403 ``Authorization_RequestDenied`` when the token
lacks the permission (per operation, per missing right), Application.ReadWrite.OwnedBy reaches
only what the caller owns, and delegated callers need the scope and a directory role (or
ownership)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.application import Application
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.user import User

from emulator.graph import authz
from tests.support.credentials import StaticTokenCredential
from tests.support.emulator import RunningEmulator
from tests.support.tokens import context_for, graph_bearer

pytestmark = pytest.mark.anyio

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
OWNED_BY = "Application.ReadWrite.OwnedBy"
APPS_ALL = "Application.ReadWrite.All"
GRANTS_ALL = "DelegatedPermissionGrant.ReadWrite.All"
USERS_ALL = "User.ReadWrite.All"


def _token(emulator: RunningEmulator, scratch: Path, **claims: Any) -> str:
    ctx = context_for(emulator, scratch)
    try:
        return graph_bearer(ctx, **claims)["Authorization"].removeprefix("Bearer ")
    finally:
        ctx.store.close()


@asynccontextmanager
async def _as(emulator: RunningEmulator, scratch: Path, **claims: Any) -> AsyncIterator[GraphServiceClient]:
    async with emulator.graph_client(StaticTokenCredential(_token(emulator, scratch, **claims))) as graph:
        yield graph


def _app_caller(roles: list[str], oid: str | None = None) -> dict[str, Any]:
    return {"idtyp": "app", "roles": roles, "oid": oid or str(uuid.uuid4())}


def _user_caller(scp: str, wids: list[str], oid: str | None = None) -> dict[str, Any]:
    return {"idtyp": "user", "scp": scp, "wids": wids, "oid": oid or str(uuid.uuid4())}


async def _refused(call: Awaitable[Any]) -> None:
    with pytest.raises(ODataError) as refused:
        await call
    err = refused.value
    assert err.response_status_code == 403
    assert err.error is not None
    assert (err.error.code, err.error.message) == (
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    assert err.error.inner_error is not None
    assert err.error.inner_error.request_id
    assert err.error.inner_error.date


def _fic(name: str) -> FederatedIdentityCredential:
    return FederatedIdentityCredential(
        name=name,
        issuer="https://issuer.example",
        subject=f"sub-{name}",
        audiences=["api://AzureADTokenExchange"],
    )


def _user(upn_domain: str) -> User:
    return User(
        account_enabled=True,
        display_name="u",
        mail_nickname="u",
        user_principal_name=f"u{uuid.uuid4().hex[:8]}@{upn_domain}",
        password_profile=PasswordProfile(password="Passw0rd!x"),
    )


async def _domain(graph: GraphServiceClient) -> str:
    domains = await graph.domains.get()
    assert domains is not None
    assert domains.value
    return str(domains.value[0].id)


async def _fixture(graph: GraphServiceClient) -> dict[str, Any]:
    """As the operator: an application with its service principal, and Graph's principal."""
    app = await graph.applications.post(Application(display_name=f"op-{uuid.uuid4().hex[:6]}"))
    assert app is not None
    sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
    graph_sp = await graph.service_principals_with_app_id(GRAPH_APP_ID).get()
    assert sp is not None
    assert graph_sp is not None
    return {"app": app, "sp": sp, "graph_sp": graph_sp, "domain": await _domain(graph)}


def _create_if_missing() -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("Prefer", "create-if-missing")  # as orchestrator.providers.entra upserts
    return config


Operation = Callable[[GraphServiceClient, dict[str, Any]], Awaitable[Any]]

# Each write the engine performs (orchestrator.providers.entra*, verify.users), as it sends it.
OPERATIONS: dict[str, Operation] = {
    "create application": lambda g, f: g.applications.post(Application(display_name="x")),
    "upsert application": lambda g, f: g.applications_with_unique_name(f"u-{uuid.uuid4().hex[:8]}").patch(
        Application(display_name="x"), request_configuration=_create_if_missing()
    ),
    "update application": lambda g, f: g.applications.by_application_id(f["app"].id).patch(
        Application(tags=["t"])
    ),
    "add federated credential": lambda g, f: g.applications.by_application_id(
        f["app"].id
    ).federated_identity_credentials.post(_fic(f"fic-{uuid.uuid4().hex[:6]}")),
    "update service principal": lambda g, f: g.service_principals.by_service_principal_id(f["sp"].id).patch(
        ServicePrincipal(tags=["t"])
    ),
    "grant admin consent": lambda g, f: g.oauth2_permission_grants.post(
        OAuth2PermissionGrant(
            client_id=f["sp"].id,
            consent_type="AllPrincipals",
            resource_id=f["graph_sp"].id,
            scope="User.Read",
        )
    ),
    "create user": lambda g, f: g.users.post(_user(f["domain"])),
}
# The application permission each needs (least privileged first), and one that is not enough.
NEEDS: dict[str, tuple[str, str]] = {
    "create application": (OWNED_BY, GRANTS_ALL),
    "upsert application": (OWNED_BY, USERS_ALL),
    "update application": (APPS_ALL, GRANTS_ALL),  # not owned by the caller: OwnedBy is not enough
    "add federated credential": (APPS_ALL, OWNED_BY),
    "update service principal": (APPS_ALL, OWNED_BY),
    "grant admin consent": (GRANTS_ALL, APPS_ALL),
    "create user": (USERS_ALL, APPS_ALL),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_each_write_needs_its_application_permission(
    emulator: RunningEmulator, tmp_path: Path, operation: str
) -> None:
    async with emulator.graph_client() as operator:
        fixture = await _fixture(operator)
    needed, insufficient = NEEDS[operation]
    for roles in ([], [insufficient], ["User.Read.All", "Directory.Read.All"]):
        async with _as(emulator, tmp_path, **_app_caller(roles)) as graph:
            await _refused(OPERATIONS[operation](graph, fixture))
    async with _as(emulator, tmp_path, **_app_caller([needed])) as graph:
        await OPERATIONS[operation](graph, fixture)  # the right permission: done


async def test_owned_by_manages_only_what_the_caller_created(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    async with emulator.graph_client() as operator:
        theirs = await _fixture(operator)
    me = str(uuid.uuid4())
    async with _as(emulator, tmp_path, **_app_caller([OWNED_BY], me)) as graph:
        mine = await graph.applications.post(Application(display_name="mine"))
        assert mine is not None
        assert mine.id
        # its own application: update, credentials, service principal, delete, purge
        await graph.applications.by_application_id(mine.id).patch(Application(tags=["t"]))
        await graph.applications.by_application_id(mine.id).federated_identity_credentials.post(_fic("mine"))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=mine.app_id))
        assert sp is not None
        assert sp.id
        await graph.service_principals.by_service_principal_id(sp.id).patch(ServicePrincipal(tags=["t"]))
        # someone else's: refused, whatever the write
        app_id, sp_id = theirs["app"].id, theirs["sp"].id
        await _refused(graph.applications.by_application_id(app_id).patch(Application(tags=["t"])))
        await _refused(
            graph.applications.by_application_id(app_id).federated_identity_credentials.post(_fic("x"))
        )
        await _refused(graph.applications.by_application_id(app_id).delete())
        await _refused(
            graph.service_principals.by_service_principal_id(sp_id).patch(ServicePrincipal(tags=["t"]))
        )
        await _refused(graph.service_principals.by_service_principal_id(sp_id).delete())
        # OwnedBy grants no admin consent
        await _refused(
            graph.oauth2_permission_grants.post(
                OAuth2PermissionGrant(
                    client_id=sp.id,
                    consent_type="AllPrincipals",
                    resource_id=theirs["graph_sp"].id,
                    scope="User.Read",
                )
            )
        )
        await graph.applications.by_application_id(mine.id).delete()
        await graph.directory.deleted_items.by_directory_object_id(mine.id).delete()
    async with emulator.graph_client() as operator:
        await operator.applications.by_application_id(app_id).delete()
    async with _as(emulator, tmp_path, **_app_caller([OWNED_BY], me)) as graph:
        await _refused(graph.directory.deleted_items.by_directory_object_id(app_id).delete())
    async with emulator.graph_client() as operator:  # the operator holds Application.ReadWrite.All
        await operator.directory.deleted_items.by_directory_object_id(app_id).delete()


async def test_delegated_writes_need_the_scope_and_a_directory_role(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    async with emulator.graph_client() as operator:
        theirs = await _fixture(operator)
    user = str(uuid.uuid4())
    # "Users can register applications" (the default): a member with the scope creates an app,
    # owns it and manages it; another's app needs an application administrator role.
    async with _as(emulator, tmp_path, **_user_caller(APPS_ALL, [], user)) as graph:
        mine = await graph.applications.post(Application(display_name="mine"))
        assert mine is not None
        assert mine.id
        await graph.applications.by_application_id(mine.id).patch(Application(tags=["t"]))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=mine.app_id))
        assert sp is not None
        await _refused(graph.applications.by_application_id(theirs["app"].id).patch(Application(tags=["t"])))
    async with _as(
        emulator, tmp_path, **_user_caller(APPS_ALL, [authz.CLOUD_APPLICATION_ADMINISTRATOR])
    ) as g:
        await g.applications.by_application_id(theirs["app"].id).patch(Application(tags=["t"]))
    # the role without the scope: refused
    async with _as(emulator, tmp_path, **_user_caller("User.Read", [authz.GLOBAL_ADMINISTRATOR])) as g:
        await _refused(g.applications.post(Application(display_name="x")))

    def consent(principal: str | None = None) -> OAuth2PermissionGrant:
        return OAuth2PermissionGrant(
            client_id=theirs["sp"].id,
            consent_type="Principal" if principal else "AllPrincipals",
            principal_id=principal,
            resource_id=theirs["graph_sp"].id,
            scope="User.Read",
        )

    # tenant-wide admin consent: the scope and a consenting role
    async with _as(emulator, tmp_path, **_user_caller(GRANTS_ALL, [], user)) as g:
        await _refused(g.oauth2_permission_grants.post(consent()))
    async with _as(emulator, tmp_path, **_user_caller(GRANTS_ALL, [authz.APPLICATION_DEVELOPER], user)) as g:
        await _refused(g.oauth2_permission_grants.post(consent()))
        await g.oauth2_permission_grants.post(consent(user))  # on one's own behalf: allowed
    async with _as(
        emulator, tmp_path, **_user_caller(APPS_ALL, [authz.CLOUD_APPLICATION_ADMINISTRATOR])
    ) as g:
        await _refused(g.oauth2_permission_grants.post(consent()))  # the role without the scope
    async with _as(
        emulator, tmp_path, **_user_caller(GRANTS_ALL, [authz.CLOUD_APPLICATION_ADMINISTRATOR])
    ) as g:
        await g.oauth2_permission_grants.post(consent())
    # users: User Administrator
    async with _as(
        emulator, tmp_path, **_user_caller(USERS_ALL, [authz.CLOUD_APPLICATION_ADMINISTRATOR])
    ) as g:
        await _refused(g.users.post(_user(theirs["domain"])))
    async with _as(emulator, tmp_path, **_user_caller(USERS_ALL, [authz.USER_ADMINISTRATOR])) as g:
        await g.users.post(_user(theirs["domain"]))


async def test_the_operator_holds_exactly_what_the_engine_writes(emulator: RunningEmulator) -> None:
    """The local operator's token: Application.ReadWrite.All, DelegatedPermissionGrant.ReadWrite.All
    (admin consent) and User.ReadWrite.All (test users), as Entra would put them after admin
    consent; every write of the engine passes with it."""
    from emulator.identity.operator import OPERATOR_GRAPH_ROLES

    assert sorted(OPERATOR_GRAPH_ROLES) == sorted([APPS_ALL, GRANTS_ALL, USERS_ALL])
    async with emulator.graph_client() as operator:
        fixture = await _fixture(operator)
        for operation in sorted(OPERATIONS):
            await OPERATIONS[operation](operator, fixture)


_ME = "11111111-1111-4111-8111-111111111111"


@pytest.mark.parametrize(
    ("claims", "op", "target", "expected"),
    [
        # az login's delegated token: Directory.AccessAsUser.All stands for every scope
        (
            _user_caller("Directory.AccessAsUser.All", [authz.USER_ADMINISTRATOR]),
            authz.Op.WRITE_USER,
            {},
            True,
        ),
        (_user_caller("Directory.AccessAsUser.All", []), authz.Op.WRITE_USER, {}, False),
        # purge of deleted objects: app-only may not purge users ("Not supported.")
        (_app_caller([USERS_ALL, "Directory.ReadWrite.All"]), authz.Op.PURGE_USER, {}, False),
        (_app_caller([OWNED_BY], _ME), authz.Op.PURGE_APP, {"owned_by": [_ME]}, True),
        (_app_caller([OWNED_BY], _ME), authz.Op.PURGE_APP, {"owned_by": []}, False),
        (_user_caller(APPS_ALL, [authz.HYBRID_IDENTITY_ADMINISTRATOR]), authz.Op.PURGE_APP, {}, True),
        (_user_caller(APPS_ALL, [], _ME), authz.Op.PURGE_APP, {"owned_by": [_ME]}, False),
        # service principals: Directory.ReadWrite.All may change them, not create applications
        (_app_caller(["Directory.ReadWrite.All"]), authz.Op.WRITE_SP, {}, True),
        (_app_caller(["Directory.ReadWrite.All"]), authz.Op.CREATE_APP, {}, False),
        (_user_caller(APPS_ALL, [authz.SECURITY_ADMINISTRATOR]), authz.Op.WRITE_APP, {}, True),
        (_user_caller(APPS_ALL, [authz.APPLICATION_DEVELOPER]), authz.Op.WRITE_APP, {}, False),
        (
            _user_caller(APPS_ALL, [authz.APPLICATION_DEVELOPER], _ME),
            authz.Op.WRITE_APP,
            {"owned_by": [_ME]},
            True,
        ),
        # a token with neither scp nor roles may write nothing
        ({"oid": _ME}, authz.Op.CREATE_APP, {}, False),
    ],
)
def test_rules(claims: dict[str, Any], op: authz.Op, target: dict[str, Any], expected: bool) -> None:
    assert authz.allowed(authz.caller(claims), op, **target) is expected
