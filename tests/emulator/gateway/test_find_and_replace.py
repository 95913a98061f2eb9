"""``find-and-replace`` (Learn: finds a request or response substring and replaces it; an empty
``to`` removes it), ``authentication-basic`` (the Authorization header from credentials), and
the elements of APIM's reference the local gateway refuses with the reason (``elements.refused``)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.elements import BUILDERS, REFUSED
from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 'seen: <request body> | auth: <Authorization>' and a fixed sentence."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    auth = dict(scope["headers"]).get(b"authorization", b"-")
    reply = b"seen: " + body + b" | auth: " + auth + b" | the notebook is a notebook"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Lab, httpx.AsyncClient]]:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", "http://backend.test")
    lab.operation("api", "post", "POST", "/items")
    app, _config, _services = lab.app(echo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield lab, client
    lab.store.close()


def _policy(inbound: str = "", outbound: str = "") -> str:
    return (
        f"<policies><inbound><base />{inbound}</inbound><backend><forward-request /></backend>"
        f"<outbound>{outbound}</outbound><on-error /></policies>"
    )


async def test_replaces_in_the_request_and_the_response(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.policy(
        _policy(
            inbound='<find-and-replace from="secret" to="@(&quot;[&quot; + &quot;x&quot; + &quot;]&quot;)" />',
            outbound='<find-and-replace from="notebook" to="laptop" />',  # Learn's example
        ),
        api="api",
    )
    r = await client.post("/api/items", content=b"a secret and a secret")
    assert r.text == "seen: a [x] and a [x] | auth: - | the laptop is a laptop"


async def test_an_empty_to_removes_and_bytes_stay(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.policy(_policy(inbound='<find-and-replace from="-cut-" to="" />'), api="api")
    r = await client.post("/api/items", content=b"\xff\xfeA-cut-B")
    assert r.content.startswith(b"seen: \xff\xfeAB |")


async def test_authentication_basic_sets_the_header(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, client = gateway
    lab.named_value("Pwd", "pä:ss")
    lab.policy(_policy(inbound='<authentication-basic username="ada" password="{{Pwd}}" />'), api="api")
    r = await client.post("/api/items", content=b"", headers={"Authorization": "Bearer replaced"})
    expected = base64.b64encode("ada:pä:ss".encode()).decode()
    assert f"auth: Basic {expected} |" in r.text


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (_policy(inbound='<find-and-replace from="" to="x" />'), "cannot be empty"),
        (_policy(inbound='<find-and-replace from="a" />'), "'to' attribute is required"),
        (_policy(inbound='<authentication-basic username="a" />'), "'password' attribute is required"),
        (
            "<policies><outbound><authentication-basic username='a' password='b' /></outbound></policies>",
            "not allowed in this section",
        ),
    ],
)
async def test_refused_when_stored(gateway: tuple[Lab, httpx.AsyncClient], xml: str, message: str) -> None:
    lab, _client = gateway
    with pytest.raises(PolicyRejectedError) as info:
        lab.policy(xml, api="api")
    assert message in info.value.message


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_unrunnable_elements_are_refused_with_the_reason(
    gateway: tuple[Lab, httpx.AsyncClient], name: str
) -> None:
    lab, _client = gateway
    if name in BUILDERS:
        pytest.skip(f"{name} runs (a family registered it)")
    with pytest.raises(PolicyRejectedError) as info:
        lab.policy(f"<policies>\n<inbound>\n  <{name} />\n</inbound>\n</policies>", api="api")
    assert info.value.message == (
        f"Error in element '{name}' on line 3, column 3: The policy '{name}' cannot run in the local "
        f"gateway: {REFUSED[name]}."
    )


async def test_get_authorization_context_names_the_credential_manager(
    gateway: tuple[Lab, httpx.AsyncClient],
) -> None:
    lab, _client = gateway
    with pytest.raises(PolicyRejectedError, match="credential manager"):
        lab.policy(
            _policy(
                inbound='<get-authorization-context provider-id="github" authorization-id="auth" '
                'context-variable-name="auth" identity-type="managed" />'
            ),
            api="api",
        )


async def test_not_an_apim_policy_is_unknown(gateway: tuple[Lab, httpx.AsyncClient]) -> None:
    lab, _client = gateway
    with pytest.raises(PolicyRejectedError, match="Unknown policy 'set-colour': it is not in API Management"):
        lab.policy(_policy(inbound="<set-colour />"), api="api")
