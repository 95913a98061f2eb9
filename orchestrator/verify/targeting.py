"""From a lab and the outputs of its resources to one ``VerifyTarget`` per MCP API (pure, no I/O).

Every API of type ``mcp`` is verified (``mcp_api_keys``, in lab.yaml order; the first is "the MCP
endpoint" of ``prmlab output``). Which app is its resource: the API's ``app`` (written by
``spec.mcp_apis`` when lab.yaml leaves it out), else the first app registration that exposes a
scope. The server reached directly (the ``bypass`` battery): the URL of the API's backend when it
is a lab server's URL. The client that signs in: the app's first pre-authorized client (VS Code in
the default lab, a first-party client in Entra and in the local identity service), so no consent
prompt stands in the way of a headless check. A token given on the command line
(``tokens_per_api``: ``prmlab verify --token``) replaces the sign-in of the API it is for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import VerificationError
from orchestrator.resource import UNKNOWN
from orchestrator.spec.refs import resolve
from orchestrator.spec.values import Ref
from orchestrator.verify.model import TokenMinter, VerifyTarget

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab

VSCODE_CLIENT_ID = "aebc6443-996d-45c2-90f0-388ff96faa56"


def _value(
    lab: Lab, outputs: Mapping[str, Mapping[str, Any]], target_outputs: Mapping[str, Any], ref: str
) -> str:
    value = resolve(Ref(ref=ref), lab, outputs, target_outputs)
    if value is UNKNOWN or value is None:
        raise VerificationError(
            f"cannot verify: {ref} is not known — is the lab deployed? (run prmlab reconcile)"
        )
    return str(value)


def mcp_api_keys(lab: Lab) -> tuple[str, ...]:
    """Every API of type ``mcp``, in lab.yaml order (at least one)."""
    keys = tuple(str(k) for k, api in lab.apim.apis.items() if api.type == "mcp")
    if not keys:
        raise VerificationError("cannot verify: lab.yaml declares no API of type mcp")
    return keys


def mcp_api_key(lab: Lab) -> str:
    """The lab's first MCP API: "the MCP endpoint"."""
    return mcp_api_keys(lab)[0]


def resource_app_key(lab: Lab, api: str | None = None) -> str:
    """The app registration whose tokens ``api`` (default: the first MCP API) accepts."""
    named = lab.apim.apis[api if api is not None else mcp_api_key(lab)].app
    if named is not None and named in lab.entra.apps:
        return str(named)
    for key, app in lab.entra.apps.items():
        if app.scopes:
            return str(key)
    raise VerificationError("cannot verify: no app registration in lab.yaml exposes a scope")


_API_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # an API key, not a token's base64


def tokens_per_api(lab: Lab, given: Sequence[str]) -> dict[str, str]:
    """``prmlab verify --token`` values -> the token each MCP API's client uses instead of
    signing in (an API left out signs in as usual).

    ``API=TOKEN`` is that API's token. A bare ``TOKEN`` serves every MCP API, which only works
    when they all accept one app registration's tokens (an access token's audience is one app);
    otherwise, or for a key that is not one of the lab's MCP APIs, a ``ValueError`` says what to
    give. Messages never contain a token."""
    if not given:
        return {}
    keys = mcp_api_keys(lab)
    keyed: dict[str, str] = {}
    bare: list[str] = []
    for value in given:
        name, sep, rest = value.partition("=")
        if sep and name in keys:
            if name in keyed:
                raise ValueError(f"two tokens for MCP API {name!r}")
            if not rest:
                raise ValueError(f"no token after {name}=")
            keyed[name] = rest
        elif sep and rest.strip("=") and _API_PREFIX.fullmatch(name):
            # meant as API=TOKEN (a bare token holds '=' only as base64 padding, at its end)
            raise ValueError(
                f"{name!r} is not an MCP API of lab {lab.name!r} (its MCP APIs: {', '.join(keys)})"
            )
        else:
            bare.append(value)
    per_api = "; give one per API: " + " ".join(f"--token {k}=<token>" for k in keys)
    if bare and keyed:
        raise ValueError("give one token for every MCP API or one per API (API=TOKEN), not both")
    if len(bare) > 1:
        raise ValueError(f"{len(bare)} tokens without an API{per_api}")
    if not bare:
        return keyed
    apps = {key: resource_app_key(lab, key) for key in keys}
    if len(set(apps.values())) > 1:
        accepted = ", ".join(f"{key}: app {app!r}" for key, app in apps.items())
        raise ValueError(
            f"one token cannot serve every MCP API of lab {lab.name!r}: they accept tokens of "
            f"different app registrations ({accepted}) and a token's audience is one app{per_api}"
        )
    return dict.fromkeys(keys, bare[0])


def _server_url(
    lab: Lab, api: str, outputs: Mapping[str, Mapping[str, Any]], target_outputs: Mapping[str, Any]
) -> str | None:
    """The MCP endpoint of the lab's server behind ``api`` (its backend's URL), if it is one."""
    backend_key = lab.apim.apis[api].backend
    backend = lab.apim.backends.get(backend_key) if backend_key is not None else None
    if backend is None or not isinstance(backend.url, Ref):
        return None
    address = backend.url.address
    if address == "server" and lab.server is not None:
        node = "container_app.server"
    elif address.startswith("servers.") and address.split(".")[1] in lab.servers:
        node = f"container_app.{address.split('.')[1]}"
    else:
        return None
    if node not in outputs:
        return None
    value = resolve(backend.url, lab, outputs, target_outputs)
    if value is UNKNOWN or value is None:
        return None
    return str(value)


def build_target(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
    *,
    local: bool,
    ca_file: Path | None = None,
    minter: TokenMinter | None = None,
    token: str | None = None,
    checks: frozenset[str] | None = None,
    api: str | None = None,
    backend_keep_alive_s: float | None = None,
) -> VerifyTarget:
    """The target of MCP API ``api`` (default: the first)."""
    api = api if api is not None else mcp_api_key(lab)
    app_key = resource_app_key(lab, api)
    app = lab.entra.apps[app_key]
    client_id = str(app.pre_authorized_clients[0].app_id) if app.pre_authorized_clients else VSCODE_CLIENT_ID
    server_url = _server_url(lab, api, outputs, target_outputs)
    user = lab.verification.test_users[0] if local and lab.verification.test_users else None
    profile: dict[str, str] | None = None
    if user is not None:
        profile = {"displayName": user.display_name}
        for key, attr in (
            ("mail", "mail"),
            ("jobTitle", "job_title"),
            ("department", "department"),
            ("officeLocation", "office_location"),
        ):
            if getattr(user, attr) is not None:
                profile[key] = str(getattr(user, attr))
    configured = lab.verification.checks
    return VerifyTarget(
        mcp_url=_value(lab, outputs, target_outputs, f"apim.apis.{api}.url"),
        app_client_id=_value(lab, outputs, target_outputs, f"entra.apps.{app_key}.client_id"),
        tenant_id=str(target_outputs["tenant_id"]),
        scope=_value(lab, outputs, target_outputs, f"entra.apps.{app_key}.scope"),
        client_id=client_id,
        server_url=server_url,
        ca_file=ca_file,
        login_hint=user.user_principal_name if user is not None else None,
        expected_profile=profile,
        minter=minter,
        token=token,
        interactive=not local and token is None,
        checks=checks if checks is not None else (frozenset(configured) if configured else None),
        token_issuer=str(target_outputs["issuer"]),
        api=api,
        backend_keep_alive_s=backend_keep_alive_s,
    )
