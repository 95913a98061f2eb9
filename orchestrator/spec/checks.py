"""Cross-resource rules of lab.yaml that one model alone cannot check (pure).

Step 3 of loading, run on the *raw* YAML data (not the validated models) so that these issues
are reported together with type errors, even when part of the file does not validate. Every
accessor is defensive: a wrongly shaped section is pydantic's to report, and is skipped here.

Rules: references name an existing address and output (and a secret output only lands where
``secret: true``); keys naming other resources (an API's backend, an identity) exist; policy
templates exist and named-value tokens name declared named values; no two APIs share a path;
no two operations of an API share method + URL template; URL template parameters are declared;
pre-authorized scopes are exposed; names are unique; sections that need another exist.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestrator.errors import PrmlabError, SpecIssue
from orchestrator.spec.refs import OUTPUTS, SECRET_OUTPUTS, pattern_of
from orchestrator.spec.values import CHECK_GROUPS, REF_PATTERN, ref_parts
from orchestrator.spec.yamlsource import PathT, Positions, format_path

_TEMPLATE_PARAM = re.compile(r"\{([^{}]*)\}")

# A template's variables, as the renderer reads them from the template itself: (every variable,
# the optional ones); raises ``PrmlabError`` when the template cannot be read. Passed in by the
# caller (``orchestrator.labfile`` passes ``render.environment.variables_of``): the spec imports
# nothing above it.
TemplateVariables = Callable[[str], tuple[frozenset[str], frozenset[str]]]


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _kind_of(path: Path) -> str | None:
    """'dir', 'file', 'other' or None (missing); why it cannot be looked at, as text, on OSError.

    ``Path.is_dir`` raises for a name longer than the system allows (ENAMETOOLONG) and for a
    NUL byte: a path written in lab.yaml is input, so every failure is an answer here.
    """
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or type(exc).__name__}"
    except ValueError:
        return "cannot be checked: it contains a NUL character"
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(info.st_mode) else "other"


def _names(items: Any) -> str:
    names = sorted(items)
    return ", ".join(names) if names else "none"


@dataclass
class _Checker:
    data: dict[str, Any]
    positions: Positions
    base_dir: Path
    templates_dir: Path
    template_variables: TemplateVariables | None = None
    issues: list[SpecIssue] = field(default_factory=list)
    # apps exposing several enabled scopes -> their values (``entra.apps.<k>.scope`` is refused)
    ambiguous_scope: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def at(self, path: PathT, message: str, *, key: bool = False) -> None:
        mark = self.positions.key(path) if key else self.positions.value(path)
        self.issues.append(SpecIssue(self.positions.file, mark.line, mark.column, format_path(path), message))

    # ------------------------------------------------------------ references

    def addresses(self) -> dict[str, tuple[str, ...]]:
        """Every address this lab defines -> its outputs."""
        d = self.data
        table: dict[str, tuple[str, ...]] = {"target": OUTPUTS["target"]}
        for key, app in _map(_map(d.get("entra")).get("apps")).items():
            outputs = ["client_id", "object_id"]
            if _list(_map(app).get("identifier_uris")):
                outputs.append("identifier_uri")
            scopes = [_map(sc) for sc in _list(_map(app).get("scopes"))]
            values = [str(sc.get("value")) for sc in scopes if sc.get("enabled", True) is not False]
            if len(values) == 1 or (scopes and not values):
                outputs.append("scope")  # several enabled: a reference names one (scopes.<value>)
            elif values:
                self.ambiguous_scope[f"entra.apps.{key}"] = tuple(values)
            table[f"entra.apps.{key}"] = tuple(outputs)
            if scopes:
                table[f"entra.apps.{key}.scopes"] = tuple(str(sc.get("value")) for sc in scopes)
        for key in _map(d.get("managed_identities")):
            table[f"managed_identities.{key}"] = OUTPUTS["managed_identities.*"]
        apim = _map(d.get("apim"))
        if "service" in apim:
            table["apim.service"] = OUTPUTS["apim.service"]
        for key in _map(apim.get("apis")):
            table[f"apim.apis.{key}"] = OUTPUTS["apim.apis.*"]
        for key in _map(apim.get("backends")):
            table[f"apim.backends.{key}"] = OUTPUTS["apim.backends.*"]
        if isinstance(d.get("server"), dict):
            table["server"] = OUTPUTS["server"]
        for key in _map(d.get("servers")):
            table[f"servers.{key}"] = OUTPUTS["servers.*"]
        if isinstance(_map(d.get("monitoring")).get("app_insights"), dict):
            table["monitoring.app_insights"] = OUTPUTS["monitoring.app_insights"]
        if isinstance(_map(d.get("authorization")).get("client_store"), dict):
            table["authorization.client_store"] = OUTPUTS["authorization.client_store"]
        return table

    def check_refs(self) -> None:
        table = self.addresses()
        for path, ref, parent in _find_refs(self.data, ()):
            if not re.match(REF_PATTERN, ref):
                continue  # malformed: the model reports it
            where = (*path, "ref")
            address, output = ref_parts(ref)
            if output == "scope" and address in self.ambiguous_scope:
                values = self.ambiguous_scope[address]
                self.at(
                    where,
                    f"{address} exposes {len(values)} enabled scopes ({', '.join(values)}): 'scope' would "
                    f"not say which; name one, e.g. {{ref: {address}.scopes.{values[0]}}}",
                )
            elif address.endswith(".scopes") and address in table and output not in table[address]:
                app = address.removesuffix(".scopes")
                self.at(where, f"{app} exposes no scope '{output}' (scopes: {', '.join(table[address])})")
            elif address not in table:
                self.at(where, _unknown_address(address, output, table))
            elif output not in table[address]:
                self.at(where, _unknown_output(address, output))
            elif ref in SECRET_OUTPUTS and parent.get("secret") is not True:
                self.at(where, f"{ref} is a secret: use it only in a value marked 'secret: true'")

    # ------------------------------------------------------------ keys naming other resources

    def check_names(self) -> None:
        d = self.data
        apim = _map(d.get("apim"))
        backends = _map(apim.get("backends"))
        identities = _map(d.get("managed_identities"))
        named_values = _map(apim.get("named_values"))
        for key, api in _map(apim.get("apis")).items():
            backend = _str(_map(api).get("backend"))
            if backend is not None and backend not in backends:
                self.at(
                    ("apim", "apis", key, "backend"),
                    f"unknown backend '{backend}' (apim.backends defines: {_names(backends)})",
                )
        apis = _map(apim.get("apis"))
        products = _map(apim.get("products"))
        for key, product in products.items():
            for i, api in enumerate(_list(_map(product).get("apis"))):
                if _str(api) is not None and api not in apis:
                    self.at(
                        ("apim", "products", key, "apis", i),
                        f"unknown API '{api}' (apim.apis defines: {_names(apis)})",
                    )
        for key, sub in _map(apim.get("subscriptions")).items():
            product, api = _str(_map(sub).get("product")), _str(_map(sub).get("api"))
            if (product is None) == (api is None):
                self.at(
                    ("apim", "subscriptions", key),
                    "a subscription is for one product or one API: set either `product` or `api`",
                    key=True,
                )
            if product is not None and product not in products:
                self.at(
                    ("apim", "subscriptions", key, "product"),
                    f"unknown product '{product}' (apim.products defines: {_names(products)})",
                )
            if api is not None and api not in apis:
                self.at(
                    ("apim", "subscriptions", key, "api"),
                    f"unknown API '{api}' (apim.apis defines: {_names(apis)})",
                )
        for where, server in self.servers():
            identity = _str(server.get("identity"))
            if identity is not None and identity not in identities:
                self.at(
                    (*where, "identity"),
                    f"unknown managed identity '{identity}' (managed_identities defines: {_names(identities)})",
                )
        for name, nv in named_values.items():
            kv_identity = _str(_map(_map(nv).get("key_vault")).get("identity"))
            if kv_identity is not None and kv_identity not in identities:
                self.at(
                    ("apim", "named_values", name, "key_vault", "identity"),
                    f"unknown managed identity '{kv_identity}' (managed_identities defines: {_names(identities)})",
                )

    # ------------------------------------------------------------ policies

    def policies(self) -> Iterator[tuple[PathT, dict[str, Any]]]:
        for key, product in _map(_map(self.data.get("apim")).get("products")).items():
            policy = _map(product).get("policy")
            if isinstance(policy, dict):
                yield ("apim", "products", key, "policy"), policy
        for key, api in _map(_map(self.data.get("apim")).get("apis")).items():
            policy = _map(api).get("policy")
            if isinstance(policy, dict):
                yield ("apim", "apis", key, "policy"), policy
            for op_key, op in _map(_map(api).get("operations")).items():
                policy = _map(op).get("policy")
                if isinstance(policy, dict):
                    yield ("apim", "apis", key, "operations", op_key, "policy"), policy

    def check_policies(self) -> None:
        named_values = _map(_map(self.data.get("apim")).get("named_values"))
        available = sorted(p.name.removesuffix(".xml.j2") for p in self.templates_dir.glob("*.xml.j2"))
        for path, policy in self.policies():
            template = _str(policy.get("template"))
            if (
                template is not None
                and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", template)
                and _kind_of(self.templates_dir / f"{template}.xml.j2") != "file"
            ):
                self.at(
                    (*path, "template"),
                    f"no policy template '{template}' (policy_templates/{template}.xml.j2 does not exist; "
                    f"available: {', '.join(available) or 'none'})",
                )
            if template is not None and template in available:
                self.check_variables(path, template, policy)
            for var, value in _map(policy.get("variables")).items():
                items = value if isinstance(value, list) else [value]
                for i, item in enumerate(items):
                    token = _str(_map(item).get("named_value"))
                    if token is not None and token not in named_values:
                        sub = (
                            *path,
                            "variables",
                            var,
                            *((i,) if isinstance(value, list) else ()),
                            "named_value",
                        )
                        self.at(
                            sub,
                            f"unknown named value '{token}' (apim.named_values defines: {_names(named_values)})",
                        )

    def check_variables(self, path: PathT, template: str, policy: dict[str, Any]) -> None:
        """The variables a template takes (as the renderer reads them from the template itself)."""
        if self.template_variables is None:
            return  # no lookup given (or the templates are not the renderer's own folder)
        try:
            takes, optional = self.template_variables(template)
        except PrmlabError as exc:
            self.at((*path, "template"), f"policy template '{template}' cannot be read: {exc.message}")
            return
        given = policy.get("variables")
        if given is not None and not isinstance(given, dict):
            return
        given = given or {}
        for var in given:
            if var not in takes:
                close = difflib.get_close_matches(var, sorted(takes), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.at(
                    (*path, "variables", var),
                    f"template '{template}' has no variable '{var}'{hint} (variables: {_names(takes)})",
                    key=True,
                )
        missing = sorted(takes - optional - set(given))
        if missing:
            where = (*path, "variables") if "variables" in policy else path
            needs = ", ".join(f"'{m}'" for m in missing)
            self.at(
                where,
                f"template '{template}' needs variable{'s' if len(missing) > 1 else ''} {needs}",
                key=True,
            )

    # ------------------------------------------------------------ APIM structure

    def check_apis(self) -> None:
        apim = _map(self.data.get("apim"))
        seen_paths: dict[str, str] = {}
        for key, api in _map(apim.get("apis")).items():
            if _str(_map(api).get("type")) == "mcp" and _str(_map(api).get("backend")) is None:
                # APIM's MCP API forwards to a backend it names (``backendId``); it has no serviceUrl
                self.at(
                    ("apim", "apis", key, "type"),
                    "an MCP API forwards to a backend: set `backend` to an apim.backends key",
                )
            app = _map(api).get("app")
            if isinstance(app, str) and app not in _map(_map(self.data.get("entra")).get("apps")):
                self.at(("apim", "apis", key, "app"), f"app '{app}' is not an entra.apps key")
            path = _str(_map(api).get("path"))
            if path is not None:
                norm = path.strip("/").lower()  # APIM paths are case-insensitive
                if norm in seen_paths:
                    self.at(
                        ("apim", "apis", key, "path"),
                        f"path '{path}' is already used by apim.apis.{seen_paths[norm]}",
                    )
                else:
                    seen_paths[norm] = key
            seen_ops: dict[tuple[str, str], str] = {}
            for op_key, op in _map(_map(api).get("operations")).items():
                op = _map(op)
                method, template = _str(op.get("method")), _str(op.get("url_template"))
                if method is None or template is None:
                    continue
                where = ("apim", "apis", key, "operations", op_key)
                shape = (method.upper(), _TEMPLATE_PARAM.sub("{}", template).lower())
                if shape in seen_ops:
                    self.at(
                        (*where, "url_template"),
                        f"{method} {template} is already defined by operation '{seen_ops[shape]}'",
                    )
                else:
                    seen_ops[shape] = op_key
                used = _TEMPLATE_PARAM.findall(template)
                declared = [_str(_map(p).get("name")) for p in _list(op.get("template_parameters"))]
                for name in used:
                    if name not in declared:
                        self.at(
                            (*where, "url_template"),
                            f"URL template parameter '{{{name}}}' is not declared in template_parameters",
                        )
                for i, name in enumerate(declared):
                    if name is not None and name not in used:
                        self.at(
                            (*where, "template_parameters", i, "name"),
                            f"template parameter '{name}' does not appear in url_template '{template}'",
                        )
        for name, nv in _map(apim.get("named_values")).items():
            if not isinstance(nv, dict):
                continue  # the model reports the shape
            has_value, has_kv = nv.get("value") is not None, nv.get("key_vault") is not None
            if has_value == has_kv:
                self.at(
                    ("apim", "named_values", name),
                    "a named value needs exactly one of 'value' or 'key_vault'",
                    key=True,
                )
        service = _map(apim.get("service"))
        sku, capacity = service.get("sku"), service.get("capacity", 1)
        if sku == "Consumption" and capacity != 0 and "capacity" in service:
            self.at(("apim", "service", "capacity"), "the Consumption SKU has no capacity: set 0 or omit it")
        if sku != "Consumption" and isinstance(capacity, int) and capacity == 0:
            self.at(("apim", "service", "capacity"), f"the {sku} SKU needs capacity >= 1")

    # ------------------------------------------------------------ entra

    def check_entra(self) -> None:
        unique: dict[str, str] = {}
        for key, app in _map(_map(self.data.get("entra")).get("apps")).items():
            app = _map(app)
            where = ("entra", "apps", key)
            name = _str(app.get("unique_name"))
            if name is not None:
                if name.lower() in unique:
                    self.at(
                        (*where, "unique_name"),
                        f"unique_name '{name}' is already used by entra.apps.{unique[name.lower()]}",
                    )
                unique.setdefault(name.lower(), key)
            values: list[str] = []
            for i, scope in enumerate(_list(app.get("scopes"))):
                value = _str(_map(scope).get("value"))
                if value is not None and value in values:
                    self.at((*where, "scopes", i, "value"), f"scope '{value}' is already exposed by this app")
                values.append(value or "")
            for i, client in enumerate(_list(app.get("pre_authorized_clients"))):
                for j, scope in enumerate(_list(_map(client).get("scopes"))):
                    if isinstance(scope, str) and scope not in values:
                        self.at(
                            (*where, "pre_authorized_clients", i, "scopes", j),
                            f"scope '{scope}' is not exposed by this app (scopes: {_names(v for v in values if v)})",
                        )
            fic_names: set[str] = set()
            for i, fic in enumerate(_list(app.get("federated_credentials"))):
                fic_name = _str(_map(fic).get("name"))
                if fic_name is not None and fic_name.lower() in fic_names:
                    self.at(
                        (*where, "federated_credentials", i, "name"),
                        f"federated credential '{fic_name}' is defined twice",
                    )
                fic_names.add((fic_name or "").lower())
            self.check_admin_consent(where, app)

    def check_admin_consent(self, where: PathT, app: dict[str, Any]) -> None:
        """``admin_consent`` is a grant on the app's service principal, of delegated permissions,
        one per API: it needs the service principal, some scopes, and one entry per API."""
        consented: set[str] = set()
        for i, access in enumerate(_list(app.get("required_resource_access"))):
            access = _map(access)
            if access.get("admin_consent") is not True:
                continue
            at = (*where, "required_resource_access", i, "admin_consent")
            resource = str(access.get("resource_app_id", "")).lower()
            if app.get("service_principal") is False:
                self.at(
                    at, "admin consent is granted to the app's service principal: set service_principal: true"
                )
            if not _list(access.get("scopes")):
                self.at(at, "admin consent grants delegated permissions: list them under scopes")
            if resource in consented:
                self.at(at, f"admin consent for {resource} is already declared by this app")
            consented.add(resource)

    def check_authorization(self) -> None:
        auth = _map(self.data.get("authorization"))
        if isinstance(auth.get("client_store"), dict) and auth.get("mode", "entra") != "gateway":
            self.at(
                ("authorization", "client_store"),
                "client_store holds dynamic client registrations of mode 'gateway': "
                "set 'mode: gateway' or remove it",
                key=True,
            )

    # ------------------------------------------------------------ server, monitoring, verification

    def servers(self) -> list[tuple[PathT, dict[str, Any]]]:
        """(YAML path, raw mapping) of ``server`` and of every entry of ``servers``."""
        found: list[tuple[PathT, dict[str, Any]]] = []
        if isinstance(self.data.get("server"), dict):
            found.append((("server",), self.data["server"]))
        found += [
            (("servers", k), v) for k, v in _map(self.data.get("servers")).items() if isinstance(v, dict)
        ]
        return found

    def check_allocation(self, server: dict[str, Any], where: PathT = ("server",)) -> None:
        """cpu and memory must be one of Container Apps' allowed combinations (consumption
        workload profile): 0.25 to 4.0 vCPU in steps of 0.25, memory exactly twice the vCPU
        in Gi (https://learn.microsoft.com/azure/container-apps/containers#allocations)."""
        cpu, memory = server.get("cpu", 0.5), server.get("memory", "1Gi")
        if isinstance(cpu, bool) or not isinstance(cpu, int | float) or not isinstance(memory, str):
            return  # a wrong type is pydantic's to report
        match = re.fullmatch(r"(\d+(?:\.\d+)?)Gi", memory)
        if match is None or not math.isfinite(cpu):
            return
        vcpu = Decimal(str(cpu))
        if not (Decimal("0.25") <= vcpu <= 4 and vcpu % Decimal("0.25") == 0):
            self.at(
                (*where, "cpu"),
                f"cpu {cpu} is not a Container Apps allocation: 0.25 to 4.0 in steps of 0.25 "
                "(with memory twice as many Gi)",
            )
            return
        wanted = vcpu * 2
        if Decimal(match.group(1)) != wanted:
            self.at(
                (*where, "memory"),
                f"memory {memory} does not go with cpu {cpu}: Container Apps allocates {wanted.normalize()}Gi "
                f"to {vcpu.normalize()} vCPU (memory is twice the vCPU, from 0.25/0.5Gi to 4.0/8.0Gi)",
            )

    def check_server(self) -> None:
        for where, server in self.servers():
            self.check_one_server(where, server)
        first = self.data.get("server")
        extra = _map(self.data.get("servers"))
        if extra and not isinstance(first, dict):
            self.at(("servers",), "more servers run beside `server`: declare `server` first", key=True)
        names: dict[str, PathT] = {}
        for where, server in self.servers():
            name = _str(server.get("name"))
            if name is not None and name.lower() in names:
                self.at(
                    (*where, "name"),
                    f"container app name '{name}' is already used by {format_path(names[name.lower()])}",
                )
            elif name is not None:
                names[name.lower()] = where
        for key, server in extra.items():
            if key == "server":
                self.at(("servers", key), "'server' is the key of `server` itself: choose another", key=True)
            if not isinstance(server, dict) or not isinstance(first, dict):
                continue
            for part in ("environment", "registry"):
                # One environment (container_environment.main) and one registry per lab: the
                # derived copy (spec.servers) is equal; a different one is refused.
                if server.get(part) != first.get(part):
                    self.at(
                        ("servers", key, part),
                        f"every server of a lab runs in one {part}: leave `{part}` out here "
                        f"(it is server's) or make it equal to server.{part}",
                        key=True,
                    )

    def check_one_server(self, where: PathT, server: dict[str, Any]) -> None:
        source, image = server.get("source"), server.get("image")
        if (source is None) == (image is None):
            self.at(where, "the server needs exactly one of 'source' (a folder) or 'image'", key=True)
        kind = _kind_of(self.base_dir / source) if isinstance(source, str) else "dir"
        if kind is None or kind in ("file", "other"):
            self.at(
                (*where, "source"),
                f"folder '{source}' does not exist (relative to the folder of lab.yaml)"
                if kind is None
                else f"'{source}' is not a folder (relative to the folder of lab.yaml)",
            )
        elif kind != "dir":
            self.at((*where, "source"), f"the folder {kind}")
        self.check_allocation(server, where)
        scale = _map(server.get("scale"))
        low, high = scale.get("min_replicas", 1), scale.get("max_replicas", 3)
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.at(
                (*where, "scale", "min_replicas"),
                f"min_replicas ({low}) is greater than max_replicas ({high})",
            )
        if isinstance(server.get("registry"), dict) and server.get("identity") is None:
            self.at(
                (*where, "registry"), "pulling from a registry needs 'identity' (granted AcrPull)", key=True
            )

    def check_monitoring(self) -> None:
        mon = _map(self.data.get("monitoring"))
        needs = (
            (
                "app_insights",
                "log_analytics",
                "Application Insights is workspace-based: add monitoring.log_analytics",
            ),
            (
                "apim_logger",
                "app_insights",
                "the APIM logger writes to Application Insights: add monitoring.app_insights",
            ),
            (
                "apim_diagnostic",
                "apim_logger",
                "APIM diagnostics write through a logger: add monitoring.apim_logger",
            ),
        )
        for part, required, message in needs:
            if mon.get(part) is not None and mon.get(required) is None:
                self.at(("monitoring", part), message, key=True)

    def check_verification(self) -> None:
        ver = _map(self.data.get("verification"))
        for i, check in enumerate(_list(ver.get("checks"))):
            if isinstance(check, str) and check.split(".")[0] not in CHECK_GROUPS:
                self.at(
                    ("verification", "checks", i),
                    f"unknown check '{check}' (groups: {', '.join(CHECK_GROUPS)})",
                )
        upns: set[str] = set()
        for i, user in enumerate(_list(ver.get("test_users"))):
            upn = _str(_map(user).get("user_principal_name"))
            if upn is not None and upn.lower() in upns:
                self.at(
                    (*("verification", "test_users", i), "user_principal_name"),
                    f"test user '{upn}' is defined twice",
                )
            upns.add((upn or "").lower())


def _find_refs(value: Any, path: PathT) -> Iterator[tuple[PathT, str, dict[str, Any]]]:
    """Every ``{ref: "..."}`` mapping in the raw data, with its path and the mapping holding it."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict) and isinstance(item.get("ref"), str) and set(item) <= {"ref", "suffix"}:
                yield (*path, key), item["ref"], value
            else:
                yield from _find_refs(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("ref"), str) and set(item) <= {"ref", "suffix"}:
                yield (*path, i), item["ref"], {}
            else:
                yield from _find_refs(item, (*path, i))


def _unknown_address(address: str, output: str, table: Mapping[str, tuple[str, ...]]) -> str:
    pattern = pattern_of(address)
    if pattern is not None and pattern.endswith(".*"):
        collection = pattern[:-2]
        defined = [a.removeprefix(collection + ".") for a in table if a.startswith(collection + ".")]
        return f"reference to undefined {address} ({collection} defines: {_names(defined)})"
    if pattern is not None:
        return f"reference to {address}, which this lab does not define"
    valid = sorted({p.replace(".*", ".<key>") for p in OUTPUTS})
    return f"unknown reference '{address}.{output}' (addresses: {', '.join(valid)})"


def _unknown_output(address: str, output: str) -> str:
    pattern = pattern_of(address) or address
    known = OUTPUTS.get(pattern, ())
    if output in known:  # a real output this instance cannot offer
        if output == "scope":
            return f"{address} exposes no scopes, so it has no 'scope' output"
        if output == "identifier_uri":
            return f"{address} has no identifier_uris, so it has no 'identifier_uri' output"
    return f"{address} has no output '{output}' (outputs: {', '.join(known)})"


def check(
    data: Any,
    positions: Positions,
    base_dir: Path,
    templates_dir: Path,
    template_variables: TemplateVariables | None = None,
) -> list[SpecIssue]:
    """All cross-resource issues of the raw lab data (policy variables only with a lookup)."""
    if not isinstance(data, dict):
        return []
    checker = _Checker(data, positions, base_dir, templates_dir, template_variables)
    checker.check_refs()
    checker.check_names()
    checker.check_policies()
    checker.check_apis()
    checker.check_entra()
    checker.check_authorization()
    checker.check_server()
    checker.check_monitoring()
    checker.check_verification()
    return checker.issues
