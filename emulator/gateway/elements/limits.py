"""Policy elements over the gateway's shared state: the cache (``cache-store-value``,
``cache-lookup-value``, ``cache-remove-value``), ``rate-limit-by-key`` and ``rate-limit`` (per
subscription).

Both live in ``services.Services`` (one per APIM service), so they outlive a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element
from emulator.gateway.errors import ReturnResponse
from emulator.gateway.expr.context import Body, Headers, Response
from emulator.gateway.values import Val


def _caching_type(c: Compiler, el: etree._Element) -> None:
    c.choice(el, "caching-type", ("internal", "prefer-external", "external"), "prefer-external")


@dataclass(eq=False)
class CacheStoreStep(Step):
    key: Val
    value: Val
    duration: Val

    async def run(self, rt: Runtime) -> None:
        rt.services.cache_store(self.key.text(rt.ctx), self.value.get(rt.ctx), self.duration.integer(rt.ctx))


@element("cache-store-value")
def _cache_store(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "value", "duration", "caching-type"), ("key", "value", "duration"))
    c.kids(el, ())
    _caching_type(c, el)
    step = CacheStoreStep(c.req(el, "key"), c.req(el, "value"), c.req(el, "duration"))
    body_flags(step, [step.key, step.value, step.duration])
    return step


@dataclass(eq=False)
class CacheLookupStep(Step):
    key: Val
    default: Val | None
    var: str

    async def run(self, rt: Runtime) -> None:
        found, value = rt.services.cache_lookup(self.key.text(rt.ctx))
        if found:
            rt.ctx.Variables.set(self.var, value)
        elif self.default is not None:
            rt.ctx.Variables.set(self.var, self.default.get(rt.ctx))
        else:
            rt.ctx.Variables.remove(self.var)


@element("cache-lookup-value")
def _cache_lookup(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "default-value", "variable-name", "caching-type"), ("key", "variable-name"))
    c.kids(el, ())
    _caching_type(c, el)
    step = CacheLookupStep(c.req(el, "key"), c.val(el, "default-value"), el.get("variable-name", ""))
    body_flags(step, [step.key, step.default])
    return step


@dataclass(eq=False)
class CacheRemoveStep(Step):
    key: Val

    async def run(self, rt: Runtime) -> None:
        rt.services.cache_remove(self.key.text(rt.ctx))


@element("cache-remove-value")
def _cache_remove(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "caching-type"), ("key",))
    c.kids(el, ())
    _caching_type(c, el)
    return CacheRemoveStep(c.req(el, "key"))


@dataclass(eq=False)
class RateLimitStep(Step):
    calls: Val
    period: Val
    key: Val
    condition: Val | None
    remaining_var: str | None
    remaining_header: str | None
    retry_var: str | None
    retry_header: str | None
    total_header: str | None

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        calls, period = self.calls.integer(ctx), self.period.integer(ctx)
        counter = f"{self.key.text(ctx)}|{calls}|{period}"
        count = self.condition is None or self.condition.boolean(ctx)
        allowed, remaining, retry_after = rt.services.rate_check(counter, calls, period, count)
        if self.remaining_var:
            ctx.Variables.set(self.remaining_var, remaining)
        if self.remaining_header:
            rt.extra_response_headers.append((self.remaining_header, str(remaining)))
        if self.total_header:
            rt.extra_response_headers.append((self.total_header, str(calls)))
        if allowed:
            return
        if self.retry_var:
            ctx.Variables.set(self.retry_var, retry_after)
        await rt.close_backend()
        headers = Headers([("Retry-After", str(retry_after)), ("Content-Type", "application/json")])
        if self.retry_header:
            headers.set(self.retry_header, [str(retry_after)])
        message = f"Rate limit is exceeded. Try again in {retry_after} seconds."
        ctx.Response = Response(
            429,
            "Too Many Requests",
            headers,
            Body(json.dumps({"statusCode": 429, "message": message}).encode()),
        )
        raise ReturnResponse()


@element("rate-limit-by-key", frozenset({"inbound"}))
def _rate_limit(c: Compiler, el: etree._Element) -> Step:
    c.attrs(
        el,
        (
            "calls",
            "renewal-period",
            "counter-key",
            "increment-condition",
            "increment-count",
            "remaining-calls-variable-name",
            "remaining-calls-header-name",
            "retry-after-variable-name",
            "retry-after-header-name",
            "total-calls-header-name",
        ),
        ("calls", "renewal-period", "counter-key"),
    )
    c.kids(el, ())
    if el.get("increment-count") not in (None, "1"):
        raise c.fail(el, "increment-count other than 1 is not supported by the local gateway.")
    step = RateLimitStep(
        c.req(el, "calls"), c.req(el, "renewal-period"), c.req(el, "counter-key"), c.val(el, "increment-condition"),
        el.get("remaining-calls-variable-name"), el.get("remaining-calls-header-name"), el.get("retry-after-variable-name"),
        el.get("retry-after-header-name"), el.get("total-calls-header-name"),
    )  # fmt: skip
    body_flags(step, [step.calls, step.period, step.key, step.condition])
    return step


@dataclass(eq=False)
class SubscriptionRateLimitStep(Step):
    """``rate-limit``: calls per subscription (Learn rate-limit-policy.md), with independent
    limits for the ``api`` / ``operation`` children the request matches; "only applied when an
    API is accessed using a subscription key". Fixed windows, as rate-limit-by-key here."""

    calls: int
    period: int
    children: tuple[
        tuple[str, str, str, int, int], ...
    ]  # (api name|id, operation name|id or "", by, calls, period)
    names: dict[str, str]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        subscription = ctx.Subscription
        if subscription is None:
            return
        api_names = {str(ctx.Api.Id).lower(), str(ctx.Api.Name).lower()} if ctx.Api else set()
        op_names = (
            {str(ctx.Operation.Id).lower(), str(ctx.Operation.Name).lower()} if ctx.Operation else set()
        )
        windows = [(f"rate-limit|{subscription.Id}|{self.calls}|{self.period}", self.calls, self.period)]
        for api, operation, by, calls, period in self.children:
            if api.lower() not in api_names or (operation and operation.lower() not in op_names):
                continue
            windows.append(
                (f"rate-limit|{subscription.Id}|{by}|{api}|{operation}|{calls}|{period}", calls, period)
            )
        checks = [
            (rt.services.rate_check(c, calls, period, False), c, calls, period)
            for c, calls, period in windows
        ]
        refused = next((r for r in checks if not r[0][0]), None)
        if refused is not None:
            await self._refuse(rt, refused[0][2])
        remaining = self.calls
        for _, counter, calls, period in checks:
            _, left, _ = rt.services.rate_check(counter, calls, period, True)
            if counter == windows[0][0]:
                remaining = left
        if self.names.get("remaining-calls-variable-name"):
            ctx.Variables.set(self.names["remaining-calls-variable-name"], remaining)
        if self.names.get("remaining-calls-header-name"):
            rt.extra_response_headers.append((self.names["remaining-calls-header-name"], str(remaining)))
        if self.names.get("total-calls-header-name"):
            rt.extra_response_headers.append((self.names["total-calls-header-name"], str(self.calls)))

    async def _refuse(self, rt: Runtime, retry_after: int) -> None:
        ctx = rt.ctx
        if self.names.get("retry-after-variable-name"):
            ctx.Variables.set(self.names["retry-after-variable-name"], retry_after)
        await rt.close_backend()
        header = self.names.get("retry-after-header-name") or "Retry-After"
        headers = Headers([(header, str(retry_after)), ("Content-Type", "application/json")])
        message = f"Rate limit is exceeded. Try again in {retry_after} seconds."
        body = Body(json.dumps({"statusCode": 429, "message": message}).encode())
        ctx.Response = Response(429, "Too Many Requests", headers, body)
        raise ReturnResponse()


