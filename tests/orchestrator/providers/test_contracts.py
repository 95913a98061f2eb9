"""Every request the providers send, checked against Azure's published contract of its api-version.

A recorder (class-level patches of azure-core's aiohttp transport and httpx's transport: every
SDK client of the engine goes through one of them) keeps method, URL, ``Prefer`` header and body
of each request while the engine reconciles ``lab.yaml``, ``labs/gateway.yaml`` and a small
generated scale lab (``benchmarks/reconcile_scale.generate_lab``) on a fresh emulator, then
creates the lab's test users as verification does (``verify.users.ensure_test_users``).

Every write (PUT, PATCH, POST) to ARM or Microsoft Graph is checked:

* ARM: the body is validated with ``emulator.contracts`` (``Rules.STRICT``: required present, no
  property the schema lacks, closed enums in range, no read-only property, JSON types) against
  the operation of that exact api-version; an action without a body parameter
  (``listBuildSourceUploadUrl``, ``listValue``) is valid when nothing is sent, a problem when a
  body is sent.
* Graph: the body is validated with ``emulator.contracts.graph`` (strict: no read-only property
  either) against the v1.0 entity it writes; a ``PATCH`` by alternate key with
  ``Prefer: create-if-missing`` is a create (the properties Graph requires must be there).

A failure names the resource, the property and the spec file. A write whose operation is not
vendored is counted as not covered (and listed), never as valid; only the gaps listed in
``KNOWN_GAPS`` (with the reason) are allowed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from azure.core.pipeline.transport import AioHttpTransport

from benchmarks.reconcile_scale import generate_lab
from emulator.arm.ids import parse_address
from emulator.contracts import corrections, loader, versions
from emulator.contracts import graph as graph_contract
from emulator.contracts.schema import Rules, validate
from tests.orchestrator.emulator_lab import reconcile_on, settings_for, write_lab
from tests.orchestrator.test_products_emulator import products_lab
from tests.support.emulator import EmulatorFactory, RunningEmulator

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True, slots=True)
class Sent:
    method: str
    url: str
    body: str | None
    prefer: str = ""
    status: int = 0  # the answer (ARM through azure-core: status and body recorded)
    answer: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def api_version(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("api-version", [""])[0]


@dataclass
class Report:
    writes: int
    validated: int
    problems: list[str]
    not_covered: Counter[str]
    reads: int = 0
    reads_found: int = 0

    def line(self, lab: str, requests: int) -> str:
        return (
            f"{lab}: {requests} requests, {self.writes} writes, {self.validated} validated; "
            f"{self.reads} ARM reads/deletes, {self.reads_found} of them vendored operations; "
            f"not covered: {dict(self.not_covered)}"
        )


# Writes whose operation is not vendored (yet), each with its reason. Anything else not covered
# fails the test: a new request the engine sends comes with its contract. Empty: the MCP API's
# subtree at 2024-06-01-preview is vendored (emulator/contracts/specs/README.md).
KNOWN_GAPS: dict[str, str] = {}


def _text(body: Any) -> str | None:
    if body is None:
        return None
    if hasattr(body, "getvalue"):
        body = body.getvalue()
    if isinstance(body, bytes | bytearray):
        return body.decode(errors="replace")
    return body if isinstance(body, str) else None


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every request the engine's SDK clients send while the test runs."""
    records: list[Sent] = []
    aio_send = AioHttpTransport.send

    async def send(self: AioHttpTransport, request: Any, **kwargs: Any) -> Any:
        prefer = request.headers.get("Prefer", "")
        response = await aio_send(self, request, **kwargs)
        answer = None
        if "json" in (response.headers.get("Content-Type") or ""):
            await response.load_body()  # aiohttp keeps the bytes: the SDK reads them again
            answer = response.text()
        records.append(
            Sent(request.method, request.url, _text(request.body), prefer, response.status_code, answer)
        )
        return response

    httpx_handle = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        content = request.content.decode(errors="replace") if request.content else None
        records.append(Sent(request.method, str(request.url), content, request.headers.get("Prefer", "")))
        return await httpx_handle(self, request)

    monkeypatch.setattr(AioHttpTransport, "send", send)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    return records


