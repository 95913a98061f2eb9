"""Rendering every policy of a lab: references, named-value tokens, static resolution, the command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli, main
from orchestrator.errors import RenderError
from orchestrator.render import NamedValueRef, parse_policy
from orchestrator.render.lab import (
    Resolver,
    convert_variables,
    lab_policies,
    named_value_name,
    policy_variables,
    render_lab_policies,
    static_resolver,
)
from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec import Lab, load_lab, parse_lab
from orchestrator.spec.refs import resolve as spec_resolve
from orchestrator.spec.values import Ref
from tests.orchestrator.render.cases import CLIENT_ID, GATEWAY, MCP_URL, PRM_URL, TENANT_ID

LABS = Path(__file__).parent / "labs"
GOLDEN = Path(__file__).parent / "golden"
DEFAULT_LAB = Path(__file__).parents[3] / "lab.yaml"


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(LABS / "entra.yaml", env={})


def _engine_resolver(lab: Lab) -> Resolver:
    outputs = {"apim_service.main": {"gateway_url": GATEWAY}, "entra_app.mcp": {"client_id": CLIENT_ID}}
    target = {
        "tenant_id": TENANT_ID,
        "issuer": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",
        "authority": "https://login.microsoftonline.com",
    }
    return lambda ref: spec_resolve(ref, lab, outputs, target)


def test_policies_are_found_with_their_addresses(lab: Lab) -> None:
    assert [p.address for p in lab_policies(lab)] == [
        "apim.apis.mcp.policy",
        # the PRM under the MCP API, which entra.yaml leaves out: derived (spec.mcp_apis)
        "apim.apis.mcp.operations.prm.policy",
        "apim.apis.prm.operations.mcp.policy",
    ]


def test_named_value_tokens_use_the_apim_name(lab: Lab) -> None:
    assert named_value_name(lab, "tenant") == "McpTenantId"  # display_name
    assert named_value_name(lab, "McpClientId") == "McpClientId"  # the key
    with pytest.raises(RenderError, match="unknown named value 'nope'"):
        named_value_name(lab, "nope")


def test_with_the_engines_resolved_values_the_mcp_policy_is_the_golden_one(lab: Lab) -> None:
    rendered = render_lab_policies(lab, _engine_resolver(lab))
    assert rendered["apim.apis.mcp.policy"] == (GOLDEN / "mcp-api-entra.xml").read_text(encoding="utf-8")
    body = parse_policy(rendered["apim.apis.prm.operations.mcp.policy"]).findtext(
        "inbound/return-response/set-body"
    )
    assert body is not None
    assert body.startswith(
        f'{{"resource": "{MCP_URL}", "authorization_servers": ["https://login.microsoftonline.com/'
    )
    assert f'"scopes_supported": ["{MCP_URL}/user_impersonate"]' in body
    assert PRM_URL in rendered["apim.apis.mcp.policy"]


def test_static_render_of_a_local_lab_marks_unknown_values(lab: Lab) -> None:
    rendered = render_lab_policies(lab, static_resolver(lab))
    mcp = rendered["apim.apis.mcp.policy"]
    assert "{{McpTenantId}}" in mcp
    assert "{{McpClientId}}" in mcp
    assert 'resource_metadata="(known after apply)"' in mcp
    prm = rendered["apim.apis.prm.operations.mcp.policy"]
    assert '"authorization_servers": ["(known after apply)", "https://login.example.com/static/v2.0"]' in prm


def test_static_render_of_an_azure_lab_knows_the_tenant() -> None:
    text = (
        (LABS / "entra.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "  kind: local\n",
            f"  kind: azure\n  subscription_id: 00000000-0000-0000-0000-000000000001\n"
            f"  tenant_id: {TENANT_ID}\n  resource_group: rg-render\n  location: ukwest\n",
        )
    )
    lab, _ = parse_lab(text, env={})
    prm = render_lab_policies(lab, static_resolver(lab))["apim.apis.prm.operations.mcp.policy"]
    assert f'"authorization_servers": ["https://login.microsoftonline.com/{TENANT_ID}/v2.0", ' in prm


def test_a_secret_reference_is_refused_with_the_policy_address(lab: Lab) -> None:
    def leaky(ref: Ref) -> object:
        return Secret("s3cr3t") if ref.ref == "target.issuer" else UNKNOWN

    with pytest.raises(RenderError) as info:
        render_lab_policies(lab, leaky)
    # the first PRM document rendered: the derived one under the MCP API
    assert info.value.message.startswith("apim.apis.mcp.operations.prm.policy: policy template 'prm': ")
    assert "'authorization_servers[0]' is a secret" in info.value.message
    assert "s3cr3t" not in info.value.message


# --- the command -------------------------------------------------------------------------------


def test_render_command_prints_every_policy_with_a_header() -> None:
    result = CliRunner().invoke(cli, ["render", "-f", str(LABS / "entra.yaml")], standalone_mode=False)
    assert result.exception is None, result.output
    assert result.return_value == 0
    out = result.output
    assert out.startswith(
        "<!-- apim.apis.mcp.policy (template mcp-api-entra); "
        "known after apply: identifier_uri, resource_metadata_url, scope -->\n<policies>\n"
    )
    assert "\n\n<!-- apim.apis.prm.operations.mcp.policy (template prm); known after apply: " in out
    assert out.count("<policies>") == 3  # + the derived PRM under the MCP API


def test_render_command_writes_one_file_per_policy(tmp_path: Path) -> None:
    out = tmp_path / "policies"
    result = CliRunner().invoke(
        cli, ["render", "-f", str(LABS / "entra.yaml"), "-o", str(out)], standalone_mode=False
    )
    assert result.exception is None, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "apim.apis.mcp.operations.prm.policy.xml",
        "apim.apis.mcp.policy.xml",
        "apim.apis.prm.operations.mcp.policy.xml",
    ]
    for name in files:
        assert parse_policy((out / name).read_text(encoding="utf-8")).tag == "policies"


def _run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


def test_render_errors_exit_1_naming_every_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (LABS / "entra.yaml").read_text(encoding="utf-8")
    text = text.replace('resource_name: Render <test> & "friends"', "resource_name: 'a {{Injected}} name'")
    text = text.replace("tenant_id: {named_value: tenant}", "tenant_id: '@(context.Request.Url)'")
    bad = tmp_path / "lab.yaml"
    bad.write_text(text, encoding="utf-8")
    code, err = _run_main(["render", "-f", str(bad)], capsys)
    assert code == 1
    assert (
        "apim.apis.mcp.policy: policy template 'mcp-api-entra': variable 'tenant_id' starts with '@('" in err
    )
    assert (
        "apim.apis.prm.operations.mcp.policy: policy template 'prm': variable 'resource_name' contains" in err
    )


def test_spec_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "lab.yaml"
    bad.write_text("name: x\ntarget: {kind: local}\napim: {unknown_key: 1}\n", encoding="utf-8")
    code, err = _run_main(["render", "-f", str(bad)], capsys)
    assert code == 2
    assert f"{bad}:3:" in err


def test_the_default_lab_renders_statically() -> None:
    lab = load_lab(DEFAULT_LAB)
    rendered = render_lab_policies(lab, static_resolver(lab))
    assert {lab_policy.policy.template for lab_policy in lab_policies(lab)} >= {"mcp-api-entra", "prm"}
    for xml in rendered.values():
        assert parse_policy(xml).tag == "policies"


def test_the_default_lab_resolved_renders_the_reviewed_golden_files() -> None:
    # lab.yaml + templates, with the values the engine would have after apply, give exactly the
    # XML reviewed in golden/: the MCP API policy, both PRM operations (RFC 9728 paths) and the
    # gateway's RFC 8414 metadata for Entra.
    lab = load_lab(DEFAULT_LAB)
    rendered = render_lab_policies(lab, _engine_resolver(lab))
    metadata = rendered.pop("apim.apis.entra-metadata.operations.entra.policy")
    assert metadata == (GOLDEN / "entra-metadata.xml").read_text(encoding="utf-8")
    prm_policies = [
        a for a in rendered if a.startswith("apim.apis.") and a.endswith(".policy") and ".operations." in a
    ]
    assert len(prm_policies) == 2
    assert rendered["apim.apis.mcp.policy"] == (GOLDEN / "mcp-api-entra.xml").read_text(encoding="utf-8")
    for address in prm_policies:
        assert rendered[address] == (GOLDEN / "prm.xml").read_text(encoding="utf-8"), address


def test_convert_variables_accepts_the_dumped_spec_form(lab: Lab) -> None:
    policy = lab.apim.apis["mcp"].policy
    assert policy is not None
    dumped = policy.model_dump(mode="python", exclude_none=True)["variables"]
    names = {"tenant": "McpTenantId", "McpClientId": "McpClientId"}
    values = {"apim.apis.mcp.url": MCP_URL, "apim.apis.mcp.prm_url": PRM_URL}

    def lookup(ref: Ref) -> object | None:
        return values.get(ref.ref)

    converted = convert_variables(dumped, lookup, names)
    assert converted == {
        "tenant_id": NamedValueRef("McpTenantId"),
        "audience": NamedValueRef("McpClientId"),
        "identifier_uri": MCP_URL,
        "scope": UNKNOWN,
        "resource_metadata_url": PRM_URL,
    }
    assert converted == policy_variables(lab, policy, lookup)
    with pytest.raises(RenderError, match="unknown named value 'tenant'"):
        convert_variables(dumped, lookup, {})
    with pytest.raises(RenderError, match=r"reference apim.apis.mcp.url is not resolved"):
        convert_variables({"x": {"ref": "apim.apis.mcp.url"}})


def test_unconverted_tokens_are_refused_by_render_policy() -> None:
    from orchestrator.render import render_policy
    from tests.orchestrator.render.cases import MCP_API_ENTRA

    with pytest.raises(RenderError, match=r"'tenant_id' is an unconverted lab\.yaml token or reference"):
        render_policy("mcp-api-entra", {**MCP_API_ENTRA, "tenant_id": {"named_value": "McpTenantId"}})
