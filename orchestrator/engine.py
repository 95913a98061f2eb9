"""The reconcile engine: load -> graph -> lock -> target -> read -> plan -> confirm -> apply -> verify.

Flow (``prmlab reconcile`` calls ``reconcile(options, term)``):

1. ``labfile.load``: ``spec.load_lab`` + ``graph.build_graph`` (a ``SpecError`` leaves with exit
   code 2);
2. the lab's lock ``<lab dir>/.prmlab/reconcile.lock`` (``LockError`` names the holder);
3. the target (``orchestrator.target``): ``TargetSettings.for_lab`` (for ``local`` the emulator
   is started if needed), then ``open_clients`` and ``providers.providers_for`` give one
   ``Provider`` per kind;
4. ``read_all``: every provider lists what the lab owns (plus same-named unowned resources),
   concurrently, bounded by the same limiter as apply;
   the lab's omitted global names are derived once the subscription is known (``labfile.complete``);
   on ``azure``, ``preflight.before_first_write`` (sign-in, providers, rights; read only);
5. ``plan.build_plan`` / ``build_destroy_plan`` (pure), then the read-only ``before_apply`` check
   (``global_names.ensure_available``: every global name the plan creates is free, by
   ``checkNameAvailability``, else a ``GlobalNameError`` before any write), printed (text or JSON);
6. confirmation on a terminal unless ``--yes``; without a terminal and without ``--yes``: refused;
7. ``apply.apply_plan`` with live progress, then the summary;
8. verification (``orchestrator.verify.after_reconcile.verify``) unless ``--no-verify``.

``execute`` (steps 4-8) takes providers as a parameter, so tests drive it with in-memory ones.
``read_state`` / ``read_outputs`` are step 4 alone, for ``prmlab state`` / ``verify`` and ``output``.

Exit codes: 0 success; 1 failure (a resource, the target, the lock, verification, a refused
confirmation); 2 lab.yaml invalid. With ``--detailed-exitcode``: 0 no changes, 2 changes
(pending with ``--dry-run``, applied otherwise), 1 failure (``cli.main`` turns an invalid lab's 2
into 1). ``--output json``: one document on stdout (``output.json_doc``) embedding the
verification report (``Verified``) and the lab's outputs (``output.lab_outputs``, via ``describe``). Ctrl-C: the partial summary is
printed and the interruption propagates (exit 130).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import anyio

from orchestrator.apply import DEFAULT_PARALLELISM, ApplyResult, Recorder, apply_plan, result_from
from orchestrator.errors import PrmlabError, TargetError
from orchestrator.guard import inspect_deletes
from orchestrator.kinds import Kind
from orchestrator.lock import hold_lock
from orchestrator.plan import NodeInput, Plan, build_destroy_plan, build_plan
from orchestrator.resolve import Resolver, direct_resolver, resolve_refs
from orchestrator.resource import Actual, Desired, Provider
from orchestrator.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry

if TYPE_CHECKING:
    from orchestrator.graph import ResourceGraph
    from orchestrator.spec.models import Lab
    from orchestrator.target import TargetSettings
    from orchestrator.warmup import Warmup


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    lab_file: Path = Path("lab.yaml")
    dry_run: bool = False
    destroy: bool = False
    yes: bool = False
    parallelism: int = DEFAULT_PARALLELISM
    output: Literal["text", "json"] = "text"
    detailed_exitcode: bool = False
    verify: bool = True


@dataclass(frozen=True, slots=True)
class Terminal:
    """Where a reconcile talks to its user."""

    out: TextIO
    err: TextIO
    interactive: bool  # a person can answer a prompt (stdin is a terminal)
    rich: bool  # stdout is a terminal: live progress bar, colours
    confirm: Callable[[str], bool]  # asks a yes/no question


@dataclass(frozen=True, slots=True)
class RunReport:
    """What ``execute`` did (for tests and the benchmark)."""

    plan: Plan
    result: ApplyResult | None
    exit_code: int
    read_seconds: float
    plan_seconds: float


# ------------------------------------------------------------------ graph -> planner input


def nodes_from_graph(graph: ResourceGraph) -> list[NodeInput]:
    """Adapt ``graph.ResourceGraph`` nodes to the planner's ``NodeInput``."""
    return [
        NodeInput(
            node.address,
            node.kind,
            tuple(sorted(node.depends_on)),
            node.spec,
            _adopts(node.kind, node.spec),
            refs=tuple(ref for _, ref in node.refs),
            deferred=tuple(sorted(node.deferred)),
            container=node.container,
            adopt_setting=_ADOPT_SETTINGS.get(node.kind, "adopt: true"),
        )
        for node in graph
    ]


