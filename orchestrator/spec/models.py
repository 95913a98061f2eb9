"""Pydantic models of lab.yaml: what a lab describes, nothing about how it is provisioned.

Part of the spec (``orchestrator.spec``): ``loader.load_lab`` validates the YAML data into a
``Lab``; ``orchestrator.graph`` turns a ``Lab`` into resource nodes; providers read the spec
objects of their nodes. Every model forbids unknown keys and is frozen; collections are tuples
or read-only mappings. Field names are the YAML keys (snake_case), so a validation error's
location is a YAML path. Cross-resource rules (references, duplicate paths, template files)
live in ``checks.py``; the JSON Schema (``lab.schema.json``) is generated from these models.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, PrivateAttr, SecretStr, StringConstraints, model_validator

from orchestrator.spec.naming import name_check, name_schema
from orchestrator.spec.values import (
    CHECK_GROUPS,
    Bool,
    EnvValue,
    Float,
    HttpMethod,
    HttpsUrlOrRef,
    IdentifierUriOrRef,
    Int,
    Key,
    NamedValueValue,
    PolicyValue,
    PublicClientUriOrRef,
    RedirectUriOrRef,
    ScopeValue,
    Spec,
    StrOrRef,
    UrlOrRef,
    hide_secret_value,
    pattern,
)

if TYPE_CHECKING:
    from orchestrator.spec.yamlsource import Positions

# ------------------------------------------------------------------ names

Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Azure resource names: each kind's rules as Azure states them (``orchestrator.spec.naming``).
ResourceGroupName = Annotated[str, name_check("resource_group"), name_schema("resource_group")]
IdentityName = Annotated[str, name_check("managed_identity"), name_schema("managed_identity")]
WorkspaceName = Annotated[str, name_check("log_analytics_workspace"), name_schema("log_analytics_workspace")]
ComponentName = Annotated[str, name_check("app_insights"), name_schema("app_insights")]
ApimServiceName = Annotated[str, name_check("apim_service"), name_schema("apim_service")]
ApiName = Annotated[str, name_check("apim_api"), name_schema("apim_api")]
OperationName = Annotated[str, name_check("apim_operation"), name_schema("apim_operation")]
BackendName = Annotated[str, name_check("apim_backend"), name_schema("apim_backend")]
LoggerName = Annotated[str, name_check("apim_logger"), name_schema("apim_logger")]
NamedValueName = Annotated[str, name_check("apim_named_value"), name_schema("apim_named_value")]
ProductName = Annotated[str, name_check("apim_product"), name_schema("apim_product")]
SubscriptionName = Annotated[str, name_check("apim_subscription"), name_schema("apim_subscription")]
RegistryName = Annotated[str, name_check("container_registry"), name_schema("container_registry")]
EnvironmentName = Annotated[str, name_check("container_environment"), name_schema("container_environment")]
ContainerAppName = Annotated[str, name_check("container_app"), name_schema("container_app")]
StorageAccountName = Annotated[str, name_check("storage_account"), name_schema("storage_account")]
TableName = Annotated[str, name_check("storage_table"), name_schema("storage_table")]
Email = Annotated[str, pattern(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address (name@domain.tld)")]

# ------------------------------------------------------------------ target

# orchestrator.clouds.NAMES (tests/orchestrator/spec checks that they agree)
CloudName = Literal["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]


class LocalTarget(Spec):
    """The local Azure emulator (the default): tenant and subscription come from the emulator."""

    kind: Literal["local"]
    resource_group: ResourceGroupName = Field(
        "lab-mcp-prm-oauth", description="Resource group that holds the lab's ARM resources"
    )
    location: str = Field("local", description="Azure region name (informational locally)")
    adopt_resource_group: Bool = False


class AzureTarget(Spec):
    """Real Azure through azure-identity credentials (az login, environment, managed identity)."""

    kind: Literal["azure"]
    subscription_id: UUID
    tenant_id: UUID
    resource_group: ResourceGroupName
    location: Annotated[
        str, pattern(r"^[a-z0-9]+$", "an Azure region name in lower case without spaces, e.g. ukwest")
    ] = Field(description="Azure region, e.g. ukwest")
    cloud: CloudName = Field(
        "AzureCloud",
        description="The Azure cloud: ARM, Microsoft Graph, Entra sign-in and the APIM domain come from it",
    )
    adopt_resource_group: Bool = False


Target = Annotated[LocalTarget | AzureTarget, Field(discriminator="kind")]


class ClientStore(Spec):
    """Gateway mode: the durable store of dynamic client registrations, an Azure Table Storage
    table that API Management writes and reads with its system-assigned managed identity."""

    storage_account: StorageAccountName | None = Field(
        None,
        description="Storage account name, unique across Azure; omitted: derived from the subscription, "
        "resource group and lab name (st<lab><13 characters>), shown in the plan",
    )
    table: TableName = Field("mcpclients", description="Table that holds one entity per registered client")
    sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_RAGRS"] = "Standard_LRS"


class Authorization(Spec):
    """Who is the OAuth authorization server MCP clients talk to."""

    mode: Literal["entra", "gateway"] = Field(
        "entra",
        description="entra: PRM names Entra, clients are pre-registered; gateway: APIM is the authorization server",
    )
    client_store: ClientStore | None = Field(
        None, description="gateway mode: where dynamic client registrations are stored"
    )


# ------------------------------------------------------------------ entra


class ExposedScope(Spec):
    """A delegated permission the app exposes (``oauth2PermissionScopes``)."""

    value: ScopeValue
    type: Literal["User", "Admin"] = "User"
    admin_consent_display_name: Name
    admin_consent_description: Name
    user_consent_display_name: Name | None = None
    user_consent_description: Name | None = None
    enabled: Bool = True
    id: UUID | None = Field(None, description="Stable scope id; derived from the app and value when omitted")


class PreAuthorizedClient(Spec):
    """A client application allowed to get the listed scopes without a consent prompt."""

    app_id: UUID
    scopes: tuple[str, ...] = Field(min_length=1, description="Values of this app's exposed scopes")


class RedirectUris(Spec):
    redirect_uris: tuple[RedirectUriOrRef, ...] = ()


class PublicClient(Spec):
    redirect_uris: tuple[PublicClientUriOrRef, ...] = ()


class RequiredResourceAccess(Spec):
    """Permissions on another API, by id (e.g. Microsoft Graph User.Read)."""

    resource_app_id: UUID
    scopes: tuple[UUID, ...] = Field((), description="Delegated permission (scope) ids")
    app_roles: tuple[UUID, ...] = Field((), description="Application permission (app role) ids")
    admin_consent: Bool = Field(
        False,
        description=(
            "Grant the delegated permissions (scopes) for every user of the tenant: an "
            "oauth2PermissionGrant (consentType AllPrincipals) on the app's service principal, "
            "owned and deleted with the lab. Needs a role that may consent to delegated "
            "permissions (least privileged: Cloud Application Administrator)"
        ),
    )


class FederatedCredential(Spec):
    """Trust tokens from another issuer (e.g. a managed identity) as this app's credential."""

    name: Annotated[
        str, pattern(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$", "letters, digits, '-' and '_' (at most 120)")
    ]
    issuer: HttpsUrlOrRef
    subject: StrOrRef
    audiences: tuple[str, ...] = ("api://AzureADTokenExchange",)
    description: str | None = None


class EntraApp(Spec):
    """An app registration (and, by default, its service principal)."""

    unique_name: Annotated[
        str, pattern(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$", "letters, digits, '-', '_' and '.' (at most 120)")
    ]
    display_name: Name
    sign_in_audience: Literal[
        "AzureADMyOrg",
        "AzureADMultipleOrgs",
        "AzureADandPersonalMicrosoftAccount",
        "PersonalMicrosoftAccount",
    ] = "AzureADMyOrg"
    access_token_version: Literal[2] = Field(
        2, description="Pinned to 2: v2 tokens carry the v2 issuer and the app's client id as aud"
    )
    identifier_uris: tuple[IdentifierUriOrRef, ...] = ()
    scopes: tuple[ExposedScope, ...] = ()
    pre_authorized_clients: tuple[PreAuthorizedClient, ...] = ()
    spa: RedirectUris = RedirectUris()
    web: RedirectUris = RedirectUris()
    public_client: PublicClient = PublicClient()
    required_resource_access: tuple[RequiredResourceAccess, ...] = ()
    federated_credentials: tuple[FederatedCredential, ...] = ()
    service_principal: Bool = Field(True, description="Also create the app's service principal")
    adopt: Bool = Field(
        False,
        description="Take ownership of an existing app with this unique_name that the lab did not create",
    )


class Entra(Spec):
    apps: Mapping[Key, EntraApp] = Field(default_factory=dict)


class ManagedIdentity(Spec):
    """A user-assigned managed identity."""

    name: IdentityName


# ------------------------------------------------------------------ monitoring


class LogAnalytics(Spec):
    name: WorkspaceName
    sku: Literal["PerGB2018", "Free", "Standalone", "PerNode", "CapacityReservation"] = "PerGB2018"
    retention_days: Annotated[Int, Field(ge=30, le=730)] = 30


class AppInsights(Spec):
    name: ComponentName
    application_type: Literal["web", "other"] = "web"


class ApimLogger(Spec):
    """An APIM logger sending gateway telemetry to Application Insights."""

    name: LoggerName = "appinsights-logger"


class ApimDiagnostic(Spec):
    """APIM's ``applicationinsights`` diagnostic, written through the logger."""

    sampling_percentage: Annotated[Float, Field(ge=0, le=100)] = 100
    verbosity: Literal["verbose", "information", "error"] = "information"
    log_client_ip: Bool = True
    always_log_errors: Bool = True


class Monitoring(Spec):
    log_analytics: LogAnalytics | None = None
    app_insights: AppInsights | None = None
    apim_logger: ApimLogger | None = None
    apim_diagnostic: ApimDiagnostic | None = None


# ------------------------------------------------------------------ apim

TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Policy(Spec):
    """An APIM policy rendered from ``policy_templates/<template>.xml.j2`` with ``variables``."""

    template: Annotated[
        str,
        pattern(
            TEMPLATE_NAME_PATTERN,
            "a template file name without .xml.j2: lower-case letters, digits, '-' and '_'",
        ),
    ] = Field(description="Template file name without .xml.j2, e.g. mcp-api-entra")
    variables: Mapping[
        Annotated[str, pattern(r"^[A-Za-z_][A-Za-z0-9_]*$", "an identifier (letters, digits, '_')")],
        PolicyValue,
    ] = Field(default_factory=dict)


ApimSku = Literal[
    "Consumption", "Developer", "Basic", "Standard", "Premium", "BasicV2", "StandardV2", "PremiumV2"
]


class ApimService(Spec):
    name: ApimServiceName | None = Field(
        None,
        description="The service name, unique across Azure (<name>.azure-api.net); omitted: derived from "
        "the subscription, resource group and lab name (apim-<lab>-<13 characters>), shown in the plan",
    )
    sku: ApimSku
    capacity: Annotated[Int, Field(ge=0, le=31)] = 1
    publisher_email: Email
    publisher_name: Name


class KeyVaultSecret(Spec):
    secret_id: HttpsUrlOrRef = Field(description="Key Vault secret identifier URL")
    identity: Key | None = Field(None, description="managed_identities key; omitted = APIM's system identity")


class NamedValue(Spec):
    """An APIM named value: a plain value, a secret value, or a Key Vault reference."""

    value: NamedValueValue | None = None
    secret: Bool = False
    key_vault: KeyVaultSecret | None = None
    display_name: (
        Annotated[str, pattern(r"^[A-Za-z0-9._-]{1,256}$", "letters, digits, '.', '-' and '_'")] | None
    ) = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _hide_secret(cls, data: Any) -> Any:
        return hide_secret_value(data)


class BackendTls(Spec):
    validate_certificate_chain: Bool = True
    validate_certificate_name: Bool = True


class Backend(Spec):
    url: UrlOrRef
    description: str | None = None
    protocol: Literal["http", "soap"] = "http"
    tls: BackendTls = BackendTls()


class TemplateParameter(Spec):
    name: Annotated[
        str, pattern(r"^[A-Za-z_][A-Za-z0-9_-]*$", "a parameter name (letters, digits, '_', '-')")
    ]
    type: Literal["string", "number", "boolean"] = "string"
    required: Bool = True
    description: str | None = None


class Operation(Spec):
    method: HttpMethod
    url_template: Annotated[str, pattern(r"^/\S*$", "a URL template starting with '/', without spaces")]
    display_name: Name
    description: str | None = None
    template_parameters: tuple[TemplateParameter, ...] = ()
    policy: Policy | None = None


ApiPath = Annotated[
    str,
    pattern(
        r"^$|^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$", "a URL path without leading or trailing '/', e.g. mcp"
    ),
    Field(description="URL suffix of the API on the gateway, without leading or trailing slash"),
]


class Api(Spec):
    display_name: Name
    type: Literal["mcp", "http"] = "http"
    path: ApiPath
    description: str | None = None
    protocols: tuple[Literal["https", "http"], ...] = ("https",)
    subscription_required: Bool = False
    backend: Key | None = Field(None, description="apim.backends key the API forwards to")
    app: Key | None = Field(
        None,
        description="type mcp: the entra.apps key whose tokens the API accepts (left out: the app "
        "whose identifier_uris name the API's URL, else the one app exposing scopes)",
    )
    policy: Policy | None = None
    operations: Mapping[OperationName, Operation] = Field(default_factory=dict)


class Product(Spec):
    """An APIM product: a set of the lab's APIs offered together, with its own policy (the product
    scope, between the global and the APIs' policies) and subscriptions."""

    display_name: Name
    description: str | None = None
    subscription_required: Bool = Field(
        True, description="Callers need a key of a subscription to the product (APIM's default)"
    )
    published: Bool = Field(True, description="Product state: published (true) or notPublished (false)")
    apis: tuple[Key, ...] = Field((), description="apim.apis keys the product holds")
    policy: Policy | None = None


class Subscription(Spec):
    """An APIM subscription: a pair of keys for one product or one API. The keys are APIM's
    (generated, never in lab.yaml, never printed); ``prmlab verify`` reads them with listSecrets."""

    display_name: Name
    product: Key | None = Field(None, description="apim.products key the subscription is for")
    api: Key | None = Field(None, description="apim.apis key the subscription is for (instead of a product)")
    active: Bool = Field(True, description="State: active (true) or suspended (false)")


class Apim(Spec):
    service: ApimService
    named_values: Mapping[NamedValueName, NamedValue] = Field(default_factory=dict)
    backends: Mapping[BackendName, Backend] = Field(default_factory=dict)
    apis: Mapping[ApiName, Api] = Field(default_factory=dict)
    products: Mapping[ProductName, Product] = Field(default_factory=dict)
    subscriptions: Mapping[SubscriptionName, Subscription] = Field(default_factory=dict)


# ------------------------------------------------------------------ server


class Scale(Spec):
    min_replicas: Annotated[Int, Field(ge=0, le=300)] = 1
    max_replicas: Annotated[Int, Field(ge=1, le=300)] = 3


class ContainerRegistry(Spec):
    name: RegistryName | None = Field(
        None,
        description="Registry name, unique across Azure (<name>.azurecr.io); omitted: derived from the "
        "subscription, resource group and lab name (cr<lab><13 characters>), shown in the plan",
    )
    sku: Literal["Basic", "Standard", "Premium"] = "Basic"


class ContainerEnvironment(Spec):
    name: EnvironmentName


class Server(Spec):
    """The MCP server deployment (a container app; a local process on the local target)."""

    name: ContainerAppName
    source: str | None = Field(None, description="Folder with the server's code, relative to lab.yaml")
    image: str | None = Field(None, description="Container image reference (instead of source)")
    env: Mapping[
        Annotated[
            str, pattern(r"^[A-Za-z_][A-Za-z0-9_]*$", "an environment variable name (letters, digits, '_')")
        ],
        EnvValue,
    ] = Field(default_factory=dict)
    port: Annotated[Int, Field(ge=1, le=65535)] = 8000
    identity: Key | None = Field(None, description="managed_identities key the server runs as")
    scale: Scale = Scale()
    cpu: Annotated[Float, Field(gt=0, le=4)] = 0.5
    memory: Annotated[str, pattern(r"^\d+(\.\d+)?Gi$", "a size in Gi, e.g. 1Gi or 0.5Gi")] = "1Gi"
    registry: ContainerRegistry | None = None
    environment: ContainerEnvironment


# ------------------------------------------------------------------ verification


class TestUser(Spec):
    """A user created in the local identity service (local target only) to sign in with."""

    user_principal_name: Email
    display_name: Name
    mail: Email | None = None
    job_title: str | None = None
    department: str | None = None
    office_location: str | None = None
    password: SecretStr | None = Field(
        None, description="Optional sign-in password for this user in the local identity service"
    )


class Verification(Spec):
    test_users: tuple[TestUser, ...] = ()
    checks: (
        tuple[
            Annotated[
                str, pattern(r"^[a-z_]+(\.[a-z_]+)*$", "a check name, e.g. discovery or client.sign_in")
            ],
            ...,
        ]
        | None
    ) = Field(None, description=f"Check names or groups ({', '.join(CHECK_GROUPS)}); omitted = all")


# ------------------------------------------------------------------ the lab


class Lab(Spec):
    """A whole lab.yaml."""

    name: Annotated[
        str, pattern(r"^[a-z0-9][a-z0-9-]{0,62}$", "lower-case letters, digits and hyphens (at most 63)")
    ] = Field(description="The lab's name; also the ownership mark on every resource it creates")
    target: Target
    authorization: Authorization = Authorization()
    entra: Entra = Entra()
    managed_identities: Mapping[Key, ManagedIdentity] = Field(default_factory=dict)
    monitoring: Monitoring = Monitoring()
    apim: Apim
    server: Server | None = None
    servers: Mapping[Key, Server] = Field(
        default_factory=dict,
        description="More MCP servers, by key (container_app.<key>; referenced as servers.<key>.url): "
        "they run in server's environment and pull from its registry (left out, environment and "
        "registry are server's)",
    )
    verification: Verification = Verification()

    _source: Path | None = PrivateAttr(None)
    _positions: Positions | None = PrivateAttr(None)

    def position(self, *path: str | int) -> tuple[int, int] | None:
        """(line, column) where the value at the YAML ``path`` is written, when loaded from a file.

        E.g. ``lab.position("apim", "apis", "mcp", "policy")`` to point an error at a policy.
        """
        if self._positions is None:
            return None
        mark = self._positions.value(tuple(path))
        return mark.line, mark.column

    def written(self, *path: str | int) -> bool:
        """Whether lab.yaml writes a value at ``path`` (False for a default or a derived name)."""
        return self._positions is not None and tuple(path) in self._positions.values

    @property
    def source(self) -> Path | None:
        """The lab.yaml this lab was loaded from (None when built in code)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder of lab.yaml: relative paths (server.source) and ``.prmlab/`` live here."""
        return self._source.parent if self._source is not None else Path.cwd()
