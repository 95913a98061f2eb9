"""Planning: desired (spec nodes) vs actual (provider facts) -> an immutable ``Plan``.

Flow: ``engine`` loads the lab, builds the graph, reads the actual state through the providers,
then calls ``build_plan`` (or ``build_destroy_plan``). The plan is printed, confirmed, and handed
unchanged to ``apply.apply_plan`` — the executor runs the plan that was shown.

Pure: only the providers' pure ``desired()`` and ``diff()`` are called; no I/O.

Rules
* every node: ``create`` (nothing there), ``update`` (field-level diff from the provider),
  ``replace`` (a changed field forces it), or ``no-op``;
* a node whose container (``graph.Node.container``) is replaced is replaced with it
  (``replaced_with``, reason "parent replaced"): the container's delete took it away, so apply
  creates it again once the container exists — shown ``-/+``, never as unchanged;
* owned resources the spec no longer names: ``delete`` (prune). They wait for every other change
  to *finish* (``after``), so that references move away before their target disappears, and
  are ordered among themselves by kind (children before parents);
* a same-named resource without the lab's ownership mark: refused (``OwnershipError``, naming
  the node's ``adopt_setting``) unless the node says ``adopt``; adopting is an update that adds
  the mark (reason "adopt: ..."). A resource carrying ANOTHER lab's mark (``Actual.owners``) is
  refused adopt or not, naming that lab: adopting would silently take it from that lab;
* destroy: every owned resource deleted in reverse dependency order; unowned ones left alone,
  and owned ones the lab never deletes (``Actual.keep``: an adopted resource group) too.

Dependencies of a step (``depends_on``) must *succeed* before it runs; ``after`` only orders.
"""

from __future__ import annotations

import graphlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.errors import OwnershipError, PrmlabError
from orchestrator.resolve import Resolver, contains_unknown, direct_resolver, resolve_refs
from orchestrator.resource import Action, Actual, Desired, FieldChange

OWNERSHIP_FIELD = "(ownership mark)"


class PlanningProvider(Protocol):
    """The pure half of ``resource.Provider`` (all that planning needs)."""

    kind: str

    # ``spec``: the node's model for this kind; each provider narrows it (see ``resource.Provider``).
    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired: ...

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]: ...


@dataclass(frozen=True, slots=True)
class NodeInput:
    """One graph node as the planner sees it (the engine adapts ``graph.Node`` to this)."""

    address: str
    kind: str
    depends_on: tuple[str, ...]
    spec: Any = field(repr=False, compare=False)
    adopt: bool = False
    refs: tuple[Any, ...] | None = None  # the references in spec (None: found by walking spec)
    deferred: tuple[str, ...] = ()  # late-bound providers: set by a follow-up update, not an edge
    container: str | None = None  # the node whose delete takes this one with it (``graph.Node``)
    adopt_setting: str = "adopt: true"  # the lab.yaml setting that sets ``adopt`` (named when refused)

    @property
    def ref_source(self) -> Any:
        return self.refs if self.refs is not None else self.spec


ADOPT_REASON = "adopt: it exists and this lab did not create it"


@dataclass(frozen=True, slots=True)
class Step:
    """What the plan does to one resource."""

    address: str
    kind: str
    name: str
    action: Action
    changes: tuple[FieldChange, ...] = ()
    desired: Desired | None = None
    actual: Actual | None = None
    depends_on: tuple[str, ...] = ()  # must succeed first
    after: tuple[str, ...] = ()  # must finish first (ordering only)
    reason: str = ""
    spec: Any = field(default=None, repr=False, compare=False)  # to re-derive Desired at apply
    refs: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    deferred: tuple[str, ...] = ()  # late-bound providers (values may be left for the late step)
    late_of: str | None = None  # set on a late step: the address whose late-bound values it sets
    # a delete (or replace) that must not happen, and why: set by ``guard.inspect_deletes`` from the
    # providers' ``delete_refusal`` before the plan is shown; apply fails the step without calling
    # the provider, so its dependants are skipped
    refused: str = ""
    # a replacement caused by the container's (``NodeInput.container``): the container's delete
    # takes this resource with it, so apply only creates it again, after the container
    replaced_with: str | None = None

    @property
    def ref_source(self) -> Any:
        return self.refs if self.refs is not None else self.spec


