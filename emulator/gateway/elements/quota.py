"""Call-volume and bandwidth quotas: ``quota`` (per subscription) and ``quota-by-key``.

Where it sits: a family of ``elements`` (registered on import); the counters live in
``services.Services`` (``quota_used`` / ``quota_add``), so they outlive a request. A quota step
checks its counters in ``inbound`` and counts the call once it has been answered
(``Runtime.completion``, run by ``app`` after the response is sent, with the body bytes sent).

The rules are Learn's:

* quota-policy.md — "enforces a renewable or lifetime call volume and/or bandwidth quota, on a
  per subscription basis"; ``calls`` and/or ``bandwidth`` (kilobytes), ``renewal-period`` in
  seconds ("fixed window ... relative to the start time of the subscription"; 0: infinite), no
  policy expressions; ``api`` / ``operation`` children with their own limits, "applied
  independently" (``id`` wins over ``name``); policy scope *product* only; "used only once per
  policy definition"; "only applied when an API is accessed using a subscription key".
* quota-by-key-policy.md — one counter per ``counter-key`` value "for all scopes"; the
  ``increment-condition`` says whether a request counts (its example reads
  ``context.Response.StatusCode``: it is evaluated once the response is known); "If multiple
  policies would increment the same key value, it is incremented only once per request";
  windows start at ``first-period-start`` (default ``0001-01-01T00:00:00Z``), "Minimum period:
  300 seconds", 0: infinite.
* Over the quota: "the caller receives a ``403 Forbidden`` response status code, and the response
  includes a ``Retry-After`` header whose value is the recommended retry interval in seconds"; the
  error is APIM's predefined one (Learn api-management-error-handling-policies.md, "Predefined
  errors for policies": source ``quota``, reason ``QuotaExceeded``, message "Out of call volume
  quota. Quota will be replenished in xx:xx:xx." or "Out of bandwidth quota. ..."), so
  ``on-error`` runs with ``context.LastError``. The time is .NET's TimeSpan text
  (``hh:mm:ss``, ``d.hh:mm:ss`` beyond a day), as APIM-fronted services answer it (e.g.
  ``{"statusCode":403,"message":"Out of call volume quota. Quota will be replenished in
  20.09:58:55."}``).

Limits of the local gateway (docs/policies.md): bandwidth counts the request body (buffered, else
its ``Content-Length``) and the response body sent, in units of 1,024 bytes; with an infinite
period nothing is ever replenished, so the 403 carries no ``Retry-After`` and the message ends
after "quota.".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.expr.context import Context
from emulator.gateway.values import Val

EPOCH_0001 = datetime(1, 1, 1, tzinfo=UTC).timestamp()  # quota-by-key's first-period-start default
KB = 1024


@dataclass(frozen=True)
class Limit:
    """One quota counter's limits: ``calls`` and/or ``kilobytes`` per ``period`` seconds."""

    label: str  # part of the counter's name: "" (the policy's own), "api:<ref>", "api:<ref>/op:<ref>"
    api: str  # the API it applies to ("" = every API)
    operation: str  # the operation it applies to ("" = every operation)
    calls: int | None
    kilobytes: int | None
    period: int


def timespan(seconds: int) -> str:
    """.NET ``TimeSpan.ToString()``: ``hh:mm:ss``, with ``d.`` in front beyond a day."""
    days, rest = divmod(max(seconds, 0), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02}:{minutes:02}:{secs:02}"
    return f"{days}.{text}" if days else text


def _request_bytes(ctx: Context) -> int:
    content = ctx.Request.Body.content
    if content is not None:
        return len(content)
    declared = ctx.Request.Headers.m_GetValueOrDefault("Content-Length", "0")
    return int(declared) if isinstance(declared, str) and declared.strip().isdigit() else 0


@dataclass(eq=False)
class _Count:
    """A completion hook (``Runtime.completion``): counts one request on one counter."""

    counter: str
    anchor: float
    period: int
    rt: Runtime
    condition: Val | None = None

    def __call__(self, response_bytes: int) -> None:
        ctx = self.rt.ctx
        if self.condition is not None:
            try:
                if not self.condition.boolean(ctx):
                    return
            except Exception:  # the response is already sent: a failing condition counts nothing
                return
        self.rt.services.quota_add(
            self.counter, self.anchor, self.period, 1, _request_bytes(ctx) + response_bytes
        )


async def _exceeded(rt: Runtime, bandwidth: bool, seconds_left: int | None) -> None:
    kind = "bandwidth" if bandwidth else "call volume"
    message = f"Out of {kind} quota."
    if seconds_left is not None:
        message += f" Quota will be replenished in {timespan(seconds_left)}."
    await rt.close_backend()
    rt.error_response(403, message)
    if seconds_left is not None:
        rt.ctx.Response.Headers.set("Retry-After", [str(seconds_left)])
    raise PolicyFailure("quota", "QuotaExceeded", message)


async def _check(rt: Runtime, counter: str, anchor: float, limit: Limit) -> None:
    calls, size, left = rt.services.quota_used(counter, anchor, limit.period)
    if limit.calls is not None and calls >= limit.calls:
        await _exceeded(rt, False, left)
    if limit.kilobytes is not None and size >= limit.kilobytes * KB:
        await _exceeded(rt, True, left)


