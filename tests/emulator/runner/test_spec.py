"""The image rule and what the runner reads from a stored container app (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from emulator.runner.spec import SpecError, is_server_image, parse_app, repository_of

KEY = "/subscriptions/s/resourcegroups/rg/providers/microsoft.app/containerapps/app1"
MI = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"


def container_app(
    image: str = "labacr.azurecr.io/mcp-server:1", port: int = 45678, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "app1",
        "type": "Microsoft.App/containerApps",
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {MI: {"principalId": "p", "clientId": "c-mi"}},
        },
        "properties": {
            "provisioningState": "Succeeded",
            "configuration": {
                "ingress": {"external": True, "targetPort": 8000, "fqdn": f"127.0.0.1:{port}"},
                "secrets": [{"name": "s1", "value": "hunter2"}],
            },
            "template": {
                "containers": [
                    {
                        "name": "mcp",
                        "image": image,
                        "env": [
                            {"name": "AZURE_TENANT_ID", "value": "t"},
                            {"name": "AZURE_CLIENT_ID", "value": "c"},
                            {"name": "REQUIRED_SCOPE", "value": "user_impersonate"},
                            {"name": "SECRET_THING", "secretRef": "s1"},
                        ],
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                    }
                ],
                "scale": {"minReplicas": 1, "maxReplicas": 3},
            },
        },
    }
    body.update(extra)
    return body


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("labacr.azurecr.io/mcp-server:1", True),
        ("mcp-server", True),
        ("mcp_server:latest", True),
        ("registry:5000/team/lab-mcp-prm-server@sha256:abc", True),
        ("x.azurecr.io/prmlab-mcp-server:2", True),
        ("crmcpprmoauth.azurecr.io/mcp-prm-oauth-server:3f2a", True),
        ("team/mcp.server", True),
        ("acrlab.azurecr.io/mcp:1", False),
        ("webserver:1", False),
        ("mcpserver:1", False),
        ("MCR.microsoft.com/k8se/quickstart:latest", False),
        ("mcr.microsoft.com/azuredocs/containerapps-helloworld:latest", False),
        ("evil/mcp-server-backdoor:1", False),
        ("mcp-server/other:1", False),
        ("", False),
    ],
)
def test_image_rule(image: str, ok: bool) -> None:
    assert is_server_image(image) is ok


def test_repository_strips_registry_tag_and_digest() -> None:
    assert repository_of("host:5000/a/b/Mcp-Server:tag@sha256:1") == "mcp-server"


def test_parse_resolves_secrets_port_and_identities() -> None:
    spec = parse_app(KEY, container_app())
    assert spec.port == 45678
    assert spec.name == "app1"
    assert dict(spec.env) == {
        "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c",
        "REQUIRED_SCOPE": "user_impersonate",
        "SECRET_THING": "hunter2",
    }
    assert spec.identities == ((MI.lower(), "c-mi"),)


def test_fingerprint_tracks_image_env_identity_and_port_only() -> None:
    base = container_app()
    fp = parse_app(KEY, base).fingerprint

    def changed(mutate: Any) -> str:
        body = copy.deepcopy(base)
        mutate(body)
        return parse_app(KEY, body).fingerprint

    assert changed(lambda b: b["properties"].update(runningStatus="Running")) == fp
    assert changed(lambda b: b["properties"]["template"]["scale"].update(maxReplicas=5)) == fp
    assert (
        changed(lambda b: b["properties"]["template"]["containers"][0].update(image="acr/mcp-server:2")) != fp
    )
    assert (
        changed(
            lambda b: b["properties"]["template"]["containers"][0]["env"].append({"name": "X", "value": "1"})
        )
        != fp
    )
    assert changed(lambda b: b["properties"]["configuration"]["secrets"][0].update(value="rotated")) != fp
    assert changed(lambda b: b["identity"]["userAssignedIdentities"].clear()) != fp
    assert changed(lambda b: b["properties"]["configuration"]["ingress"].update(fqdn="127.0.0.1:1")) != fp


def test_explicit_tag_opts_any_image_in() -> None:
    spec = parse_app(KEY, container_app(image="acr/custom:1", tags={"prmlab-runner": "mcp_server"}))
    assert spec.image == "acr/custom:1"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda b: b["properties"]["template"]["containers"][0].update(image="mcr.microsoft.com/hello:1"),
            "cannot run on the local target",
        ),
        (lambda b: b["properties"]["template"].update(containers=[]), "no containers"),
        (lambda b: b["properties"]["template"]["containers"].append({"image": "mcp-server"}), "exactly one"),
        (lambda b: b["properties"]["configuration"]["ingress"].pop("fqdn"), "no ingress fqdn"),
        (
            lambda b: b["properties"]["configuration"]["ingress"].update(fqdn="app.azurecontainerapps.io"),
            "not a local",
        ),
        (lambda b: b["properties"]["configuration"].update(secrets=[]), "secret 's1'"),
    ],
)
def test_unrunnable_specs_say_why(mutate: Any, needle: str) -> None:
    body = container_app()
    mutate(body)
    with pytest.raises(SpecError, match=needle):
        parse_app(KEY, body)
