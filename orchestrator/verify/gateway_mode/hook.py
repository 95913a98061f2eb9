"""Glue for the reconcile hook: the ``GatewayTarget`` of a reconciled lab from its spec and the
engine's outputs, and ``verify_gateway`` (every gateway-mode check of that lab)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.modes import mode_of
from orchestrator.verify.gateway_mode.checks import check_gateway_mode
from orchestrator.verify.gateway_mode.client import entra_user_token
from orchestrator.verify.gateway_mode.model import GatewayTarget
from orchestrator.verify.gateway_mode.store_wait import Progress
from orchestrator.verify.model import CheckResult

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab


def gateway_target_for(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
    ca_file: Path | None,
) -> GatewayTarget | None:
    """The ``GatewayTarget`` of a reconciled gateway-mode lab, from its spec and the engine's
    outputs (graph address -> ``Actual.outputs``); None when the lab is not in gateway mode or
    has no test user to sign in with (``verification.test_users``, local target).

    The MCP API is the API whose policy is the mode's MCP API template; the issuer and scope are
    the ``issuer``/``scope`` variables of the mode's authorization-server policy
    (``orchestrator.modes``), resolved like the engine resolves them.
    """
    from orchestrator.spec.refs import resolve
    from orchestrator.spec.values import Ref

    mode = mode_of(lab)
    if not mode.runs("gateway") or not lab.verification.test_users:
        return None

    def value(v: Any) -> str:
        return str(resolve(v, lab, outputs, target_outputs)) if isinstance(v, Ref) else str(v)

    oauth = mcp = None
    for api in lab.apim.apis.values():
        if api.policy is None:
            continue
        if api.policy.template == mode.authorization_server_template:
            oauth = api.policy.variables
        elif api.policy.template == mode.mcp_api_template:
            mcp = api.policy.variables
    if oauth is None or mcp is None:
        return None
    user = lab.verification.test_users[0]
    profile = {"displayName": user.display_name}
    if user.mail:
        profile["mail"] = user.mail
    return GatewayTarget(
        mcp_url=value(mcp["resource"]),
        issuer=value(oauth["issuer"]),
        scope=value(oauth["scope"]),
        login_hint=user.user_principal_name,
        ca_file=ca_file,
        expected_profile=profile,
        ca_key_file=ca_file.parent / "ca-key.pem" if ca_file is not None else None,
        checks=frozenset(lab.verification.checks) if lab.verification.checks else None,
    )


async def verify_gateway(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
    ca_file: Path | None,
    progress: Progress | None = None,
    *,
    backend_keep_alive_s: float | None = None,
) -> list[CheckResult]:
    """Every gateway-mode check of a reconciled lab (``[]`` when the lab is not in gateway mode).
    On the local target the foreign-token check gets a real Entra token for the app (VS Code
    client, headless); on Azure it is skipped."""
    target = gateway_target_for(lab, outputs, target_outputs, ca_file)
    if target is None:
        return []
    target = dataclasses.replace(target, backend_keep_alive_s=backend_keep_alive_s)
    if ca_file is not None:
        entra = f"{target_outputs['authority']}/{target_outputs['tenant_id']}/oauth2/v2.0"
        foreign = await entra_user_token(entra, target.scope, target.login_hint, ca_file)
        target = dataclasses.replace(target, foreign_token=foreign)
    return await check_gateway_mode(target, progress)
