"""The executor: runs a ``Plan`` concurrently, in dependency order, and records an ``Outcome`` per step.

Flow: ``engine`` prints the plan, gets confirmation, then ``await apply_plan(plan, providers, ...)``.

* ONE anyio task group; one task per step waits (on ``anyio.Event``s, no polling) until the
  steps it needs are finished, then runs; a ``CapacityLimiter`` bounds the provider calls in
  flight (``--parallelism``). A slot is held only during a call, never while backing off.
* Every provider write is wrapped in ``retry.call_with_retry`` (``TemporaryError`` honoured with
  backoff and the server's delay; a ``NotInEffectError`` — a role assignment not in effect yet —
  is probed again and reported as ``WAITING`` for what it needs, while the other branches go on).
* A step whose ``depends_on`` did not succeed is ``skipped``; independent branches go on.
  ``after`` dependencies only order (a prune waits for the other changes to finish, whatever
  their result).
* Before a create/update runs, its ``Desired`` is re-derived from the *actual* outputs of the
  steps it references (the plan printed ``(known after apply)`` for them); a planned no-op whose
  references changed is re-diffed and updated if needed.
* Step runners return frozen ``Outcome``s; they never raise through the group (a provider bug
  becomes a failed outcome with its type named). Cancellation (Ctrl-C) is the one exception:
  in-flight steps are recorded ``cancelled`` in the ``Recorder`` and the cancellation propagates,
  so the caller still has every outcome so far. Each provider write is idempotent by name, so
  the next run converges from wherever this one stopped.
"""

from __future__ import annotations

import graphlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

import anyio

from orchestrator.errors import NotInEffectError, PermanentError, PrmlabError, ResourceError, TemporaryError
from orchestrator.plan import OWNERSHIP_FIELD, Plan, Step
from orchestrator.resolve import Resolver, contains_unknown, direct_resolver, resolve_refs
from orchestrator.resource import Action, Actual, Desired, FieldChange, Provider
from orchestrator.retry import DEFAULT_POLICY, RetryPolicy, Sleep, call_with_retry

T = TypeVar("T")

DEFAULT_PARALLELISM = 10


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REPLACED = "replaced"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self not in (Status.FAILED, Status.SKIPPED, Status.CANCELLED)


@dataclass(frozen=True, slots=True)
class Outcome:
    address: str
    kind: str
    action: Action  # what the plan said
    status: Status  # what happened
    message: str = ""  # the error, the skip reason; never a secret
    attempts: int = 0
    seconds: float = 0.0
    changes: tuple[FieldChange, ...] = ()  # what was applied (after re-deriving)
    outputs: Mapping[str, Any] = field(default_factory=dict, repr=False)


class EventKind(StrEnum):
    STARTED = "started"
    RETRYING = "retrying"
    WAITING = "waiting"  # probing for a change to take effect (NotInEffectError): message = what
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    kind: EventKind
    address: str
    action: Action
    outcome: Outcome | None = None
    attempt: int = 0
    wait: float = 0.0
    message: str = ""


OnEvent = Callable[[ProgressEvent], None]


