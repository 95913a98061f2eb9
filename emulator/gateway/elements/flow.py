"""Policy elements, control flow: ``base``, ``choose``, ``retry``, ``set-variable``, ``trace``."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, run_steps, tag
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.values import Val


class BaseStep(Step):
    """``<base/>``: replaced by the enclosing scope's section when the pipeline is composed."""

    async def run(self, rt: Runtime) -> None:  # pragma: no cover - composition removes it
        return None


@element("base")
def _base(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ())
    c.kids(el, ())
    return BaseStep()


@dataclass(eq=False)
class ChooseStep(Step):
    branches: list[tuple[Val, list[Step]]]
    otherwise: list[Step]

    async def run(self, rt: Runtime) -> None:
        recorder = getattr(rt, "recorder", None)  # a traced request: say which branch ran
        for index, (cond, steps) in enumerate(self.branches, 1):
            if cond.boolean(rt.ctx):
                if recorder is not None:
                    shown = cond.expr.source if cond.expr is not None else cond.literal
                    recorder.note(f"when #{index} is true: {shown}")
                await run_steps(steps, rt)
                return
        if recorder is not None:
            recorder.note("no condition is true: otherwise" if self.otherwise else "no condition is true")
        await run_steps(self.otherwise, rt)

    def nested(self) -> list[list[Step]]:
        return [*(steps for _, steps in self.branches), self.otherwise]


@element("choose")
def _choose(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ())
    branches: list[tuple[Val, list[Step]]] = []
    otherwise: list[Step] = []
    kids = c.kids(el, ("when", "otherwise"))
    if not kids or tag(kids[0]) != "when":
        raise c.fail(el, "'choose' must contain at least one 'when' element.")
    seen_otherwise = False
    for kid in kids:
        if tag(kid) == "when":
            if seen_otherwise:
                raise c.fail(kid, "'when' cannot follow 'otherwise'.")
            c.attrs(kid, ("condition",), ("condition",))
            cond = c.req(kid, "condition")
            if cond.expr is None and cond.literal not in ("true", "false"):
                raise c.fail(kid, "The 'condition' attribute must be a policy expression.")
            branches.append((cond, c.steps(kid)))
        else:
            if seen_otherwise:
                raise c.fail(kid, "Only one 'otherwise' element is allowed.")
            seen_otherwise = True
            c.attrs(kid, ())
            otherwise = c.steps(kid)
    step = ChooseStep(branches, otherwise)
    body_flags(step, [b[0] for b in branches], [s for _, ss in branches for s in ss] + otherwise)
    return step


@dataclass(eq=False)
class SetVariableStep(Step):
    var: str
    value: Val

    async def run(self, rt: Runtime) -> None:
        rt.ctx.Variables.set(self.var, self.value.get(rt.ctx))


@element("set-variable")
def _set_variable(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("name", "value"), ("name", "value"))
    c.kids(el, ())
    step = SetVariableStep(el.get("name", ""), c.req(el, "value"))
    body_flags(step, [step.value])
    return step


@dataclass(eq=False)
class TraceStep(Step):
    source: str
    severity: str
    message: Val
    metadata: list[tuple[str, Val]]

    async def run(self, rt: Runtime) -> None:
        rt.trace(
            self.source,
            self.severity,
            self.message.text(rt.ctx),
            {k: v.text(rt.ctx) for k, v in self.metadata},
        )


@element("trace")
def _trace(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("source", "severity"), ("source",))
    severity = c.choice(el, "severity", ("verbose", "information", "error"), "verbose")
    message: Val | None = None
    metadata: list[tuple[str, Val]] = []
    for kid in c.kids(el, ("message", "metadata")):
        if tag(kid) == "message":
            c.attrs(kid, ())
            message = c.text(kid)
        else:
            c.attrs(kid, ("name", "value"), ("name", "value"))
            c.kids(kid, ())
            metadata.append((kid.get("name", ""), c.req(kid, "value")))
    if message is None:
        raise c.fail(el, "'message' is required.")
    step = TraceStep(el.get("source", ""), severity, message, metadata)
    body_flags(step, [message, *(v for _, v in metadata)])
    return step


# ---- retry ------------------------------------------------------------------------------------
# Learn, "Retry" policy (learn.microsoft.com/azure/api-management/retry-policy): the children run
# once, then again while `condition` is true, at most `count` (1-50) more times. Waits: only
# `interval` -> fixed; `interval` + `delta` -> linear, interval + (n - 1) * delta; `interval` +
# `max-interval` + `delta` -> exponential, interval + (2^(n-1) - 1) * random(0.8 * delta,
# 1.2 * delta), never above max-interval (Learn's example: 10, 20, 40, 80, then 100 s with
# interval = delta = 10, max-interval = 100); `first-fast-retry` -> the first retry at once. A
# failure inside the children (a forward-request that cannot reach the backend) is not retried:
# it goes to on-error as any policy failure (Learn's second example sets ignore-error on
# send-request for the condition to see a missing response).
MAX_RETRIES = 50