@dataclass(frozen=True, slots=True)
class Plan:
    lab: str
    destroy: bool
    steps: tuple[Step, ...]  # display order; execution order comes from depends_on/after

    def counts(self) -> dict[Action, int]:
        """Steps per action; a no-op counts only when the resource exists (destroy lists absent ones);
        a late step folded into its resource's create is not counted (``folded``)."""
        counter = Counter(
            step.action
            for step in self.steps
            if (step.action is not Action.NOOP or step.actual is not None) and not self.folded(step)
        )
        return {action: counter.get(action, 0) for action in Action}

    def folded(self, step: Step) -> bool:
        """A late step (``late_of``) whose resource is created or replaced by this plan: its
        values show as ``(known after apply)`` on that create, not as an update of its own (the
        executor still runs it after the create)."""
        if step.late_of is None:
            return False
        owner = next((s for s in self.steps if s.address == step.late_of), None)
        return owner is not None and owner.action in (Action.CREATE, Action.REPLACE)

    @property
    def has_changes(self) -> bool:
        return any(step.action is not Action.NOOP for step in self.steps)

    @property
    def refused(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.refused)

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.action is not Action.NOOP)

    def step(self, address: str) -> Step:
        for step in self.steps:
            if step.address == address:
                return step
        raise KeyError(address)


def replacement_reason(forcing: Sequence[FieldChange]) -> str:
    """Why a step is a replacement: the fields that force it (and why, when a provider says)."""
    fields = ", ".join(change.path for change in forcing)
    whys = "; ".join(change.why for change in forcing if change.why)
    return f"{fields} cannot change in place" + (f": {whys}" if whys else "")


def _noted(reason: str, actual: Actual) -> str:
    """A delete's reason plus what the provider noted about the resource's state."""
    return f"{reason}; {actual.note}" if actual.note else reason


def topological(nodes: Sequence[NodeInput]) -> list[NodeInput]:
    """Dependencies first; ties broken by address so a plan is deterministic."""
    by_address = {node.address: node for node in nodes}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in nodes:
        sorter.add(node.address, *(d for d in node.depends_on if d in by_address))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:  # the spec's cycle check should have caught it
        raise PrmlabError(f"dependency cycle: {' -> '.join(exc.args[1])}") from exc
    ordered: list[NodeInput] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_address[a] for a in ready)
        sorter.done(*ready)
    return ordered


def _kind_dependencies(nodes: Iterable[NodeInput]) -> dict[str, set[str]]:
    """kind -> kinds it (transitively) depends on, from the graph's edges."""
    kinds = {node.address: node.kind for node in nodes}
    direct: dict[str, set[str]] = {}
    for node in nodes:
        deps = direct.setdefault(node.kind, set())
        deps.update(kinds[d] for d in node.depends_on if d in kinds and kinds[d] != node.kind)
    closure: dict[str, set[str]] = {}
    for kind in direct:
        seen: set[str] = set()
        todo = list(direct[kind])
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                todo.extend(direct.get(k, ()))
        seen.discard(kind)
        closure[kind] = seen
    return closure


def _conflict_line(node: NodeInput, actual: Actual, lab: str) -> str:
    if actual.owners:
        labs = " and ".join(repr(owner) for owner in actual.owners)
        return (
            f"{node.address}: the {actual.kind} {actual.name!r} is owned by lab {labs} (its ownership "
            f"mark), not by lab {lab!r}; it cannot be adopted (`{node.adopt_setting}` takes over only "
            "resources no lab owns): rename it in this lab.yaml, or remove it from lab "
            f"{labs} first (reconcile that lab without it, or destroy that lab)"
        )
    return (
        f"{node.address}: a {actual.kind} named {actual.name!r} already exists and is not owned by lab "
        f"{lab!r}"
        + ("" if node.adopt_setting == "adopt: true" else f" (to adopt it: `{node.adopt_setting}`)")
    )


