"""Azure RBAC as the data planes see it: which role assignments are in effect yet.

Where it sits (ground floor): the data planes the emulator guards ask ``holds`` before they
serve a principal — the Table service (``emulator.storage.auth``: Storage Table Data
Contributor / Reader) and a container app's image pull from a registry of the store
(``emulator.arm.generic``: AcrPull through the app's managed identity). Role assignments are
ARM documents (``microsoft.authorization/roleassignments``, written by ``emulator.arm``); this
module only reads them.

Propagation. Azure applies a new role assignment after a delay: "Role assignment changes can
take up to 10 minutes to take effect" (Learn, "Troubleshoot Azure RBAC", section "Symptom -
Role assignment changes are not being detected",
https://learn.microsoft.com/azure/role-based-access-control/troubleshooting). The emulator
delays the effect on the data planes by ``ctx.faults.rbac_propagation_s`` counted from the
assignment's ``createdOn`` (its own field, as ARM returns it): until then the data plane answers
as if the assignment did not exist. ``python -m emulator --rbac-propagation-seconds`` sets it
(default ``DEFAULT_PROPAGATION_S``), ``PUT /_emulator/faults {"rbac_propagation_s": …}`` changes
it at run time (setting 0 puts every assignment in effect: how a test "releases" propagation).

The default is 2 s, not Azure's 10 minutes: long enough that a client which does not wait for
the effect fails locally as it would on Azure (a reconcile's next steps come within
milliseconds), short enough that the default lab still verifies in seconds. A removal takes
effect at once (stricter than Azure, which may keep honouring a deleted assignment a while).

Scopes are case-insensitive ARM id prefixes: an assignment at the subscription, the resource
group, the resource or a child of it (a table) covers the target.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime
from typing import Any

from emulator.context import EmulatorContext

ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"
DEFAULT_PROPAGATION_S = 2.0


def role_of(props: dict[str, Any]) -> str:
    """The role definition GUID (lower case) of an assignment's properties."""
    return str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()


def in_scope(target_key: str, scope: str) -> bool:
    scope = scope.rstrip("/").lower()
    target = target_key.lower()
    return target == scope or target.startswith(scope + "/")


def _created(props: dict[str, Any]) -> float | None:
    raw = props.get("createdOn")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def in_effect(ctx: EmulatorContext, props: dict[str, Any], now: float | None = None) -> bool:
    """Whether an assignment has propagated (an assignment without ``createdOn`` always has)."""
    delay = ctx.faults.rbac_propagation_s
    if delay <= 0:
        return True
    created = _created(props)
    return created is None or (time.time() if now is None else now) >= created + delay


def holds(ctx: EmulatorContext, principal_id: str, target_key: str, roles: Collection[str]) -> bool:
    """Whether ``principal_id`` holds one of ``roles`` (GUIDs, lower case) at ``target_key`` (an ARM
    id) through an assignment in effect."""
    principal = principal_id.lower()
    for doc in ctx.store.list(ROLE_ASSIGNMENTS):
        props = doc.body.get("properties") or {}
        if str(props.get("principalId", "")).lower() != principal or role_of(props) not in roles:
            continue
        scope = str(props.get("scope") or doc.key.split("/providers/microsoft.authorization/")[0])
        if in_scope(target_key, scope) and in_effect(ctx, props):
            return True
    return False