# APIM's MCP API: the published JSON specs describe no ``type: mcp`` (not 2024-05-01, not the
# 2024-06-01-preview files; the TypeSpec source has it), so its contract is the body of the lab
# that deploys in Azure — Azure-Samples/AI-Gateway labs/mcp-prm-oauth, src/bicep/apim-mcp/mcp-api.bicep,
# ``apis@2024-06-01-preview`` — property for property (``description``, an ApiEntityBaseContract
# property of every version, carries our ownership mark); and the rest of the body against the
# vendored 2024-06-01-preview JSON (strict), without the two properties that JSON lacks
# (``MCP_ONLY``: neither ApiCreateOrUpdateProperties nor ApiContractProperties nor
# ApiEntityBaseContract of preview/2024-06-01-preview/definitions.json has them; its ``ApiType``
# enum lacks ``mcp`` but is ``modelAsString``, an open enum).
MCP_API_SOURCE = "Azure-Samples/AI-Gateway labs/mcp-prm-oauth src/bicep/apim-mcp/mcp-api.bicep"
MCP_API_VERSION = "2024-06-01-preview"
MCP_API_FIXED: dict[str, Any] = {
    "type": "mcp",
    "protocols": ["https"],
    "mcpProperties": {"transportType": "streamable"},
    "authenticationSettings": {"oAuth2AuthenticationSettings": [], "openidAuthenticationSettings": []},
    "isCurrent": True,
}
MCP_API_TYPED: dict[str, type] = {
    "displayName": str,
    "path": str,
    "backendId": str,
    "subscriptionRequired": bool,
}
MCP_API_OPTIONAL = frozenset({"description"})
MCP_ONLY = ("backendId", "mcpProperties")


def _without_mcp_only(api: Any) -> Any:
    """An API body or answer without ``MCP_ONLY`` when it is an MCP API (else unchanged)."""
    props = api.get("properties") if isinstance(api, dict) else None
    if not isinstance(props, dict) or str(props.get("type", "")).lower() != "mcp":
        return api
    return {**api, "properties": {k: v for k, v in props.items() if k not in MCP_ONLY}}


def check_mcp_api(r: Sent, body: dict[str, Any]) -> list[str]:
    """An MCP API write against the deployed lab's body (see ``MCP_API_SOURCE``)."""
    where = f"{r.method} {r.path} (MCP API, {MCP_API_SOURCE})"
    problems = []
    if r.api_version != MCP_API_VERSION:
        problems.append(f"{where}: api-version {r.api_version}: the MCP API exists at {MCP_API_VERSION}")
    raw = body.get("properties")
    props: dict[str, Any] = raw if isinstance(raw, dict) else {}
    known = set(MCP_API_FIXED) | set(MCP_API_TYPED) | MCP_API_OPTIONAL
    for key in sorted(set(props) - known):
        problems.append(f"{where}: properties.{key}: is not a property of the deployed lab's MCP API")
    for key in sorted((set(MCP_API_FIXED) | set(MCP_API_TYPED)) - set(props)):
        problems.append(f"{where}: properties.{key}: missing")
    for key, value in MCP_API_FIXED.items():
        if key in props and props[key] != value:
            problems.append(f"{where}: properties.{key}: {props[key]!r}, the deployed lab sends {value!r}")
    for key, kind in MCP_API_TYPED.items():
        if key in props and not isinstance(props[key], kind):
            problems.append(f"{where}: properties.{key}: not a {kind.__name__}")
    return problems


def _is_mcp_api_write(r: Sent, body: Any) -> bool:
    parts = [p.lower() for p in r.path.split("/") if p]
    return (
        r.method == "PUT"
        and len(parts) == 10
        and (parts[5], parts[6], parts[8]) == ("microsoft.apimanagement", "service", "apis")
        and isinstance(body, dict)
        and str((body.get("properties") or {}).get("type", "")).lower() == "mcp"
    )


def check(requests: list[Sent]) -> Report:
    """Validate every ARM and Graph write against its contract."""
    report = Report(0, 0, [], Counter())
    for r in requests:
        if r.method not in ("PUT", "PATCH", "POST"):
            _check_read(r, report)
            continue
        if r.path.startswith("/v1.0/"):
            report.writes += 1
            _check_graph(r, report)
        elif r.path.startswith("/subscriptions"):  # not the data planes (ACR source upload)
            report.writes += 1
            _check_arm(r, report)
    return report


