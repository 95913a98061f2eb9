"""Every API of ``type: mcp`` is a protected resource by construction (pure).

Step 2 of loading (``spec.loader.parse_lab``): on the raw YAML data, after parsing and before the
models and the cross-resource checks, so that what is derived here is validated, checked and
planned exactly like what a user writes (and a problem in it is reported at the API's line).

An MCP API needs three things to be discoverable and protected (RFC 9728, MCP authorization):

1. its **policy**: the token checks and the 401 challenge whose ``resource_metadata`` is the API's
   own path-inserted PRM URL. Left out in ``entra`` mode, it is the mode's MCP API template
   (``modes``) with the API's app; a policy of that template that leaves out
   ``resource_metadata_url`` gets ``{ref: apim.apis.<key>.prm_url}``. Left out in ``gateway``
   mode, it is ``gateway-mcp-api`` bound to the gateway authorization server (an API whose
   policy is ``gateway-oauth``) that issues tokens for this API (its ``resource``): that
   server's tenant, client id and scope, the API's URL, PRM and backend. One authorization
   server issues tokens for one resource (RFC 8707 audience binding): an MCP API none issues
   them for is refused at its line, naming what to add.
2. its **PRM under the API**: ``GET <api>/.well-known/oauth-protected-resource`` (operation
   ``prm``), RFC 9728 §3's "under the resource" form.
3. its **PRM at the path-inserted URL** ``<gateway>/.well-known/oauth-protected-resource/<path>``
   (RFC 9728 §3.1): an operation ``GET /<path>``, named after the API, on the discovery API (the
   API at path ``.well-known/oauth-protected-resource``; ``mcp-prm-dynamic-discovery`` is made
   when the lab has none).

What lab.yaml declares itself is kept as written (the default lab declares all three for ``mcp``)
and checked: a PRM whose ``resource`` is not its API's URL, and a challenge pointing at another
API's PRM, are refused — the copy-paste defect of a second MCP API.

The derived PRM document: ``resource`` = the API's URL (``apim.apis.<key>.url``, byte for byte);
``authorization_servers`` = the issuers of the lab's authorization-server metadata policies
(templates ``entra-metadata``, ``gateway-metadata``), then Entra's issuer in ``entra`` mode (in
``gateway`` mode only the issuer of the authorization server issuing the API's tokens, when one
does: a client takes the first it is given);
``scopes_supported`` = the app's scope; ``resource_name`` = the API's display name.

The API's app (whose tokens it accepts): ``app:`` on the API; else the app whose
``identifier_uris`` name the API's URL; else the one app exposing scopes. It is written into the
API (``app``) so that verification knows it too. In ``entra`` mode an app that has identifier
URIs must have the API's URL among them: MCP clients send that URL as ``resource`` (RFC 8707)
and Entra refuses one that is not an identifier URI of the app (AADSTS9010010). A lab without
app registrations is left as written (nothing issues tokens; verification refuses such a lab).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestrator.errors import SpecIssue
from orchestrator.spec.yamlsource import PathT, Positions, format_path

PRM_URL_TEMPLATE = "/.well-known/oauth-protected-resource"
DISCOVERY_PATH = PRM_URL_TEMPLATE.strip("/")
DISCOVERY_API = "mcp-prm-dynamic-discovery"
PRM_OPERATION = "prm"
PRM_TEMPLATE = "prm"
MCP_API_TEMPLATE = {"entra": "mcp-api-entra", "gateway": "gateway-mcp-api"}
GATEWAY_AS_TEMPLATE = "gateway-oauth"  # modes: gateway mode's authorization_server_template
METADATA_TEMPLATES = ("entra-metadata", "gateway-metadata")


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_ref(value: Any, ref: str) -> bool:
    return isinstance(value, dict) and value.get("ref") == ref and not value.get("suffix")


def _ref_address(value: Any) -> str | None:
    ref = value.get("ref") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


def _is_prm_op(op: Any, url_template: str) -> bool:
    op = _map(op)
    return str(op.get("method", "")).upper() == "GET" and op.get("url_template") == url_template


def _shown(value: Any) -> str:
    """A lab.yaml value as the user wrote it: ``{ref: a.b}`` for a reference."""
    address = _ref_address(value)
    return f"{{ref: {address}}}" if address is not None else repr(value)


def _policies(apis: dict[str, Any]) -> Iterator[tuple[PathT, dict[str, Any]]]:
    for key, api in apis.items():
        if isinstance(_map(api).get("policy"), dict):
            yield ("apim", "apis", key, "policy"), api["policy"]
        for op_key, op in _map(_map(api).get("operations")).items():
            if isinstance(_map(op).get("policy"), dict):
                yield ("apim", "apis", key, "operations", op_key, "policy"), op["policy"]


def _free(taken: dict[str, Any], *names: str) -> str:
    for name in names:
        if name not in taken:
            return name
    n = 2
    while f"{names[-1]}-{n}" in taken:
        n += 1
    return f"{names[-1]}-{n}"


class _Completion:
    def __init__(self, data: dict[str, Any], positions: Positions) -> None:
        self.data = data
        self.positions = positions
        self.issues: list[SpecIssue] = []
        self.mode = str(_map(data.get("authorization")).get("mode", "entra"))
        self.apps = _map(_map(data.get("entra")).get("apps"))

    def at(self, path: PathT, message: str) -> None:
        mark = self.positions.value(path)
        self.issues.append(SpecIssue(self.positions.file, mark.line, mark.column, format_path(path), message))

    def app_of(self, key: str, api: dict[str, Any]) -> str | None:
        if isinstance(api.get("app"), str):
            return str(api["app"])  # an unknown key is check_refs' (check_mcp_apis) to report
        own_url = f"apim.apis.{key}.url"
        named = [
            k
            for k, app in self.apps.items()
            if any(_is_ref(u, own_url) for u in _list(_map(app).get("identifier_uris")))
        ]
        if len(named) == 1:
            return str(named[0])
        exposing = [k for k, app in self.apps.items() if _list(_map(app).get("scopes"))]
        return str(exposing[0]) if len(exposing) == 1 else None

    def authorization_servers(self, apis: dict[str, Any]) -> list[Any]:
        servers: list[Any] = []
        for _, policy in _policies(apis):
            if policy.get("template") in METADATA_TEMPLATES:
                issuer = _map(policy.get("variables")).get("issuer")
                if issuer is not None and issuer not in servers:
                    servers.append(issuer)
        if self.mode == "entra":
            servers.append({"ref": "target.issuer"})
        return servers

    def gateway_servers(self, apis: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The gateway authorization servers: (API key, its ``gateway-oauth`` policy's variables)."""
        return [
            (str(k), _map(_map(a).get("policy")).get("variables") or {})
            for k, a in apis.items()
            if _map(_map(a).get("policy")).get("template") == GATEWAY_AS_TEMPLATE
        ]

    def issuing_for(self, key: str, apis: dict[str, Any]) -> dict[str, Any] | None:
        """The variables of the gateway authorization server issuing tokens for MCP API ``key``."""
        own = f"apim.apis.{key}.url"
        return next((v for _, v in self.gateway_servers(apis) if _is_ref(v.get("resource"), own)), None)

    def no_gateway_server(self, where: PathT, key: str, apis: dict[str, Any]) -> None:
        own = f"{{ref: apim.apis.{key}.url}}"
        servers = self.gateway_servers(apis)
        if servers:
            issuing = "; ".join(
                f"apim.apis.{k} issues them for {_shown(v.get('resource'))}" for k, v in servers
            )
            have = (
                f"none of the lab's issues them ({issuing}; one issues tokens for one resource only, "
                "RFC 8707 audience binding)"
            )
        else:
            have = "the lab has none"
        self.at(
            where,
            f"apim.apis.{key}: in authorization mode 'gateway' clients get this MCP API's tokens from "
            f"a gateway authorization server, but {have}: add an API whose policy has template "
            f"{GATEWAY_AS_TEMPLATE} with `resource: {own}` (as apim.apis.oauth in labs/gateway.yaml) "
            f"and a gateway-metadata policy for its issuer; this API's policy "
            f"({MCP_API_TEMPLATE['gateway']}) is then derived",
        )

    def gateway_api_policy(
        self, key: str, api: dict[str, Any], app: str, server: dict[str, Any]
    ) -> dict[str, Any]:
        """``gateway-mcp-api`` for MCP API ``key``, bound to the authorization server ``server``."""
        variables: dict[str, Any] = {
            "tenant_id": server.get("tenant_id", {"ref": "target.tenant_id"}),
            "audience": server.get("client_id", {"ref": f"entra.apps.{app}.client_id"}),
            "scope": server.get("scope", {"ref": f"entra.apps.{app}.scope"}),
            "resource": {"ref": f"apim.apis.{key}.url"},
            "resource_metadata_url": {"ref": f"apim.apis.{key}.prm_url"},
        }
        if _list(_map(self.apps.get(app)).get("identifier_uris")):
            variables["identifier_uri"] = {"ref": f"entra.apps.{app}.identifier_uri"}
        if isinstance(api.get("backend"), str):
            variables["backend_id"] = api["backend"]
        return {"template": MCP_API_TEMPLATE["gateway"], "variables": variables}

    def prm_policy(self, key: str, api: dict[str, Any], app: str, servers: list[Any]) -> dict[str, Any]:
        return {
            "template": PRM_TEMPLATE,
            "variables": {
                "resource": {"ref": f"apim.apis.{key}.url"},
                "authorization_servers": list(servers),
                "scopes_supported": [{"ref": f"entra.apps.{app}.scope"}],
                "resource_name": str(api.get("display_name", key)),
            },
        }

    def api_policy(self, key: str, app: str) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "tenant_id": {"ref": "target.tenant_id"},
            "audience": {"ref": f"entra.apps.{app}.client_id"},
            "scope": {"ref": f"entra.apps.{app}.scope"},
            "resource_metadata_url": {"ref": f"apim.apis.{key}.prm_url"},
        }
        if _list(_map(self.apps.get(app)).get("identifier_uris")):
            variables["identifier_uri"] = {"ref": f"entra.apps.{app}.identifier_uri"}
        return {"template": MCP_API_TEMPLATE["entra"], "variables": variables}

    def complete(self) -> dict[str, Any]:
        apim = _map(self.data.get("apim"))
        apis = _map(apim.get("apis"))
        mcp = {k: a for k, a in apis.items() if isinstance(a, dict) and a.get("type") == "mcp"}
        if not mcp or not self.apps:
            return self.data  # no app registration: no tokens to check (verification refuses it)
        out = dict(apis)
        discovery_key = next(
            (k for k, a in apis.items() if str(_map(a).get("path", "")).strip("/") == DISCOVERY_PATH), None
        )
        servers = self.authorization_servers(apis)
        for key, api in mcp.items():
            where: PathT = ("apim", "apis", key)
            api = out[key] = dict(api)
            app = self.app_of(key, api)
            if app is not None and app in self.apps:
                api["app"] = app
                self.check_identifier_uri(key, app)
            self.check_declared(key, api, discovery_key, apis)
            ops = dict(_map(api.get("operations")))
            path = str(api.get("path", "")).strip("/")
            needs_policy = not isinstance(api.get("policy"), dict)
            needs_prm = not any(_is_prm_op(op, PRM_URL_TEMPLATE) for op in ops.values())
            discovery_ops = _map(_map(out.get(discovery_key)).get("operations")) if discovery_key else {}
            needs_discovery = not any(_is_prm_op(op, f"/{path}") for op in discovery_ops.values())
            policy = _map(api.get("policy"))
            if policy.get("template") == MCP_API_TEMPLATE.get(self.mode):
                variables = _map(policy.get("variables"))
                if "resource_metadata_url" not in variables:
                    own = {"ref": f"apim.apis.{key}.prm_url"}
                    api["policy"] = {**policy, "variables": {**variables, "resource_metadata_url": own}}
            if not (needs_policy or needs_prm or needs_discovery):
                continue
            if app is None or app not in self.apps:
                self.at(
                    where,
                    f"apim.apis.{key} is an MCP API whose policy or PRM is left to prmlab, but it names "
                    "no app registration: set `app` to the entra.apps key whose tokens it accepts",
                )
                continue
            server = self.issuing_for(key, apis) if self.mode == "gateway" else None
            if needs_policy:
                if self.mode == "gateway":
                    if server is None:
                        self.no_gateway_server(where, key, apis)
                        continue
                    api["policy"] = self.gateway_api_policy(key, api, app, server)
                elif self.mode != "entra":
                    self.at(
                        where,
                        f"apim.apis.{key}: in authorization mode '{self.mode}' an MCP API declares its "
                        f"policy (template {MCP_API_TEMPLATE.get(self.mode, '?')})",
                    )
                    continue
                else:
                    api["policy"] = self.api_policy(key, app)
            if not needs_prm and not needs_discovery:
                continue
            if server is not None and server.get("issuer") in servers:
                servers_of_api = [server["issuer"]]  # a client takes the first: the one issuing its tokens
            else:
                servers_of_api = servers
            if not servers_of_api:
                self.at(
                    where,
                    f"apim.apis.{key}: no authorization server to name in its PRM (the lab has no "
                    "entra-metadata / gateway-metadata policy and its mode is not entra): declare "
                    "its PRM operations yourself",
                )
                continue
            prm = self.prm_policy(key, api, app, servers_of_api)
            if needs_prm:
                ops[_free(ops, PRM_OPERATION)] = {
                    "method": "GET",
                    "url_template": PRM_URL_TEMPLATE,
                    "display_name": "Protected Resource Metadata",
                    "policy": prm,
                }
                api["operations"] = ops
            if needs_discovery:
                if discovery_key is None:
                    discovery_key = _free(out, DISCOVERY_API)
                    out[discovery_key] = {
                        "display_name": "MCP PRM discovery",
                        "type": "http",
                        "path": DISCOVERY_PATH,
                        "protocols": ["https"],
                        "subscription_required": False,
                    }
                discovery = out[discovery_key] = dict(out[discovery_key])
                dops = discovery["operations"] = dict(_map(discovery.get("operations")))
                dops[_free(dops, key, f"{key}-prm")] = {
                    "method": "GET",
                    "url_template": f"/{path}",
                    "display_name": f"Protected Resource Metadata of /{path}",
                    "policy": prm,
                }
        return {**self.data, "apim": {**apim, "apis": out}}

    def check_identifier_uri(self, key: str, app: str) -> None:
        if self.mode != "entra":
            return
        uris = _list(_map(self.apps.get(app)).get("identifier_uris"))
        own = f"apim.apis.{key}.url"
        if uris and not any(_is_ref(u, own) for u in uris) and not all(_ref_address(u) is None for u in uris):
            self.at(
                ("entra", "apps", app, "identifier_uris"),
                f"entra.apps.{app} accepts the tokens of MCP API apim.apis.{key}, so its "
                f"identifier_uris need `{{ref: {own}}}`: MCP clients send that URL as `resource` "
                "and Entra refuses one that is not an identifier URI of the app (AADSTS9010010)",
            )

    def check_declared(
        self, key: str, api: dict[str, Any], discovery_key: str | None, apis: dict[str, Any]
    ) -> None:
        """What lab.yaml declares itself names this API, not another (the copy-paste defect)."""
        own_url, own_prm = f"apim.apis.{key}.url", f"apim.apis.{key}.prm_url"
        policy = _map(api.get("policy"))
        challenge = _map(policy.get("variables")).get("resource_metadata_url")
        address = _ref_address(challenge)
        if address is not None and address.endswith(".prm_url") and address != own_prm:
            self.at(
                ("apim", "apis", key, "policy", "variables", "resource_metadata_url"),
                f"the 401 challenge of apim.apis.{key} must point at its own PRM "
                f"({{ref: {own_prm}}}), not {{ref: {address}}}",
            )
        bound = _ref_address(_map(policy.get("variables")).get("resource"))
        if (
            policy.get("template") == MCP_API_TEMPLATE["gateway"]
            and bound is not None
            and bound.startswith("apim.apis.")
            and bound != own_url
        ):
            self.at(
                ("apim", "apis", key, "policy", "variables", "resource"),
                f"apim.apis.{key}'s policy admits the gateway tokens issued for its resource, so that "
                f"must be {{ref: {own_url}}} (RFC 8707 audience binding), not {{ref: {bound}}}",
            )
        elif (
            self.mode == "gateway"
            and policy.get("template") == MCP_API_TEMPLATE["gateway"]
            and bound == own_url
            and self.gateway_servers(apis)
            and self.issuing_for(key, apis) is None
        ):
            self.no_gateway_server(("apim", "apis", key, "policy"), key, apis)
        path = str(api.get("path", "")).strip("/")
        places: list[tuple[PathT, Any]] = [
            (("apim", "apis", key, "operations", op_key), op)
            for op_key, op in _map(api.get("operations")).items()
            if _is_prm_op(op, PRM_URL_TEMPLATE)
        ]
        if discovery_key is not None:
            places += [
                (("apim", "apis", discovery_key, "operations", op_key), op)
                for op_key, op in _map(_map(apis.get(discovery_key)).get("operations")).items()
                if _is_prm_op(op, f"/{path}")
            ]
        for where, op in places:
            policy = _map(_map(op).get("policy"))
            if policy.get("template") != PRM_TEMPLATE:
                continue
            resource = _map(policy.get("variables")).get("resource")
            address = _ref_address(resource)
            if address is not None and (address != own_url or _map(resource).get("suffix")):
                self.at(
                    (*where, "policy", "variables", "resource"),
                    f"this PRM document is apim.apis.{key}'s, so its resource must be "
                    f"{{ref: {own_url}}} (RFC 9728 §3.3: byte for byte the URL clients use), "
                    f"not {{ref: {address}}}",
                )


def complete(data: Any, positions: Positions) -> tuple[Any, list[SpecIssue]]:
    """``data`` with every MCP API's policy and PRM operations derived where lab.yaml leaves them
    out (a new mapping; ``data`` is not changed), and the issues found."""
    if not isinstance(data, dict):
        return data, []
    completion = _Completion(data, positions)
    done = completion.complete()
    return done, completion.issues
