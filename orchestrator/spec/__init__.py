"""The lab.yaml spec: models, line-aware loading, references (pure; no Azure SDK imports).

``load_lab(path, env=None) -> Lab`` is the front door (see ``loader``); ``refs`` says which
``{ref: ...}`` addresses exist and how they resolve; ``lab_schema()`` is the JSON Schema.
"""

from orchestrator.spec.loader import load_lab, parse_lab
from orchestrator.spec.models import (
    Api,
    Apim,
    ApimService,
    AzureTarget,
    Backend,
    EntraApp,
    FederatedCredential,
    Lab,
    LocalTarget,
    ManagedIdentity,
    Monitoring,
    NamedValue,
    Operation,
    Policy,
    Server,
    TestUser,
    Verification,
)
from orchestrator.spec.refs import resolve
from orchestrator.spec.schema import lab_schema
from orchestrator.spec.values import EnvVar, NamedValueToken, Ref

__all__ = [
    "Api",
    "Apim",
    "ApimService",
    "AzureTarget",
    "Backend",
    "EntraApp",
    "EnvVar",
    "FederatedCredential",
    "Lab",
    "LocalTarget",
    "ManagedIdentity",
    "Monitoring",
    "NamedValue",
    "NamedValueToken",
    "Operation",
    "Policy",
    "Ref",
    "Server",
    "TestUser",
    "Verification",
    "lab_schema",
    "load_lab",
    "parse_lab",
    "resolve",
]