def _check_read(r: Sent, report: Report) -> None:
    """An ARM GET/DELETE names an operation of its api-version (the polling URL an LRO answers
    with, ``Azure-AsyncOperation``, is the service's own and not part of the contract)."""
    if not r.path.startswith("/subscriptions") or "/operationStatuses/" in r.path:
        return
    report.reads += 1
    if loader.operation(r.method, r.path, r.api_version) is not None:
        report.reads_found += 1
    else:
        rtype = loader.resource_type_of(r.path) or "resourceGroups"
        report.not_covered[f"{r.method} {rtype}@{r.api_version}"] += 1


def _check_arm(r: Sent, report: Report) -> None:
    operation = loader.operation(r.method, r.path, r.api_version)
    if r.body and _is_mcp_api_write(r, json.loads(r.body)):
        report.validated += 1
        report.problems += check_mcp_api(r, json.loads(r.body))
        schema = operation.body_schema() if operation is not None else None
        if operation is not None and schema is not None:  # and the JSON of its api-version
            result = validate(schema, _without_mcp_only(json.loads(r.body)), Rules.STRICT)
            report.problems += [
                f"{r.method} {r.path} ({operation.operation_id}): {p}" for p in result.problems
            ]
        return
    if operation is None:
        rtype = loader.resource_type_of(r.path) or "resourceGroups"
        report.not_covered[f"{r.method} {rtype}@{r.api_version}"] += 1
        return
    where = f"{r.method} {r.path} ({operation.operation_id})"
    schema = operation.body_schema()
    report.validated += 1
    if schema is None:
        if r.body:
            report.problems.append(f"{where}: a body is sent, the operation takes none")
        return
    if not r.body:
        if operation.body_required():
            report.problems.append(f"{where}: no body, the operation requires one")
        return
    body = json.loads(r.body)
    result = corrections.apply(validate(schema, body, Rules.STRICT), body)
    report.problems += [f"{where}: {p}" for p in result.problems]


def _check_graph(r: Sent, report: Report) -> None:
    found = graph_contract.entity_of(r.method, r.path)
    if found is None:
        report.not_covered[f"graph {r.method} {r.path.split('/')[2].split('(')[0]}"] += 1
        return
    type_name, create = found
    create = create or (r.method == "PATCH" and "create-if-missing" in r.prefer)
    body = json.loads(r.body) if r.body else {}
    report.validated += 1
    problems = graph_contract.validate(type_name, body, create=create, strict=True)
    report.problems += [f"graph {r.method} {r.path} ({type_name}): {p}" for p in problems]


def _lab_folder(tmp_path: Path, lab: str) -> Path:
    target = tmp_path / lab
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / lab, target)
    if not (tmp_path / "mcp_server").exists():
        os.symlink(REPO / "mcp_server", tmp_path / "mcp_server")
    return target


# The labs whose requests are checked. Together they hold a node of every kind the engine
# provisions (``test_the_contract_labs_cover_every_kind``): every request type the engine can send
# is checked against its contract and against api-versions.json.
CONTRACT_LABS = ("lab.yaml", "labs/gateway.yaml", "scale", "products")


def _contract_lab(tmp_path: Path, lab: str) -> Path:
    if lab == "scale":
        (tmp_path / "scale").mkdir()
        return generate_lab(tmp_path / "scale", apis=3, ops=2, named_values=4, apps=2)
    if lab == "products":  # issue 20's products, product policy and subscription on the default lab
        return write_lab(tmp_path / "products", products_lab("contract-products"))
    return _lab_folder(tmp_path, lab)


def test_the_contract_labs_cover_every_kind(tmp_path: Path) -> None:
    """A kind no contract lab provisions would send requests no test checks (a type missing from
    api-versions.json, a body against no contract): adding a kind means adding it to a lab here."""
    from orchestrator.graph import build_graph
    from orchestrator.kinds import Kind
    from orchestrator.spec.loader import load_lab

    covered = set()
    for lab in CONTRACT_LABS:
        covered |= {node.kind for node in build_graph(load_lab(_contract_lab(tmp_path, lab)))}
    assert sorted(set(Kind) - covered) == []


