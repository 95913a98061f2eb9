"""Every request the providers send, checked against Azure's published contract of its api-version.

A recorder (class-level patches of azure-core's aiohttp transport and httpx's transport: every
SDK client of the engine goes through one of them) keeps method, URL and body of each request
while the engine reconciles ``lab.yaml``, ``labs/gateway.yaml`` and a small generated scale lab
(``benchmarks/reconcile_scale.generate_lab``) on a fresh emulator. Each ARM body is validated
with ``emulator.contracts`` (``Rules.STRICT``: required present, no property the schema lacks,
closed enums in range, no read-only property, JSON types) against the operation of that exact
api-version. A failure names the resource, the property and the spec file. Requests whose
operation is not vendored yet are counted as not covered (and listed), never as valid.
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

import httpx
import pytest
from azure.core.pipeline.transport import AioHttpTransport

from benchmarks.reconcile_scale import generate_lab
from emulator.contracts import corrections, loader
from emulator.contracts.schema import Rules, validate
from tests.orchestrator.emulator_lab import reconcile_on
from tests.support.emulator import EmulatorFactory

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True, slots=True)
class Sent:
    method: str
    url: str
    body: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def api_version(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("api-version", [""])[0]


@dataclass
class Report:
    validated: int
    problems: list[str]
    not_covered: Counter[str]


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
        records.append(Sent(request.method, request.url, _text(request.body)))
        return await aio_send(self, request, **kwargs)

    httpx_handle = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        content = request.content.decode(errors="replace") if request.content else None
        records.append(Sent(request.method, str(request.url), content))
        return await httpx_handle(self, request)

    monkeypatch.setattr(AioHttpTransport, "send", send)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    return records


def check(requests: list[Sent]) -> Report:
    """Validate every ARM write body against its vendored operation."""
    report = Report(0, [], Counter())
    for r in requests:
        if r.method not in ("PUT", "PATCH", "POST") or not r.body:
            continue
        if r.path.startswith("/v1.0/"):
            report.not_covered[f"graph {r.method} {r.path.split('/')[2].split('(')[0]}"] += 1
            continue
        if not r.path.startswith("/subscriptions"):
            continue  # data planes (ACR source upload)
        operation = loader.operation(r.method, r.path, r.api_version)
        rtype = loader.resource_type_of(r.path) or "resourceGroups"
        if operation is None:
            report.not_covered[f"{r.method} {rtype}@{r.api_version}"] += 1
            continue
        schema = operation.body_schema()
        assert schema is not None, f"{operation.operation_id} has no body parameter"
        body = json.loads(r.body)
        result = corrections.apply(validate(schema, body, Rules.STRICT), body)
        report.validated += 1
        report.problems += [f"{r.method} {r.path} ({operation.operation_id}): {p}" for p in result.problems]
    return report


def _lab_folder(tmp_path: Path, lab: str) -> Path:
    target = tmp_path / lab
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / lab, target)
    if not (tmp_path / "mcp_server").exists():
        os.symlink(REPO / "mcp_server", tmp_path / "mcp_server")
    return target


@pytest.mark.parametrize("lab", ["lab.yaml", "labs/gateway.yaml", "scale"])
def test_every_request_body_matches_the_contract_of_its_api_version(
    lab: str, sent: list[Sent], make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    emu = make_emulator()
    if lab == "scale":
        (tmp_path / "scale").mkdir()
        lab_file = generate_lab(tmp_path / "scale", apis=3, ops=2, named_values=4, apps=2)
    else:
        lab_file = _lab_folder(tmp_path, lab)
    report, _, output = reconcile_on(emu, lab_file)
    assert report.exit_code == 0, output
    result = check(sent)
    print(
        f"{lab}: {len(sent)} requests, {result.validated} bodies validated; not covered: {dict(result.not_covered)}"
    )
    assert result.validated > 0
    assert result.problems == [], "\n".join(result.problems)


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
