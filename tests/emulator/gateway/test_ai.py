"""The AI-gateway policies as Learn's pages document them (llm-token-limit-policy.md,
azure-openai-token-limit-policy.md, llm-emit-token-metric-policy.md,
azure-openai-emit-token-metric-policy.md): token limits counted from the backend's ``usage``
(and from streamed responses), 429 over the rate and 403 over the quota, the remaining/consumed
headers and variables; token metrics (Total/Prompt/Completion Tokens) written to
``<state>/customMetrics.jsonl`` with their dimensions. In process, against a fake model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.services import METRICS_FILE
from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio

COMPONENT = "/subscriptions/0/resourceGroups/rg/providers/microsoft.insights/components/appi"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Model:
    """A chat-completions backend: usage prompt 10 + completion 20 = 30; streams when asked
    (``usage`` in the last chunk unless ``stream_usage`` is off)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    stream_usage: bool = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        self.calls.append(request)
        usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        if request.get("stream"):
            events: list[dict[str, Any]] = [
                {"choices": [{"delta": {"content": "abcdefgh" * 2}}]},
                {"choices": [{"delta": {"content": "ijkl"}}]},
            ]
            if self.stream_usage:
                events.append({"choices": [], "usage": usage})
            data = (
                b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
            )
            headers = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for part in (data[:17], data[17:]):  # split inside an event: read across chunks
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        answer = json.dumps({"choices": [{"message": {"content": "hi"}}], "usage": usage}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})


@dataclass
class Gateway:
    lab: Lab
    client: httpx.AsyncClient
    model: Model
    state: Path

    def policy(self, inbound: str, outbound: str = "<base />", backend: str = "<base />") -> None:
        self.lab.policy(
            f"<policies><inbound><base />{inbound}</inbound><backend>{backend}</backend>"
            f"<outbound>{outbound}</outbound><on-error><base /></on-error></policies>",
            api="chat",
        )

    async def ask(self, prompt: str = "hello", *, stream: bool = False) -> httpx.Response:
        body = {"messages": [{"role": "user", "content": prompt}], "stream": stream}
        return await self.client.post("/chat/completions", json=body)

    def metrics(self) -> list[dict[str, Any]]:
        try:  # no exists()-then-read (the pattern, even where nobody removes the file)
            text = (self.state / METRICS_FILE).read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    lab = Lab(make_context(tmp_path))
    lab.api("chat", "chat", "http://model.test")
    lab.operation("chat", "post", "POST", "/completions")
    model = Model()
    app, _config, _services = lab.app(model)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield Gateway(lab, client, model, tmp_path)
    lab.store.close()


async def test_the_rate_is_counted_from_the_reported_usage(gw: Gateway) -> None:
    gw.policy(
        '<llm-token-limit counter-key="@(context.Request.IpAddress)" tokens-per-minute="50" '
        'estimate-prompt-tokens="false" remaining-tokens-header-name="x-left" '
        'remaining-tokens-variable-name="left" retry-after-variable-name="wait" />',
        '<base /><set-header name="x-left-var" exists-action="override"><value>@(context.Variables.GetValueOrDefault<int>("left").ToString())</value></set-header>',
    )
    first = await gw.ask()
    assert (first.status_code, first.headers["x-left"], first.headers["x-left-var"]) == (200, "50", "50")
    second = await gw.ask()  # 30 counted: 20 left, still under the limit
    assert (second.status_code, second.headers["x-left"]) == (200, "20")
    third = await gw.ask()  # 60 counted: over
    assert third.status_code == 429
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert third.json()["message"].startswith("Token limit is exceeded.")
    assert len(gw.model.calls) == 2  # the refused call never reached the model


async def test_the_quota_answers_403_with_the_named_retry_header(gw: Gateway) -> None:
    gw.policy(
        '<azure-openai-token-limit counter-key="k" token-quota="40" token-quota-period="Daily" '
        'retry-after-header-name="x-retry" remaining-quota-tokens-header-name="x-quota" '
        'tokens-consumed-header-name="x-used" />'
    )
    first = await gw.ask()
    assert (first.status_code, first.headers["x-quota"], first.headers["x-used"]) == (200, "40", "30")
    second = await gw.ask()
    assert (second.status_code, second.headers["x-quota"]) == (200, "10")
    third = await gw.ask()
    assert third.status_code == 403
    assert "Retry-After" not in third.headers  # the named header replaces it
    assert 86000 < int(third.headers["x-retry"]) <= 86400


