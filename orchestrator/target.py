"""The target a lab lives on: its state folder, its settings, its outputs and its SDK clients.

Flow: the reconcile / verify commands take the lab's state folder (``state_dir``, where the lock,
the emulator and its CA live), build ``TargetSettings.for_lab(lab)`` (from lab.yaml's ``target``
and, for ``local``, the running emulator's ``emulator.json``; the emulator is started if
needed), read ``settings.outputs()`` for the ``target.*`` references, then
``async with open_clients(settings) as c`` and hand ``c`` to the providers
(``orchestrator.providers.providers_for``). Providers never know which target they talk to: the
two differ only here, in endpoints, credential and TLS trust.

* ``local``: every client points at the emulator's base URL, authenticates as the emulator's
  local operator (``local_credential.LocalCredential``: real tokens from the local identity
  service, which ARM and Graph verify), and trusts the state folder's CA *explicitly* — never
  the process-global trust store.
* ``azure``: the endpoints of the lab's cloud (``target.cloud``, ``orchestrator.clouds``) and
  ``orchestrator.credentials.azure_credential``: ``DefaultAzureCredential`` signing in at the
  cloud's authority, every token asked for the lab's tenant.

Both ARM clients share one ``pacing.RatePacer`` (through ``pacing_policy.ArmPacingPolicy``):
writes, reads and deletes are paced by ARM's remaining-requests headers, modelled on Azure's
documented token buckets (or, on the local target, the emulator's, from ``emulator.json``).

The Azure SDK imports are lazy (inside ``open_clients``) so that ``prmlab --help`` stays fast.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orchestrator import clouds, urls
from orchestrator.clouds import Cloud
from orchestrator.errors import TargetError

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab

STATE_DIR = ".prmlab"  # <folder of lab.yaml>/.prmlab: emulator, CA, lock, logs (git-ignored)
ARM_SCOPE = clouds.CLOUDS[clouds.PUBLIC].arm_scope  # what the offline credential mints by default


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """Where and how to reach a target. ``base_url``/``ca_file`` are for ``local`` only."""

    kind: Literal["local", "azure"]
    subscription_id: str
    tenant_id: str
    resource_group: str
    location: str
    base_url: str | None = None  # https://127.0.0.1:<port>, no trailing slash
    ca_file: Path | None = None
    sdk_retries: int = 3  # retries inside the SDKs (azure-core RetryPolicy, kiota RetryHandler)
    # LRO poll interval when the service sends no Retry-After; None = 0.05 s local, 5 s azure
    # (the SDK's own default is 30 s: every named value or API write would wait that long).
    polling_interval: float | None = None
    # ARM's token buckets the pacer models: op type -> (size, refill per second); None = Azure's
    # documented numbers (``pacing.AZURE_ARM_BUCKETS``). ``arm_pacing=False`` sends unpaced.
    arm_buckets: Mapping[str, tuple[float, float]] | None = None
    arm_pacing: bool = True
    # The cloud's endpoints; None = the emulator's (local, from ``base_url``) or the public cloud.
    # An ``azure`` target with a local ``Cloud`` is the Azure code path pointed at the emulator
    # (tests of the credential and the preflight).
    cloud: Cloud | None = None
    # How long the lab's backends (container apps) keep an idle connection, when the target says
    # (the emulator's runner sets it); None: the MCP server's default (``mcp_server.config``).
    backend_keep_alive_s: float | None = None

    @classmethod
    def for_lab(cls, lab: Lab, *, while_starting: Callable[[], None] | None = None) -> TargetSettings:
        """The settings of ``lab``'s target; on the local target the emulator of the lab's state
        folder is started if needed (``orchestrator.local.ensure_running``; ``while_starting``
        runs meanwhile, if it has to start)."""
        target = lab.target
        if target.kind == "azure":
            return cls(
                kind="azure",
                subscription_id=str(target.subscription_id),
                tenant_id=str(target.tenant_id),
                resource_group=target.resource_group,
                location=target.location,
                cloud=clouds.cloud(target.cloud),
            )
        from orchestrator.local import ensure_running

        info = ensure_running(state_dir(lab), while_starting)
        return cls(
            kind="local",
            subscription_id=str(info.subscription_id),
            tenant_id=str(info.tenant_id),
            resource_group=target.resource_group,
            location=target.location,
            base_url=str(info.base_url).rstrip("/"),
            ca_file=Path(info.ca_file),
            arm_buckets=info.arm_buckets or None,
            backend_keep_alive_s=info.app_keep_alive_s,
        )

    @property
    def endpoints(self) -> Cloud:
        """The cloud the clients talk to: ``cloud`` when set, else the emulator at ``base_url``
        (local) or the public cloud (azure)."""
        if self.cloud is not None:
            return self.cloud
        if self.kind == "local" and self.base_url is not None:
            return Cloud.local(self.base_url)
        return clouds.CLOUDS[clouds.PUBLIC]  # (a local target not started yet imitates it too)

    def outputs(self) -> dict[str, str | None]:
        """``target.*`` reference values (see ``orchestrator.spec.refs``): tenant, subscription,
        the identity provider's authority and v2 issuer, the Graph endpoint."""
        cloud = self.endpoints
        return {
            "tenant_id": self.tenant_id,
            "subscription_id": self.subscription_id,
            "authority": cloud.authority,
            "issuer": urls.issuer(cloud.authority, self.tenant_id),
            "graph_endpoint": cloud.graph,
        }

    def effective_polling_interval(self) -> float:
        if self.polling_interval is not None:
            return self.polling_interval
        return 0.05 if self.kind == "local" else 5.0


