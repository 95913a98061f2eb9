"""The preflight (``orchestrator.preflight``, ``prmlab doctor``): the rules (pure), and each check
against the emulator's ARM, failing cases included: no credentials, another tenant, an
unregistered provider, a missing role, a taken name. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

from emulator.arm.authz import ROLES
from orchestrator import preflight
from orchestrator.cli import cli
from orchestrator.graph import build_graph
from orchestrator.spec.models import Lab
from orchestrator.target import TargetSettings
from tests.orchestrator.providers.support import unique_lab
from tests.support.azure import assign_role, make_group, make_service
from tests.support.emulator import RunningEmulator
from tests.support.tokens import arm_bearer, context_for, graph_bearer

OWNER, CONTRIBUTOR = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
ASSIGN = "Microsoft.Authorization/roleAssignments/write"


def _role(role: str) -> dict[str, Any]:
    return dict(ROLES[role])


def test_contributor_cannot_assign_roles_owner_and_rbac_administrator_can() -> None:
    assert preflight.allowed([_role(CONTRIBUTOR)], "Microsoft.App/containerApps/write")
    assert not preflight.allowed([_role(CONTRIBUTOR)], ASSIGN)
    assert preflight.allowed([_role(OWNER)], ASSIGN)
    assert preflight.allowed([_role(CONTRIBUTOR), _role(RBAC_ADMIN)], ASSIGN)
    assert not preflight.allowed([_role(RBAC_ADMIN)], "Microsoft.App/containerApps/write")
    assert not preflight.allowed([], "Microsoft.App/containerApps/write")


def test_the_default_lab_needs_its_providers_and_the_right_to_assign_roles() -> None:
    graph = build_graph(unique_lab())
    assert preflight.required_namespaces(graph) == [
        "Microsoft.ApiManagement",
        "Microsoft.App",
        "Microsoft.ContainerRegistry",
        "Microsoft.Insights",
        "Microsoft.ManagedIdentity",
        "Microsoft.OperationalInsights",
    ]
    assert ASSIGN in preflight.required_actions(graph)


def _settings(emu: RunningEmulator, lab: Lab) -> TargetSettings:
    return TargetSettings(
        kind="local",
        subscription_id=emu.subscription_id,
        tenant_id=emu.tenant_id,
        resource_group=lab.target.resource_group,
        location=lab.target.location,
        base_url=emu.base_url,
        ca_file=emu.ca_file,
        sdk_retries=0,
    )


def _run(emu: RunningEmulator, lab: Lab) -> list[str]:
    findings = anyio.run(preflight.run, lab, build_graph(lab), _settings(emu, lab))
    return [f.line() for f in findings]


def _failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


class _PrincipalCredential:
    """Real tokens of the emulator's identity service (signed with its key, so ARM and Graph accept
    them) for another principal: ``claims`` in each; its Graph token also carries ``graph_roles``
    (application permissions an admin granted it)."""

    def __init__(self, ctx: Any, claims: dict[str, Any], graph_roles: list[str]) -> None:
        self.arm = arm_bearer(ctx, **claims)["Authorization"].removeprefix("Bearer ")
        graph = graph_bearer(ctx, **claims, roles=graph_roles)
        self.graph = graph["Authorization"].removeprefix("Bearer ")

    async def get_token(self, *scopes: str, **_kw: Any) -> Any:
        from azure.core.credentials import AccessToken

        token = self.graph if any("graph" in s for s in scopes) else self.arm
        return AccessToken(token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> _PrincipalCredential:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


def _signed_in_as(
    emu: RunningEmulator, scratch: Path, monkeypatch: pytest.MonkeyPatch, **claims: Any
) -> None:
    """prmlab's credential is another service principal's: ``claims`` (its oid, another tenant),
    the Graph permissions the default lab needs (so only its Azure roles are in question)."""
    ctx = context_for(emu, scratch)
    try:
        credential = _PrincipalCredential(
            ctx, claims, ["Application.ReadWrite.OwnedBy", "DelegatedPermissionGrant.ReadWrite.All"]
        )
    finally:
        ctx.store.close()
    monkeypatch.setattr("orchestrator.target.make_credential", lambda _s: credential)


def test_a_fresh_lab_on_the_emulator_passes(emulator: RunningEmulator) -> None:
    lines = _run(emulator, unique_lab())
    assert _failures(lines) == [], lines
    assert any(line.startswith("ok    provider: Microsoft.App registered") for line in lines)
    assert any("does not exist yet" in line for line in lines)


def test_an_unregistered_provider_is_named_with_the_command_that_registers_it(
    emulator: RunningEmulator,
) -> None:
    base = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.App"
    with emulator.sync_http() as h:
        h.post(f"{base}/unregister", params={"api-version": "2025-04-01"}, headers=emulator.arm_headers())
        try:
            failures = _failures(_run(emulator, unique_lab()))
        finally:
            h.post(f"{base}/register", params={"api-version": "2025-04-01"}, headers=emulator.arm_headers())
    assert failures == [
        f"FAIL  provider: Microsoft.App is NotRegistered on subscription {emulator.subscription_id}"
        f"  fix: az provider register -n Microsoft.App --subscription {emulator.subscription_id}"
    ]


def test_a_principal_without_a_role_is_told_which_roles_it_lacks(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lab = unique_lab()
    anyio.run(make_group, emulator, lab.target.resource_group)
    someone = str(uuid.uuid4())
    _signed_in_as(emulator, tmp_path, monkeypatch, oid=someone)  # not the subscription's Owner
    failures = _failures(_run(emulator, lab))
    assert len(failures) == 2, failures
    assert "Microsoft.App/containerApps/write" in failures[0]
    assert "--role Contributor" in failures[0]
    assert ASSIGN in failures[1]
    assert '"Role Based Access Control Administrator"' in failures[1]

    # Contributor on the group: everything but assigning roles
    scope = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{lab.target.resource_group}"
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{CONTRIBUTOR}",
            "principalId": someone,
        }
    }
    with emulator.sync_http() as h:
        created = h.put(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json=body,
            headers=emulator.arm_headers(),
        )
        assert created.status_code in (200, 201), created.text
    failures = _failures(_run(emulator, lab))
    assert len(failures) == 1, failures
    assert ASSIGN in failures[0]


def test_a_taken_global_name_is_reported_at_its_line(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    name = str(lab.apim.service.name)

    async def hold() -> None:
        group = await make_group(emulator)
        async with emulator.apim_client() as client:
            await make_service(client, group, name)

    anyio.run(hold)
    failures = _failures(_run(emulator, lab))
    assert len(failures) == 1, failures
    assert f"the API Management service name '{name}' is not available (AlreadyExists" in failures[0]


def test_another_tenant_is_told_to_sign_in_to_the_labs(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lab = unique_lab()
    other = str(uuid.uuid4())
    ctx = context_for(emulator, tmp_path)
    issuer = ctx.issuer(other)
    ctx.store.close()
    _signed_in_as(emulator, tmp_path, monkeypatch, tid=other, iss=issuer)
    finding = anyio.run(preflight.sign_in, _settings(emulator, lab))
    assert finding.problem == f"the credential signed in to tenant {other}, the lab's is {emulator.tenant_id}"
    assert finding.fix == f"az login --tenant {emulator.tenant_id}"


def test_a_tenant_the_identity_service_does_not_know_is_a_sign_in_failure(emulator: RunningEmulator) -> None:
    # the real local credential asks the emulator's token endpoint of another tenant: AADSTS90002
    other = str(uuid.uuid4())
    settings = dataclasses.replace(_settings(emulator, unique_lab()), tenant_id=other)
    finding = anyio.run(preflight.sign_in, settings)
    assert finding.problem.startswith(f"cannot sign in to the lab's tenant {other}: "), finding
    assert "AADSTS90002" in finding.problem
    assert finding.fix.startswith(f"az login --tenant {other}")


def test_doctor_without_credentials_is_a_few_lines_with_the_az_login_hint(tmp_path: Path) -> None:
    tenant = "11111111-1111-1111-1111-111111111111"
    lab_file = tmp_path / "lab.yaml"
    root = Path(__file__).resolve().parents[2]
    text = (root / "lab.yaml").read_text().replace("source: ./mcp_server", f"source: {root / 'mcp_server'}")
    text = text.replace(
        "target:\n  kind: local\n",
        f"target:\n  kind: azure\n  subscription_id: 22222222-2222-2222-2222-222222222222\n  tenant_id: {tenant}\n",
        1,
    )
    assert "kind: azure" in text
    lab_file.write_text(text)
    result = CliRunner().invoke(cli, ["doctor", "-f", str(lab_file)], standalone_mode=False)
    lines = result.output.strip().splitlines()
    assert result.return_value == 1, result.output  # prmlab's exit code (cli.main)
    assert len(lines) <= 10, result.output
    assert f"az login --tenant {tenant}" in result.output
    assert lines[0].startswith("FAIL  sign-in: no Azure credential can sign in")


def test_reconciles_preflight_stops_before_any_write(emulator: RunningEmulator) -> None:
    from orchestrator.errors import PreflightError

    lab = unique_lab()
    base = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.ContainerRegistry"
    before = len(emulator.requests())
    with emulator.sync_http() as h:
        h.post(f"{base}/unregister", params={"api-version": "2025-04-01"}, headers=emulator.arm_headers())
        try:
            with pytest.raises(PreflightError) as caught:
                anyio.run(preflight.before_first_write, lab, build_graph(lab), _settings(emulator, lab))
        finally:
            h.post(f"{base}/register", params={"api-version": "2025-04-01"}, headers=emulator.arm_headers())
    assert "az provider register -n Microsoft.ContainerRegistry" in caught.value.message
    ours = [r for r in emulator.requests()[before:] if not str(r.get("path")).endswith("register")]
    # signing in (the identity service's token endpoint) is no write to the subscription
    writes = [r for r in ours if r.get("method") not in ("GET", "HEAD") and r.get("api") != "identity"]
    assert writes == []
    assert any(r.get("api") == "arm" for r in ours)  # the preflight did ask ARM


# ----------------------------------------------------------------------- Microsoft Graph rights

_USER = {"scp": "Application.ReadWrite.All DelegatedPermissionGrant.ReadWrite.All", "idtyp": "user"}


@pytest.mark.parametrize(
    ("claims", "apps", "consent", "failures", "said"),
    [
        # a user with Cloud Application Administrator: both
        (
            {**_USER, "wids": [preflight.CLOUD_APPLICATION_ADMINISTRATOR]},
            True,
            True,
            0,
            "may grant admin consent",
        ),
        # Application Developer creates apps, cannot grant admin consent
        (
            {**_USER, "wids": [preflight.APPLICATION_DEVELOPER]},
            True,
            True,
            1,
            "Cloud Application Administrator",
        ),
        # no role: apps only while users may register them (said, not failed); no consent
        ({**_USER, "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"]}, True, False, 0, "the default"),
        ({**_USER, "wids": []}, True, True, 1, "admin_consent: false"),
        # a token without wids: said, not failed
        (_USER, True, True, 0, "no wids claim"),
        # a service principal: application permissions in roles
        (
            {"idtyp": "app", "roles": ["Application.ReadWrite.OwnedBy"]},
            True,
            False,
            0,
            "may create applications",
        ),
        (
            {"idtyp": "app", "roles": ["Application.ReadWrite.OwnedBy"]},
            True,
            True,
            1,
            "DelegatedPermissionGrant",
        ),
        ({"idtyp": "app", "roles": ["User.Read.All"]}, True, False, 1, "Application.ReadWrite.OwnedBy"),
        ({"idtyp": "app"}, False, False, 0, ""),  # a lab without Entra apps asks nothing
        # a user's token without the delegated permission: failed, whatever the roles
        (
            {"idtyp": "user", "scp": "Application.ReadWrite.All", "wids": [preflight.GLOBAL_ADMINISTRATOR]},
            True,
            True,
            1,
            "lacks the Microsoft Graph delegated permission DelegatedPermissionGrant.ReadWrite.All",
        ),
        ({"idtyp": "user", "scp": "User.Read", "wids": []}, True, False, 1, "Application.ReadWrite.All"),
        # az login's tokens: Directory.AccessAsUser.All stands for both
        (
            {"idtyp": "user", "scp": "Directory.AccessAsUser.All", "wids": [preflight.GLOBAL_ADMINISTRATOR]},
            True,
            True,
            0,
            "may grant admin consent",
        ),
    ],
)
def test_graph_rights_from_the_token(
    claims: dict[str, Any], apps: bool, consent: bool, failures: int, said: str
) -> None:
    findings = preflight.graph_rights(claims, apps, consent)
    assert len([f for f in findings if f.problem]) == failures, findings
    assert said in " ".join(f.line() for f in findings)
    if not apps and not consent:
        assert findings == []


class _ClaimsCredential:
    """A credential whose Graph token carries ``claims``: a real token of the emulator's identity
    service (signed with its key), though the preflight only reads it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_kw: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.extend(scopes)
        return AccessToken(self.token, 0)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> _ClaimsCredential:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


