"""The Azure clouds a lab can target, and every endpoint that differs between them (pure, stdlib).

Where it sits: the base layer. ``spec.models.AzureTarget.cloud`` names one of ``CLOUDS`` (lab.yaml
``target.cloud``, default ``AzureCloud``); ``target.TargetSettings`` carries the ``Cloud`` and
builds every client from it (ARM endpoint and token scope, Microsoft Graph endpoint and scope, the
Entra authority the credential signs in at); ``target.*`` references (``authority``, ``issuer``,
``graph_endpoint``) and the providers' derived names (a registry's login server, an APIM gateway
host) read it too. The local target is a cloud as well (``Cloud.local``): every endpoint is the
emulator's base URL, the token audiences stay the public cloud's, as the emulator imitates it.

Sources (each value below is taken from them, not guessed):

* ARM endpoint and credential scope: azure-mgmt-core ``azure.mgmt.core.tools.get_arm_endpoints``
  (``AzureClouds.AZURE_PUBLIC_CLOUD`` / ``AZURE_US_GOVERNMENT`` / ``AZURE_CHINA_CLOUD``);
* Entra authority hosts: azure-identity ``AzureAuthorityHosts`` (``login.microsoftonline.com``,
  ``login.microsoftonline.us``, ``login.chinacloudapi.cn``);
* Microsoft Graph, ACR and storage suffixes: azure-cli ``azure/cli/core/cloud.py``
  (``microsoft_graph_resource_id``, ``acr_login_server_endpoint``, ``storage_endpoint``) and
  Learn, "Microsoft Graph national cloud deployments"
  (https://learn.microsoft.com/graph/deployments: ``graph.microsoft.us``,
  ``microsoftgraph.chinacloudapi.cn``);
* API Management's gateway domain (``<service>.azure-api.net`` / ``.azure-api.us`` /
  ``.azure-api.cn``): hashicorp/go-azure-sdk ``sdk/environments`` (``ApiManagementAPI(...)`` per
  cloud) and Learn, "Azure Government: API Management" / Azure China's developer guide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PUBLIC: Final = "AzureCloud"
US_GOVERNMENT: Final = "AzureUSGovernment"
CHINA: Final = "AzureChinaCloud"
LOCAL: Final = "local"


@dataclass(frozen=True, slots=True)
class Cloud:
    """One cloud's endpoints (no trailing slashes) and token audiences."""

    name: str
    resource_manager: str  # ARM base URL
    arm_audience: str  # the resource ARM tokens are for (scope = audience + "/.default")
    authority: str  # Entra authority URL (https://<host>), the issuer is <authority>/<tenant>/v2.0
    graph: str  # Microsoft Graph base URL (without /v1.0)
    graph_audience: str
    apim_suffix: str  # <service>.<suffix> is an APIM gateway host
    acr_suffix: str  # <registry>.<suffix> is a registry's login server
    storage_suffix: str  # <account>.table.<suffix> is a storage account's table endpoint host

    @property
    def arm_scope(self) -> str:
        return f"{self.arm_audience}/.default"

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_audience}/.default"

    @property
    def graph_v1(self) -> str:
        return f"{self.graph}/v1.0"

    @property
    def authority_host(self) -> str:
        """The authority without scheme, as azure-identity's ``authority`` keyword takes it."""
        return self.authority.split("://", 1)[-1]

    def login_server(self, registry: str) -> str:
        return f"{registry.lower()}.{self.acr_suffix}"

    def gateway_url(self, service: str) -> str:
        return f"https://{service.lower()}.{self.apim_suffix}"

    @classmethod
    def local(cls, base_url: str) -> Cloud:
        """The emulator: every endpoint at ``base_url``, the public cloud's audiences and suffixes."""
        base = base_url.rstrip("/")
        public = CLOUDS[PUBLIC]
        return cls(
            name=LOCAL,
            resource_manager=base,
            arm_audience=public.arm_audience,
            authority=f"{base}/login",
            graph=base,
            graph_audience=public.graph_audience,
            apim_suffix=public.apim_suffix,
            acr_suffix=public.acr_suffix,
            storage_suffix=public.storage_suffix,
        )


CLOUDS: Final[dict[str, Cloud]] = {
    PUBLIC: Cloud(
        name=PUBLIC,
        resource_manager="https://management.azure.com",
        arm_audience="https://management.azure.com",
        authority="https://login.microsoftonline.com",
        graph="https://graph.microsoft.com",
        graph_audience="https://graph.microsoft.com",
        apim_suffix="azure-api.net",
        acr_suffix="azurecr.io",
        storage_suffix="core.windows.net",
    ),
    US_GOVERNMENT: Cloud(
        name=US_GOVERNMENT,
        resource_manager="https://management.usgovcloudapi.net",
        arm_audience="https://management.core.usgovcloudapi.net",
        authority="https://login.microsoftonline.us",
        graph="https://graph.microsoft.us",
        graph_audience="https://graph.microsoft.us",
        apim_suffix="azure-api.us",
        acr_suffix="azurecr.us",
        storage_suffix="core.usgovcloudapi.net",
    ),
    CHINA: Cloud(
        name=CHINA,
        resource_manager="https://management.chinacloudapi.cn",
        arm_audience="https://management.chinacloudapi.cn",
        authority="https://login.chinacloudapi.cn",
        graph="https://microsoftgraph.chinacloudapi.cn",
        graph_audience="https://microsoftgraph.chinacloudapi.cn",
        apim_suffix="azure-api.cn",
        acr_suffix="azurecr.cn",
        storage_suffix="core.chinacloudapi.cn",
    ),
}

NAMES: Final = (PUBLIC, US_GOVERNMENT, CHINA)


def cloud(name: str) -> Cloud:
    """The cloud called ``name`` (one of ``NAMES``); ``KeyError`` names the choices."""
    try:
        return CLOUDS[name]
    except KeyError:
        raise KeyError(f"unknown cloud {name!r}: one of {', '.join(NAMES)}") from None