# The lab.yaml setting that adopts a node of a kind, where it is not the node's own ``adopt``.
_ADOPT_SETTINGS: dict[str, str] = {Kind.RESOURCE_GROUP: "target.adopt_resource_group: true"}


def _adopts(kind: str, spec: Any) -> bool:
    """The node may take over a same-named resource this lab did not create (its ``adopt``; the
    resource group: ``target.adopt_resource_group``)."""
    if kind == Kind.RESOURCE_GROUP:
        return bool(getattr(spec, "adopt_resource_group", False))
    return bool(getattr(spec, "adopt", False))


def spec_resolver(lab: Lab, target_outputs: Mapping[str, Any]) -> Resolver:
    """Resolve lab.yaml references with ``orchestrator.spec.refs.resolve`` (suffix left to providers)."""
    from orchestrator.spec.refs import resolve

    def resolver(ref: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
        bare = ref.model_copy(update={"suffix": ""}) if getattr(ref, "suffix", "") else ref
        return resolve(bare, lab, outputs, target_outputs)

    return resolver


# ------------------------------------------------------------------ read


async def read_all(
    lab_name: str,
    nodes: Sequence[NodeInput],
    providers: Mapping[str, Provider],
    *,
    resolver: Resolver = direct_resolver,
    parallelism: int = DEFAULT_PARALLELISM,
    policy: RetryPolicy = DEFAULT_POLICY,
    on_read: Callable[[str, int], None] | None = None,
) -> dict[str, Actual]:
    """The actual state of everything the lab owns (and same-named unowned resources).

    Every provider is asked, also for kinds the spec no longer names, so that their owned
    leftovers can be pruned or destroyed. Providers run concurrently, bounded by ``parallelism``.
    ``on_read(kind, found)`` is called as each kind has been read (the live progress line).
    """
    wanted: dict[str, dict[str, Desired | None]] = {kind: {} for kind in providers}
    for node in nodes:
        if node.kind not in providers:
            raise PrmlabError(f"{node.address}: no provider for resource kind {node.kind!r}")
        provider = providers[node.kind]
        # names only: references are unknown at this point (nothing has been read yet)
        wanted[node.kind][node.address] = provider.desired(
            node.address, node.spec, resolve_refs(node.ref_source, {}, resolver)
        )
    limiter = anyio.CapacityLimiter(parallelism)
    found: dict[str, Actual] = {}

    async def read_kind(kind: str) -> None:
        provider = providers[kind]

        async def once() -> Mapping[str, Actual]:
            async with limiter:
                return await provider.read(lab_name, wanted[kind])

        try:
            actuals, _ = await call_with_retry(once, policy)
        except PrmlabError as exc:  # collected: an error must not leave as an exception group
            errors.append(exc)
            return
        for address, actual in actuals.items():
            if address in found:
                errors.append(PrmlabError(f"internal error: two providers returned {address}"))
            found[address] = actual
        if on_read is not None:
            on_read(kind, len(actuals))

    errors: list[PrmlabError] = []
    async with anyio.create_task_group() as group:
        for kind in sorted(providers):
            group.start_soon(read_kind, kind)
    if len(errors) == 1:
        raise errors[0]
    for error in errors:  # the target itself (no credential, ...): said once, not once per kind
        if isinstance(error, TargetError):
            raise error
    if errors:
        raise PrmlabError("reading the target failed:\n  " + "\n  ".join(e.message for e in errors))
    return found


# ------------------------------------------------------------------ plan, confirm, apply


def _exit_code(plan: Plan, result: ApplyResult | None, options: ReconcileOptions, verified: bool) -> int:
    if result is not None and not result.ok:
        return 1
    if not verified:
        return 1
    if options.detailed_exitcode and plan.has_changes:
        return 2
    return 0


@dataclass(frozen=True, slots=True)
class Verified:
    """What the verification hook found: ``report`` (``verify.model.Report.as_json``) is embedded
    in the JSON document."""

    ok: bool
    report: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Finish:
    """What the JSON document embeds besides the plan and the result."""

    verified: Verified | None = None
    outputs: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.verified is None or self.verified.ok


def _print_json(
    term: Terminal,
    plan: Plan,
    result: ApplyResult | None,
    target: str,
    options: ReconcileOptions,
    code: int,
    finish: _Finish,
) -> None:
    from orchestrator.output.json_doc import document

    doc = document(
        plan,
        result,
        target=target,
        dry_run=options.dry_run,
        exit_code=code,
        verification=finish.verified.report if finish.verified is not None else None,
        outputs=finish.outputs,
    )
    print(json.dumps(doc, indent=2), file=term.out, flush=True)


def _confirm(term: Terminal, plan: Plan, options: ReconcileOptions) -> bool:
    if options.yes:
        return True
    if not term.interactive:
        raise PrmlabError(
            "the plan has changes and there is no terminal to confirm them: "
            "re-run with --yes to apply, or --dry-run to only see the plan"
        )
    what = "destroy every resource above" if plan.destroy else "apply these changes"
    return term.confirm(f"Do you want to {what}? Only 'yes' will be accepted")


# After a successful apply (or a plan without changes): verify the lab, given the outputs of
# its nodes (address -> ``Actual.outputs``).
AfterApply = Callable[[Mapping[str, Mapping[str, Any]]], Awaitable[bool | Verified]]
# The lab's outputs (``output.lab_outputs``) from the outputs of its nodes.
Describe = Callable[[Mapping[str, Mapping[str, Any]]], Mapping[str, Any]]


async def _finish(
    plan: Plan,
    result: ApplyResult | None,
    options: ReconcileOptions,
    after_apply: AfterApply | None,
    describe: Describe | None,
) -> _Finish:
    """Verify (unless it does not apply) and describe the lab once the target holds it."""
    if options.dry_run or options.destroy or (result is not None and not result.ok):
        return _Finish()
    node_outputs = _outputs_of(plan, result)
    verified: Verified | None = None
    if after_apply is not None and options.verify:
        found = await after_apply(node_outputs)
        verified = found if isinstance(found, Verified) else Verified(found)
    return _Finish(verified, describe(node_outputs) if describe is not None else None)


# read-only checks of a built plan before it is shown or applied (raises a PrmlabError to stop)
BeforeApply = Callable[[Plan], Awaitable[None]]


async def execute(
    lab_name: str,
    nodes: Sequence[NodeInput],
    providers: Mapping[str, Provider],
    options: ReconcileOptions,
    term: Terminal,
    *,
    target: str = "local",
    resolver: Resolver = direct_resolver,
    policy: RetryPolicy = DEFAULT_POLICY,
    after_apply: AfterApply | None = None,
    describe: Describe | None = None,
    before_apply: BeforeApply | None = None,
) -> RunReport:
    """Read, plan, print, confirm, apply, summarise (and verify through ``after_apply``)."""
    from orchestrator.output.plan_text import render_plan
    from orchestrator.output.progress import read_reporter, reporter
    from orchestrator.output.summary import render_summary

    text = options.output == "text"
    info = term.out if text else term.err
    started = time.monotonic()
    with read_reporter(info, tty=term.rich and text, kinds=len(providers)) as reading:
        actuals = await read_all(
            lab_name,
            nodes,
            providers,
            resolver=resolver,
            parallelism=options.parallelism,
            policy=policy,
            on_read=reading.on_read,
        )
    read_seconds = time.monotonic() - started
    cpu = time.process_time()
    if options.destroy:
        plan = build_destroy_plan(lab_name, nodes, actuals)
    else:
        plan = build_plan(lab_name, nodes, providers, actuals, resolver)
    plan_seconds = time.process_time() - cpu
    plan = await inspect_deletes(plan, providers, parallelism=options.parallelism, policy=policy)
    if before_apply is not None:  # read-only checks of the plan (global names), before any write
        await before_apply(plan)
    if text:
        print(render_plan(plan, target=target), file=term.out, flush=True)
    if options.dry_run or not plan.has_changes:
        finish = await _finish(plan, None, options, after_apply, describe)
        code = _exit_code(plan, None, options, finish.ok)
        if not text:
            _print_json(term, plan, None, target, options, code, finish)
        return RunReport(plan, None, code, read_seconds, plan_seconds)
    if not await anyio.to_thread.run_sync(_confirm, term, plan, options):
        print("Apply cancelled: nothing was changed.", file=info, flush=True)
        code = 1
        if not text:
            _print_json(term, plan, None, target, options, code, _Finish())
        return RunReport(plan, None, code, read_seconds, plan_seconds)
    recorder = Recorder()
    progress = reporter(info, tty=term.rich and text, total=len(plan.changes))
    try:
        with progress:
            result = await apply_plan(
                plan,
                providers,
                parallelism=options.parallelism,
                policy=policy,
                on_event=progress.on_event,
                recorder=recorder,
                resolver=resolver,
            )
    except anyio.get_cancelled_exc_class():
        partial = result_from(plan, recorder, cancelled=True)
        print(render_summary(partial), file=term.err, flush=True)
        raise
    print(render_summary(result), file=info, flush=True)
    finish = await _finish(plan, result, options, after_apply, describe)
    code = _exit_code(plan, result, options, finish.ok)
    if not text:
        _print_json(term, plan, result, target, options, code, finish)
    return RunReport(plan, result, code, read_seconds, plan_seconds)


def _outputs_of(plan: Plan, result: ApplyResult | None) -> dict[str, Mapping[str, Any]]:
    outputs: dict[str, Mapping[str, Any]] = {
        s.address: s.actual.outputs for s in plan.steps if s.actual is not None and s.late_of is None
    }
    if result is not None:
        for outcome in result.outcomes:
            if outcome.status.ok and outcome.outputs and "#" not in outcome.address:
                outputs[outcome.address] = outcome.outputs
    return outputs


# ------------------------------------------------------------------ the real target


async def read_state(lab: Lab, graph: ResourceGraph, settings: TargetSettings) -> dict[str, Actual]:
    """Everything ``lab`` owns on its target (address -> ``Actual``; same-named resources it does
    not own are left out), read as a reconcile's read step reads it (``prmlab state``)."""
    from orchestrator.providers import providers_for
    from orchestrator.target import open_clients

    nodes = nodes_from_graph(graph)
    async with open_clients(settings) as clients:
        providers = providers_for(clients, lab)
        actuals = await read_all(lab.name, nodes, providers, resolver=spec_resolver(lab, settings.outputs()))
    return {address: actual for address, actual in actuals.items() if actual.owned}


async def read_outputs(
    lab: Lab, graph: ResourceGraph, settings: TargetSettings
) -> dict[str, Mapping[str, Any]]:
    """The outputs of everything ``lab`` owns on its target (graph address -> ``Actual.outputs``;
    ``prmlab verify`` and ``prmlab output`` start from these)."""
    return {address: actual.outputs for address, actual in (await read_state(lab, graph, settings)).items()}


def _verification_hook(
    lab: Lab, settings: TargetSettings, term: Terminal, options: ReconcileOptions, warm: Warmup
) -> AfterApply:
    """``orchestrator.verify.after_reconcile.verify(lab, outputs, settings, out) -> Report``."""
    out = term.out if options.output == "text" else term.err

    async def after_apply(outputs: Mapping[str, Mapping[str, Any]]) -> Verified:
        await anyio.to_thread.run_sync(warm.join)  # the warm-up's import of the verifier, if any
        from orchestrator.verify.after_reconcile import verify

        report = await verify(lab, outputs, settings, out)
        return Verified(report.ok, report.as_json())

    return after_apply


def reconcile(options: ReconcileOptions, term: Terminal) -> int:
    """The whole ``prmlab reconcile``; returns the exit code (raises ``PrmlabError`` on failure)."""
    from orchestrator.labfile import complete, load
    from orchestrator.target import TargetSettings, state_dir
    from orchestrator.warmup import Warmup

    lab, graph = load(options.lab_file)
    command = (
        "prmlab reconcile"
        + (" --destroy" if options.destroy else "")
        + (" --dry-run" if options.dry_run else "")
    )
    with hold_lock(state_dir(lab), command=command):
        applies = not options.dry_run and not options.destroy
        warm = Warmup(graph=bool(lab.entra.apps), verify=applies and options.verify)
        settings = TargetSettings.for_lab(lab, while_starting=warm.begin)
        warm.begin()  # the emulator was running already (or the target is Azure): now
        lab, graph = complete(lab, settings.subscription_id)  # derived global names
        if settings.kind == "azure" and not options.destroy:  # sign-in, providers, rights: read only
            from orchestrator.preflight import before_first_write

            anyio.run(before_first_write, lab, graph, settings)
        nodes = nodes_from_graph(graph)
        resolver = spec_resolver(lab, settings.outputs())
        hook = _verification_hook(lab, settings, term, options, warm) if options.verify else None

        def describe(node_outputs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
            from orchestrator.output.lab_outputs import lab_outputs

            ca = settings.ca_file if settings.kind == "local" else None
            return lab_outputs(lab, node_outputs, settings.outputs(), ca)

        async def main() -> int:
            from orchestrator.global_names import ensure_available
            from orchestrator.providers import providers_for
            from orchestrator.target import open_clients

            async with open_clients(settings) as clients:
                providers = providers_for(clients, lab)
                report = await execute(
                    lab.name,
                    nodes,
                    providers,
                    options,
                    term,
                    target=settings.kind,
                    resolver=resolver,
                    after_apply=hook,
                    describe=describe,
                    before_apply=functools.partial(
                        ensure_available,
                        lab=lab,
                        resources=clients.resources,
                        subscription_id=settings.subscription_id,
                    ),
                )
                return report.exit_code

        return anyio.run(main)