def _once(rt: Runtime, hook: _Count) -> None:
    """Register the count unless this request already counts on that counter."""
    if not any(isinstance(h, _Count) and h.counter == hook.counter for h in rt.completion):
        rt.completion.append(hook)


@dataclass(eq=False)
class QuotaStep(Step):
    limits: tuple[Limit, ...]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        subscription = ctx.Subscription
        if subscription is None:  # "only applied when an API is accessed using a subscription key"
            return
        start = subscription.StartDate or subscription.CreatedDate
        anchor = _timestamp(start) if isinstance(start, datetime) else 0.0
        api = {str(ctx.Api.Id).lower(), str(ctx.Api.Name).lower()} if ctx.Api else set()
        operation = (
            {str(ctx.Operation.Id).lower(), str(ctx.Operation.Name).lower()} if ctx.Operation else set()
        )
        applicable = [
            lim
            for lim in self.limits
            if (not lim.api or lim.api.lower() in api)
            and (not lim.operation or lim.operation.lower() in operation)
        ]
        counters = [(f"quota|{subscription.Id}|{lim.label}|{lim.period}", lim) for lim in applicable]
        for counter, lim in counters:
            await _check(rt, counter, anchor, lim)
        for counter, lim in counters:
            _once(rt, _Count(counter, anchor, lim.period, rt))


@dataclass(eq=False)
class QuotaByKeyStep(Step):
    key: Val
    condition: Val | None
    limit: Limit
    anchor: float

    async def run(self, rt: Runtime) -> None:
        counter = f"quota-by-key|{self.key.text(rt.ctx)}"
        await _check(rt, counter, self.anchor, self.limit)
        _once(rt, _Count(counter, self.anchor, self.limit.period, rt, self.condition))


def _timestamp(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _literal(c: Compiler, el: etree._Element, name: str) -> int | None:
    """A whole number written as such ("Policy expressions aren't allowed")."""
    raw = el.get(name)
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit():
        raise c.fail_at(
            el, name, f"The value '{raw}' of attribute '{name}' must be a non-negative whole number."
        )
    return int(text)


def _limit(c: Compiler, el: etree._Element, label: str, api: str, operation: str) -> Limit:
    calls, kilobytes = _literal(c, el, "calls"), _literal(c, el, "bandwidth")
    if calls is None and kilobytes is None:
        raise c.fail(el, "Either 'calls', 'bandwidth', or both together must be specified.")
    period = _literal(c, el, "renewal-period")
    if period is None:
        raise c.fail(el, "'renewal-period' attribute is required.")
    return Limit(label, api, operation, calls, kilobytes, period)


def _target(c: Compiler, el: etree._Element) -> str:
    """The API or operation a child names: ``id`` wins over ``name`` (Learn)."""
    ref = el.get("id") or el.get("name")
    if not ref:
        raise c.fail(el, "Either 'name' or 'id' must be specified.")
    return str(ref)


_LIMIT_ATTRS = ("calls", "bandwidth", "renewal-period")


@element("quota", frozenset({"inbound"}))
def _quota(c: Compiler, el: etree._Element) -> Step:
    c.in_scope(el, ("product",))  # Learn quota-policy.md, "Policy scopes: product"
    if "quota" in c.seen:
        raise c.fail(el, "The policy 'quota' can be used only once per policy definition.")
    c.seen.add("quota")
    c.attrs(el, _LIMIT_ATTRS)
    limits = [_limit(c, el, "", "", "")]
    for api in c.kids(el, ("api",)):
        c.attrs(api, ("name", "id", *_LIMIT_ATTRS))
        api_ref = _target(c, api)
        limits.append(_limit(c, api, f"api:{api_ref}", api_ref, ""))
        for op in c.kids(api, ("operation",)):
            c.attrs(op, ("name", "id", *_LIMIT_ATTRS))
            c.kids(op, ())
            op_ref = _target(c, op)
            limits.append(_limit(c, op, f"api:{api_ref}/op:{op_ref}", api_ref, op_ref))
    return QuotaStep(tuple(limits))


@element("quota-by-key", frozenset({"inbound"}))
def _quota_by_key(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, (*_LIMIT_ATTRS, "counter-key", "increment-condition", "first-period-start"), ("counter-key",))
    c.kids(el, ())
    limit = _limit(c, el, "", "", "")
    if 0 < limit.period < 300:
        raise c.fail_at(
            el, "renewal-period", "The minimum 'renewal-period' is 300 seconds (0: the period is infinite)."
        )
    start = el.get("first-period-start")
    anchor = EPOCH_0001
    if start is not None:
        try:
            anchor = datetime.strptime(start.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise c.fail_at(
                el,
                "first-period-start",
                f"The value '{start}' of attribute 'first-period-start' is not in the format yyyy-MM-ddTHH:mm:ssZ.",
            ) from None
    step = QuotaByKeyStep(c.req(el, "counter-key"), c.val(el, "increment-condition"), limit, anchor)
    body_flags(step, [step.key, step.condition])
    return step


__all__ = ["QuotaByKeyStep", "QuotaStep", "timespan"]
