"""The cloud table agrees with the SDKs' own tables and with lab.yaml's choices."""

from __future__ import annotations

import typing

import pytest
from azure.identity import AzureAuthorityHosts
from azure.mgmt.core.tools import AzureClouds, get_arm_endpoints

from orchestrator import clouds
from orchestrator.spec.models import AzureTarget, CloudName

_SDK = {
    clouds.PUBLIC: (AzureClouds.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
    clouds.US_GOVERNMENT: (AzureClouds.AZURE_US_GOVERNMENT, AzureAuthorityHosts.AZURE_GOVERNMENT),
    clouds.CHINA: (AzureClouds.AZURE_CHINA_CLOUD, AzureAuthorityHosts.AZURE_CHINA),
}


def test_lab_yaml_offers_exactly_the_known_clouds() -> None:
    assert set(typing.get_args(CloudName)) == set(clouds.NAMES) == set(_SDK)
    assert AzureTarget.model_fields["cloud"].default == clouds.PUBLIC


@pytest.mark.parametrize("name", clouds.NAMES)
def test_arm_and_authority_match_the_sdks(name: str) -> None:
    cloud = clouds.cloud(name)
    arm, authority_host = _SDK[name]
    endpoints = get_arm_endpoints(arm)
    assert cloud.resource_manager == endpoints["resource_manager"].rstrip("/")
    assert [cloud.arm_scope] == endpoints["credential_scopes"]
    assert cloud.authority == f"https://{authority_host}"
    assert cloud.authority_host == authority_host


def test_derived_hosts_per_cloud() -> None:
    gov = clouds.cloud(clouds.US_GOVERNMENT)
    assert gov.login_server("CrLab") == "crlab.azurecr.us"
    assert gov.gateway_url("apim-x") == "https://apim-x.azure-api.us"
    assert clouds.cloud(clouds.CHINA).graph_v1 == "https://microsoftgraph.chinacloudapi.cn/v1.0"
    assert clouds.cloud(clouds.PUBLIC).graph_scope == "https://graph.microsoft.com/.default"


def test_the_emulator_is_a_cloud_with_the_public_audiences() -> None:
    local = clouds.Cloud.local("https://127.0.0.1:4443/")
    public = clouds.CLOUDS[clouds.PUBLIC]
    assert local.resource_manager == local.graph == "https://127.0.0.1:4443"
    assert local.authority == "https://127.0.0.1:4443/login"
    assert (local.arm_scope, local.graph_scope) == (public.arm_scope, public.graph_scope)


def test_an_unknown_cloud_names_the_choices() -> None:
    with pytest.raises(KeyError, match="AzureUSGovernment"):
        clouds.cloud("AzureGermanCloud")
