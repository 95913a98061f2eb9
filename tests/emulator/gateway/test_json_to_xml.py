"""``json-to-xml`` (``elements.convert`` + ``jsonxml``): the published examples converted as
published, each attribute through a request, and what no publication shows refused by name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from emulator.context import PolicyRejectedError
from emulator.gateway.jsonxml import JsonToXmlRefusedError, Options, convert
from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio

# Learn, json-to-xml policy: the example's backend JSON and its policy's attributes.
LEARN_JSON = {
    "soapenv:Envelope": {
        "xmlns:soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
        "xmlns:v1": "http://localdomain.com/core/v1",
        "soapenv:Header": {},
        "soapenv:Body": {
            "v1:QueryList": {"#attrs": {"queryName": "test"}, "v1:QueryItem": {"name": "dummy text"}}
        },
    }
}
LEARN_OPTIONS = Options(parse_date=False, separator=":", namespace_prefix="xmlns", attribute_block="#attrs")
# Learn's output, with the v1:QueryItem element its input has (the page's output leaves it out)
LEARN_XML = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:v1="http://localdomain.com/core/v1"><soapenv:Header /><soapenv:Body>'
    '<v1:QueryList queryName="test"><v1:QueryItem><name>dummy text</name></v1:QueryItem>'
    "</v1:QueryList></soapenv:Body></soapenv:Envelope>"
)
# APIM's output for <json-to-xml apply="always" consider-accept-header="false" /> as published
# (dev.fyicenter.com, "'json-to-xml' Azure API Policy Statement").
PUBLISHED_JSON = (
    '{"firstName": "John", "lastName": "Smith", "isAlive": true, "age": 25, "address": {"streetAddress": '
    '"21 2nd Street", "city": "New York", "state": "NY", "postalCode": "10021-3100"}, "phoneNumbers": '
    '[{"type": "home", "number": "212 555-1234"}, {"type": "mobile", "number": "123 456-7890"}], '
    '"children": [], "spouse": null}'
)
PUBLISHED_XML = (
    "<Document><firstName>John</firstName><lastName>Smith</lastName><isAlive>True</isAlive><age>25</age>"
    "<address><streetAddress>21 2nd Street</streetAddress><city>New York</city><state>NY</state>"
    "<postalCode>10021-3100</postalCode></address><phoneNumbers><type>home</type><number>212 555-1234"
    "</number></phoneNumbers><phoneNumbers><type>mobile</type><number>123 456-7890</number></phoneNumbers>"
    '<children /><spouse xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" /></Document>'
)


def same_xml(a: bytes | str, b: bytes | str) -> bool:
    """Equal as XML (canonical form, whitespace between elements ignored)."""
    parser = etree.XMLParser(remove_blank_text=True)

    def c14n(x: bytes | str) -> bytes:
        return etree.tostring(
            etree.fromstring(x.encode() if isinstance(x, str) else x, parser), method="c14n"
        )

    return c14n(a) == c14n(b)


def test_learns_example() -> None:
    assert same_xml(convert(json.dumps(LEARN_JSON).encode(), LEARN_OPTIONS), LEARN_XML)


def test_the_published_document_example() -> None:
    assert same_xml(convert(PUBLISHED_JSON.encode(), Options()), PUBLISHED_XML)


def test_numbers_are_copied_as_written_and_one_property_is_the_root() -> None:
    out = convert(b'{"n": {"big": 12345678901234567890, "f": 1.50, "e": 1e3, "neg": -0}}', Options())
    assert same_xml(out, "<n><big>12345678901234567890</big><f>1.50</f><e>1e3</e><neg>-0</neg></n>")
    # one property holding an array: repeated elements need a root
    assert same_xml(convert(b'{"a": [1, 2]}', Options()), "<Document><a>1</a><a>2</a></Document>")


def test_the_default_separator_keeps_names_without_a_declared_prefix() -> None:
    out = convert(
        b'{"first_name": "Ada", "x": {"xmlns_p": "urn:p", "p_item": 1}}', Options(namespace_prefix="xmlns")
    )
    assert same_xml(
        out, '<Document><first_name>Ada</first_name><x xmlns:p="urn:p"><p:item>1</p:item></x></Document>'
    )


def test_dates_are_copied_with_parse_date_false() -> None:
    out = convert(b'{"d": "2024-03-18T10:00:00Z"}', Options(parse_date=False))
    assert same_xml(out, "<d>2024-03-18T10:00:00Z</d>")


@pytest.mark.parametrize(
    ("body", "options", "named"),
    [
        (b"[1, 2]", Options(), "top level is an array"),
        (b'"text"', Options(), "top level is a value"),
        (b'{"a": [[1], [2]]}', Options(), "an array inside the array 'a'"),
        (b'{"a b": 1}', Options(), "'a b' is not an XML name"),
        (b'{"1st": 1}', Options(), "'1st' is not an XML name"),
        (b'{"p:x": 1}', Options(separator=":"), "prefix that is not declared"),
        (b'{"d": "2024-03-18T10:00:00Z"}', Options(), "the date '2024-03-18T10:00:00Z' with parse-date"),
        (b'{"d": "/Date(1710756000000)/"}', Options(), "with parse-date"),
        (b'{"e": {"@": {"k": {}}}}', Options(attribute_block="@"), "the attribute 'k' of '@' is not a value"),
        (b"{not json", Options(), "the body is not JSON"),
        (
            b'{"e": {"xmlns": "urn:x"}}',
            Options(namespace_prefix="xmlns"),
            "default namespace declaration 'xmlns'",
        ),
        (b'{"n": NaN}', Options(), "'NaN' is not a JSON value"),
    ],
)
def test_what_no_publication_shows_is_refused_by_name(body: bytes, options: Options, named: str) -> None:
    with pytest.raises(JsonToXmlRefusedError, match=None) as info:
        convert(body, options)
    assert named in str(info.value)


# ---- through the gateway --------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Backend:
    """Answers a fixed JSON document (``reply``) with ``content_type``; records request bodies."""

    def __init__(self) -> None:
        self.reply = json.dumps(LEARN_JSON).encode()
        self.content_type = b"application/json"
        self.seen: list[tuple[bytes, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append((dict(scope["headers"]).get(b"content-type", b""), body))
        headers = [(b"content-type", self.content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.reply})


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Lab, httpx.AsyncClient, Backend]]:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", "http://backend.test")
    lab.operation("api", "post", "POST", "/items")
    backend = Backend()
    app, _config, _services = lab.app(backend)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield lab, client, backend
    lab.store.close()


def _policy(inbound: str = "", outbound: str = "", on_error: str = "") -> str:
    return (
        f"<policies><inbound><base />{inbound}</inbound><backend><forward-request /></backend>"
        f"<outbound>{outbound}</outbound><on-error>{on_error}</on-error></policies>"
    )


LEARN_POLICY = (
    '<json-to-xml apply="always" consider-accept-header="false" parse-date="false" '
    'namespace-separator=":" namespace-prefix="xmlns" attribute-block-name="#attrs" />'
)


async def test_learns_policy_converts_the_response(gateway: tuple[Lab, httpx.AsyncClient, Backend]) -> None:
    lab, client, _backend = gateway
    lab.policy(_policy(outbound=LEARN_POLICY), api="api")
    r = await client.post("/api/items", content=b"")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/xml"
    assert same_xml(r.content, LEARN_XML)


async def test_apply_content_type_json_converts_json_only(
    gateway: tuple[Lab, httpx.AsyncClient, Backend],
) -> None:
    lab, client, backend = gateway
    lab.policy(
        _policy(outbound=LEARN_POLICY.replace('apply="always"', 'apply="content-type-json"')), api="api"
    )
    backend.content_type = b"application/problem+json; charset=utf-8"
    assert same_xml((await client.post("/api/items", content=b"")).content, LEARN_XML)
    backend.content_type = b"text/plain"
    assert (await client.post("/api/items", content=b"")).content == backend.reply  # left as it is


async def test_consider_accept_header(gateway: tuple[Lab, httpx.AsyncClient, Backend]) -> None:
    lab, client, backend = gateway
    # the default (true): converted only when the request's Accept asks for XML
    lab.policy(_policy(outbound='<json-to-xml apply="always" parse-date="false" />'), api="api")
    backend.reply = b'{"a": 1, "b": true}'
    assert (await client.post("/api/items", content=b"", headers={"Accept": "application/json"})).content == (
        backend.reply
    )
    asked = await client.post(
        "/api/items", content=b"", headers={"Accept": "text/html, application/xml;q=0.9"}
    )
    assert same_xml(asked.content, "<Document><a>1</a><b>True</b></Document>")
    # an expression
    lab.policy(
        _policy(
            outbound='<json-to-xml apply="@(&quot;always&quot;)" '
            'consider-accept-header="@(context.Request.Headers.ContainsKey(&quot;X-Ignore-Accept&quot;) == false)" />'
        ),
        api="api",
    )
    plain = await client.post("/api/items", content=b"", headers={"X-Ignore-Accept": "1"})
    assert same_xml(plain.content, "<Document><a>1</a><b>True</b></Document>")
    assert (await client.post("/api/items", content=b"")).content == backend.reply


async def test_parse_date_true_refuses_a_date_through_on_error(
    gateway: tuple[Lab, httpx.AsyncClient, Backend],
) -> None:
    lab, client, backend = gateway
    backend.reply = b'{"at": "2024-03-18T10:00:00Z"}'
    reason = '<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>'
    lab.policy(
        _policy(outbound='<json-to-xml apply="always" consider-accept-header="false" />', on_error=reason),
        api="api",
    )
    r = await client.post("/api/items", content=b"")
    assert r.status_code == 500
    assert r.headers["x-reason"] == "JsonToXmlNotConverted"
    lab.policy(
        _policy(outbound='<json-to-xml apply="always" consider-accept-header="false" parse-date="false" />'),
        api="api",
    )
    assert same_xml((await client.post("/api/items", content=b"")).content, "<at>2024-03-18T10:00:00Z</at>")


async def test_inbound_converts_the_request(gateway: tuple[Lab, httpx.AsyncClient, Backend]) -> None:
    lab, client, backend = gateway
    lab.policy(
        _policy(
            inbound='<json-to-xml apply="always" consider-accept-header="false" namespace-separator="." />'
        ),
        api="api",
    )
    await client.post("/api/items", content=b'{"order": {"id": 7, "lines": ["a", "b"]}}')
    content_type, body = backend.seen[-1]
    assert content_type == b"application/xml"
    assert same_xml(body, "<order><id>7</id><lines>a</lines><lines>b</lines></order>")


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ('<json-to-xml consider-accept-header="false" />', "'apply' attribute is required"),
        ('<json-to-xml apply="sometimes" />', "The value 'sometimes' of attribute 'apply' is not valid"),
        ('<json-to-xml apply="always" consider-accept-header="yes" />', "must be 'true' or 'false'"),
        ('<json-to-xml apply="always" parse-date="@(true)" />', "parse-date"),
        ('<json-to-xml apply="always" namespace-separator="::" />', "must be one character"),
        ('<json-to-xml apply="always" root="x" />', "root"),
    ],
)
async def test_refused_when_stored_with_the_position(
    gateway: tuple[Lab, httpx.AsyncClient, Backend], element: str, message: str
) -> None:
    lab, _client, _backend = gateway
    with pytest.raises(PolicyRejectedError) as info:
        lab.policy(f"<policies>\n<inbound>\n  {element}\n</inbound>\n</policies>", api="api")
    assert info.value.message.startswith("Error in element 'json-to-xml' on line 3, column ")
    assert message in info.value.message