def _ownership_refusal(conflicts: list[tuple[NodeInput, Actual]], lab: str) -> OwnershipError:
    lines = [_conflict_line(node, actual, lab) for node, actual in conflicts]
    first = conflicts[0][0].address
    unmarked = any(not actual.owners for _, actual in conflicts)
    return OwnershipError(
        first,
        "refusing to take over resources this lab did not create:\n  "
        + "\n  ".join(lines)
        + (
            "\nRename them in lab.yaml, delete them, or set `adopt: true` on them to let this lab manage them."
            if unmarked
            else ""
        ),
    )


def _order_synthetic_deletes(
    deletes: list[Step], kind_deps: Mapping[str, set[str]], also_after: tuple[str, ...]
) -> list[Step]:
    """Children before parents: a delete of kind K waits for deletes of kinds depending on K."""
    ordered: list[Step] = []
    for step in deletes:
        before = tuple(
            other.address
            for other in deletes
            if other is not step and step.kind in kind_deps.get(other.kind, set())
        )
        ordered.append(_replace_step(step, after=also_after + before))
    return ordered


def _replace_step(step: Step, **changes: Any) -> Step:
    values = {name: getattr(step, name) for name in Step.__dataclass_fields__}
    values.update(changes)
    return Step(**values)


LATE_SUFFIX = "#late"


def _plan_node(
    lab: str,
    node: NodeInput,
    provider: PlanningProvider,
    actual: Actual | None,
    known: dict[str, Mapping[str, Any]],
    resolver: Resolver,
    in_graph: set[str],
) -> Step | None:
    """The step for one node (None: an unowned resource the node may not adopt)."""
    desired = provider.desired(node.address, node.spec, resolve_refs(node.ref_source, known, resolver))
    depends_on = tuple(sorted(d for d in node.depends_on if d in in_graph))
    common: dict[str, Any] = {
        "desired": desired,
        "depends_on": depends_on,
        "spec": node.spec,
        "refs": node.refs,
        "deferred": node.deferred,
    }
    if actual is None:
        known.pop(node.address, None)
        return Step(node.address, node.kind, desired.name, Action.CREATE, reason="does not exist", **common)
    if not actual.owned and (not node.adopt or actual.owners):
        return None  # refused: not this lab's to take (another lab's, or not adopted)
    changes = provider.diff(desired, actual)
    if not actual.owned:
        changes = (FieldChange(OWNERSHIP_FIELD, "absent", f"prmlab-lab: {lab}"), *changes)
    forcing = [change for change in changes if change.forces_replacement]
    if forcing:
        action, reason = Action.REPLACE, replacement_reason(forcing)
        known.pop(node.address, None)
    else:
        action = Action.UPDATE if changes else Action.NOOP
        reason = "differs from lab.yaml" if changes else "up to date"
        if not actual.owned:
            reason = ADOPT_REASON
        known[node.address] = actual.outputs
    return Step(
        node.address, node.kind, desired.name, action, changes=changes, actual=actual, reason=reason, **common
    )


