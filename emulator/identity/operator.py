"""The local operator: the confidential client prmlab (and the test suite) sign in as to call the
emulated ARM and Graph, which accept only tokens this identity service issued.

Where it sits: ``emulator.identity.build_routes`` calls ``ensure_operator(ctx)`` when the emulator
starts. The store keeps the operator's app id, service principal id and the SHA-256 digest of its
secret (kind ``identity/operator``); the secret itself is written only to
``<state folder>/operator.json`` (0600, in the private state folder), so only the user who runs
the emulator can read it. Clients use it as any confidential client of Entra does: the
client-credentials grant at ``/login/<tenant>/oauth2/v2.0/token`` with
``scope=https://management.azure.com/.default`` (ARM) or ``https://graph.microsoft.com/.default``
(Graph) — ``orchestrator.target.LocalCredential``; ``tests/support/credentials.py``. It is the
local stand-in for ``az login`` or a service principal on Azure; it is not a Graph application
(it never shows in ``/v1.0/applications``).

The file is rewritten with a new secret when it is missing or does not match the stored digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from emulator.context import EmulatorContext
from emulator.identity.directory import OPERATOR_KIND
from emulator.identity.wellknown import GRAPH_APP_ID

OPERATOR_FILE = "operator.json"
# The operator's service principal id: the ``oid`` of its tokens. A constant, because it is the
# account that created the emulator's subscription and so holds Owner there without a role
# assignment (``emulator.arm.authz``), as the creator of a subscription does on Azure.
OPERATOR: Final = "00000000-0000-4000-8000-00000000a11c"
# The Microsoft Graph application permissions the operator holds (admin-consented, as the lab's
# prerequisites ask of a service principal that runs prmlab: README "Pointing the same lab at
# Azure"): its client-credentials tokens for Graph carry them in ``roles``, as Entra puts an app's
# granted application permissions there (Learn, "Access token claims reference", ``roles``). What
# the emulated Graph lets it do is what these allow (``emulator.graph.authz`` checks every write
# against them): create and manage applications, service principals and their federated
# credentials (Application.ReadWrite.All), grant admin consent (DelegatedPermissionGrant.
# ReadWrite.All) and, on the local target only, create the lab's test users (User.ReadWrite.All,
# ``orchestrator.verify.users``). Exactly what the engine writes: nothing else.
OPERATOR_GRAPH_ROLES: Final = (
    "Application.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "User.ReadWrite.All",
)


@dataclass(frozen=True, slots=True)
class Operator:
    client_id: str
    service_principal_id: str
    tenant_id: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _write(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def ensure_operator(ctx: EmulatorContext) -> Operator:
    """The operator of this emulator, created on first start (and its secret file re-issued when
    it is missing or stale)."""
    doc = ctx.store.get(OPERATOR_KIND, "operator")
    body = dict(doc.body) if doc is not None else {"appId": str(uuid.uuid4())}
    if body.get("servicePrincipalId") != OPERATOR:  # a state written before it was the constant
        body["servicePrincipalId"] = OPERATOR
        ctx.store.put(OPERATOR_KIND, "operator", body)
    path = Path(ctx.state_dir) / OPERATOR_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
        secret = str(known["client_secret"]) if known.get("client_id") == body["appId"] else ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        secret = ""
    if not secret or _digest(secret) != body.get("secretDigest"):
        secret = secrets.token_urlsafe(32)
        body["secretDigest"] = _digest(secret)
        ctx.store.put(OPERATOR_KIND, "operator", body)
        _write(path, {"tenant_id": ctx.tenant_id, "client_id": str(body["appId"]), "client_secret": secret})
    return Operator(str(body["appId"]), str(body["servicePrincipalId"]), ctx.tenant_id)


def operator_roles(ctx: EmulatorContext, client_id: str, resource_app_id: str) -> tuple[str, ...]:
    """The application permissions ``client_id`` holds on ``resource_app_id``: the operator's on
    Microsoft Graph; nothing else (app role assignments of other clients are not emulated)."""
    if resource_app_id == GRAPH_APP_ID and client_id == operator_client_id(ctx):
        return OPERATOR_GRAPH_ROLES
    return ()


def operator_client_id(ctx: EmulatorContext) -> str | None:
    doc = ctx.store.get(OPERATOR_KIND, "operator")
    return str(doc.body.get("appId")) if doc is not None else None