def state_dir_for(lab_file: Path) -> Path:
    """``<folder of lab.yaml>/.prmlab``."""
    return lab_file.resolve().parent / STATE_DIR


def state_dir(lab: Lab) -> Path:
    """The state folder of a loaded lab (``<lab.base_dir>/.prmlab``)."""
    return lab.base_dir / STATE_DIR


@dataclass(frozen=True, slots=True)
class Clients:
    """The SDK clients every provider uses, plus where the lab lives."""

    settings: TargetSettings
    apim: Any  # azure.mgmt.apimanagement.aio.ApiManagementClient
    resources: Any  # azure.mgmt.resource.resources.aio.ResourceManagementClient
    graph: Any  # msgraph.GraphServiceClient
    pacer: Any = None  # orchestrator.pacing.RatePacer shared by the ARM clients (None: unpaced)
    authorization: Any = None  # azure.mgmt.authorization.aio.AuthorizationManagementClient (preflight reads)

    @property
    def subscription_id(self) -> str:
        return self.settings.subscription_id

    @property
    def tenant_id(self) -> str:
        return self.settings.tenant_id

    @property
    def resource_group(self) -> str:
        return self.settings.resource_group

    @property
    def location(self) -> str:
        return self.settings.location


def _ssl_context(ca_file: Path) -> ssl.SSLContext:
    if not ca_file.is_file():
        raise TargetError(f"the emulator's CA file {ca_file} does not exist; is the emulator running?")
    return ssl.create_default_context(cafile=str(ca_file))


# msgraph request builders the providers use. Their class bodies call ``warnings.warn(...,
# DeprecationWarning)`` (generated-code deprecations of kiota's legacy request configuration):
# importing them once, silenced, keeps that internal noise away from users and from pytest's
# warnings-as-errors. Python caches the modules, so later imports are silent.
_GRAPH_BUILDERS = (
    "kiota_abstractions.default_query_parameters",
    "msgraph.generated.applications.applications_request_builder",
    "msgraph.generated.applications.item.application_item_request_builder",
    "msgraph.generated.applications.item.federated_identity_credentials.federated_identity_credentials_request_builder",
    "msgraph.generated.applications.item.federated_identity_credentials.item.federated_identity_credential_item_request_builder",
    "msgraph.generated.applications_with_unique_name.applications_with_unique_name_request_builder",
    "msgraph.generated.applications_with_app_id.applications_with_app_id_request_builder",
    "msgraph.generated.service_principals.service_principals_request_builder",
    "msgraph.generated.service_principals.item.service_principal_item_request_builder",
    "msgraph.generated.service_principals_with_app_id.service_principals_with_app_id_request_builder",
    "msgraph.generated.directory.directory_request_builder",
    "msgraph.generated.directory.deleted_items.deleted_items_request_builder",
    "msgraph.generated.directory.deleted_items.item.directory_object_item_request_builder",
    "msgraph.generated.users.users_request_builder",
    "msgraph.generated.users.item.user_item_request_builder",
)


def _quiet_graph_imports() -> None:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in _GRAPH_BUILDERS:
            importlib.import_module(name)