@dataclass
class Recorder:
    """Where the executor writes outcomes as they happen (readable after a cancellation)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.address] = outcome

    @property
    def wall_seconds(self) -> float:
        return (self.finished_at or time.monotonic()) - self.started_at


@dataclass(frozen=True, slots=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]  # in plan order
    wall_seconds: float
    cancelled: bool = False

    def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(o.status.ok for o in self.outcomes)

    @property
    def changed(self) -> bool:
        return any(
            o.status in (Status.CREATED, Status.UPDATED, Status.REPLACED, Status.DELETED)
            for o in self.outcomes
        )


def result_from(plan: Plan, recorder: Recorder, *, cancelled: bool = False) -> ApplyResult:
    """Outcomes in plan order; steps never reached (after a cancellation) are ``cancelled``."""
    outcomes = tuple(
        recorder.outcomes.get(step.address)
        or Outcome(step.address, step.kind, step.action, Status.CANCELLED, "not started")
        for step in plan.steps
    )
    return ApplyResult(outcomes, recorder.wall_seconds, cancelled=cancelled)


def check_acyclic(plan: Plan) -> None:
    addresses = {step.address for step in plan.steps}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for step in plan.steps:
        sorter.add(step.address, *(a for a in (*step.depends_on, *step.after) if a in addresses))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise PrmlabError(
            f"internal error: the plan has a dependency cycle: {' -> '.join(exc.args[1])}"
        ) from exc


_CHANGED_OUTPUTS = (Action.CREATE, Action.UPDATE, Action.REPLACE)


class _Run:
    def __init__(
        self,
        plan: Plan,
        providers: Mapping[str, Provider],
        limiter: anyio.CapacityLimiter,
        policy: RetryPolicy,
        sleep: Sleep,
        recorder: Recorder,
        on_event: OnEvent | None,
        resolver: Resolver,
    ) -> None:
        self.resolver = resolver
        self.plan = plan
        self.providers = providers
        self.limiter = limiter
        self.policy = policy
        self.sleep = sleep
        self.recorder = recorder
        self.on_event = on_event
        self.done: dict[str, anyio.Event] = {step.address: anyio.Event() for step in plan.steps}
        self.by_address = {step.address: step for step in plan.steps}
        # outputs of resources as they are now: start from what was read, updated as steps finish
        self.outputs: dict[str, Mapping[str, Any]] = {
            step.address: step.actual.outputs
            for step in plan.steps
            if step.actual is not None and step.action in (Action.NOOP, Action.UPDATE)
        }
        # the resource as it is now (what a late step diffs against)
        self.actuals: dict[str, Actual] = {s.address: s.actual for s in plan.steps if s.actual is not None}

    def emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    async def call(self, step: Step, fn: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        async def limited() -> T:
            async with self.limiter:
                return await fn()

        def on_retry(attempt: int, wait: float, error: TemporaryError) -> None:
            waiting = isinstance(error, NotInEffectError)
            self.emit(
                ProgressEvent(
                    EventKind.WAITING if waiting else EventKind.RETRYING,
                    step.address,
                    step.action,
                    attempt=attempt,
                    wait=wait,
                    message=error.waiting_for if isinstance(error, NotInEffectError) else error.cause,
                )
            )

        return await call_with_retry(limited, self.policy, sleep=self.sleep, on_retry=on_retry)

    async def run_step(self, step: Step) -> None:
        try:
            for dep in (*step.depends_on, *step.after):
                if dep in self.done:
                    await self.done[dep].wait()
            failed = [
                dep
                for dep in step.depends_on
                if dep in self.recorder.outcomes and not self.recorder.outcomes[dep].status.ok
            ]
            if failed:
                outcome = Outcome(
                    step.address,
                    step.kind,
                    step.action,
                    Status.SKIPPED,
                    f"because {failed[0]} {self.recorder.outcomes[failed[0]].status.value}",
                )
            else:
                outcome = await self.execute(step)
            self.recorder.add(outcome)
            self.emit(ProgressEvent(EventKind.FINISHED, step.address, step.action, outcome=outcome))
        except anyio.get_cancelled_exc_class():
            if step.address not in self.recorder.outcomes:
                self.recorder.add(
                    Outcome(step.address, step.kind, step.action, Status.CANCELLED, "interrupted")
                )
            raise
        finally:
            self.done[step.address].set()

    def rederive(self, step: Step) -> Desired:
        assert step.desired is not None
        if step.spec is None:
            return step.desired
        provider = self.providers[step.kind]
        return provider.desired(
            step.address, step.spec, resolve_refs(step.ref_source, self.outputs, self.resolver)
        )

    def inputs_changed(self, step: Step) -> bool:
        return any(
            self.by_address[dep].action in _CHANGED_OUTPUTS
            for dep in step.depends_on
            if dep in self.by_address
        )

    async def late_update(self, step: Step, desired: Desired, started: float) -> Outcome:
        """A late step: write the late-bound values of ``step.late_of`` now that they are known."""
        assert step.late_of is not None
        provider = self.providers[step.kind]
        current = self.actuals[step.late_of]
        changes = provider.diff(desired, current)
        attempts = 0
        if changes:
            updated, attempts = await self.call(step, lambda: provider.update(desired, current))
            self.actuals[step.late_of] = updated
            status, outputs = Status.UPDATED, updated.outputs
            self.outputs[step.late_of] = outputs
        else:
            status, outputs = Status.UNCHANGED, current.outputs
        return _done(step, status, attempts, started, changes, outputs)

    async def execute(self, step: Step) -> Outcome:
        """One step: skip an unchanged NOOP, else write (or delete) and record its outputs; a
        failure is this step's ``FAILED`` outcome, never an exception through the task group."""
        started = time.monotonic()
        provider = self.providers[step.kind]
        try:
            if step.action is Action.NOOP and (step.desired is None or not self.inputs_changed(step)):
                outputs = step.actual.outputs if step.actual is not None else {}
                if step.actual is not None and step.action is Action.NOOP:
                    self.outputs[step.address] = outputs
                return Outcome(
                    step.address, step.kind, step.action, Status.UNCHANGED, step.reason, outputs=outputs
                )
            if step.refused:  # the plan said so: nothing is sent to the target
                raise PermanentError(step.address, step.refused)
            self.emit(ProgressEvent(EventKind.STARTED, step.address, step.action))
            if step.action is Action.DELETE:
                assert step.actual is not None
                actual = step.actual
                _, attempts = await self.call(step, lambda: provider.delete(actual))
                status, outputs, changes = Status.DELETED, {}, step.changes
            else:
                desired = self.writable(step)
                if step.late_of is not None:
                    return await self.late_update(step, desired, started)
                status, outputs, attempts, changes = await self.write(step, provider, desired)
            self.outputs[step.address] = outputs
            return _done(step, status, attempts, started, changes, outputs)
        except PrmlabError as exc:
            # a ResourceError about this very step: its cause alone (the address is printed already)
            same = isinstance(exc, ResourceError) and exc.resource == step.address
            return Outcome(
                step.address,
                step.kind,
                step.action,
                Status.FAILED,
                exc.cause if isinstance(exc, ResourceError) and same else exc.message,
                0,
                time.monotonic() - started,
            )
        except Exception as exc:  # a provider bug must not take the other branches down
            return Outcome(
                step.address,
                step.kind,
                step.action,
                Status.FAILED,
                f"unexpected {type(exc).__name__} in the {step.kind} provider: {exc}",
                0,
                time.monotonic() - started,
            )

    def writable(self, step: Step) -> Desired:
        """The step's ``Desired`` with the real outputs; values still unknown fail the step, except
        late-bound ones on a node with a late step (left out of this write)."""
        desired = self.rederive(step)
        # "@" keys locate the resource (parent names, ids): the provider resolves those itself
        unknown = sorted(
            k for k, v in desired.properties.items() if not k.startswith("@") and contains_unknown(v)
        )
        if unknown and step.deferred and step.late_of is None:
            # late-bound values: written by this node's late step once their providers exist
            kept = {k: v for k, v in desired.properties.items() if k not in unknown}
            return replace(desired, properties=kept)
        if unknown:
            raise PermanentError(
                step.address,
                f"{', '.join(unknown)}: a referenced value is still unknown after its resource was applied",
            )
        return desired

    async def write(
        self, step: Step, provider: Provider, desired: Desired
    ) -> tuple[Status, Mapping[str, Any], int, tuple[FieldChange, ...]]:
        """Create, replace (delete + create) or update: (status, outputs, attempts, changes)."""
        if step.action is Action.CREATE:
            created, attempts = await self.call(step, lambda: provider.create(desired))
            self.actuals[step.address] = created
            return Status.CREATED, created.outputs, attempts, step.changes
        if step.action is Action.REPLACE:
            assert step.actual is not None
            return await self.replace(step, provider, desired, step.actual, step.changes)
        # UPDATE, or a NOOP whose inputs changed: diff again with the real values
        assert step.actual is not None
        current = step.actual
        changes = provider.diff(desired, current)
        if not current.owned:
            changes = (*[c for c in step.changes if c.path == OWNERSHIP_FIELD], *changes)
        if not changes:
            return Status.UNCHANGED, current.outputs, 0, changes
        if any(change.forces_replacement for change in changes):
            # a value known only now (a replaced dependency's new id) cannot change in place
            return await self.replace(step, provider, desired, current, changes)
        updated, attempts = await self.call(step, lambda: provider.update(desired, current))
        self.actuals[step.address] = updated
        return Status.UPDATED, updated.outputs, attempts, changes

    async def replace(
        self, step: Step, provider: Provider, desired: Desired, old: Actual, changes: tuple[FieldChange, ...]
    ) -> tuple[Status, Mapping[str, Any], int, tuple[FieldChange, ...]]:
        """Delete, then create; only create when the container's replacement took it away."""
        deleting = 0
        if step.replaced_with is None:
            _, deleting = await self.call(step, lambda: provider.delete(old))
        created, attempts = await self.call(step, lambda: provider.create(desired))
        self.actuals[step.address] = created
        return Status.REPLACED, created.outputs, attempts + deleting, changes