_NAMES = (
    "retry-after-header-name", "retry-after-variable-name", "remaining-calls-header-name",
    "remaining-calls-variable-name", "total-calls-header-name",
)  # fmt: skip


def _limits(c: Compiler, el: etree._Element) -> tuple[int, int]:
    """``calls`` and ``renewal-period`` (literal; "Maximum allowed value: 300 seconds")."""
    for name in ("calls", "renewal-period"):
        if name not in el.attrib:
            raise c.fail(el, f"'{name}' attribute is required.")
    calls, period = c.number(el, "calls", 0) or 0, c.number(el, "renewal-period", 0) or 0
    if calls < 0 or not 0 < period <= 300:
        raise c.fail(el, "'calls' must not be negative and 'renewal-period' must be 1 to 300 seconds.")
    return calls, period


def _target(c: Compiler, el: etree._Element) -> tuple[str, str]:
    """The API or operation a child names: ``id`` wins over ``name`` (Learn)."""
    if el.get("id"):
        return str(el.get("id")), "id"
    if el.get("name"):
        return str(el.get("name")), "name"
    raise c.fail(el, "Either 'name' or 'id' must be specified.")


@element("rate-limit", frozenset({"inbound"}))
def _subscription_rate_limit(c: Compiler, el: etree._Element) -> Step:
    c.in_scope(el, ("product", "api", "operation"))  # Learn rate-limit-policy.md, "Policy scopes"
    c.attrs(el, ("calls", "renewal-period", *_NAMES))
    calls, period = _limits(c, el)
    children: list[tuple[str, str, str, int, int]] = []
    for api in c.kids(el, ("api",)):
        c.attrs(api, ("name", "id", "calls", "renewal-period"))
        api_ref, by = _target(c, api)
        api_calls, api_period = _limits(c, api)
        children.append((api_ref, "", by, api_calls, api_period))
        for op in c.kids(api, ("operation",)):
            c.attrs(op, ("name", "id", "calls", "renewal-period"))
            c.kids(op, ())
            op_ref, op_by = _target(c, op)
            op_calls, op_period = _limits(c, op)
            children.append((api_ref, op_ref, f"{by}/{op_by}", op_calls, op_period))
    names = {n: str(el.get(n)) for n in _NAMES if el.get(n)}
    return SubscriptionRateLimitStep(calls, period, tuple(children), names)