def _graph_client(settings: TargetSettings, credential: Any) -> Any:
    import httpx

    _quiet_graph_imports()
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    options: dict[str, Any] = {
        RetryHandlerOption.get_key(): RetryHandlerOption(
            delay=0.0 if settings.kind == "local" else 3.0,
            max_retries=settings.sdk_retries,
            should_retry=settings.sdk_retries > 0,
        )
    }
    cloud = settings.endpoints
    host = httpx.URL(cloud.graph).host
    if settings.ca_file is not None:  # the emulator (local, or the azure code path pointed at it)
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=[cloud.graph_scope], allowed_hosts=sorted({host, "127.0.0.1", "localhost"})
        )
        http = httpx.AsyncClient(verify=_ssl_context(settings.ca_file), timeout=30.0)
    else:
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=[cloud.graph_scope], allowed_hosts=[host]
        )
        http = httpx.AsyncClient(timeout=60.0)
    base = cloud.graph_v1
    # msgraph-core's AsyncGraphTransport does not close the transport it wraps (no ``aclose``):
    # keep the inner one and close it ourselves, or every connection leaks past the run.
    inner = http._transport
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(auth, client=http)
    # On the adapter, not the httpx client: kiota joins paths itself (see EMULATOR-NOTES.md).
    adapter.base_url = base
    return GraphServiceClient(request_adapter=adapter), (http, inner)


def make_credential(settings: TargetSettings) -> Any:
    """The async token credential of ``settings``: the emulator's local operator locally
    (``local_credential``), else the Azure chain for the lab's tenant at the cloud's authority
    (``orchestrator.credentials``)."""
    if settings.kind == "local":
        from orchestrator.local_credential import LocalCredential

        assert settings.base_url is not None
        assert settings.ca_file is not None
        return LocalCredential(settings.base_url, settings.tenant_id, settings.ca_file)
    from orchestrator.credentials import azure_credential

    return azure_credential(settings.tenant_id, settings.endpoints, ca_file=settings.ca_file)


@asynccontextmanager
async def open_clients(settings: TargetSettings) -> AsyncIterator[Clients]:
    """Build the three SDK clients for ``settings`` and close them on exit."""
    from azure.mgmt.apimanagement.aio import ApiManagementClient
    from azure.mgmt.authorization.aio import AuthorizationManagementClient
    from azure.mgmt.resource.resources.aio import ResourceManagementClient

    from orchestrator.pacing import AZURE_ARM_BUCKETS, BucketModel, RatePacer
    from orchestrator.pacing_policy import ArmPacingPolicy

    arm_kwargs: dict[str, Any] = {"retry_total": settings.sdk_retries}
    pacer: RatePacer | None = None
    if settings.arm_pacing:
        given = settings.arm_buckets or {}
        models = {
            op: BucketModel(float(given[op][0]), float(given[op][1])) if op in given else model
            for op, model in AZURE_ARM_BUCKETS.items()
        }
        # one pacer for both clients: ARM counts every request of the subscription and principal
        pacer = RatePacer(models)

    def paced() -> dict[str, Any]:
        # a policy instance per pipeline (a pipeline links its policies through ``next``)
        return {"custom_hook_policy": ArmPacingPolicy(pacer)} if pacer is not None else {}

    arm_kwargs["polling_interval"] = settings.effective_polling_interval()
    if settings.kind == "local" and (settings.base_url is None or settings.ca_file is None):
        raise TargetError("the local target needs the emulator's base URL and CA file")
    cloud = settings.endpoints
    arm_kwargs.update(base_url=cloud.resource_manager, credential_scopes=[cloud.arm_scope])
    if settings.ca_file is not None:
        _ssl_context(settings.ca_file)  # fail early with a clear message
        arm_kwargs.update(connection_verify=str(settings.ca_file), retry_backoff_factor=0.05)
    credential = make_credential(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(credential.close)
        apim = ApiManagementClient(credential, settings.subscription_id, **arm_kwargs, **paced())
        stack.push_async_callback(apim.close)
        resources = ResourceManagementClient(credential, settings.subscription_id, **arm_kwargs, **paced())
        stack.push_async_callback(resources.close)
        # role assignments and definitions (preflight): the SDK's default api-version, 2022-04-01
        authorization = AuthorizationManagementClient(
            credential, settings.subscription_id, **arm_kwargs, **paced()
        )
        stack.push_async_callback(authorization.close)
        graph, (http, inner) = _graph_client(settings, credential)
        stack.push_async_callback(inner.aclose)
        stack.push_async_callback(http.aclose)
        yield Clients(
            settings=settings,
            apim=apim,
            resources=resources,
            graph=graph,
            pacer=pacer,
            authorization=authorization,
        )
