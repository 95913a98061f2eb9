"""Preflight: can this principal build this lab on this subscription? (read-only)

Where it sits: ``prmlab doctor`` prints ``run``'s findings; ``engine.reconcile`` runs the same
checks on an ``azure`` target right after the plan is built, before it is shown or anything
written (with the global names of ``global_names``), and stops on the first problems found.
Every check only reads:

1. sign-in: a token for ARM from the lab's credential (``target.make_credential``: for Azure
   ``DefaultAzureCredential`` asked for ``target.tenant_id``); none -> ``credentials.explain``
   (a few lines, ``az login --tenant …``) and nothing else is checked; a token of another tenant
   (``tid``) -> ``az login --tenant <lab's>``;
2. resource providers: ``Providers_Get`` of each namespace the lab writes; not ``Registered`` ->
   ``az provider register -n <namespace>`` (a new subscription has few registered; a write to
   one not registered fails with 409 ``MissingSubscriptionRegistration``);
3. Azure RBAC: ``Permissions_ListForResourceGroup`` (what the caller may do on the lab's resource
   group: ``actions`` minus ``notActions`` per role, ``*`` matching any characters) must allow
   the write of every resource type the lab creates and, when it assigns roles,
   ``Microsoft.Authorization/roleAssignments/write`` (Contributor does not: Owner, User Access
   Administrator or Role Based Access Control Administrator do). A group that does not exist yet
   has no permissions to read: then the rights are evaluated at the subscription as ARM evaluates
   them (``subscription_rights``): the caller's role assignments at the subscription or above
   (``RoleAssignments_ListForSubscription`` with ``$filter=atScope() and assignedTo('{oid}')``:
   its own and, in Azure, its groups'; when its token lists ``groups``, also ``atScope()``'s for
   those groups), each assignment's role definition (``RoleDefinitions_GetById``), the union of
   their ``actions`` minus ``notActions`` (``allowed``); a role at another resource group does
   not count. The lab needs ``Microsoft.Resources/subscriptions/resourceGroups/write`` there too.
   Read with ``azure-mgmt-authorization`` at its default api-version, 2022-04-01. Deny
   assignments and role assignment conditions are not evaluated (a gap, said in the README);
4. global names: each APIM service / registry / storage account name the lab would create that
   is not already in its resource group, asked of ``checkNameAvailability``
   (``global_names.problem``: a taken one at its lab.yaml line).

5. Microsoft Graph rights (``graph_rights``, pure, over the claims of a Graph token from the same
   credential): a service principal needs the application permission ``Application.ReadWrite.
   OwnedBy`` (or ``.All``) to create the lab's applications, and ``DelegatedPermissionGrant.
   ReadWrite.All`` when the lab grants admin consent; a user's directory roles are the ``wids``
   claim (Learn, "Access token claims reference": the tenant-wide roles assigned to the user, as
   role template ids, "Microsoft Entra built-in roles"): creating applications needs none while
   the tenant lets users register applications (the default, which a token cannot show: said,
   not failed) or Application Developer / Application Administrator / Cloud Application
   Administrator / Global Administrator; the lab's admin consent (``admin_consent: true``) needs
   Cloud Application Administrator, Application Administrator, Privileged Role Administrator or
   Global Administrator (Learn, "Grant tenant-wide admin consent to an application"). A user token
   without ``wids`` is said, not failed (the roles cannot be read from it). A user's token must
   also carry the delegated permission (``scp``): Application.ReadWrite.All to create apps,
   DelegatedPermissionGrant.ReadWrite.All for the consent (or Directory.AccessAsUser.All, as
   ``az login``'s do). Locally the emulator's Graph enforces exactly these rules on every write
   (``emulator.graph.authz``), so what the doctor calls missing is what the reconcile is refused
   (403 ``Authorization_RequestDenied``).

``allowed`` and the ``required_*`` functions are pure.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from orchestrator.kinds import Kind

if TYPE_CHECKING:
    from orchestrator.graph import ResourceGraph
    from orchestrator.spec.models import Lab
    from orchestrator.target import Clients, TargetSettings

# Microsoft Entra built-in role template ids (Learn, "Microsoft Entra built-in roles",
# https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference)
GLOBAL_ADMINISTRATOR: Final = "62e90394-69f5-4237-9190-012177145e10"
APPLICATION_ADMINISTRATOR: Final = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMINISTRATOR: Final = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_DEVELOPER: Final = "cf1c38e5-3621-4004-a7cb-879624dced7c"
PRIVILEGED_ROLE_ADMINISTRATOR: Final = "e8611ab8-c189-46e8-94e1-60213ab1f814"
_CREATE_APPS_ROLES: Final = frozenset(
    {GLOBAL_ADMINISTRATOR, APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR, APPLICATION_DEVELOPER}
)
_CONSENT_ROLES: Final = frozenset(
    {
        GLOBAL_ADMINISTRATOR,
        APPLICATION_ADMINISTRATOR,
        CLOUD_APPLICATION_ADMINISTRATOR,
        PRIVILEGED_ROLE_ADMINISTRATOR,
    }
)
_CREATE_APPS_PERMISSIONS: Final = frozenset({"Application.ReadWrite.OwnedBy", "Application.ReadWrite.All"})
_GRANT_PERMISSION: Final = "DelegatedPermissionGrant.ReadWrite.All"
# The delegated permissions (``scp``, lower-case) that allow each, per the Graph API reference
# (application-post-applications, oauth2permissiongrant-post); Directory.AccessAsUser.All is the
# signed-in user's own access (what ``az login``'s Graph tokens carry). The emulator's Graph
# enforces the same (``emulator.graph.authz``).
_DELEGATED: Final[Mapping[str, frozenset[str]]] = {
    "Application.ReadWrite.All": frozenset({"application.readwrite.all", "directory.accessasuser.all"}),
    _GRANT_PERMISSION: frozenset(
        {"delegatedpermissiongrant.readwrite.all", "directory.readwrite.all", "directory.accessasuser.all"}
    ),
}

PROVIDERS_API: Final = "2025-04-01"  # Providers_Get (resources.json, vendored)
PERMISSIONS_API: Final = "2022-04-01"  # Permissions_ListForResourceGroup (vendored)

# What the lab writes, per kind: the ARM resource type whose write action it needs.
WRITES: Final[Mapping[str, str]] = {
    Kind.RESOURCE_GROUP: "Microsoft.Resources/subscriptions/resourceGroups",
    Kind.LOG_ANALYTICS_WORKSPACE: "Microsoft.OperationalInsights/workspaces",
    Kind.APP_INSIGHTS: "Microsoft.Insights/components",
    Kind.MANAGED_IDENTITY: "Microsoft.ManagedIdentity/userAssignedIdentities",
    Kind.APIM_SERVICE: "Microsoft.ApiManagement/service",
    Kind.CONTAINER_REGISTRY: "Microsoft.ContainerRegistry/registries",
    Kind.CONTAINER_ENVIRONMENT: "Microsoft.App/managedEnvironments",
    Kind.CONTAINER_APP: "Microsoft.App/containerApps",
    Kind.STORAGE_ACCOUNT: "Microsoft.Storage/storageAccounts",
    Kind.ROLE_ASSIGNMENT: "Microsoft.Authorization/roleAssignments",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's answer: ``problem`` empty when it passed."""

    check: str
    detail: str
    problem: str = ""
    fix: str = ""

    def line(self) -> str:
        if not self.problem:
            return f"ok    {self.check}: {self.detail}"
        fix = f"  fix: {self.fix}" if self.fix else ""
        return f"FAIL  {self.check}: {self.problem}{fix}"


