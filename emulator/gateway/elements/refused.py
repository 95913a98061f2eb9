"""Elements of APIM's policy reference the local gateway cannot run faithfully, and why.

Learn's "API Management policy reference" lists every element; this table names those a policy
may contain that the local gateway refuses when the policy is stored (ARM answers 400 naming the
element, its line and column, and the reason below) instead of running something that differs
from APIM. An element missing from both this table and the builders is not an APIM policy at all.
A family that implements one of these registers a builder (``core.element``), which wins.
"""

from __future__ import annotations

from emulator.gateway.elements.core import REFUSED

_SCHEMA = "it validates against the API's schema definitions (OpenAPI/WSDL/GraphQL), which the local gateway does not hold"
_GRAPHQL = "it resolves GraphQL fields, and the local gateway does not serve GraphQL APIs"
_DAPR = "it calls a Dapr sidecar, which exists only next to a self-hosted gateway"
_SEMANTIC = (
    "semantic caching compares prompt embeddings (an embeddings backend) in an external Redis-compatible "
    "vector cache, neither of which the local emulator has"
)
_SAFETY = "it sends the prompt to an Azure AI Content Safety resource, which the local emulator does not have"

REASONS: dict[str, str] = {
    # authentication and authorization
    "get-authorization-context": (
        "it reads a connection of API Management's credential manager (an OAuth token store that "
        "API Management keeps for you), which the local emulator does not have"
    ),
    "authentication-certificate": (
        "it presents a client certificate of the service to the backend, and the local gateway "
        "has no certificate store and forwards without client certificates"
    ),
    "validate-client-certificate": (
        "the local gateway does not ask callers for TLS client certificates, so there is none to validate"
    ),
    "ip-filter": "caller IP filtering is not implemented by the local gateway (every caller is 127.0.0.1)",
    # rate limiting (quota, quota-by-key run: ``elements.quota``)
    "limit-concurrency": "concurrency limits are not implemented by the local gateway",
    # content validation
    "validate-content": _SCHEMA,
    "validate-parameters": _SCHEMA,
    "validate-headers": _SCHEMA,
    "validate-status-code": _SCHEMA,
    "validate-graphql-request": _GRAPHQL,
    "validate-odata-request": "the local gateway does not serve OData APIs",
    # routing and caching
    "proxy": "the local gateway does not forward through HTTP proxies (nothing leaves 127.0.0.1)",
    "cache-lookup": (
        "response caching (vary-by, Cache-Control, downstream caching) is not implemented by the local "
        "gateway; cache-lookup-value and cache-store-value are"
    ),
    "cache-store": (
        "response caching is not implemented by the local gateway; cache-lookup-value and "
        "cache-store-value are"
    ),
    # transformation
    "xml-to-json": "APIM's XML-to-JSON conversion rules are not reproduced by the local gateway",
    "xsl-transform": "XSL transformations are not run by the local gateway",
    "redirect-content-urls": "rewriting backend links in bodies is not implemented by the local gateway",
    # cross-domain
    "cross-domain": "Adobe Flash / Silverlight cross-domain policy files are not served by the local gateway",
    # integration and logging
    "send-one-way-request": "fire-and-forget requests are not implemented by the local gateway (use send-request)",
    "log-to-eventhub": "it writes to an Azure Event Hubs logger, which the local emulator does not have",
    "emit-metric": "custom metrics go to Application Insights, which the local gateway does not feed yet",
    "publish-to-dapr": _DAPR,
    "invoke-dapr-binding": _DAPR,
    # GraphQL resolvers
    "sql-data-source": _GRAPHQL,
    "cosmosdb-data-source": _GRAPHQL,
    "http-data-source": _GRAPHQL,
    "publish-event": _GRAPHQL,
    # policy control
    "wait": "waiting on parallel send-request / cache-lookup-value / choose children is not implemented",
    # AI gateway (token limits and token metrics run: ``elements.ai``)
    "llm-semantic-cache-lookup": _SEMANTIC,
    "llm-semantic-cache-store": _SEMANTIC,
    "azure-openai-semantic-cache-lookup": _SEMANTIC,
    "azure-openai-semantic-cache-store": _SEMANTIC,
    "llm-content-safety": _SAFETY,
}

REFUSED.update(REASONS)
