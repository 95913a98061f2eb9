"""The AI-gateway policies end to end: the policy PUT through the ARM SDK (session emulator), calls
through the service's gateway to a model, limits keyed by ``context.Subscription.Id`` (the
pattern of Learn's token-quota example) and metrics found in the emulator's
``customMetrics.jsonl`` (what ``prmlab local logs --metrics`` prints)."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
import pytest

from emulator.gateway.services import METRICS_FILE
from tests.emulator.gateway.support import serve
from tests.support.azure import group_and_service
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

POLICY = """<policies>
  <inbound>
    <base />
    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="70"
        estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />
    <llm-emit-token-metric namespace="prmlab">
      <dimension name="Subscription ID" />
      <dimension name="API ID" />
    </llm-emit-token-metric>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def model(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A chat-completions backend: 30 tokens per call."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    usage = {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30}
    body = json.dumps({"choices": [{"message": {"content": "ok"}}], "usage": usage}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


async def test_token_limits_per_subscription_and_metrics_through_arm_and_the_gateway(
    emulator_session: RunningEmulator,
) -> None:
    emu = emulator_session
    async with serve(model) as port:
        await _scenario(emu, port)


async def _scenario(emu: RunningEmulator, port: int) -> None:
    async with emu.apim_client() as c:
        group, svc = await group_and_service(emu, c)
        name = str(svc.name)
        component = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/microsoft.insights/components/appi"
        await c.logger.create_or_update(
            group, name, "appi",
            {"logger_type": "applicationInsights", "credentials": {"instrumentationKey": "k"}, "resource_id": component},
        )  # fmt: skip
        api = {
            "display_name": "llm",
            "path": "llm",
            "protocols": ["https"],
            "service_url": f"http://127.0.0.1:{port}",
        }
        await (await c.api.begin_create_or_update(group, name, "llm", api)).result()
        await c.api_operation.create_or_update(
            group, name, "llm", "chat", {"display_name": "chat", "method": "POST", "url_template": "/chat"}
        )
        await c.api_policy.create_or_update(
            group, name, "llm", "policy", {"value": POLICY, "format": "rawxml"}
        )
        for sid in ("team-a", "team-b"):
            await c.subscription.create_or_update(
                group,
                name,
                sid,
                {"properties": {"scope": "/apis/llm", "displayName": sid, "state": "active"}},
            )
        keys = {
            sid: (await c.subscription.list_secrets(group, name, sid)).primary_key
            for sid in ("team-a", "team-b")
        }
    trust = ssl.create_default_context(cafile=str(emu.ca_file))
    async with httpx.AsyncClient(verify=trust) as http:

        async def ask(sid: str) -> httpx.Response:
            return await http.post(
                f"{svc.gateway_url}/llm/chat",
                headers={"Ocp-Apim-Subscription-Key": str(keys[sid])},
                json={"messages": [{"role": "user", "content": "hi"}]},
            )

        statuses = [(await ask("team-a")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # 0, 30, 60 counted before each: the 4th is over 70
        other = await ask("team-b")  # another subscription, another counter
        assert (other.status_code, other.headers["x-remaining-tokens"]) == (200, "70")
    lines = [json.loads(line) for line in (emu.state_dir / METRICS_FILE).read_text().splitlines()]
    mine = [m for m in lines if m["customDimensions"].get("Service Name") == name]
    assert len(mine) == 3 * 4  # three metrics for each call that reached the model
    totals = [m for m in mine if m["name"] == "Total Tokens"]
    assert [m["customDimensions"]["Subscription ID"] for m in totals] == ["team-a"] * 3 + ["team-b"]
    assert {m["value"] for m in totals} == {30}
    assert {(m["namespace"], m["component"], m["customDimensions"]["API ID"]) for m in mine} == {
        ("prmlab", component, "llm")
    }
