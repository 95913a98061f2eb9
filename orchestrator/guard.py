"""Before a plan is shown: what would the deletes in it take with them?

Where it sits: ``engine.execute`` calls ``inspect_deletes(plan, providers)`` between planning and
printing. Deleting a container deletes what it holds — an APIM service its named values, APIs,
products, users…; a resource group every resource in it — and the ownership mark sits on the
container, not on what a user later put inside. So for every delete or replace step whose provider
is a ``resource.DeleteGuard``, the provider lists the container's contents and names what the lab
does not own; such a step is marked ``refused`` (the plan prints why, by name) and apply fails it
without touching the target, which skips what depends on it. Read-only calls, concurrent, bounded
by the same limiter and retry policy as the read phase. A container whose contents cannot be
listed is refused too (fail closed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import anyio

from orchestrator.errors import PrmlabError
from orchestrator.plan import Plan, Step
from orchestrator.resource import Action, DeleteGuard, Provider
from orchestrator.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry

_DESTRUCTIVE = (Action.DELETE, Action.REPLACE)


async def inspect_deletes(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    parallelism: int = 8,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Plan:
    """``plan`` with ``Step.refused`` set on the deletes that would take foreign content along."""
    guarded = [
        step
        for step in plan.steps
        if step.action in _DESTRUCTIVE
        and step.actual is not None
        and step.replaced_with is None  # its container's delete is the one to inspect
        and isinstance(providers.get(step.kind), DeleteGuard)
    ]
    if not guarded:
        return plan
    limiter = anyio.CapacityLimiter(parallelism)
    refusals: dict[str, str] = {}

    async def inspect(step: Step) -> None:
        provider = providers[step.kind]
        assert isinstance(provider, DeleteGuard)
        assert step.actual is not None
        actual = step.actual

        async def once() -> str | None:
            async with limiter:
                return await provider.delete_refusal(actual)

        try:
            refusal, _ = await call_with_retry(once, policy)
        except PrmlabError as exc:  # fail closed: what cannot be checked is not deleted
            refusal = f"not deleted: cannot list what it holds ({exc})"
        if refusal:
            refusals[step.address] = refusal

    async with anyio.create_task_group() as tg:
        for step in guarded:
            tg.start_soon(inspect, step)
    if not refusals:
        return plan
    steps = tuple(
        dataclasses.replace(step, refused=refusals[step.address]) if step.address in refusals else step
        for step in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)