@dataclass(eq=False)
class RetryStep(Step):
    condition: Val
    count: Val
    interval: Val
    max_interval: Val | None
    delta: Val | None
    first_fast: Val | None
    children: list[Step]

    def nested(self) -> list[list[Step]]:
        return [self.children]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        count = self.count.integer(ctx)
        if not 1 <= count <= MAX_RETRIES:
            raise PolicyFailure(
                "retry", "InvalidRetryCount", f"The retry count {count} is not between 1 and 50."
            )
        interval = _seconds(self.interval, ctx, "interval")
        delta = _seconds(self.delta, ctx, "delta") if self.delta is not None else None
        cap = _seconds(self.max_interval, ctx, "max-interval") if self.max_interval is not None else None
        first_fast = self.first_fast is not None and self.first_fast.boolean(ctx)
        await run_steps(self.children, rt)
        for attempt in range(1, count + 1):
            if not self.condition.boolean(ctx):
                return
            wait = 0.0 if first_fast and attempt == 1 else _wait(attempt, interval, delta, cap, rt)
            if wait > 0:
                await rt.services.sleep(wait)
            await run_steps(self.children, rt)


def _seconds(value: Val, ctx: object, name: str) -> float:
    raw = value.get(ctx)
    try:
        seconds = float(
            raw if isinstance(raw, int | float) and not isinstance(raw, bool) else str(raw).strip()
        )
    except ValueError:
        raise PolicyFailure(
            "retry", "InvalidRetryInterval", f"'{name}' is not a number of seconds."
        ) from None
    if not 0 <= seconds <= 86_400:
        raise PolicyFailure(
            "retry", "InvalidRetryInterval", f"'{name}' must be a positive number of seconds."
        )
    return seconds


def _wait(attempt: int, interval: float, delta: float | None, cap: float | None, rt: Runtime) -> float:
    """The wait before retry number ``attempt`` (1-based), Learn's formulas."""
    if delta is None:
        wait = interval
    elif cap is None:
        wait = interval + (attempt - 1) * delta
    else:
        jitter = rt.services.random.uniform(delta * 0.8, delta * 1.2)
        wait = interval + (2 ** min(attempt - 1, 30) - 1) * jitter
    return min(wait, cap) if cap is not None else wait


def forwards(steps: list[Step]) -> bool:
    return any(s.forwards or any(forwards(list(inner)) for inner in s.nested()) for s in steps)


@element("retry")
def _retry(c: Compiler, el: etree._Element) -> Step:
    c.attrs(
        el,
        ("condition", "count", "interval", "max-interval", "delta", "first-fast-retry"),
        ("condition", "count", "interval"),
    )
    condition = c.req(el, "condition")
    if condition.expr is None and str(condition.literal).strip().lower() not in ("true", "false"):
        raise c.fail_at(el, "condition", "The 'condition' attribute must be a Boolean expression or literal.")
    count = c.req(el, "count")
    if count.expr is None:
        number = c.number(el, "count")
        if number is None or not 1 <= number <= MAX_RETRIES:
            raise c.fail_at(
                el, "count", f"The value '{el.get('count')}' of attribute 'count' must be between 1 and 50."
            )
    values = {name: c.val(el, name) for name in ("interval", "max-interval", "delta")}
    for name, value in values.items():
        if value is not None and value.expr is None and not _non_negative(str(value.literal)):
            raise c.fail_at(
                el,
                name,
                f"The value '{value.literal}' of attribute '{name}' must be a positive number of seconds.",
            )
    first_fast = c.val(el, "first-fast-retry")
    if first_fast is not None and first_fast.expr is None:
        c.flag(el, "first-fast-retry", False)
    children = c.steps(el)
    if not children:
        raise c.fail(el, "'retry' must contain at least one policy.")
    interval = values["interval"]
    assert interval is not None
    step = RetryStep(
        condition, count, interval, values["max-interval"], values["delta"], first_fast, children
    )
    body_flags(
        step, [condition, count, interval, values["max-interval"], values["delta"], first_fast], children
    )
    if forwards(children):
        # the request is sent again on each attempt: keep its body (APIM: buffer-request-body)
        step.uses_request_body = True
    return step


def _non_negative(text: str) -> bool:
    try:
        return 0 <= float(text.strip()) <= 86_400
    except ValueError:
        return False