@pytest.mark.parametrize("lab", CONTRACT_LABS)
def test_every_request_body_matches_the_contract_of_its_api_version(
    lab: str, sent: list[Sent], make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    emu = make_emulator()
    lab_file = _contract_lab(tmp_path, lab)
    report, _, output = reconcile_on(emu, lab_file)
    assert report.exit_code == 0, output
    _create_test_users(emu, lab_file)
    result = check(sent)
    print(result.line(lab, len(sent)))
    answered, answer_problems = check_answers(sent)
    print(f"{lab}: {answered} ARM answers checked against their response schema")
    assert result.validated > 0
    assert result.problems == [], "\n".join(result.problems)
    unexplained = {k: n for k, n in result.not_covered.items() if k not in KNOWN_GAPS}
    assert unexplained == {}, f"requests without a vendored contract: {unexplained}"
    assert answered > 0
    assert answer_problems == [], "\n".join(answer_problems)
    unknown_versions = check_versions(sent)  # emulator/contracts/specs/api-versions.json
    assert unknown_versions == [], "\n".join(unknown_versions)


# Provider-level actions and reads that are no resource type of the table (the emulator does not
# check their api-version either; tests/emulator/contracts/test_loader.py lists the same kind).
NOT_VERSIONED = frozenset(
    {
        "Microsoft.ApiManagement/checkNameAvailability",
        "Microsoft.ContainerRegistry/checkNameAvailability",
        "Microsoft.Storage/checkNameAvailability",
        "Microsoft.Resources/providers",
        "Microsoft.Authorization/permissions",
    }
)


def check_versions(requests: list[Sent]) -> list[str]:
    """Every ARM request's (resource type, api-version) is in ``api-versions.json``: the emulator
    checks the version of every type the engine sends (an unknown type is not checked at all)."""
    problems = set()
    for r in requests:
        if not r.path.startswith("/subscriptions") or "/operationStatuses/" in r.path:
            continue
        address = parse_address(r.path, r.method)  # as the emulator names it (an action: its resource)
        rtype = address.type_name if address is not None else loader.resource_type_of(r.path)
        if not rtype or rtype in NOT_VERSIONED:
            continue  # GET /subscriptions[/{id}]: tenant-level, no resource type
        listed = versions.supported(rtype)
        if listed is None:
            problems.add(f"{rtype}: not in the table ({r.method} {r.path})")
        elif r.api_version not in listed:
            problems.add(f"{rtype}@{r.api_version}: not a version the table lists ({r.method} {r.path})")
    return sorted(problems)


def test_a_type_or_version_missing_from_the_table_fails() -> None:
    base = "https://127.0.0.1/subscriptions/s/resourceGroups/rg/providers"
    ok = f"{base}/Microsoft.ApiManagement/service/svc/apis/a?api-version=2024-05-01"
    assert check_versions([Sent("PUT", ok, "{}")]) == []
    old = f"{base}/Microsoft.ApiManagement/service/svc/apis/a?api-version=2015-01-01"
    assert check_versions([Sent("PUT", old, "{}")]) == [
        "Microsoft.ApiManagement/service/apis@2015-01-01: not a version the table lists "
        "(PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc/apis/a)"
    ]
    unknown = f"{base}/Microsoft.Web/sites/x?api-version=2023-01-01"
    assert check_versions([Sent("GET", unknown, None)])[0].startswith("Microsoft.Web/sites: not in the table")


def _create_test_users(emu: RunningEmulator, lab_file: Path) -> None:
    """The lab's test users, created as verification creates them on the local target."""
    from orchestrator.spec.loader import load_lab
    from orchestrator.target import open_clients
    from orchestrator.verify.users import ensure_test_users

    lab = load_lab(lab_file)

    async def main() -> None:  # (test users: no global names involved)
        async with open_clients(settings_for(emu, lab)) as clients:
            await ensure_test_users(clients.graph, lab)

    anyio.run(main)


def test_a_misspelled_property_fails_naming_resource_property_and_spec_file() -> None:
    path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc/apis/mcp"
    good = {"properties": {"displayName": "MCP", "path": "mcp", "protocols": ["https"], "type": "http"}}
    bad = {"properties": {"dispalyName": "MCP", "path": "mcp", "protocols": ["https"], "type": "http"}}
    url = f"https://127.0.0.1{path}?api-version=2024-05-01"
    assert check([Sent("PUT", url, json.dumps(good))]).problems == []
    problems = check([Sent("PUT", url, json.dumps(bad))]).problems
    assert len(problems) == 1
    assert path in problems[0]
    assert "properties.dispalyName: is not a property of the schema" in problems[0]
    assert "2024-05-01/definitions.json#/definitions/ApiCreateOrUpdateProperties" in problems[0]


GRAPH = "https://127.0.0.1/v1.0"


def test_a_misspelled_graph_property_fails_naming_entity_and_property() -> None:
    url = f"{GRAPH}/servicePrincipals"
    assert (
        check([Sent("POST", url, json.dumps({"appId": "00000000-0000-0000-0000-000000000001"}))]).problems
        == []
    )
    problems = check([Sent("POST", url, json.dumps({"appId": "x", "tgas": ["a"]}))]).problems
    assert len(problems) == 1
    assert "tgas: is not a property of the type" in problems[0]
    assert "v1.0.json#microsoft.graph.servicePrincipal" in problems[0]


def test_an_upsert_is_a_create_and_needs_what_graph_requires() -> None:
    url = f"{GRAPH}/applications(uniqueName='app')"
    body = json.dumps({"signInAudience": "AzureADMyOrg"})
    assert check([Sent("PATCH", url, body)]).problems == []  # an update: displayName stays
    problems = check([Sent("PATCH", url, body, "create-if-missing")]).problems
    assert len(problems) == 1
    assert "displayName: is required to create" in problems[0]


def test_a_read_only_graph_property_sent_fails() -> None:
    url = f"{GRAPH}/applications(uniqueName='app')"
    problems = check(
        [Sent("PATCH", url, json.dumps({"appId": "00000000-0000-0000-0000-000000000001"}))]
    ).problems
    assert len(problems) == 1
    assert "appId: is read-only" in problems[0]


def test_an_action_without_body_parameter_takes_no_body() -> None:
    url = (
        "https://127.0.0.1/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry"
        "/registries/acr/listBuildSourceUploadUrl?api-version=2019-06-01-preview"
    )
    report = check([Sent("POST", url, None)])
    assert (report.writes, report.validated, report.problems) == (1, 1, [])
    problems = check([Sent("POST", url, "{}")]).problems
    assert len(problems) == 1
    assert "a body is sent, the operation takes none" in problems[0]


def test_a_write_without_vendored_contract_is_not_covered_never_valid() -> None:
    url = "https://127.0.0.1/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/x?api-version=2023-01-01"
    report = check([Sent("PUT", url, "{}")])
    assert (report.validated, report.not_covered) == (0, Counter({"PUT Microsoft.Web/sites@2023-01-01": 1}))


# What the emulated ARM answers beyond the contract of the api-version, on purpose.
EMULATOR_EXTRAS: dict[tuple[str, str], str] = {
    ("ContainerApps_CreateOrUpdate", "properties.runningStatus"): (
        "the local runner reports the app's state in Azure's field of later api-versions "
        "(emulator/runner/status.py); 2024-03-01 lacks it and the engine never reads it"
    ),
    ("ContainerApps_Get", "properties.runningStatus"): "as for ContainerApps_CreateOrUpdate",
    ("ContainerApps_Get", "properties.localRunner"): "emulator-only detail of the local runner",
    ("ContainerApps_CreateOrUpdate", "properties.localRunner"): "as for ContainerApps_Get",
}


def check_answers(requests: list[Sent]) -> tuple[int, list[str]]:
    """Validate every ARM success answer against the response schema of its operation and status:
    what the emulator serves has Azure's shape (no property the schema lacks, types, enums,
    required). Read-only properties are expected in answers; ``EMULATOR_EXTRAS`` are allowed, and
    an MCP API's ``MCP_ONLY`` properties (the JSON of its api-version lacks them)."""
    checked, problems = 0, []
    for r in requests:
        if not r.path.startswith("/subscriptions") or not r.answer or not 200 <= r.status < 300:
            continue
        operation = loader.operation(r.method, r.path, r.api_version)
        schema = operation.response_schema(r.status) if operation is not None else None
        if operation is None or schema is None:
            continue
        checked += 1
        answer = json.loads(r.answer)
        if isinstance(answer, dict) and isinstance(answer.get("value"), list):  # a list of APIs
            answer = {**answer, "value": [_without_mcp_only(item) for item in answer["value"]]}
        result = validate(schema, _without_mcp_only(answer), Rules.STRICT)
        problems += [
            f"{r.method} {r.path} -> {r.status} ({operation.operation_id}): {p}"
            for p in result.problems
            if p.kind != "read-only" and (operation.operation_id, p.path) not in EMULATOR_EXTRAS
        ]
    return checked, problems


def test_the_mcp_api_is_checked_against_the_deployed_lab_body() -> None:
    path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc/apis/mcp"
    body: dict[str, Any] = {
        "properties": {
            "displayName": "MCP tools",
            "path": "mcp",
            "subscriptionRequired": False,
            "backendId": "mcp-backend",
            "description": "[prmlab-lab:x]",
            **MCP_API_FIXED,
        }
    }
    url = f"https://127.0.0.1{path}?api-version={MCP_API_VERSION}"
    report = check([Sent("PUT", url, json.dumps(body))])
    assert (report.validated, report.problems) == (1, [])
    # what the engine sent before: the SDK's 2024-05-01 with a serviceUrl and no backendId
    old = {"properties": {**body["properties"], "serviceUrl": "https://app/mcp"}}
    del old["properties"]["backendId"]
    problems = check([Sent("PUT", url.replace(MCP_API_VERSION, "2024-05-01"), json.dumps(old))]).problems
    assert [p.rsplit(": ", 2)[-2:] for p in problems] == [
        ["api-version 2024-05-01", "the MCP API exists at 2024-06-01-preview"],
        ["properties.serviceUrl", "is not a property of the deployed lab's MCP API"],
        ["properties.backendId", "missing"],
    ]
    assert all(MCP_API_SOURCE in p and path in p for p in problems)
    misspelled = {"properties": {**body["properties"], "mcpPropeties": {}}}
    preview = "preview/2024-06-01-preview/definitions.json#/definitions/ApiCreateOrUpdateProperties"
    assert check([Sent("PUT", url, json.dumps(misspelled))]).problems == [
        f"PUT {path} (MCP API, {MCP_API_SOURCE}): properties.mcpPropeties: "
        "is not a property of the deployed lab's MCP API",
        f"PUT {path} (Api_CreateOrUpdate): properties.mcpPropeties: is not a property of the schema "
        f"[specification/apimanagement/resource-manager/Microsoft.ApiManagement/{preview}]",
    ]


def test_the_mcp_api_subtree_is_validated_at_its_preview_api_version() -> None:
    """The MCP API's operations and policies are written at 2024-06-01-preview: checked against
    that version's vendored JSON (they were KNOWN_GAPS until it was vendored)."""
    api = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc/apis/mcp"
    operation = {"properties": {"displayName": "d", "method": "GET", "urlTemplat": "/x"}}
    policy = {"properties": {"value": "<policies/>", "format": "xml"}}
    sent = [
        Sent("PUT", f"https://h{api}/operations/op?api-version={MCP_API_VERSION}", json.dumps(operation)),
        Sent("PUT", f"https://h{api}/policies/policy?api-version={MCP_API_VERSION}", json.dumps(policy)),
        Sent("GET", f"https://h{api[: api.rindex('/')]}?api-version={MCP_API_VERSION}", None),
    ]
    report = check(sent)
    assert (report.writes, report.validated, report.reads, report.reads_found) == (2, 2, 1, 1)
    assert report.not_covered == Counter()
    spec = (
        "[specification/apimanagement/resource-manager/Microsoft.ApiManagement/preview/2024-06-01-preview/"
        "definitions.json#/definitions/OperationContractProperties]"
    )
    assert sorted(p.split(": ", 1)[1] for p in report.problems) == [
        f"properties.urlTemplat: is not a property of the schema {spec}",
        f"properties.urlTemplate: is required {spec}",
    ]


def test_product_policy_and_product_api_writes_are_checked_at_their_api_version() -> None:
    """The vendored ProductPolicy_CreateOrUpdate (2024-05-01) and ProductApi_CreateOrUpdate
    (2024-06-01-preview, the version the engine links APIs at) check what is sent."""
    product = (
        "https://127.0.0.1/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc"
        "/products/partners"
    )
    policy = f"{product}/policies/policy?api-version=2024-05-01"
    good = {"properties": {"format": "rawxml", "value": "<policies/>"}}
    assert check([Sent("PUT", policy, json.dumps(good))]).problems == []
    problems = check([Sent("PUT", policy, json.dumps({"properties": {"vaule": "<policies/>"}}))]).problems
    assert any("ProductPolicy_CreateOrUpdate" in p and "properties.vaule" in p for p in problems), problems
    link = f"{product}/apis/extra?api-version=2024-06-01-preview"
    assert check([Sent("PUT", link, None)]).problems == []
    assert check([Sent("PUT", link, None)]).not_covered == Counter()
    assert check([Sent("PUT", link, "{}")]).problems == [
        "PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc/products/partners"
        "/apis/extra (ProductApi_CreateOrUpdate): a body is sent, the operation takes none"
    ]
