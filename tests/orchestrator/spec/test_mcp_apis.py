"""Every MCP API is a protected resource by construction (``orchestrator.spec.mcp_apis``): what
lab.yaml leaves out is derived (policy, PRM under the API, PRM at the path-inserted URL), what it
declares is kept and checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import SpecError
from orchestrator.labfile import load
from orchestrator.spec.models import Lab, Policy
from orchestrator.spec.values import Ref

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = (ROOT / "lab.yaml").read_text()

SECOND_API = """    mcp2:
      display_name: MCP tools 2
      type: mcp
      path: tools/two
      backend: mcp-backend

    # RFC 9728 discovery"""


def _lab(tmp_path: Path, text: str) -> Lab:
    (tmp_path / "lab.yaml").write_text(text)
    (tmp_path / "mcp_server").mkdir(exist_ok=True)
    return load(tmp_path / "lab.yaml", env={})[0]


def _issues(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _lab(tmp_path, text)
    return [f"{i.line}:{i.path}: {i.message}" for i in caught.value.issues]


def _with_second_api(text: str, *, identifier_uri: bool = True) -> str:
    text = text.replace("    # RFC 9728 discovery", SECOND_API, 1)
    if identifier_uri:
        text = text.replace(
            "        - {ref: apim.apis.mcp.url}\n",
            "        - {ref: apim.apis.mcp.url}\n        - {ref: apim.apis.mcp2.url}\n",
            1,
        )
    return text


def _refs(value: Any) -> Any:
    """Policy variables with references as their strings (comparable)."""
    if isinstance(value, Ref):
        return value.ref + (f"+{value.suffix}" if value.suffix else "")
    if isinstance(value, tuple | list):
        return [_refs(v) for v in value]
    if isinstance(value, dict):
        return {k: _refs(v) for k, v in value.items()}
    return value


def _vars(policy: Policy | None) -> dict[str, Any]:
    assert policy is not None
    return {k: _refs(v) for k, v in policy.variables.items()}


def test_the_default_lab_declares_everything_itself_and_is_kept_as_written(tmp_path: Path) -> None:
    lab = _lab(tmp_path, DEFAULT)
    apis = lab.apim.apis
    assert list(apis) == ["mcp", "mcp-prm-dynamic-discovery", "entra-metadata"]
    assert list(apis["mcp"].operations) == ["prm"]
    assert list(apis["mcp-prm-dynamic-discovery"].operations) == ["mcp"]
    assert apis["mcp"].app == "mcp"  # written for verification
    assert _vars(apis["mcp"].operations["prm"].policy)["resource_name"] == "prmlab MCP server"


def test_a_second_mcp_api_gets_its_policy_and_its_prm_at_both_urls(tmp_path: Path) -> None:
    lab = _lab(tmp_path, _with_second_api(DEFAULT))
    api = lab.apim.apis["mcp2"]
    assert api.app == "mcp"
    assert api.policy is not None
    assert api.policy.template == "mcp-api-entra"
    assert _vars(api.policy) == {
        "tenant_id": "target.tenant_id",
        "audience": "entra.apps.mcp.client_id",
        "identifier_uri": "entra.apps.mcp.identifier_uri",
        "scope": "entra.apps.mcp.scope",
        "resource_metadata_url": "apim.apis.mcp2.prm_url",  # its own PRM, not mcp's
    }
    prm = api.operations["prm"]
    assert (prm.method, prm.url_template) == ("GET", "/.well-known/oauth-protected-resource")
    expected = {
        "resource": "apim.apis.mcp2.url",
        # the lab's authorization-server metadata first (as mcp's), then Entra's issuer
        "authorization_servers": ["apim.service.gateway_url+/entra", "target.issuer"],
        "scopes_supported": ["entra.apps.mcp.scope"],
        "resource_name": "MCP tools 2",
    }
    assert prm.policy is not None
    assert prm.policy.template == "prm"
    assert _vars(prm.policy) == expected
    discovery = lab.apim.apis["mcp-prm-dynamic-discovery"].operations
    assert list(discovery) == ["mcp", "mcp2"]
    assert (discovery["mcp2"].method, discovery["mcp2"].url_template) == ("GET", "/tools/two")
    assert _vars(discovery["mcp2"].policy) == expected
    # mcp (declared) unchanged
    assert list(lab.apim.apis["mcp"].operations) == ["prm"]


def test_without_a_discovery_api_one_is_made(tmp_path: Path) -> None:
    text = re.sub(
        r"(?ms)^    # RFC 9728 discovery:.*?(?=^    # RFC 8414)", "", _with_second_api(DEFAULT), count=1
    )
    lab = _lab(tmp_path, text)
    discovery = lab.apim.apis["mcp-prm-dynamic-discovery"]
    assert discovery.path == ".well-known/oauth-protected-resource"
    assert discovery.type == "http"
    assert not discovery.subscription_required
    assert discovery.policy is None
    assert {k: o.url_template for k, o in discovery.operations.items()} == {
        "mcp": "/mcp",
        "mcp2": "/tools/two",
    }


def test_a_policy_of_the_mcp_template_without_resource_metadata_url_gets_its_own(tmp_path: Path) -> None:
    text = DEFAULT.replace("          resource_metadata_url: {ref: apim.apis.mcp.prm_url}\n", "", 1)
    assert text != DEFAULT
    lab = _lab(tmp_path, text)
    assert _vars(lab.apim.apis["mcp"].policy)["resource_metadata_url"] == "apim.apis.mcp.prm_url"


def test_a_challenge_copied_from_another_api_is_refused(tmp_path: Path) -> None:
    copied = """    mcp2:
      display_name: MCP tools 2
      type: mcp
      path: mcp2
      backend: mcp-backend
      policy:
        template: mcp-api-entra
        variables:
          tenant_id: {named_value: McpTenantId}
          audience: {named_value: McpClientId}
          scope: {ref: entra.apps.mcp.scope}
          resource_metadata_url: {ref: apim.apis.mcp.prm_url}

    # RFC 9728 discovery"""
    text = DEFAULT.replace("    # RFC 9728 discovery", copied, 1).replace(
        "        - {ref: apim.apis.mcp.url}\n",
        "        - {ref: apim.apis.mcp.url}\n        - {ref: apim.apis.mcp2.url}\n",
        1,
    )
    [issue] = _issues(tmp_path, text)
    assert issue.endswith(
        "apim.apis.mcp2.policy.variables.resource_metadata_url: the 401 challenge of apim.apis.mcp2 must "
        "point at its own PRM ({ref: apim.apis.mcp2.prm_url}), not {ref: apim.apis.mcp.prm_url}"
    )


def test_a_prm_document_naming_another_resource_is_refused(tmp_path: Path) -> None:
    # the path-inserted PRM of /mcp (discovery API, operation mcp) says resource = the oauth path
    text = DEFAULT.replace(
        "          display_name: Protected Resource Metadata of /mcp\n          policy: *prm_policy\n",
        "          display_name: Protected Resource Metadata of /mcp\n          policy:\n"
        "            template: prm\n            variables:\n"
        "              resource: {ref: apim.apis.entra-metadata.url}\n"
        "              authorization_servers: [{ref: target.issuer}]\n"
        "              scopes_supported: [{ref: entra.apps.mcp.scope}]\n"
        "              resource_name: x\n",
        1,
    )
    assert text != DEFAULT
    [issue] = _issues(tmp_path, text)
    assert issue.endswith(
        "apim.apis.mcp-prm-dynamic-discovery.operations.mcp.policy.variables.resource: this PRM document is "
        "apim.apis.mcp's, so its resource must be {ref: apim.apis.mcp.url} (RFC 9728 §3.3: byte for "
        "byte the URL clients use), not {ref: apim.apis.entra-metadata.url}"
    )


def test_the_apps_identifier_uris_must_name_the_api(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, _with_second_api(DEFAULT, identifier_uri=False))
    line = next(i for i, t in enumerate(DEFAULT.splitlines(), 1) if t.strip() == "identifier_uris:") + 1
    assert issue.startswith(f"{line}:entra.apps.mcp.identifier_uris: ")
    assert "need `{ref: apim.apis.mcp2.url}`" in issue
    assert "AADSTS9010010" in issue


def test_which_app_is_ambiguous_and_app_names_it(tmp_path: Path) -> None:
    second_app = """    other:
      unique_name: other-app
      display_name: Other
      scopes:
        - value: read
          admin_consent_display_name: Read
          admin_consent_description: Read.

# User-assigned managed identities"""
    text = _with_second_api(DEFAULT, identifier_uri=False).replace(
        "# User-assigned managed identities", second_app, 1
    )
    [issue] = _issues(tmp_path, text)
    assert (
        "apim.apis.mcp2: apim.apis.mcp2 is an MCP API whose policy or PRM is left to prmlab, but it names no app"
        in issue
    )
    named = text.replace("      path: tools/two\n", "      path: tools/two\n      app: other\n", 1)
    lab = _lab(tmp_path, named)
    assert _vars(lab.apim.apis["mcp2"].policy)["audience"] == "entra.apps.other.client_id"
    assert "identifier_uri" not in _vars(lab.apim.apis["mcp2"].policy)  # other has none
    unknown = text.replace("      path: tools/two\n", "      path: tools/two\n      app: nope\n", 1)
    assert any(
        "apim.apis.mcp2.app: app 'nope' is not an entra.apps key" in i for i in _issues(tmp_path, unknown)
    )


GATEWAY = (
    (ROOT / "labs" / "gateway.yaml").read_text().replace("source: ../mcp_server", "source: ./mcp_server")
)


def _without_mcp_policy(text: str) -> str:
    """labs/gateway.yaml with the MCP API's own policy block left out."""
    start = text.index("      policy:\n        template: gateway-mcp-api")
    return text[:start] + text[text.index("      operations:\n", start) :]


def test_gateway_mode_derives_the_mcp_apis_policy_from_the_authorization_server(tmp_path: Path) -> None:
    """Left out, the MCP API's policy is gateway-mcp-api bound to the authorization server that
    issues its tokens: exactly what labs/gateway.yaml declares (it used to be refused)."""
    declared = _lab(tmp_path, GATEWAY).apim.apis["mcp"].policy
    derived = _lab(tmp_path, _without_mcp_policy(GATEWAY)).apim.apis["mcp"].policy
    assert derived is not None
    assert declared is not None
    assert derived.template == declared.template == "gateway-mcp-api"
    assert _vars(derived) == _vars(declared)


def test_gateway_mode_refuses_an_mcp_api_no_authorization_server_issues_tokens_for(tmp_path: Path) -> None:
    text = GATEWAY.replace(
        "    mcp-prm-dynamic-discovery:",
        SECOND_API.replace("    # RFC 9728 discovery", "    mcp-prm-dynamic-discovery:"),
        1,
    )
    assert text != GATEWAY
    line = text[: text.index("    mcp2:\n")].count("\n") + 2  # the API's mapping starts below its key
    issues = _issues(tmp_path, text)
    assert issues == [
        f"{line}:apim.apis.mcp2: apim.apis.mcp2: in authorization mode 'gateway' clients get this MCP API's "
        "tokens from a gateway authorization server, but none of the lab's issues them (apim.apis.oauth "
        "issues them for {ref: apim.apis.mcp.url}; one issues tokens for one resource only, RFC 8707 "
        "audience binding): add an API whose policy has template gateway-oauth with "
        "`resource: {ref: apim.apis.mcp2.url}` (as apim.apis.oauth in labs/gateway.yaml) and a "
        "gateway-metadata policy for its issuer; this API's policy (gateway-mcp-api) is then derived"
    ], issues
    # declared instead, copied from mcp's: its resource is mcp's (the copy-paste defect) ...
    block = GATEWAY[GATEWAY.index("      policy:\n        template: gateway-mcp-api") :]
    block = block[: block.index("      operations:\n")].replace(
        "apim.apis.mcp.prm_url", "apim.apis.mcp2.prm_url"
    )
    copied = text.replace("      path: tools/two\n", "      path: tools/two\n" + block, 1)
    [issue] = _issues(tmp_path, copied)
    assert (
        "apim.apis.mcp2.policy.variables.resource: apim.apis.mcp2's policy admits the gateway tokens" in issue
    )
    assert (
        "must be {ref: apim.apis.mcp2.url} (RFC 8707 audience binding), not {ref: apim.apis.mcp.url}" in issue
    )
    # ... or its own: still no authorization server issues tokens for it
    own = copied.replace(
        "          resource: {ref: apim.apis.mcp.url}\n          # The PRM URL that is really served (path-inserted, "
        "RFC 9728 section 3.1).\n          resource_metadata_url: {ref: apim.apis.mcp2.prm_url}",
        "          resource: {ref: apim.apis.mcp2.url}\n          resource_metadata_url: {ref: apim.apis.mcp2.prm_url}",
        1,
    )
    assert own != copied
    [issue] = _issues(tmp_path, own)
    assert "apim.apis.mcp2.policy: apim.apis.mcp2: in authorization mode 'gateway'" in issue
    assert (
        "but none of the lab's issues them (apim.apis.oauth issues them for {ref: apim.apis.mcp.url}" in issue
    )