def _kinds(graph: ResourceGraph) -> list[str]:
    return sorted({node.kind for node in graph})


def required_namespaces(graph: ResourceGraph) -> list[str]:
    """The resource providers whose types the lab writes (Microsoft.Resources and
    Microsoft.Authorization are always registered)."""
    found = {WRITES[kind].split("/", 1)[0] for kind in _kinds(graph) if kind in WRITES}
    return sorted(found - {"Microsoft.Resources", "Microsoft.Authorization"})


def required_actions(graph: ResourceGraph) -> list[str]:
    return sorted({f"{WRITES[kind]}/write" for kind in _kinds(graph) if kind in WRITES})


def _matches(pattern: str, action: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, action, flags=re.IGNORECASE) is not None


def allowed(permissions: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Whether one of the caller's roles (``Permission``) allows ``action``: in its ``actions``,
    not in its ``notActions`` (Learn, "Understand Azure role definitions": notActions subtract
    from the actions of the same role)."""
    for permission in permissions:
        if any(_matches(p, action) for p in permission.get("actions") or ()) and not any(
            _matches(p, action) for p in permission.get("notActions") or ()
        ):
            return True
    return False


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token, read without verifying (the API it is for verifies it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_tenant(token: str) -> str | None:
    """The ``tid`` of an access token (read only: ARM validates it)."""
    tid = token_claims(token).get("tid")
    return tid if isinstance(tid, str) else None


def needs_graph(lab: Lab) -> tuple[bool, bool]:
    """(creates applications, grants admin consent) for ``lab``."""
    apps = list(lab.entra.apps.values())
    consent = any(r.admin_consent for app in apps for r in app.required_resource_access)
    return bool(apps), consent


def graph_rights(claims: Mapping[str, Any], creates_apps: bool, grants_consent: bool) -> list[Finding]:
    """What the Graph token's principal may do against what the lab does (module docstring, 5)."""
    if not creates_apps and not grants_consent:
        return []
    roles = claims.get("roles")
    app_roles = {str(r) for r in roles} if isinstance(roles, list) else set()
    if claims.get("idtyp") == "app" or (app_roles and not claims.get("scp")):
        out = []
        if creates_apps:
            if app_roles & _CREATE_APPS_PERMISSIONS:
                out.append(Finding("graph", "the service principal may create applications"))
            else:
                out.append(
                    Finding(
                        "graph",
                        "",
                        "the service principal lacks the Microsoft Graph application permission "
                        "Application.ReadWrite.OwnedBy (or Application.ReadWrite.All)",
                        "an admin grants it with admin consent (Entra admin center > App registrations > "
                        "API permissions)",
                    )
                )
        if grants_consent:
            if _GRANT_PERMISSION in app_roles:
                out.append(Finding("graph", "the service principal may grant admin consent"))
            else:
                out.append(
                    Finding(
                        "graph",
                        "",
                        f"the service principal lacks the Microsoft Graph application permission {_GRANT_PERMISSION} "
                        "(the lab grants admin consent: required_resource_access[*].admin_consent)",
                        "an admin grants it, or set admin_consent: false in lab.yaml",
                    )
                )
        return out
    scopes = {s.lower() for s in str(claims.get("scp") or "").split()}
    missing = [
        Finding(
            "graph",
            "",
            f"your token lacks the Microsoft Graph delegated permission {need} ({what})",
            "sign in with a client granted it (az login's tokens carry Directory.AccessAsUser.All), "
            "or use a service principal",
        )
        for wanted, need, what in (
            (creates_apps, "Application.ReadWrite.All", "to create the lab's applications"),
            (grants_consent, _GRANT_PERMISSION, "the lab grants admin consent"),
        )
        if wanted and not scopes & _DELEGATED[need]
    ]
    if missing:
        return missing
    wids = claims.get("wids")
    if not isinstance(wids, list):
        return [
            Finding(
                "graph",
                "your directory roles are not in the token (no wids claim): creating applications needs "
                "'Users can register applications' or Application Developer"
                + (
                    "; the lab's admin consent needs Cloud Application Administrator"
                    if grants_consent
                    else ""
                ),
            )
        ]
    held = {str(w).lower() for w in wids}
    out = []
    if creates_apps:
        if held & _CREATE_APPS_ROLES:
            out.append(Finding("graph", "your directory role may create applications"))
        else:
            out.append(
                Finding(
                    "graph",
                    "no directory role that creates applications: works while the tenant lets users "
                    "register applications (the default; else Application Developer)",
                )
            )
    if grants_consent:
        if held & _CONSENT_ROLES:
            out.append(Finding("graph", "your directory role may grant admin consent"))
        else:
            out.append(
                Finding(
                    "graph",
                    "",
                    "no directory role that may grant tenant-wide admin consent (the lab grants it: "
                    "required_resource_access[*].admin_consent)",
                    "ask for Cloud Application Administrator (least privileged), or set admin_consent: false",
                )
            )
    return out


# ----------------------------------------------------------------------------------- I/O


async def _get(clients: Clients, path: str, api_version: str) -> tuple[int, Any]:
    from azure.core.rest import HttpRequest

    resources = clients.resources
    client = resources._client  # the SDK's pipeline (auth, retries, TLS), as global_names
    url = client.format_url(path, endpoint=str(resources._config.base_url).rstrip("/"))
    response = await client._pipeline.run(HttpRequest("GET", url, params={"api-version": api_version}))
    http = response.http_response
    try:
        body = http.json()
    except ValueError:
        body = None
    return http.status_code, body


async def sign_in(settings: TargetSettings) -> Finding:
    return (await _sign_in(settings))[0]


async def _sign_in(settings: TargetSettings) -> tuple[Finding, dict[str, Any]]:
    """``sign_in``'s finding and the claims of the ARM token (empty without one)."""
    from azure.core.exceptions import ClientAuthenticationError

    from orchestrator.credentials import explain
    from orchestrator.target import make_credential

    credential = make_credential(settings)
    try:
        async with credential:
            token = await credential.get_token(settings.endpoints.arm_scope)
    except ClientAuthenticationError as exc:
        error = explain(exc, settings.tenant_id)
        first, *rest = error.message.splitlines()
        return Finding("sign-in", "", first, " ".join(r.strip().removeprefix("fix: ") for r in rest)), {}
    claims = token_claims(token.token)
    tid = token_tenant(token.token)
    if tid is not None and tid.lower() != settings.tenant_id.lower():
        return Finding(
            "sign-in",
            "",
            f"the credential signed in to tenant {tid}, the lab's is {settings.tenant_id}",
            f"az login --tenant {settings.tenant_id}",
        ), claims
    return Finding("sign-in", f"a token for tenant {settings.tenant_id}"), claims


async def graph_access(lab: Lab, settings: TargetSettings) -> list[Finding]:
    """``graph_rights`` over a Microsoft Graph token of the lab's credential."""
    from azure.core.exceptions import ClientAuthenticationError

    from orchestrator.target import make_credential

    creates_apps, grants_consent = needs_graph(lab)
    if not creates_apps and not grants_consent:
        return []
    try:
        async with make_credential(settings) as credential:
            token = await credential.get_token(settings.endpoints.graph_scope)
    except ClientAuthenticationError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return [
            Finding(
                "graph", "", f"no Microsoft Graph token: {first}", f"az login --tenant {settings.tenant_id}"
            )
        ]
    return graph_rights(token_claims(token.token), creates_apps, grants_consent)


async def providers(clients: Clients, graph: ResourceGraph) -> list[Finding]:
    out: list[Finding] = []
    sub = clients.subscription_id
    for namespace in required_namespaces(graph):
        status, body = await _get(clients, f"/subscriptions/{sub}/providers/{namespace}", PROVIDERS_API)
        state = body.get("registrationState") if isinstance(body, dict) else None
        if status == 200 and state == "Registered":
            out.append(Finding("provider", f"{namespace} registered"))
        else:
            said = state or f"HTTP {status}"
            out.append(
                Finding(
                    "provider",
                    "",
                    f"{namespace} is {said} on subscription {sub}",
                    f"az provider register -n {namespace} --subscription {sub}",
                )
            )
    return out


def missing_rights(
    permissions: Sequence[Mapping[str, Any]], needed: Iterable[str], where: str, scope: str, assignee: str
) -> list[Finding]:
    """The ``rights`` findings for ``needed`` actions under ``permissions`` at ``where``: one line
    for the resource writes (fix: Contributor at ``scope``), one for assigning roles (fix: Role
    Based Access Control Administrator at ``scope``), or one ok line."""
    missing = [action for action in needed if not allowed(permissions, action)]
    if not missing:
        return [Finding("rights", f"every write the lab makes is allowed on {where}")]
    out = []
    assigns = [a for a in missing if a.lower().startswith("microsoft.authorization/")]
    writes = [a for a in missing if a not in assigns]
    if writes:
        out.append(
            Finding(
                "rights",
                "",
                f"not allowed on {where}: {', '.join(writes)}",
                f"az role assignment create --assignee {assignee} --role Contributor --scope {scope}",
            )
        )
    if assigns:
        out.append(
            Finding(
                "rights",
                "",
                f"not allowed on {where}: {', '.join(assigns)} (the lab assigns roles)",
                f'az role assignment create --assignee {assignee} --role "Role Based Access Control Administrator" '
                f"--scope {scope}",
            )
        )
    return out


def role_permissions(definition: Any) -> list[dict[str, Any]]:
    """The ``Permission`` entries of a role definition (SDK model) as ``allowed`` reads them."""
    return [
        {"actions": list(p.actions or ()), "notActions": list(p.not_actions or ())}
        for p in (definition.permissions or ())
    ]


async def rights(clients: Clients, graph: ResourceGraph, claims: Mapping[str, Any]) -> list[Finding]:
    sub, rg = clients.subscription_id, clients.resource_group
    oid = claims.get("oid")
    assignee = oid if isinstance(oid, str) and oid else "<you>"
    path = f"/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.Authorization/permissions"
    status, body = await _get(clients, path, PERMISSIONS_API)
    if status == 404:
        return await subscription_rights(clients, graph, claims)
    if status != 200 or not isinstance(body, dict):
        return [Finding("rights", "", f"cannot read your permissions on resource group {rg} (HTTP {status})")]
    permissions: Sequence[Mapping[str, Any]] = body.get("value") or []
    scope = f"/subscriptions/{sub}/resourceGroups/{rg}"
    return missing_rights(permissions, required_actions(graph), f"resource group {rg}", scope, assignee)


def _error_line(exc: Exception) -> str:
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error is not None else None
        message = exc.error.message if exc.error is not None else exc.reason
        return f"HTTP {exc.status_code} {code or ''}: {str(message or '').splitlines()[0][:200]}".replace(
            " :", ":"
        )
    return type(exc).__name__


async def subscription_rights(
    clients: Clients, graph: ResourceGraph, claims: Mapping[str, Any]
) -> list[Finding]:
    """The rights of the signed-in principal (``claims`` of its ARM token) at the subscription,
    for a resource group that does not exist yet (module docstring, 3)."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    sub, rg = clients.subscription_id, clients.resource_group
    scope = f"/subscriptions/{sub}"
    where = f"subscription {sub} (resource group {rg} does not exist yet)"
    oid = claims.get("oid")
    if not isinstance(oid, str) or not oid:
        return [Finding("rights", "", "the ARM token names no principal (no oid claim): rights not read")]
    groups = claims.get("groups")
    group_ids = {str(g).lower() for g in groups} if isinstance(groups, list) else set()
    ops = clients.authorization.role_assignments
    assignments: dict[str, Any] = {}
    try:
        async for found in ops.list_for_subscription(filter=f"atScope() and assignedTo('{oid}')"):
            assignments[str(found.id).lower()] = found
        if group_ids:  # the groups the token lists (Azure's assignedTo includes them already)
            async for found in ops.list_for_subscription(filter="atScope()"):
                if str(found.principal_id).lower() in group_ids:
                    assignments[str(found.id).lower()] = found
    except HttpResponseError as exc:
        return [
            Finding(
                "rights",
                "",
                f"cannot read your role assignments on subscription {sub} ({_error_line(exc)})",
                f"an Owner of the subscription runs: az role assignment create --assignee {oid} "
                f"--role Contributor --scope {scope}",
            )
        ]
    permissions: list[dict[str, Any]] = []
    out: list[Finding] = []
    for role_id in sorted({str(a.role_definition_id) for a in assignments.values()}):
        try:
            definition = await clients.authorization.role_definitions.get_by_id(role_id)
        except (ResourceNotFoundError, HttpResponseError) as exc:
            out.append(
                Finding("rights", f"role definition {role_id} not readable ({_error_line(exc)}): not counted")
            )
            continue
        permissions += role_permissions(definition)
    return out + missing_rights(permissions, required_actions(graph), where, scope, oid)


async def names(clients: Clients, lab: Lab, graph: ResourceGraph) -> list[Finding]:
    """The global names the lab would create (not already in its resource group)."""
    from orchestrator.global_names import PROVIDERS, NameCheck, ask, problem
    from orchestrator.providers.arm import resource_id

    out: list[Finding] = []
    sub, rg = clients.subscription_id, clients.resource_group
    for node in graph:
        if node.kind not in PROVIDERS:
            continue
        name = _global_name(lab, node.kind)
        if name is None:
            continue
        type_ = WRITES[node.kind]
        status, _ = await _get(clients, resource_id(sub, rg, type_, name), PROVIDERS[node.kind].api_version)
        if status == 200:
            out.append(Finding("name", f"{name} is this resource group's"))
            continue
        check = NameCheck(node.address, node.kind, name)
        line = problem(lab, check, await ask(clients.resources, sub, check))
        out.append(Finding("name", f"{name} is available") if line is None else Finding("name", "", line))
    return out


def _global_name(lab: Lab, kind: str) -> str | None:
    if kind == Kind.APIM_SERVICE:
        return lab.apim.service.name
    if kind == Kind.CONTAINER_REGISTRY:
        return lab.server.registry.name if lab.server and lab.server.registry else None
    if kind == Kind.STORAGE_ACCOUNT:
        store = lab.authorization.client_store
        return store.storage_account if store else None
    return None


async def run(
    lab: Lab, graph: ResourceGraph, settings: TargetSettings, *, check_names: bool = True
) -> list[Finding]:
    """Every check, in order (``lab`` completed: its global names derived); after a failed
    sign-in, nothing else. ``check_names=False``: a reconcile, whose plan asks about the names
    it creates (``global_names``)."""
    from orchestrator.target import open_clients

    signed_in, claims = await _sign_in(settings)
    if signed_in.problem:
        return [signed_in]
    async with open_clients(settings) as clients:
        found = [signed_in]
        found += await providers(clients, graph)
        found += await rights(clients, graph, claims)
        found += await graph_access(lab, settings)
        if check_names:
            found += await names(clients, lab, graph)
    return found


async def before_first_write(lab: Lab, graph: ResourceGraph, settings: TargetSettings) -> None:
    """``run`` as a reconcile's preflight: the problems as one ``PreflightError``."""
    from orchestrator.errors import PreflightError

    problems = [f.line() for f in await run(lab, graph, settings, check_names=False) if f.problem]
    if problems:
        raise PreflightError(problems)
