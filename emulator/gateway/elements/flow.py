"""Policy elements, control flow: ``base``, ``choose``, ``set-variable``, ``trace``."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, run_steps, tag
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
        for cond, steps in self.branches:
            if cond.boolean(rt.ctx):
                await run_steps(steps, rt)
                return
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