async def test_an_estimated_prompt_over_the_limit_never_reaches_the_model(gw: Gateway) -> None:
    gw.policy(
        '<llm-token-limit counter-key="e" tokens-per-minute="50" estimate-prompt-tokens="true" '
        'tokens-consumed-variable-name="used" />'
    )
    assert (await gw.ask("x" * 400)).status_code == 429  # 400 characters: 100 tokens estimated
    assert gw.model.calls == []
    assert (await gw.ask("short")).status_code == 200


@pytest.mark.parametrize("backend", ["<base />", '<forward-request buffer-response="false" />'])
async def test_streamed_responses_are_counted_as_they_pass(gw: Gateway, backend: str) -> None:
    """Buffered (forward-request's default) or relayed as it arrives (buffer-response false)."""
    gw.policy(
        '<llm-token-limit counter-key="s" tokens-per-minute="100" remaining-tokens-header-name="x-left" />',
        backend=backend,
    )
    first = await gw.ask(stream=True)
    assert first.status_code == 200
    assert first.text.endswith("data: [DONE]\n\n")  # relayed whole
    # streamed: the prompt is estimated (2 tokens for "hello") and the usage read from the stream
    assert (await gw.ask()).headers["x-left"] == str(100 - 30)
    gw.model.stream_usage = False  # no usage in the stream: the completion is estimated (20 chars: 5)
    await gw.ask(stream=True)
    assert (await gw.ask()).headers["x-left"] == str(100 - 30 - 30 - 2 - 5)


async def test_token_metrics_go_to_the_services_application_insights(gw: Gateway) -> None:
    policy = (
        '<llm-emit-token-metric namespace="lab"><dimension name="API ID" />'
        '<dimension name="Client IP" value="@(context.Request.IpAddress)" /></llm-emit-token-metric>'
    )
    gw.policy(policy)
    await gw.ask()
    assert gw.metrics() == []  # no Application Insights logger: APIM sends the metrics nowhere
    gw.lab.logger("appi", COMPONENT)
    await gw.ask()
    await gw.ask(stream=True)
    metrics = gw.metrics()
    assert [(m["name"], m["value"], m["estimated"]) for m in metrics] == [
        ("Total Tokens", 30, False), ("Prompt Tokens", 10, False), ("Completion Tokens", 20, False),
    ] * 2  # fmt: skip
    first = metrics[0]
    assert (first["namespace"], first["component"]) == ("lab", COMPONENT)
    assert first["customDimensions"]["API ID"] == "chat"
    assert first["customDimensions"]["Client IP"] == "127.0.0.1"
    assert first["customDimensions"]["Service Name"] == "apim-lab"
    assert oct((gw.state / METRICS_FILE).stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ('<llm-token-limit counter-key="k" />', "Either 'tokens-per-minute' or both"),
        ('<llm-token-limit counter-key="k" token-quota="5" />', "Either 'tokens-per-minute' or both"),
        (
            '<llm-token-limit counter-key="k" token-quota="5" token-quota-period="Fortnightly" />',
            "Allowed values: Hourly, Daily, Weekly, Monthly, Yearly",
        ),
        ('<llm-token-limit tokens-per-minute="5" />', "'counter-key' attribute is required"),
        (
            '<llm-emit-token-metric><dimension name="Tenant" /></llm-emit-token-metric>',
            "'value' attribute is required",
        ),
        ("<azure-openai-emit-token-metric />", "At least one 'dimension'"),
    ],
)
async def test_bad_configurations_are_refused_when_stored(gw: Gateway, element: str, message: str) -> None:
    with pytest.raises(PolicyRejectedError, match=message):
        gw.policy(element)


async def test_the_policies_run_only_in_inbound(gw: Gateway) -> None:
    with pytest.raises(PolicyRejectedError, match="llm-token-limit"):
        gw.policy("", '<base /><llm-token-limit counter-key="k" tokens-per-minute="5" />')
