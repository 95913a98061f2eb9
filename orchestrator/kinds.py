"""The kinds of resource a lab provisions: one ``Kind`` per provider (pure, stdlib only).

A node's address starts with its kind (``api.mcp``, ``entra_app.mcp``); the graph
(``orchestrator.graph``) creates nodes of these kinds, each provider declares the one it serves
(``Provider.kind``), ``spec.refs`` names the node that provides a reference. ``Kind`` is a
``StrEnum``: a member equals, hashes and prints as its value, so plans, JSON output and
addresses read as before.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    RESOURCE_GROUP = "resource_group"
    LOG_ANALYTICS_WORKSPACE = "log_analytics_workspace"
    APP_INSIGHTS = "app_insights"
    MANAGED_IDENTITY = "managed_identity"
    ENTRA_APP = "entra_app"
    SERVICE_PRINCIPAL = "service_principal"
    FEDERATED_CREDENTIAL = "federated_credential"
    PERMISSION_GRANT = "permission_grant"
    APIM_SERVICE = "apim_service"
    APIM_LOGGER = "apim_logger"
    APIM_DIAGNOSTIC = "apim_diagnostic"
    NAMED_VALUE = "named_value"
    BACKEND = "backend"
    API = "api"
    API_POLICY = "api_policy"
    OPERATION = "operation"
    OPERATION_POLICY = "operation_policy"
    PRODUCT = "product"
    PRODUCT_POLICY = "product_policy"
    SUBSCRIPTION = "subscription"
    CONTAINER_REGISTRY = "container_registry"
    STORAGE_ACCOUNT = "storage_account"
    STORAGE_TABLE = "storage_table"
    ROLE_ASSIGNMENT = "role_assignment"
    CONTAINER_ENVIRONMENT = "container_environment"
    CONTAINER_APP = "container_app"

    def at(self, key: str) -> str:
        """The node address of this kind's resource ``key``: ``Kind.API.at("mcp")`` -> ``api.mcp``."""
        return f"{self.value}.{key}"