def _done(
    step: Step,
    status: Status,
    attempts: int,
    started: float,
    changes: tuple[FieldChange, ...],
    outputs: Mapping[str, Any],
) -> Outcome:
    """The outcome of a step that ran to the end (``status`` says what it did)."""
    return Outcome(
        step.address,
        step.kind,
        step.action,
        status,
        attempts=attempts,
        seconds=time.monotonic() - started,
        changes=changes,
        outputs=outputs,
    )


async def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = anyio.sleep,
    on_event: OnEvent | None = None,
    recorder: Recorder | None = None,
    resolver: Resolver = direct_resolver,
) -> ApplyResult:
    """Run every step of ``plan``; returns the outcomes in plan order.

    Pass a ``recorder`` to keep the outcomes when the run is cancelled (the cancellation still
    propagates; ``result_from(plan, recorder, cancelled=True)`` then gives the partial result).
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    check_acyclic(plan)
    recorder = recorder if recorder is not None else Recorder()
    run = _Run(
        plan, providers, anyio.CapacityLimiter(parallelism), policy, sleep, recorder, on_event, resolver
    )
    try:
        async with anyio.create_task_group() as group:
            for step in plan.steps:
                group.start_soon(run.run_step, step, name=f"step {step.address}")
    finally:
        recorder.finished_at = time.monotonic()
    return result_from(plan, recorder)
