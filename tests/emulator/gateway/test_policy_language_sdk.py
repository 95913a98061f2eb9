"""Issue 20's constructs end to end: each policy PUT through the ARM SDK (azure-mgmt-apimanagement
against the session emulator) and a request through the service's gateway, compared with what
the APIM docs describe; refusals come back as ARM 400s naming the element, line and column."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from tests.emulator.gateway.support import serve
from tests.support.azure import group_and_service
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


class Backend:
    """Echoes the request (method, path, body, one header); fails the first time of a path
    under /flaky/ with 500, as a backend that recovers."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.seen.append(body)
        status = 200
        if path.startswith("/flaky/") and sum(1 for _ in self.seen) == 1:
            status = 500
        headers = dict(scope["headers"])
        reply = json.dumps(
            {
                "method": scope["method"],
                "path": path,
                "body": body.decode("utf-8", "replace"),
                "x": headers.get(b"x-result", b"").decode(),
                "note": "the notebook",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": reply})


@dataclass
class Apim:
    emu: RunningEmulator
    group: str
    service: str
    gateway: str
    backend: Backend

    async def put(self, xml: str) -> None:
        async with self.emu.apim_client() as c:
            await c.api_policy.create_or_update(
                self.group, self.service, "lang", "policy", {"value": xml, "format": "rawxml"}
            )

    async def refused(self, xml: str) -> str:
        with pytest.raises(HttpResponseError) as info:
            await self.put(xml)
        assert info.value.status_code == 400
        return str(info.value.message)

    async def call(self, path: str = "/lang/items/7", **kwargs: Any) -> httpx.Response:
        trust = ssl.create_default_context(cafile=str(self.emu.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            return await http.post(self.gateway + path, **kwargs)


@pytest.fixture(scope="module")
async def apim(emulator_session: RunningEmulator) -> AsyncIterator[Apim]:
    backend = Backend()
    async with serve(backend) as port:
        async with emulator_session.apim_client() as c:
            group, svc = await group_and_service(emulator_session, c)
            api = {
                "display_name": "lang",
                "path": "lang",
                "protocols": ["https"],
                "service_url": f"http://127.0.0.1:{port}",
                "subscription_required": False,
            }
            await (await c.api.begin_create_or_update(group, svc.name, "lang", api)).result()
            for name, template in (("items", "/items/{id}"), ("flaky", "/flaky/{id}")):
                await c.api_operation.create_or_update(
                    group,
                    svc.name,
                    "lang",
                    name,
                    {"display_name": name, "method": "POST", "url_template": template},
                )
        yield Apim(emulator_session, group, str(svc.name), str(svc.gateway_url), backend)


def _inbound(*policies: str, backend: str = "<forward-request />", outbound: str = "") -> str:
    return (
        "<policies>\n<inbound>\n<base />\n"
        + "\n".join(policies)
        + f"\n</inbound>\n<backend>{backend}</backend>\n<outbound>{outbound}</outbound>\n<on-error />\n</policies>"
    )


async def test_comments_and_statements_in_a_multi_line_expression(apim: Apim) -> None:
    nbsp = "\u00a0"
    await apim.put(
        _inbound(
            '<set-header name="X-Result" exists-action="override">\n<value>@{\n'
            '    // a comment with a quote " and a <tag> — then the code goes on\n'
            "    int Twice(int n) => n * 2; /* a local function */\n"
            '    var d = new Dictionary<string, int> { ["a"] = 1 };\n'
            '    var o = new JObject { ["k"] = Twice(d["a"]) };\n'
            '    try { JObject.Parse("{bad"); } catch (Exception) { o["caught"] = true; }\n'
            f'    using (var h = SHA256.Create()) {{ o["len"] ={nbsp}h.ComputeHash(new byte[] {{ 1 }}).Length; }}\n'
            '    unchecked { o["sum"] = 1 + 2; }\n'
            "    return o.ToString(Formatting.None);\n"
            "}</value>\n</set-header>"
        )
    )
    r = await apim.call(content=b"{}")
    assert r.status_code == 200, r.text
    assert json.loads(json.loads(r.text)["x"]) == {"k": 2, "caught": True, "len": 32, "sum": 3}


async def test_a_multi_line_attribute_keeps_its_lines(apim: Apim) -> None:
    await apim.put(
        _inbound(
            '<set-variable name="v" value="@{\n    // the next line still runs\n    return "kept";\n}" />',
            '<set-header name="X-Result" exists-action="override"><value>@((string)context.Variables["v"])</value></set-header>',
        )
    )
    r = await apim.call(content=b"")
    assert json.loads(r.text)["x"] == "kept"
    async with apim.emu.apim_client() as c:
        stored = await c.api_policy.get(apim.group, apim.service, "lang", "policy", format="rawxml")
    assert "&#10;" in str(stored.value)  # the stored policy keeps the line breaks


async def test_allowed_dotnet_members(apim: Apim) -> None:
    await apim.put(
        _inbound(
            '<set-header name="X-Result" exists-action="override"><value>@(string.Join("|", new[] {\n'
            "  Array.Exists(new[] { 1, 2 }, x => x == 2).ToString(),\n"
            '  context.Request.Headers.GetValueOrDefault("Authorization", "").AsBasic().UserId,\n'
            '  System.Net.WebUtility.UrlEncode("a b&c"),\n'
            '  (JObject.Parse("{\\"a\\":[]}")["a"].Type == JTokenType.Array).ToString(),\n'
            '  JObject.Parse("{}").HasValues.ToString(),\n'
            "  new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds().ToString(),\n"
            "  new Random(42).Next(100).ToString() }))</value></set-header>"
        )
    )
    r = await apim.call(content=b"", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert json.loads(r.text)["x"] == "True|user|a+b%26c|True|False|1577934245|66"


async def test_set_status_without_reason(apim: Apim) -> None:
    await apim.put(_inbound('<return-response><set-status code="429" /></return-response>'))
    r = await apim.call(content=b"")
    assert (r.status_code, r.reason_phrase) == (429, "Too Many Requests")


async def test_liquid_and_braces_that_name_no_named_value(apim: Apim) -> None:
    await apim.put(
        _inbound(
            '<set-header name="Content-Type" exists-action="override"><value>application/json</value></set-header>',
            '<set-header name="X-Result" exists-action="override"><value>{{ left as written }}</value></set-header>',
            '<set-body template="liquid">{"id": "{{body.order.id | Upcase}}", "m": "{{context.Request.Method}}"}</set-body>',
        )
    )
    r = await apim.call(json={"order": {"id": "ab"}})
    seen = json.loads(r.text)
    assert json.loads(seen["body"]) == {"id": "AB", "m": "POST"}
    assert seen["x"] == "{{ left as written }}"


async def test_retry_resends_the_request(apim: Apim) -> None:
    apim.backend.seen.clear()
    await apim.put(
        _inbound(
            backend='<retry condition="@(context.Response.StatusCode == 500)" count="2" interval="1" '
            'first-fast-retry="true"><forward-request buffer-request-body="true" /></retry>'
        )
    )
    r = await apim.call("/lang/flaky/1", content=b"order-1")
    assert r.status_code == 200
    assert apim.backend.seen == [b"order-1", b"order-1"]


async def test_find_and_replace(apim: Apim) -> None:
    await apim.put(_inbound(outbound='<find-and-replace from="notebook" to="laptop" />'))
    r = await apim.call(content=b"")
    assert json.loads(r.text)["note"] == "the laptop"


async def test_refusals_name_the_line_and_column_as_written(apim: Apim) -> None:
    preamble = '<?xml version="1.0" encoding="utf-8"?>\n<!-- a policy\n     with a preamble -->\n'
    message = await apim.refused(
        preamble
        + _inbound(
            '<set-variable name="a" value="@{\n  var x = 1;\n  return x;\n}" />',
            '<set-variable name="b" value="@(Environment.NewLine)" />',
        )
    )
    assert (
        "Error in element 'set-variable' on line 11, column 33: The type 'System.Environment' is not allowed"
        in message
    )
    message = await apim.refused(
        _inbound(
            '<get-authorization-context provider-id="p" authorization-id="a" context-variable-name="c" />'
        )
    )
    assert "Error in element 'get-authorization-context' on line 4, column 1:" in message
    assert "credential manager" in message


async def test_json_to_xml(apim: Apim) -> None:
    await apim.put(
        _inbound(
            outbound='<json-to-xml apply="content-type-json" consider-accept-header="true" parse-date="false" />'
        )
    )
    unasked = await apim.call(content=b"", headers={"Accept": "application/json"})
    assert json.loads(unasked.text)["note"] == "the notebook"  # Accept asks for JSON: left as JSON
    r = await apim.call(content=b"x", headers={"Accept": "application/xml"})
    assert r.headers["content-type"] == "application/xml"
    assert r.text.startswith("<Document>")  # the backend's JSON has several top-level properties
    assert "<body>x</body>" in r.text
    assert "<note>the notebook</note>" in r.text
    message = await apim.refused(_inbound('<json-to-xml apply="never" />'))
    assert "Error in element 'json-to-xml' on line 4, column 21:" in message  # the attribute's value
    assert "The value 'never' of attribute 'apply' is not valid" in message