def test_doctor_reads_the_graph_token_of_the_labs_credential(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The default lab creates an app and grants admin consent: a user without a consenting
    directory role is told which role to ask for; the token asked is Graph's."""
    lab = unique_lab()
    ctx = context_for(emulator, tmp_path)
    try:
        header = graph_bearer(ctx, **_USER, wids=[preflight.APPLICATION_DEVELOPER])
    finally:
        ctx.store.close()
    credential = _ClaimsCredential(header["Authorization"].removeprefix("Bearer "))
    monkeypatch.setattr("orchestrator.target.make_credential", lambda _s: credential)
    findings = anyio.run(preflight.graph_access, lab, _settings(emulator, lab))
    assert credential.scopes == [_settings(emulator, lab).endpoints.graph_scope]
    assert [f.line() for f in findings if f.problem] == [
        "FAIL  graph: no directory role that may grant tenant-wide admin consent (the lab grants it: "
        "required_resource_access[*].admin_consent)  fix: ask for Cloud Application Administrator "
        "(least privileged), or set admin_consent: false"
    ]


# ------------------------------------------- rights at the subscription (no resource group yet)

READER, UAA = "acdd72a7-3385-48ef-bd42-f606fba81ae7", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
CREATE_GROUP = "Microsoft.Resources/subscriptions/resourceGroups/write"


def _as_someone(
    emu: RunningEmulator,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    *roles: tuple[str, str],
    **claims: Any,
) -> tuple[str, Lab]:
    """A fresh lab (its resource group not created) and a principal signed in with ``claims``
    holding ``roles`` (role GUID, scope: ``sub`` for the subscription, else a resource group);
    the principal's id."""
    lab = unique_lab()
    someone = str(claims.pop("oid", uuid.uuid4()))
    sub = f"/subscriptions/{emu.subscription_id}"

    async def grant() -> None:
        for role, where in roles:
            holder = claims["groups"][0] if where == "group-of-someone" else someone
            scope = sub if where in ("sub", "group-of-someone") else f"{sub}/resourceGroups/{where}"
            await assign_role(emu, holder, role, scope)

    anyio.run(grant)
    _signed_in_as(emu, scratch, monkeypatch, oid=someone, **claims)
    return someone, lab


def _rights(lines: list[str]) -> list[str]:
    return [line for line in lines if "rights:" in line]


def test_owner_at_the_subscription_may_create_the_group_and_everything_in_it(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, lab = _as_someone(emulator, tmp_path, monkeypatch, (OWNER, "sub"))
    lines = _rights(_run(emulator, lab))
    assert lines == [
        f"ok    rights: every write the lab makes is allowed on subscription {emulator.subscription_id} "
        f"(resource group {lab.target.resource_group} does not exist yet)"
    ]


def test_reader_at_the_subscription_is_told_the_writes_it_lacks(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    someone, lab = _as_someone(emulator, tmp_path, monkeypatch, (READER, "sub"))
    failures = _failures(_rights(_run(emulator, lab)))
    sub = f"/subscriptions/{emulator.subscription_id}"
    assert len(failures) == 2, failures
    writes, assigns = failures
    for action in (
        CREATE_GROUP,
        "Microsoft.App/containerApps/write",
        "Microsoft.ApiManagement/service/write",
    ):
        assert action in writes
    assert writes.endswith(
        f"fix: az role assignment create --assignee {someone} --role Contributor --scope {sub}"
    )
    assert ASSIGN in assigns
    assert "(the lab assigns roles)" in assigns
    assert assigns.endswith(
        f'--assignee {someone} --role "Role Based Access Control Administrator" --scope {sub}'
    )


def test_a_role_at_another_resource_group_does_not_count(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = anyio.run(make_group, emulator)
    _, lab = _as_someone(emulator, tmp_path, monkeypatch, (OWNER, elsewhere))
    failures = _failures(_rights(_run(emulator, lab)))
    assert len(failures) == 2, failures
    assert CREATE_GROUP in failures[0]
    assert ASSIGN in failures[1]


def test_contributors_not_actions_exclude_assigning_roles(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Contributor: actions "*" (the writes), notActions "Microsoft.Authorization/*/Write"
    _, lab = _as_someone(emulator, tmp_path, monkeypatch, (CONTRIBUTOR, "sub"))
    failures = _failures(_rights(_run(emulator, lab)))
    assert len(failures) == 1, failures
    assert f"not allowed on subscription {emulator.subscription_id}" in failures[0]
    assert ASSIGN in failures[0]
    assert CREATE_GROUP not in failures[0]


def test_a_wildcard_action_allows_assigning_roles(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # User Access Administrator: "Microsoft.Authorization/*" covers roleAssignments/write
    _, lab = _as_someone(emulator, tmp_path, monkeypatch, (CONTRIBUTOR, "sub"), (UAA, "sub"))
    assert _failures(_rights(_run(emulator, lab))) == []


def test_a_role_of_a_group_the_token_lists_counts(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    group = str(uuid.uuid4())
    someone, lab = _as_someone(emulator, tmp_path, monkeypatch, (OWNER, "group-of-someone"), groups=[group])
    assert _failures(_rights(_run(emulator, lab))) == []
    # the same principal, its token without the groups claim: the emulator knows no memberships
    _signed_in_as(emulator, tmp_path, monkeypatch, oid=someone)
    assert len(_failures(_rights(_run(emulator, lab)))) == 2


def test_the_subscription_check_reads_through_the_authorization_api(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    before = len(emulator.requests())
    assert _failures(_run(emulator, lab)) == []  # the local operator: the subscription's Owner
    paths = [str(r.get("path")) for r in emulator.requests()[before:]]
    assert any(p.endswith("/providers/Microsoft.Authorization/roleAssignments") for p in paths), paths
    assert any("/roleDefinitions/" in p for p in paths), paths


def test_the_doctor_and_the_emulated_graph_agree_on_the_rights() -> None:
    """The role sets the doctor reads ``wids`` against are the ones the emulated Graph enforces."""
    from emulator.graph import authz

    assert preflight._CREATE_APPS_ROLES == authz.CREATE_APPS_ROLES
    assert preflight._CONSENT_ROLES == authz.CONSENT_ROLES
    assert authz._APP_ROLES[authz.Op.CREATE_APP] == preflight._CREATE_APPS_PERMISSIONS
    assert {preflight._GRANT_PERMISSION, "Directory.ReadWrite.All"} == authz._APP_ROLES[authz.Op.WRITE_GRANT]


_ENTRA_KINDS = ("entra_app", "service_principal", "permission_grant")


@pytest.mark.parametrize(
    ("claims", "missing", "refused"),
    [
        # an app with OwnedBy only: creates the app and its principal, not the admin consent
        (
            {"idtyp": "app", "roles": ["Application.ReadWrite.OwnedBy"]},
            "DelegatedPermissionGrant.ReadWrite.All",
            "permission_grant.mcp.00000003-0000-0000-c000-000000000000",
        ),
        # an app without an Application permission: not even the app
        (
            {"idtyp": "app", "roles": ["User.Read.All", "DelegatedPermissionGrant.ReadWrite.All"]},
            "Application.ReadWrite.OwnedBy",
            "entra_app.mcp",
        ),
        # a user who is Application Developer: the app, not tenant-wide consent
        (
            {**_USER, "wids": [preflight.APPLICATION_DEVELOPER]},
            "no directory role that may grant tenant-wide admin consent",
            "permission_grant.mcp.00000003-0000-0000-c000-000000000000",
        ),
        # an administrator whose token lacks the grant scope
        (
            {
                "idtyp": "user",
                "scp": "Application.ReadWrite.All",
                "wids": [preflight.CLOUD_APPLICATION_ADMINISTRATOR],
            },
            "delegated permission DelegatedPermissionGrant.ReadWrite.All",
            "permission_grant.mcp.00000003-0000-0000-c000-000000000000",
        ),
        # enough: the doctor passes and the lab's Entra part converges
        (
            {
                "idtyp": "app",
                "roles": ["Application.ReadWrite.OwnedBy", "DelegatedPermissionGrant.ReadWrite.All"],
            },
            "",
            "",
        ),
        ({**_USER, "wids": [preflight.CLOUD_APPLICATION_ADMINISTRATOR]}, "", ""),
    ],
)
def test_what_the_doctor_calls_missing_the_reconcile_is_refused(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    claims: dict[str, Any],
    missing: str,
    refused: str,
) -> None:
    """Doctor and emulated Graph agree: with the same Graph token the doctor names the missing
    right, and the lab's Entra writes (the engine's providers, through msgraph-sdk) are refused
    exactly there with Graph's 403; with enough rights both pass."""
    from orchestrator.errors import PrmlabError
    from orchestrator.providers import providers_for
    from tests.orchestrator.providers.support import Converger, local_clients, target_outputs
    from tests.orchestrator.providers.test_emulator_entra import fake_outputs

    lab = unique_lab()
    ctx = context_for(emulator, tmp_path)
    try:
        token = graph_bearer(ctx, **claims)["Authorization"].removeprefix("Bearer ")
    finally:
        ctx.store.close()
    monkeypatch.setattr("orchestrator.target.make_credential", lambda _s: _ClaimsCredential(token))
    problems = [
        f.line() for f in anyio.run(preflight.graph_access, lab, _settings(emulator, lab)) if f.problem
    ]
    assert [missing in line for line in problems] == ([True] if missing else []), problems

    async def converge() -> None:
        async with local_clients(emulator, lab) as clients:
            conv = Converger(lab, providers_for(clients, lab), target_outputs(emulator), fake_outputs(lab))
            await conv.converge(_ENTRA_KINDS)

    before = len(emulator.requests())
    if not refused:
        anyio.run(converge)
        return
    with pytest.raises(PrmlabError) as caught:
        anyio.run(converge)
    assert refused in str(caught.value)
    assert "Authorization_RequestDenied: Insufficient privileges to complete the operation." in str(
        caught.value
    )
    statuses = [r.get("status") for r in emulator.requests()[before:] if r.get("api") == "graph"]
    assert statuses[-1] == 403


def test_an_unreadable_assignment_list_is_a_failure_with_its_fix() -> None:
    """A 403 on the role assignment list (Azure needs roleAssignments/read there) is one FAIL
    line naming ARM's answer, with the assignment an Owner makes."""
    from azure.core.exceptions import HttpResponseError, ODataV4Format

    from orchestrator.target import Clients

    refused = HttpResponseError(message="Forbidden")
    refused.status_code = 403
    refused.error = ODataV4Format(
        {
            "code": "AuthorizationFailed",
            "message": "The client 'x' with object id 'x' does not have authorization.",
        }
    )

    class _Refusing:  # the SDK's pager: the first page's request answers 403
        def __aiter__(self) -> _Refusing:
            return self

        async def __anext__(self) -> Any:
            raise refused

    class _Assignments:
        def list_for_subscription(self, **_kw: Any) -> Any:
            return _Refusing()

    class _Authorization:
        role_assignments = _Assignments()

    lab = unique_lab()
    settings = TargetSettings(
        kind="azure",
        subscription_id="11111111-1111-1111-1111-111111111111",
        tenant_id="22222222-2222-2222-2222-222222222222",
        resource_group=lab.target.resource_group,
        location=lab.target.location,
    )
    clients = Clients(settings, apim=None, resources=None, graph=None, authorization=_Authorization())
    findings = anyio.run(preflight.subscription_rights, clients, build_graph(lab), {"oid": "o-1"})
    assert [f.line() for f in findings] == [
        "FAIL  rights: cannot read your role assignments on subscription 11111111-1111-1111-1111-111111111111 "
        "(HTTP 403 AuthorizationFailed: The client 'x' with object id 'x' does not have authorization.)"
        "  fix: an Owner of the subscription runs: az role assignment create --assignee o-1 --role Contributor "
        "--scope /subscriptions/11111111-1111-1111-1111-111111111111"
    ]
