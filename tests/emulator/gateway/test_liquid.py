"""``<set-body template="liquid">`` (``emulator.gateway.liquid``) as Learn's set-body page documents
it: DotLiquid in C# mode (Pascal-cased filters, .NET date formats), ``body`` bound from a JSON body,
``context`` with the documented properties, an empty input inside ``return-response``; templates
parsed (and refused by name) when the policy is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.context import PolicyRejectedError
from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The backend: answers the JSON it is sent (or a fixed JSON) with its content type."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    reply = (
        body
        or json.dumps({"customer": {"purchase": {"identifier": "p-1", "orderShortDesc": "two"}}}).encode()
    )
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Lab, httpx.AsyncClient]]:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", "http://backend.test")
    lab.operation("api", "post", "POST", "/items/{id}")
    lab.operation("api", "get", "GET", "/items/{id}")
    app, _config, _services = lab.app(echo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield lab, client
    lab.store.close()


def _policy(inbound: str = "<base />", outbound: str = "<base />") -> str:
    return (
        f"<policies><inbound>{inbound}</inbound><backend><forward-request /></backend>"
        f"<outbound>{outbound}</outbound><on-error><base /></on-error></policies>"
    )


async def test_learns_json_transformation_example(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    # Learn, set-body: "Transform JSON using a Liquid template" (outbound, the backend's JSON)
    lab.policy(
        _policy(
            outbound='<set-body template="liquid">{"order": {"id": "{{body.customer.purchase.identifier}}", '
            '"summary": "{{body.customer.purchase.orderShortDesc}}"}}</set-body>'
        ),
        api="api",
    )
    r = await client.get("/api/items/1")
    assert r.status_code == 200
    assert json.loads(r.text) == {"order": {"id": "p-1", "summary": "two"}}


async def test_context_filters_and_dates(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    template = (
        '{"m": "{{context.Request.Method}}", "id": "{{context.Request.MatchedParameters.id}}", '
        '"h": "{{context.Request.Headers.X-Tag}}", "q": "{{context.Request.Url.Query.a}}", '
        '"path": "{{context.Request.Url.Path}}", "up": "{{body.name | Upcase}}", '
        '"least": {{body.n | AtLeast: 5}}, "date": "{{body.when | Date: "yyyyMMdd HH:mm"}}", '
        '"raw": "{{body.when}}", "missing": "{{body.nothing}}", '
        '"loop": "{% for t in body.tags %}{{t}};{% endfor %}"}'
    )
    lab.policy(_policy(inbound=f'<set-body template="liquid">{template}</set-body>'), api="api")
    body = {"name": "ada", "n": 2, "when": "2024-05-06T07:08:09Z", "tags": ["a", "b"]}
    r = await client.post(
        "/api/items/42?a=1", json=body, headers={"X-Tag": "t1"}
    )  # the backend echoes what the template made
    assert r.status_code == 200
    assert json.loads(r.text) == {
        "m": "POST",
        "id": "42",
        "h": "t1",
        "q": "1",
        "path": "/api/items/42",
        "up": "ADA",
        "least": 5,
        "date": "20240506 07:08",
        "raw": "05/06/2024 07:08:09",
        "missing": "",
        "loop": "a;b;",
    }


async def test_parse_date_false_copies_dates(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.policy(
        _policy(inbound='<set-body template="liquid" parse-date="false">{{body.when}}</set-body>'), api="api"
    )
    r = await client.post("/api/items/1", json={"when": "2024-05-06T07:08:09Z"})
    assert r.text == "2024-05-06T07:08:09Z"


async def test_body_binds_only_for_json_content(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.policy(_policy(inbound='<set-body template="liquid">[{{body.a}}]</set-body>'), api="api")
    r = await client.post("/api/items/1", content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    assert r.text == "[]"
    r = await client.post(
        "/api/items/1", content=b'{"a": 1}', headers={"Content-Type": "application/vnd.x+json"}
    )
    assert r.text == "[1]"


async def test_inside_return_response_the_input_is_empty(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.policy(
        _policy(
            inbound='<return-response><set-status code="200" reason="OK" />'
            '<set-body template="liquid">[{{body.a}}][{{context.Request.Method}}]</set-body></return-response>'
        ),
        api="api",
    )
    r = await client.post("/api/items/1", json={"a": 1})
    assert r.text == "[][POST]"


async def test_soap_envelope_children_are_the_template(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    # Learn, set-body: "Convert JSON to SOAP using a Liquid template"
    lab.policy(
        _policy(
            inbound='<set-body template="liquid"><soap:Envelope xmlns="http://tempuri.org/" '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOpenOrders>'
            "<cust>{{body.getOpenOrders.cust}}</cust></GetOpenOrders></soap:Body></soap:Envelope></set-body>"
        ),
        api="api",
    )
    r = await client.post("/api/items/1", json={"getOpenOrders": {"cust": "c-9"}})
    assert "<cust>c-9</cust>" in r.text
    assert r.text.startswith("<soap:Envelope")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ body.a | upcase }}", "unknown filter 'upcase'"),  # APIM: Pascal-cased names only
        ("{{ body.a | Nope }}", "unknown filter 'Nope'"),
        ("{% include 'x' %}", "include"),
        ("{% if body.a %}unclosed", "Liquid:"),
    ],
)
async def test_templates_are_checked_when_stored(
    gateway: tuple[Lab, httpx.AsyncClient], template: str, message: str
) -> None:
    lab, _client = gateway
    with pytest.raises(PolicyRejectedError) as info:
        lab.policy(_policy(inbound=f'<set-body template="liquid">\n{template}</set-body>'), api="api")
    assert message in info.value.message
    assert "Error in element 'set-body' on line 2, column " in info.value.message


async def test_unknown_named_value_shapes_inside_liquid_stay_for_liquid(
    gateway: tuple[Lab, httpx.AsyncClient],
) -> None:
    lab, client = gateway
    lab.named_value("Greeting", "hello")
    # {{Greeting}} is a named value: substituted; {{body.a}} names none: Liquid's
    lab.policy(_policy(inbound='<set-body template="liquid">{{Greeting}} {{body.a}}</set-body>'), api="api")
    r = await client.post("/api/items/1", json={"a": "there"})
    assert r.text == "hello there"
    # outside a Liquid body, a reference to no named value is refused when stored
    with pytest.raises(PolicyRejectedError, match=r"Cannot find a property 'body\.a'"):
        lab.policy(_policy(inbound="<set-body>{{body.a}}</set-body>"), api="api")


async def test_set_status_without_reason_uses_the_standard_phrase(
    gateway: tuple[Lab, httpx.AsyncClient],
) -> None:
    lab, client = gateway
    lab.policy(_policy(inbound='<return-response><set-status code="429" /></return-response>'), api="api")
    r = await client.get("/api/items/1")
    assert (r.status_code, r.reason_phrase) == (429, "Too Many Requests")
    with pytest.raises(PolicyRejectedError, match="'code' attribute is required"):
        lab.policy(_policy(inbound='<return-response><set-status reason="x" /></return-response>'), api="api")
