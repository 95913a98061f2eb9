"""The AI-gateway policies that can run locally: token limits and token metrics.

``llm-token-limit`` / ``azure-openai-token-limit`` (Learn llm-token-limit-policy.md,
azure-openai-token-limit-policy.md) and ``llm-emit-token-metric`` /
``azure-openai-emit-token-metric`` (llm-emit-token-metric-policy.md,
azure-openai-emit-token-metric-policy.md). Both families run in ``inbound`` and then watch the
backend's answer (``Runtime.usage_watchers``): its ``usage`` (``gateway.llm``) — buffered before
``outbound`` when the request is not streamed, read as it passes when it is.

Token limit: one counter per counter-key value for all scopes ("For each key value, a single
counter is used for all scopes"); ``tokens-per-minute`` is a 60 s window and ``token-quota`` a
window of ``token-quota-period``, both fixed windows starting at the counter's first use
(Monthly = 30 days, Yearly = 365 days: a documented limit). Over the rate: 429 with
``Retry-After`` (or the header named); over the quota: 403 — as Learn's page says. The prompt is
estimated when ``estimate-prompt-tokens`` is true or the request is streamed; otherwise a
request passes while tokens remain and the usage reported in the response is counted ("all
succeeding requests will be blocked by the policy until the token limit frees up again").

Token metric: three values per call — Total Tokens, Prompt Tokens, Completion Tokens (Learn:
"Token count metrics include: Total Tokens, Prompt Tokens, and Completion Tokens") — with the
configured dimensions and APIM's default ones, appended to ``<state>/customMetrics.jsonl``
(``Services.emit_metrics``) when the service has an Application Insights logger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, tag
from emulator.gateway.errors import ReturnResponse
from emulator.gateway.expr.context import Body, Context, Headers, Response
from emulator.gateway.llm import Usage
from emulator.gateway.values import Val

INBOUND = frozenset({"inbound"})
PERIODS = {"Hourly": 3600, "Daily": 86400, "Weekly": 7 * 86400, "Monthly": 30 * 86400, "Yearly": 365 * 86400}
MAX_DIMENSIONS = 10  # Learn "Limits for custom metrics": "a maximum of 10 custom dimensions per policy"
_LIMIT_ATTRS = (
    "counter-key", "tokens-per-minute", "token-quota", "token-quota-period", "estimate-prompt-tokens",
    "retry-after-header-name", "retry-after-variable-name", "remaining-quota-tokens-header-name",
    "remaining-quota-tokens-variable-name", "remaining-tokens-header-name", "remaining-tokens-variable-name",
    "tokens-consumed-header-name", "tokens-consumed-variable-name",
)  # fmt: skip


@dataclass(eq=False)
class TokenLimitStep(Step):
    key: Val
    per_minute: Val | None
    quota: int | None
    period_s: int
    estimate: bool
    names: dict[str, str]  # attribute -> header / variable name (the optional ones given)

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        key = self.key.text(ctx)
        streamed, prompt = rt.llm_request()
        estimate = prompt if self.estimate or streamed else 0
        services = rt.services
        windows: list[tuple[str, int, int, str]] = []  # (counter, period, limit, which)
        if self.per_minute is not None:
            windows.append((f"{key}|minute", 60, self.per_minute.integer(ctx), "remaining-tokens"))
        if self.quota is not None:
            windows.append(
                (f"{key}|quota|{self.period_s}", self.period_s, self.quota, "remaining-quota-tokens")
            )
        remaining: dict[str, int] = {}
        for counter, period, limit, which in windows:
            used, retry_after = services.tokens_used(counter, period)
            if used >= limit or used + estimate > limit:
                await self._refuse(rt, retry_after, which == "remaining-tokens")
            remaining[which] = limit - used - estimate
        for counter, period, _, _ in windows:
            services.tokens_add(counter, period, estimate)
        for which, left in remaining.items():
            self._publish(rt, which, left)
        consumed_var = self.names.get("tokens-consumed-variable-name")
        if consumed_var:
            ctx.Variables.set(consumed_var, estimate)

        def counted(usage: Usage) -> None:
            for counter, period, _, _ in windows:
                services.tokens_add(counter, period, usage.total - estimate)
            if consumed_var:
                ctx.Variables.set(consumed_var, usage.total)
            header = self.names.get("tokens-consumed-header-name")
            if header:  # "added to response only after the response is received from backend"
                rt.extra_response_headers.append((header, str(usage.total)))

        rt.usage_watchers.append(counted)

    def _publish(self, rt: Runtime, which: str, left: int) -> None:
        header = self.names.get(f"{which}-header-name")
        variable = self.names.get(f"{which}-variable-name")
        if header:
            rt.extra_response_headers.append((header, str(max(left, 0))))
        if variable:
            rt.ctx.Variables.set(variable, max(left, 0))

    async def _refuse(self, rt: Runtime, retry_after: int, rate: bool) -> None:
        ctx = rt.ctx
        variable = self.names.get("retry-after-variable-name")
        if variable:
            ctx.Variables.set(variable, retry_after)
        await rt.close_backend()
        header = self.names.get("retry-after-header-name") or "Retry-After"
        headers = Headers([(header, str(retry_after)), ("Content-Type", "application/json")])
        # the status codes are Learn's; the message text is the local gateway's wording
        status, reason, what = (
            (429, "Too Many Requests", "Token limit") if rate else (403, "Forbidden", "Token quota")
        )
        message = f"{what} is exceeded. Try again in {retry_after} seconds."
        ctx.Response = Response(
            status, reason, headers, Body(json.dumps({"statusCode": status, "message": message}).encode())
        )
        raise ReturnResponse()


def _token_limit(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, _LIMIT_ATTRS, ("counter-key",))
    c.kids(el, ())
    per_minute = c.val(el, "tokens-per-minute")
    quota = c.number(el, "token-quota")
    period = el.get("token-quota-period")
    if (quota is None) != (period is None) or (per_minute is None and quota is None):
        raise c.fail(
            el, "Either 'tokens-per-minute' or both 'token-quota' and 'token-quota-period' must be specified."
        )
    if period is not None:
        c.choice(el, "token-quota-period", tuple(PERIODS), period)
    if quota is not None and quota < 0:
        raise c.fail(el, "The value of attribute 'token-quota' must not be negative.")
    names = {a: str(el.get(a)) for a in _LIMIT_ATTRS if a.endswith(("-name",)) and el.get(a)}
    # Learn lists estimate-prompt-tokens as required, yet its own token-quota example omits it:
    # absent reads as false (count the usage the model reports)
    step = TokenLimitStep(
        c.req(el, "counter-key"), per_minute, quota, PERIODS.get(period or "", 0),
        c.flag(el, "estimate-prompt-tokens", False), names,
    )  # fmt: skip
    body_flags(step, [step.key, step.per_minute])
    step.uses_request_body = True  # the prompt (estimate, stream flag)
    return step


element("llm-token-limit", INBOUND)(_token_limit)
element("azure-openai-token-limit", INBOUND)(_token_limit)

# Learn "Default dimension names that may be used without value" -> how the local gateway reads them
_DEFAULTS: dict[str, Callable[[Context], object]] = {
    "API ID": lambda ctx: ctx.Api.Id if ctx.Api else "",
    "Operation ID": lambda ctx: ctx.Operation.Id if ctx.Operation else "",
    "Product ID": lambda ctx: ctx.Product.Id if ctx.Product else "",
    "User ID": lambda ctx: ctx.User.Id if ctx.User else "",
    "Subscription ID": lambda ctx: ctx.Subscription.Id if ctx.Subscription else "",
    "Location": lambda ctx: ctx.Deployment.Region,
    "Gateway ID": lambda ctx: ctx.Deployment.Gateway.Id,
    "Backend ID": lambda ctx: "",  # llm-emit-token-metric only; the local gateway does not track it
}


@dataclass(eq=False)
class EmitTokenMetricStep(Step):
    namespace: str
    dimensions: list[tuple[Val, Val | None]]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        dims: dict[str, str] = {}
        for name_val, value_val in self.dimensions:
            name = name_val.text(ctx)
            if value_val is not None:
                dims[name] = value_val.text(ctx)
            else:
                reader = _DEFAULTS.get(name)
                dims[name] = str(reader(ctx)) if reader is not None else ""
        deployment = ctx.Deployment
        service = {
            "Region": deployment.Region,
            "Service ID": deployment.ServiceId,
            "Service Name": deployment.ServiceName,
            "Service Type": "API Management",
        }
        services = rt.services

        def emit(usage: Usage) -> None:
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            base: dict[str, Any] = {
                "timestamp": now,
                "namespace": self.namespace,
                "estimated": usage.estimated,
            }
            services.emit_metrics(
                [
                    {**base, "name": name, "value": value, "customDimensions": {**service, **dims}}
                    for name, value in (
                        ("Total Tokens", usage.total),
                        ("Prompt Tokens", usage.prompt),
                        ("Completion Tokens", usage.completion),
                    )
                ]
            )

        rt.usage_watchers.append(emit)


def _emit_token_metric(c: Compiler, el: etree._Element) -> Step:
    # azure-openai-emit-token-metric's page also lists `value` ("Value of metric expressed as a
    # double", default 1); the token counts are the values sent, so it changes nothing here
    allowed = ("namespace", "value") if tag(el) == "azure-openai-emit-token-metric" else ("namespace",)
    c.attrs(el, allowed)
    kids = c.kids(el, ("dimension",))
    if not kids:
        raise c.fail(el, "At least one 'dimension' element is required.")
    if len(kids) > MAX_DIMENSIONS:
        raise c.fail(el, f"At most {MAX_DIMENSIONS} dimensions can be configured.")
    dims: list[tuple[Val, Val | None]] = []
    for kid in kids:
        c.attrs(kid, ("name", "value"), ("name",))
        c.kids(kid, ())
        name = c.req(kid, "name")
        value = c.val(kid, "value")
        if value is None and (name.expr is not None or name.literal not in _DEFAULTS):
            raise c.fail(
                kid,
                "'value' attribute is required unless 'name' is one of the default dimensions: "
                + ", ".join(_DEFAULTS) + ".",
            )  # fmt: skip
        dims.append((name, value))
    step = EmitTokenMetricStep(el.get("namespace") or "API Management", dims)
    body_flags(step, [v for pair in dims for v in pair])
    step.uses_request_body = True  # the prompt, estimated when the request is streamed
    return step


element("llm-emit-token-metric", INBOUND)(_emit_token_metric)
element("azure-openai-emit-token-metric", INBOUND)(_emit_token_metric)