def build_plan(
    lab: str,
    nodes: Sequence[NodeInput],
    providers: Mapping[str, PlanningProvider],
    actuals: Mapping[str, Actual],
    resolver: Resolver = direct_resolver,
) -> Plan:
    """Plan a reconcile: make the target match the nodes, pruning owned leftovers."""
    ordered = topological(nodes)
    known: dict[str, Mapping[str, Any]] = {}  # outputs known at plan time
    conflicts: list[tuple[NodeInput, Actual]] = []
    in_graph = {node.address for node in ordered}
    planned: dict[str, Step] = {}
    for node in ordered:
        step = _plan_node(
            lab, node, providers[node.kind], actuals.get(node.address), known, resolver, in_graph
        )
        if step is None:
            conflicts.append((node, actuals[node.address]))
            continue
        container = planned.get(node.container) if node.container else None
        if container is not None and container.action is Action.REPLACE and step.actual is not None:
            # the container's delete takes this one along: re-created after it, whatever its diff
            step = _replace_step(
                step,
                action=Action.REPLACE,
                reason=f"parent replaced: {container.address}",
                replaced_with=container.address,
            )
            known.pop(node.address, None)
        planned[node.address] = step
    # Late-bound references: plan those nodes again now that every provider has been planned.
    late: list[Step] = []
    for node in ordered:
        if not node.deferred or node.address not in planned:
            continue
        first = planned[node.address]
        step = _plan_node(
            lab, node, providers[node.kind], actuals.get(node.address), known, resolver, in_graph
        )
        assert step is not None
        if first.action is Action.CREATE or first.action is Action.REPLACE:
            step = _replace_step(
                step, action=first.action, reason=first.reason, replaced_with=first.replaced_with
            )
            known.pop(node.address, None)
        planned[node.address] = step
        assert step.desired is not None
        pending = tuple(
            FieldChange(key, None if step.actual is None else step.actual.properties.get(key), value)
            for key, value in sorted(step.desired.properties.items())
            if not key.startswith("@") and contains_unknown(value)
        )
        if pending:
            waits = tuple(sorted(d for d in node.deferred if d in in_graph))
            late.append(
                Step(
                    f"{node.address}{LATE_SUFFIX}",
                    node.kind,
                    step.name,
                    Action.UPDATE,
                    changes=pending,
                    desired=step.desired,
                    depends_on=(node.address, *waits),
                    reason=f"sets values known only after {', '.join(waits)}",
                    spec=node.spec,
                    refs=node.refs,
                    late_of=node.address,
                )
            )
    steps = [planned[node.address] for node in ordered if node.address in planned] + late
    if conflicts:
        raise _ownership_refusal(conflicts, lab)
    changing = tuple(step.address for step in steps if step.action is not Action.NOOP)
    prunes = [
        Step(
            address,
            actual.kind,
            actual.name,
            Action.DELETE,
            actual=actual,
            reason=_noted("owned by this lab but no longer in lab.yaml", actual),
        )
        for address, actual in sorted(actuals.items())
        if address not in in_graph and actual.owned and not actual.keep
    ]
    steps.extend(_order_synthetic_deletes(prunes, _kind_dependencies(ordered), changing))
    return Plan(lab=lab, destroy=False, steps=tuple(steps))


def build_destroy_plan(
    lab: str,
    nodes: Sequence[NodeInput],
    actuals: Mapping[str, Actual],
) -> Plan:
    """Plan a destroy: delete every owned resource, dependants before what they depend on."""
    ordered = topological(nodes)
    dependants: dict[str, list[str]] = {node.address: [] for node in ordered}
    for node in ordered:
        for dep in node.depends_on:
            if dep in dependants:
                dependants[dep].append(node.address)
    steps: list[Step] = []
    for node in reversed(ordered):
        actual = actuals.get(node.address)
        depends_on = tuple(sorted(dependants[node.address]))
        if actual is None:
            steps.append(
                Step(
                    node.address, node.kind, node.address, Action.NOOP, depends_on=depends_on, reason="absent"
                )
            )
        elif not actual.owned or actual.keep:
            steps.append(
                Step(
                    node.address,
                    node.kind,
                    actual.name,
                    Action.NOOP,
                    actual=actual,
                    depends_on=depends_on,
                    reason=f"{actual.keep}: left in place"
                    if actual.keep
                    else "not owned by this lab: left alone",
                )
            )
        else:
            steps.append(
                Step(
                    node.address,
                    node.kind,
                    actual.name,
                    Action.DELETE,
                    actual=actual,
                    depends_on=depends_on,
                    reason=_noted("destroy", actual),
                )
            )
    in_graph = set(dependants)
    kind_deps = _kind_dependencies(ordered)
    leftovers = [
        Step(
            address,
            actual.kind,
            actual.name,
            Action.DELETE,
            actual=actual,
            reason=_noted("destroy (not in lab.yaml)", actual),
        )
        for address, actual in sorted(actuals.items())
        if address not in in_graph and actual.owned and not actual.keep
    ]
    leftovers = _order_synthetic_deletes(leftovers, kind_deps, ())
    # a graph node's delete of kind K waits for leftover deletes of kinds that depend on K
    by_kind_after: dict[str, tuple[str, ...]] = {}
    for step in leftovers:
        for kind in kind_deps.get(step.kind, set()):
            by_kind_after[kind] = (*by_kind_after.get(kind, ()), step.address)
    steps = [
        _replace_step(step, after=by_kind_after.get(step.kind, ()))
        if step.action is Action.DELETE and by_kind_after.get(step.kind)
        else step
        for step in steps
    ]
    return Plan(lab=lab, destroy=True, steps=tuple(leftovers + steps))
