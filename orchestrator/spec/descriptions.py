"""What each lab.yaml key means: the hover documentation of ``lab.schema.json`` (pure data).

``spec.schema.lab_schema`` adds these to the generated schema where the model gave no
description (a ``Field(description=...)`` in ``models`` wins), appends the allowed values to
every enum's description, and adds ``EXAMPLES``. A test holds every property of the schema to a
description. Keys: the model's name (``$defs`` entry; ``Lab`` for the top level) -> field.
"""

from __future__ import annotations

from collections.abc import Mapping

DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "Lab": {
        "name": "The lab's name: the ownership mark on everything it creates (tag prmlab-lab)",
        "target": "Where the lab runs: the local Azure emulator (kind: local) or a subscription (kind: azure)",
        "authorization": "Who issues the tokens MCP clients use: Entra (entra) or API Management (gateway)",
        "entra": "Microsoft Entra ID app registrations (the MCP API's app, its scopes and clients)",
        "managed_identities": "User-assigned managed identities, by key (e.g. the MCP server's)",
        "monitoring": "Log Analytics, Application Insights and APIM's logger and diagnostic",
        "apim": "The API Management service: named values, backends, APIs, operations, policies",
        "server": "The MCP server, deployed as a container app (locally: a process run by the emulator)",
        "verification": "What prmlab verify checks: its test users and which check groups run",
    },
    "LocalTarget": {
        "kind": "local: the emulator started in <lab dir>/.prmlab/",
        "adopt_resource_group": "Take over resource_group when it exists and this lab did not create it: "
        "it gets the lab's tags and holds the lab's resources, but is never deleted by the lab "
        "(--destroy deletes only the lab's resources in it)",
    },
    "AzureTarget": {
        "kind": "azure: a real subscription, signed in with DefaultAzureCredential (az login)",
        "subscription_id": "The subscription the lab's resources are created in",
        "tenant_id": "The Entra tenant of the app registrations and of every token",
        "resource_group": "The resource group the lab creates and owns (or adopts: adopt_resource_group)",
        "adopt_resource_group": "Take over resource_group when it exists and this lab did not create it: "
        "it gets the lab's tags and holds the lab's resources, but is never deleted by the lab "
        "(--destroy deletes only the lab's resources in it)",
    },
    "ClientStore": {"sku": "The storage account's redundancy"},
    "ExposedScope": {
        "value": "The scope's name in tokens (scp), e.g. user_impersonate",
        "type": "Who may consent: User (users and admins) or Admin (admins only)",
        "admin_consent_display_name": "Shown to admins on the consent page",
        "admin_consent_description": "Explains the scope to admins on the consent page",
        "user_consent_display_name": "Shown to users on the consent page",
        "user_consent_description": "Explains the scope to users on the consent page",
        "enabled": "A disabled scope is not issued",
    },
    "PreAuthorizedClient": {"app_id": "Client id of the pre-authorized app (no consent prompt for it)"},
    "RedirectUris": {"redirect_uris": "Redirect URIs (https, or http on localhost); {ref: ...} allowed"},
    "PublicClient": {"redirect_uris": "Redirect URIs of public (native) clients, e.g. http://127.0.0.1"},
    "RequiredResourceAccess": {"resource_app_id": "App id of the API asked for, e.g. Microsoft Graph"},
    "FederatedCredential": {
        "name": "The credential's name on the app (unique per app)",
        "issuer": "Issuer of the tokens this credential trusts (a managed identity's: {ref: target.issuer})",
        "subject": "Subject (sub) those tokens carry, e.g. a managed identity's principal id",
        "audiences": "Audiences those tokens carry (Entra's: api://AzureADTokenExchange)",
        "description": "Free text shown on the credential",
    },
    "EntraApp": {
        "unique_name": "The app registration's uniqueName (how the lab finds it again)",
        "display_name": "The app registration's display name",
        "sign_in_audience": "Which accounts may sign in",
        "identifier_uris": "Application ID URIs, e.g. api://<client id> ({ref: ...} allowed)",
        "scopes": "Delegated permissions the app exposes (the first is the MCP scope)",
        "pre_authorized_clients": "Clients allowed without a consent prompt (e.g. VS Code)",
        "spa": "Single-page application platform: its redirect URIs",
        "web": "Web platform: its redirect URIs (e.g. the server's /auth/callback)",
        "public_client": "Mobile and desktop platform: its redirect URIs",
        "required_resource_access": "API permissions the app asks for (e.g. Graph User.Read)",
        "federated_credentials": "Workload identity federation: tokens the app accepts as its credential",
    },
    "Entra": {"apps": "App registrations by key (the key is used in references: entra.apps.<key>)"},
    "ManagedIdentity": {"name": "The user-assigned managed identity's resource name"},
    "LogAnalytics": {
        "name": "The Log Analytics workspace's name",
        "sku": "The workspace's pricing tier",
        "retention_days": "How long logs are kept (30-730 days)",
    },
    "AppInsights": {
        "name": "The Application Insights component's name",
        "application_type": "The component's application type",
    },
    "ApimLogger": {"name": "The APIM logger's name (sends to Application Insights)"},
    "ApimDiagnostic": {
        "sampling_percentage": "Share of requests logged (0-100)",
        "verbosity": "Which trace records are logged",
        "log_client_ip": "Log the caller's IP address",
        "always_log_errors": "Log every failed request, whatever the sampling",
    },
    "Monitoring": {
        "log_analytics": "A Log Analytics workspace",
        "app_insights": "An Application Insights component (workspace-based)",
        "apim_logger": "An APIM logger to Application Insights",
        "apim_diagnostic": "APIM's diagnostic settings for that logger",
    },
    "Policy": {
        "variables": "Template variables: text, numbers, booleans, lists, {ref: ...} or {named_value: Name}"
    },
    "ApimService": {
        "name": "The APIM service's name: its gateway is <name>.azure-api.net (globally unique)",
        "sku": "The pricing tier; the v2 tiers are created in minutes, Developer takes 30-45",
        "capacity": "Scale units (0 for Consumption)",
        "publisher_email": "Where APIM sends notifications",
        "publisher_name": "The organisation shown in the developer portal",
    },
    "NamedValue": {
        "value": "The value (or ${VAR}); with secret: true it is never printed",
        "secret": "A secret named value: encrypted by APIM, shown as (sensitive) in plans",
        "key_vault": "Take the value from a Key Vault secret instead",
        "display_name": "The name policies use as {{display name}} (defaults to the key)",
        "tags": "APIM tags on the named value",
    },
    "BackendTls": {
        "validate_certificate_chain": "Check the backend's certificate chain",
        "validate_certificate_name": "Check the backend's certificate name",
    },
    "Backend": {
        "url": "The backend's base URL ({ref: server.url} for the MCP server)",
        "description": "Free text shown on the backend",
        "protocol": "The backend's protocol",
        "tls": "TLS checks when calling the backend",
    },
    "TemplateParameter": {
        "name": "The {parameter} in the URL template",
        "type": "The parameter's type",
        "required": "Whether the parameter must be given",
        "description": "Free text shown on the parameter",
    },
    "Operation": {
        "method": "The HTTP method",
        "url_template": "The path below the API, with {parameters} and * wildcards",
        "display_name": "The operation's display name",
        "description": "Free text shown on the operation",
        "template_parameters": "The URL template's parameters",
        "policy": "The operation's policy (rendered from a template)",
    },
    "Api": {
        "display_name": "The API's display name",
        "type": "mcp: the MCP endpoint (verified, printed as mcp_url); http: any other API",
        "description": "Free text shown on the API",
        "protocols": "Schemes the gateway accepts for the API",
        "subscription_required": "Require an APIM subscription key (MCP clients send none: false)",
        "policy": "The API's policy (rendered from a template)",
        "operations": "The API's operations by key",
    },
    "Apim": {
        "service": "The API Management service",
        "named_values": "Named values by key: referenced in policies as {{Name}}",
        "backends": "Backends by key (an API's backend: key)",
        "apis": "APIs by key (referenced as apim.apis.<key>.url / .prm_url)",
        "products": "Products by key: sets of APIs with their own policy and subscriptions",
        "subscriptions": "Subscriptions by key: a pair of keys for one product or one API (the keys are APIM's, never printed)",
    },
    "Product": {
        "display_name": "The product's display name",
        "description": "Free text shown on the product",
        "subscription_required": "Callers need a key of a subscription to the product (false: an open product)",
        "published": "Product state: published (true) or notPublished (false)",
        "apis": "apim.apis keys the product holds",
        "policy": "The product's policy (rendered from a template): runs between the global and the APIs' policies",
    },
    "Subscription": {
        "display_name": "The subscription's display name",
        "product": "apim.products key the subscription is for",
        "api": "apim.apis key the subscription is for (instead of a product)",
        "active": "State: active (true) or suspended (false)",
    },
    "EnvVar": {
        "value": "The variable's value (or a {ref: ...})",
        "secret": "A secret: stored as a container app secret, never printed",
    },
    "Scale": {
        "min_replicas": "Fewest replicas (0 lets the app scale to zero)",
        "max_replicas": "Most replicas",
    },
    "ContainerRegistry": {
        "name": "The registry's name: <name>.azurecr.io (globally unique)",
        "sku": "The registry's tier",
    },
    "ContainerEnvironment": {"name": "The Container Apps environment's name"},
    "Server": {
        "name": "The container app's name",
        "env": "Environment variables: a value, a {ref: ...}, or {value: ..., secret: true}",
        "port": "The port the server listens on (the ingress target port)",
        "scale": "Replica counts",
        "cpu": "CPU cores per replica (up to 4)",
        "memory": "Memory per replica, e.g. 1Gi",
        "registry": "An Azure Container Registry the image is built in and pulled from",
        "environment": "The Container Apps environment the server runs in",
    },
    "TestUser": {
        "user_principal_name": "The test user's sign-in name, e.g. alice@contoso.example",
        "display_name": "The user's display name (show_user_profile returns it)",
        "mail": "The user's mail address",
        "job_title": "The user's job title",
        "department": "The user's department",
        "office_location": "The user's office location",
    },
    "Verification": {"test_users": "Users created on the local target for the sign-in checks"},
}

EXAMPLES: Mapping[str, Mapping[str, list[object]]] = {
    "Lab": {"name": ["mcp-prm-oauth"]},
    "ApimService": {"name": ["apim-mcp-prm-lab"]},
    "Api": {"path": ["mcp"]},
    "Operation": {"url_template": ["/.well-known/oauth-protected-resource/*", "/users/{id}"]},
    "ExposedScope": {"value": ["user_impersonate"]},
    "EntraApp": {"identifier_uris": [["api://mcp-prm-oauth"]]},
    "Server": {"memory": ["1Gi", "0.5Gi"]},
    "TestUser": {"user_principal_name": ["alice@contoso.example"]},
}
