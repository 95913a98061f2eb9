"""``jsonp`` (emulator/gateway/elements/convert.py), as https://learn.microsoft.com/azure/api-management/jsonp-policy
describes it: outbound, once per section; ``?cb=XYZ`` wraps the JSON body as ``XYZ(...);``."""

from __future__ import annotations

import json

import httpx
import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.check import check_policy
from tests.emulator.gateway.support import Lab
from tests.emulator.gateway.test_elements import P, backend_app, client, lab  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


async def test_jsonp_wraps_the_body_when_the_callback_parameter_is_present(
    lab: Lab,  # noqa: F811
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    lab.policy(P(outbound='<base /><jsonp callback-parameter-name="cb" />'), api="api")
    plain = await client.get("/api/items/1")
    assert plain.json()["path"] == "/base/items/1"  # no callback: plain JSON
    wrapped = await client.get("/api/items/1", params={"cb": "app.show"})
    assert wrapped.text.startswith("app.show(")
    assert wrapped.text.endswith(");")
    assert json.loads(wrapped.text[len("app.show(") : -2])["path"] == "/base/items/1"


async def test_jsonp_never_reflects_a_callback_that_is_not_a_name(
    lab: Lab,  # noqa: F811
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    lab.policy(P(outbound='<base /><jsonp callback-parameter-name="cb" />'), api="api")
    response = await client.get("/api/items/1", params={"cb": "alert(1)//"})
    assert response.json()["path"] == "/base/items/1"


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        (P(inbound='<base /><jsonp callback-parameter-name="cb" />'), "not allowed in this section"),
        (P(outbound="<base /><jsonp />"), "'callback-parameter-name' attribute is required"),
        (
            P(outbound='<base /><jsonp callback-parameter-name="a" /><jsonp callback-parameter-name="b" />'),
            "only once in a section",
        ),
    ],
)
def test_jsonp_is_refused_where_apim_refuses_it(policy: str, why: str) -> None:
    with pytest.raises(PolicyRejectedError) as raised:
        check_policy(policy, [])
    assert why in raised.value.message
