"""Provider for user-assigned managed identities (generic ARM, ``Microsoft.ManagedIdentity``).

Flow: see ``arm.py``; outputs ``principal_id`` / ``client_id`` / ``tenant_id`` / ``resource_id``
feed the federated credential's subject, the server's env and role assignments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.providers.arm import ArmKind, ArmResourceProvider

if TYPE_CHECKING:
    from orchestrator.spec.models import ManagedIdentity


def _outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    p = body.get("properties") or {}
    return {
        "principal_id": p.get("principalId"),
        "client_id": p.get("clientId"),
        "tenant_id": p.get("tenantId"),
    }


MANAGED_IDENTITY = ArmKind(
    Kind.MANAGED_IDENTITY, "Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31", _outputs
)


class ManagedIdentityProvider(ArmResourceProvider):
    spec_kind = MANAGED_IDENTITY

    def build(
        self, address: str, spec: ManagedIdentity, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return spec.name, {}
